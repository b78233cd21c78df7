// int8 convolution, NHWC activations, OHWI weights. Algorithms only
// (schedules/schedules.h dispatches to schedules/x86/conv_x86.h or
// schedules/arm/conv_arm.h). The generators behind the conv paths of
// runtime/src/conv.cpp:
//   im2col_int8          gathers each output pixel's receptive field (one
//                        group's channels) into a row of a u8 matrix that the
//                        int8 GEMM multiplies with the OHWI weights ([O, KH*KW*Ci]
//                        is exactly the GEMM's [N, K] weight layout);
//   direct_conv_int8     implicit GEMM for C_in % 4 == 0 (k groups of channels);
//   direct_conv_rows_int8  implicit GEMM over flattened input rows, for any
//                        C_in (k groups of a kernel row's bytes), with
//                        narrow weight panels for small C_out;
//   depthwise_conv_int8  one filter per channel, computed directly.
// Padding reads the input zero point, so padded taps contribute 0 to
// sum (x - z_x) * w. Activations are u8 here; s8 input arrives shifted by +128
// (the runtime's x ^ 0x80) with its zero point shifted too, as in the GEMM.
// On targets with signed_activations (schedules/layout.h: AArch64) the
// kernels shift it back inside (x ^ 0x80 = x - 128 as s8, zero point
// z - 128 in the folded bias) so the products are s8 x s8 (sdot, smull):
// the same int32 sums modulo 2^32, bit-identical results.
#include "Halide.h"
#include "common/numerics.h"
#include "common/autoschedule.h"
#include "common/operands.h"
#include "common/template_generator.h"
#include "schedules/schedules.h"

namespace {

using namespace Halide;
namespace nx = qforge::numerics;
namespace qs = qforge::schedules;  // schedules/schedules.h: per-family dispatch
namespace layout = qforge::schedules;  // layouts the schedules chose (schedules/layout.h)

// x(c, w, h, n) read past its width or height gives the zero point. Only w and
// h are bounded: a condition on c too would turn every channel vector load
// into per-lane checked loads (measured: depthwise at 1.3% of peak).
Func pad_spatially(const GeneratorInput<Buffer<uint8_t>> &x, const Expr &zero_point) {
    return BoundaryConditions::constant_exterior(
        x, cast<uint8_t>(zero_point),
        {Range(), Range(x.dim(1).min(), x.dim(1).extent()), Range(x.dim(2).min(), x.dim(2).extent()), Range()});
}

// Signed activations (schedules/layout.h: AArch64, where sdot and smull
// need s8 x s8): v ^ 0x80 read as s8 is v - 128. Applied after the
// boundary condition, so the padding (the zero point z) becomes z - 128
// like every other value, and the bias folds in z - 128 instead of z.
Expr to_signed(const Expr &v) { return cast<int8_t>(v ^ cast<uint8_t>(0x80)); }

// The zero point the folded bias uses: z, or z - 128 with signed activations.
Expr folded_zero_point(const Expr &z, bool signed_activations) { return signed_activations ? z - 128 : z; }


// The scalar inputs the direct and depthwise convs share, estimated for an
// autoscheduler (the values qforge-tune's workloads pass).
template<typename G>
void estimate_conv_scalars(G &g, const qforge::generators::ShapeSpec &s) {
    g.x_zero_point.set_estimate(9);
    g.stride_w.set_estimate(s.stride);
    g.stride_h.set_estimate(s.stride);
    g.dilation_w.set_estimate(1);
    g.dilation_h.set_estimate(1);
    g.pad_left.set_estimate(s.pad);
    g.pad_top.set_estimate(s.pad);
    g.out_zero_point.set_estimate(5);
    g.out_min.set_estimate(0);
    g.out_max.set_estimate(255);
}

class Im2colInt8 : public Generator<Im2colInt8> {
public:
    qs::Im2colParams tuning;
    Input<Buffer<uint8_t>> x{"x", 4};            // x(c, w, h, n)
    Input<int32_t> channel_offset{"channel_offset"};  // first channel of the group
    Input<int32_t> out_width{"out_width"};
    Input<int32_t> out_height{"out_height"};
    Input<int32_t> stride_w{"stride_w"}, stride_h{"stride_h"};
    Input<int32_t> dilation_w{"dilation_w"}, dilation_h{"dilation_h"};
    Input<int32_t> pad_left{"pad_left"}, pad_top{"pad_top"};
    Input<int32_t> x_zero_point{"x_zero_point"};
    // col(ci, kw, kh, p): p the output pixel (n, oy, ox) in row-major order;
    // the runtime gives it strides making each pixel's row K_padded bytes.
    Output<Buffer<uint8_t>> col{"col", 4};

    void generate() {
        Func x_padded = pad_spatially(x, x_zero_point);
        Expr ox = p % out_width, oy = (p / out_width) % out_height, n = p / (out_width * out_height);
        Expr ix = ox * stride_w - pad_left + kw * dilation_w;
        Expr iy = oy * stride_h - pad_top + kh * dilation_h;
        col(ci, kw, kh, p) = x_padded(channel_offset + ci, ix, iy, n);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_im2col(col, ci, kw, kh, p, get_target(), tuning);
    }

private:
    Var ci{"ci"}, kw{"kw"}, kh{"kh"}, p{"p"};
};

using ConvOutput = nx::AccumulatorOutput;

// Direct convolution on the GEMM's register tile ("implicit GEMM"): the
// reduction runs over (k group, input channel group, kw, kh) and reads the
// zero-point-padded input in place, so no im2col matrix is written. For
// ungrouped convs with C_in % 4 == 0 (a k group never straddles two taps);
// weights are the GEMM's packed [O, KH*KW*C_in] (pack_gemm_weights).
template<ConvOutput kind>
class DirectConvInt8 : public Generator<DirectConvInt8<kind>> {
public:
    QF_TEMPLATE_GENERATOR(DirectConvInt8);

    GeneratorParam<Type> requant_type{"requant_type", UInt(8)};
    qs::GemmParams tiling;
    qs::DirectConvParams conv_tiling;
    qforge::generators::AutoscheduleParams autoschedule;  // shape "NxHxWxC:OxKHxKW[:sS][:pP]"

    Input<Buffer<uint8_t>> x{"x", 4};                 // x(c, w, h, n)
    Input<Buffer<int8_t>> packed{"packed", 4};        // packed(kk, oi, ko, oo), as the GEMM's
    Input<Buffer<int32_t>> row_sums{"row_sums", 1};   // row_sums(o)
    Input<Buffer<int32_t>> bias{"bias", 1};           // bias(o)
    Input<int32_t> x_zero_point{"x_zero_point"};
    Input<int32_t> kernel_w{"kernel_w"}, kernel_h{"kernel_h"};
    Input<int32_t> stride_w{"stride_w"}, stride_h{"stride_h"};
    Input<int32_t> dilation_w{"dilation_w"}, dilation_h{"dilation_h"};
    Input<int32_t> pad_left{"pad_left"}, pad_top{"pad_top"};
    Input<Buffer<float>> channel_scale{"channel_scale", 1};
    Input<int32_t> out_zero_point{"out_zero_point"};
    Input<int32_t> out_min{"out_min"};
    Input<int32_t> out_max{"out_max"};
    Output<Func> y{"y", 4};                           // y(o, ox, oy, n)

    void configure() {
        y.set_type(nx::accumulator_output_type(kind, requant_type));
    }

    void generate() {
        const Target t = get_target();
        const int group = layout::k_group(t), panel = layout::panel_width(t);
        packed.dim(0).set_bounds(0, group).dim(1).set_bounds(0, panel).set_stride(group).dim(2).set_stride(group * panel);
        x_padded = pad_spatially(x, x_zero_point);
        const bool shift = layout::signed_activations(t);
        if (shift) {
            // The schedule materialises x_padded once: the xor happens there,
            // not in the inner loop.
            Func padded = x_padded;
            Var xc("xc"), xw("xw"), xh("xh"), xn("xn");
            x_padded = Func("x_shifted");
            x_padded(xc, xw, xh, xn) = to_signed(padded(xc, xw, xh, xn));
        }
        // The operands as the multiply reads them (int16 copies for pmaddwd,
        // which the schedule widens outside the inner loop; the padded input
        // is materialised anyway).
        x_padded = qforge::generators::multiply_operand(x_padded, t, "x_widened");
        w_operand = qforge::generators::multiply_operand(packed, t, "w_operand");
        // The sum of x - z over a tap window uses sum_k x * w and z * sum_k w (row_sums).
        bias_folded(o) = bias(o) - folded_zero_point(x_zero_point, shift) * row_sums(o);

        const Expr channel_groups = x.dim(0).extent() / group;
        r = RDom(0, group, 0, channel_groups, 0, kernel_w, 0, kernel_h, "r");  // kk, ci group, kw, kh
        const Expr ix = ox * stride_w - pad_left + r.z * dilation_w;
        const Expr iy = oy * stride_h - pad_top + r.w * dilation_h;
        const Expr ko = (r.w * kernel_w + r.z) * channel_groups + r.y;  // k = (kh, kw, ci) in OHWI order
        acc(oi, oo, ox, oy, n) = bias_folded(panel * oo + oi);
        acc(oi, oo, ox, oy, n) += cast<int32_t>(x_padded(group * r.y + r.x, ix, iy, n)) *
                                  cast<int32_t>(w_operand(r.x, oi, ko, oo));
        Expr sum = acc(o % panel, o / panel, ox, oy, n);
        y(o, ox, oy, n) = nx::accumulator_output(kind, requant_type, sum, channel_scale(o), out_zero_point, out_min,
                                                 out_max);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        if (this->get_auto_schedule()) {
            set_autoschedule_estimates();
            return;
        }
        qs::schedule_direct_conv(y, acc, x_padded, w_operand, {bias_folded}, o, ox, oy, n, {oi, oo, ox, oy, n}, r,
                                 get_target(), tiling, conv_tiling);
    }

private:
    // The buffers the runtime passes (runtime/src/conv.cpp, direct_conv).
    void set_autoschedule_estimates() {
        namespace ng = qforge::generators;
        const auto s = ng::parse_shape_spec(autoschedule.autoschedule_shape, "NxHxWxC:OxKHxKW[:sS][:pP]", 4, 3);
        const int N = s.dims[0], H = s.dims[1], W = s.dims[2], C = s.dims[3];
        const int O = s.kernel[0], KH = s.kernel[1], KW = s.kernel[2];
        const int OH = (H + 2 * s.pad - KH) / s.stride + 1, OW = (W + 2 * s.pad - KW) / s.stride + 1;
        const int group = layout::k_group(get_target()), panel = layout::panel_width(get_target());
        const int np = ng::round_up(O, 64), kp = ng::round_up(KH * KW * C, 4);
        x.set_estimates({{0, C}, {0, W}, {0, H}, {0, N}});
        packed.set_estimates({{0, group}, {0, panel}, {0, kp / group}, {0, np / panel}});
        row_sums.set_estimates({{0, np}});
        bias.set_estimates({{0, np}});
        channel_scale.set_estimates({{0, np}});
        kernel_w.set_estimate(KW);
        kernel_h.set_estimate(KH);
        estimate_conv_scalars(*this, s);
        y.set_estimates({{0, O}, {0, OW}, {0, OH}, {0, N}});
    }

    Var o{"o"}, ox{"ox"}, oy{"oy"}, n{"n"}, oi{"oi"}, oo{"oo"};
    RDom r;
    Func acc{"acc"}, x_padded{"x_padded"}, bias_folded{"bias_folded"}, w_operand;
};

using DirectConvS32 = DirectConvInt8<ConvOutput::s32>;
using DirectConvRequant = DirectConvInt8<ConvOutput::requant>;
using DirectConvF32 = DirectConvInt8<ConvOutput::f32>;

// Direct convolution over flattened input rows, for ungrouped convs with
// dilation_w = 1 and any C_in (notably 1 or 3, where a k group of 4 channels
// does not exist). In NHWC, the KW taps of one kernel row over all C_in
// channels are KW*C_in adjacent bytes of one input row; the reduction runs
// over that byte run in k groups (the run padded to whole groups: the extra
// bytes meet zero weights), then over kh. x arrives as rows of bytes
// x(b, h, n), b = w * C_in + c, so a padded pixel is C_in bytes of the zero
// point and no division appears anywhere. Weights are [O, KH, RG * G]
// (RG = ceil(KW * C_in / G) groups per kernel row), packed by the runtime in
// panels of panel columns: packed(kk, oi, ko, oo), ko = kh * RG + group.
// The panel is the schedule's (1, 2 or 4 vectors): narrow convs (O = 16, 32)
// compute only their own columns.
template<ConvOutput kind>
class DirectConvRowsInt8 : public Generator<DirectConvRowsInt8<kind>> {
public:
    QF_TEMPLATE_GENERATOR(DirectConvRowsInt8);

    GeneratorParam<Type> requant_type{"requant_type", UInt(8)};
    qs::RowsConvParams tiling;
    qforge::generators::AutoscheduleParams autoschedule;  // shape "NxHxWxC:OxKHxKW[:sS][:pP]"

    Input<Buffer<uint8_t>> x{"x", 3};                 // x(b, h, n), b = w * C_in + c
    Input<Buffer<int8_t>> packed{"packed", 4};        // packed(kk, oi, ko, oo)
    Input<Buffer<int32_t>> row_sums{"row_sums", 1};   // row_sums(o): the sum of o's weights
    Input<Buffer<int32_t>> bias{"bias", 1};           // bias(o)
    Input<int32_t> x_zero_point{"x_zero_point"};
    Input<int32_t> channels{"channels"};              // C_in
    Input<int32_t> row_groups{"row_groups"};          // RG: k groups per kernel row
    Input<int32_t> kernel_h{"kernel_h"};
    Input<int32_t> stride_w{"stride_w"}, stride_h{"stride_h"};
    Input<int32_t> dilation_h{"dilation_h"};
    Input<int32_t> pad_left{"pad_left"}, pad_top{"pad_top"};
    Input<Buffer<float>> channel_scale{"channel_scale", 1};
    Input<int32_t> out_zero_point{"out_zero_point"};
    Input<int32_t> out_min{"out_min"};
    Input<int32_t> out_max{"out_max"};
    Output<Func> y{"y", 4};                           // y(o, ox, oy, n)

    void configure() {
        y.set_type(nx::accumulator_output_type(kind, requant_type));
    }

    void generate() {
        const Target t = get_target();
        const int group = layout::k_group(t), panel = layout::rows_conv_panel_width(t, tiling);
        packed.dim(0).set_bounds(0, group).dim(1).set_bounds(0, panel).set_stride(group).dim(2).set_stride(group * panel);
        // Both the byte and the row dimension are bounded (padding on the
        // left and right of a row is whole pixels of the zero point).
        x_padded = BoundaryConditions::constant_exterior(
            x, cast<uint8_t>(x_zero_point),
            {Range(x.dim(0).min(), x.dim(0).extent()), Range(x.dim(1).min(), x.dim(1).extent()), Range()});
        const bool shift = layout::signed_activations(t);
        if (shift) {  // as in the direct conv: the xor is part of the materialised copy
            Func padded = x_padded;
            Var xb("xb"), xh("xh"), xn("xn");
            x_padded = Func("x_shifted");
            x_padded(xb, xh, xn) = to_signed(padded(xb, xh, xn));
        }
        x_padded = qforge::generators::multiply_operand(x_padded, t, "x_widened");  // as in the direct conv
        w_operand = qforge::generators::multiply_operand(packed, t, "w_operand");
        bias_folded(o) = bias(o) - folded_zero_point(x_zero_point, shift) * row_sums(o);

        r = RDom(0, group, 0, row_groups, 0, kernel_h, "r");  // kk, group within the row, kh
        const Expr b = (ox * stride_w - pad_left) * channels + group * r.y + r.x;
        const Expr iy = oy * stride_h - pad_top + r.z * dilation_h;
        const Expr ko = r.z * row_groups + r.y;
        acc(oi, oo, ox, oy, n) = bias_folded(panel * oo + oi);
        acc(oi, oo, ox, oy, n) += cast<int32_t>(x_padded(b, iy, n)) * cast<int32_t>(w_operand(r.x, oi, ko, oo));
        Expr sum = acc(o % panel, o / panel, ox, oy, n);
        y(o, ox, oy, n) = nx::accumulator_output(kind, requant_type, sum, channel_scale(o), out_zero_point, out_min,
                                                 out_max);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        if (this->get_auto_schedule()) {
            set_autoschedule_estimates();
            return;
        }
        qs::schedule_rows_conv(y, acc, x_padded, w_operand, {bias_folded}, o, ox, oy, n, {oi, oo, ox, oy, n}, r,
                                 channels, stride_w, get_target(), tiling);
    }

private:
    // The buffers the runtime passes (runtime/src/conv.cpp, rows_conv).
    void set_autoschedule_estimates() {
        namespace ng = qforge::generators;
        const auto s = ng::parse_shape_spec(autoschedule.autoschedule_shape, "NxHxWxC:OxKHxKW[:sS][:pP]", 4, 3);
        const int N = s.dims[0], H = s.dims[1], W = s.dims[2], C = s.dims[3];
        const int O = s.kernel[0], KH = s.kernel[1], KW = s.kernel[2];
        const int OH = (H + 2 * s.pad - KH) / s.stride + 1, OW = (W + 2 * s.pad - KW) / s.stride + 1;
        const int group = layout::k_group(get_target()), panel = layout::rows_conv_panel_width(get_target(), tiling);
        const int groups_per_row = (KW * C + group - 1) / group, np = ng::round_up(O, panel);
        x.set_estimates({{0, W * C}, {0, H}, {0, N}});
        packed.set_estimates({{0, group}, {0, panel}, {0, KH * groups_per_row}, {0, np / panel}});
        row_sums.set_estimates({{0, ng::round_up(O, 64)}});
        bias.set_estimates({{0, ng::round_up(O, 64)}});
        channel_scale.set_estimates({{0, ng::round_up(O, 64)}});
        x_zero_point.set_estimate(9);
        channels.set_estimate(C);
        row_groups.set_estimate(groups_per_row);
        kernel_h.set_estimate(KH);
        stride_w.set_estimate(s.stride);
        stride_h.set_estimate(s.stride);
        dilation_h.set_estimate(1);
        pad_left.set_estimate(s.pad);
        pad_top.set_estimate(s.pad);
        out_zero_point.set_estimate(5);
        out_min.set_estimate(0);
        out_max.set_estimate(255);
        y.set_estimates({{0, O}, {0, OW}, {0, OH}, {0, N}});
    }

    Var o{"o"}, ox{"ox"}, oy{"oy"}, n{"n"}, oi{"oi"}, oo{"oo"};
    RDom r;
    Func acc{"acc"}, x_padded{"x_padded"}, bias_folded{"bias_folded"}, w_operand;
};

using DirectConvRowsS32 = DirectConvRowsInt8<ConvOutput::s32>;
using DirectConvRowsRequant = DirectConvRowsInt8<ConvOutput::requant>;
using DirectConvRowsF32 = DirectConvRowsInt8<ConvOutput::f32>;

template<ConvOutput kind>
class DepthwiseConvInt8 : public Generator<DepthwiseConvInt8<kind>> {
public:
    QF_TEMPLATE_GENERATOR(DepthwiseConvInt8);

    GeneratorParam<Type> requant_type{"requant_type", UInt(8)};
    qs::DepthwiseParams tuning;
    qforge::generators::AutoscheduleParams autoschedule;  // shape "NxHxWxC:KHxKW[:sS][:pP]"

    Input<Buffer<uint8_t>> x{"x", 4};         // x(c, w, h, n)
    Input<Buffer<int8_t>> w{"w", 3};          // w(c, kw, kh): channels innermost, padded to 16
    Input<Buffer<int32_t>> bias{"bias", 1};   // bias(c)
    Input<int32_t> x_zero_point{"x_zero_point"};
    Input<int32_t> stride_w{"stride_w"}, stride_h{"stride_h"};
    Input<int32_t> dilation_w{"dilation_w"}, dilation_h{"dilation_h"};
    Input<int32_t> pad_left{"pad_left"}, pad_top{"pad_top"};
    Input<Buffer<float>> channel_scale{"channel_scale", 1};  // multiplier(c) or out_scale(c)
    Input<int32_t> out_zero_point{"out_zero_point"};
    Input<int32_t> out_min{"out_min"};
    Input<int32_t> out_max{"out_max"};
    Output<Func> y{"y", 4};                   // y(c, ox, oy, n)

    void configure() {
        y.set_type(nx::accumulator_output_type(kind, requant_type));
    }

    void generate() {
        Func x_padded = pad_spatially(x, x_zero_point);
        const Expr kernel_w = w.dim(1).extent(), kernel_h = w.dim(2).extent();
        // sum (x - z) w = sum x w - z sum w: the zero point moves into the bias
        // (exact modulo 2^32, as the int32 accumulator itself), so the taps are
        // plain u8 x s8 products, 4 of them per int32 lane (vpdpbusd; 2 per
        // lane as int16 pairs with pmaddwd).
        // With signed activations (AArch64) the taps are s8 x s8
        // products of x - 128 and the bias folds in z - 128 (to_signed above).
        const bool shift = layout::signed_activations(get_target());
        // D input rows interleave per multiply step (schedules/layout.h
        // depthwise_k_group): 4 for a 4-deep dot product (below), 2 for
        // pmaddwd, whose operands are int16 copies (gemm_widens_operands:
        // xt and w2 are materialised anyway, so widening there is free).
        const int depth = layout::depthwise_k_group(get_target());
        const bool widen = layout::gemm_widens_operands(get_target());
        RDom rw(0, kernel_w, 0, kernel_h, "rw");
        bias_folded(c) = bias(c);
        bias_folded(c) -= folded_zero_point(x_zero_point, shift) * cast<int32_t>(w(c, rw.x, rw.y));
        // Output rows come in pairs (q = oy % 2, p = oy / 2). Both rows of pair p
        // read input rows iy0 + m, iy0 = 2 p stride_h - pad_top, for m in [0, M),
        // M = (KH - 1) dilation_h + stride_h + 1 (3x3, stride 1: exactly 4).
        // xt interleaves them in groups of D = 4 (m = 4 g + k: one channel's 4 rows
        // are 4 adjacent bytes), so one 64-byte load holds 4 rows of 16
        // channels for vpdpbusd, and one xt row serves both output rows
        // (D = 2 without VNNI: 2 rows of 8 channels per ymm of int16 for pmaddwd).
        Expr iy = 2 * p * stride_h - pad_top + depth * g + k;
        Expr x_value = x_padded(c, ix, iy, n);
        xt(k, c, ix, g, p, n) = shift ? to_signed(x_value) : widen ? cast<int16_t>(x_value) : x_value;
        // w2(k, c, kw, g, q): the weight row xt row m meets in output row q of
        // the pair (kh = (m - q stride_h) / dilation_h when that is a tap), else 0.
        Expr khd = depth * g + k - q * stride_h;
        Expr kh = khd / dilation_h;
        Expr is_tap = khd >= 0 && khd % dilation_h == 0 && kh < kernel_h;
        Expr w_value = select(is_tap, w(c, ix, clamp(kh, 0, kernel_h - 1)), cast<int8_t>(0));
        w2(k, c, ix, g, q) = widen ? cast<int16_t>(w_value) : w_value;
        const Expr groups_h = ((kernel_h - 1) * dilation_h + stride_h + depth) / depth;
        r = RDom(0, depth, 0, kernel_w, 0, groups_h, "r");  // (k, kw, g)
        Expr ixr = ox * stride_w - pad_left + r.y * dilation_w;
        acc(c, ox, oy, n) = bias_folded(c);
        acc(c, ox, oy, n) += cast<int32_t>(xt(r.x, c, ixr, r.z, oy / 2, n)) *
                             cast<int32_t>(w2(r.x, c, r.y, r.z, oy % 2));
        y(c, ox, oy, n) = nx::accumulator_output(kind, requant_type, acc(c, ox, oy, n), channel_scale(c),
                                                 out_zero_point, out_min, out_max);
        // Channels come padded to a multiple of 16 (the runtime), so the kernel
        // runs whole vectors of channels; y has the real channel count. (Halide
        // 14: add_requirement only after the outputs are defined.)
        this->add_requirement(x.dim(0).extent() % 16 == 0, "depthwise: channels must be padded to 16, got",
                              x.dim(0).extent());
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        if (this->get_auto_schedule()) {
            set_autoschedule_estimates();
            return;
        }
        qs::schedule_depthwise_conv(y, acc, xt, w2, bias_folded, r, c, ox, oy, n, k, ix, g, get_target(), tuning);
    }

private:
    // The buffers the runtime passes (runtime/src/conv.cpp: channels padded to 16).
    void set_autoschedule_estimates() {
        namespace ng = qforge::generators;
        const auto s = ng::parse_shape_spec(autoschedule.autoschedule_shape, "NxHxWxC:KHxKW[:sS][:pP]", 4, 2);
        const int N = s.dims[0], H = s.dims[1], W = s.dims[2], C = s.dims[3], cp = ng::round_up(C, 16);
        const int KH = s.kernel[0], KW = s.kernel[1];
        const int OH = (H + 2 * s.pad - KH) / s.stride + 1, OW = (W + 2 * s.pad - KW) / s.stride + 1;
        x.set_estimates({{0, cp}, {0, W}, {0, H}, {0, N}});
        w.set_estimates({{0, cp}, {0, KW}, {0, KH}});
        bias.set_estimates({{0, cp}});
        channel_scale.set_estimates({{0, cp}});
        estimate_conv_scalars(*this, s);
        y.set_estimates({{0, C}, {0, OW}, {0, OH}, {0, N}});
    }

    Var c{"c"}, ox{"ox"}, oy{"oy"}, n{"n"}, k{"k"}, ix{"ix"}, g{"g"}, p{"p"}, q{"q"};
    RDom r;
    Func acc{"acc"}, xt{"xt"}, w2{"w2"}, bias_folded{"bias_folded"};
};

using DepthwiseConvS32 = DepthwiseConvInt8<ConvOutput::s32>;
using DepthwiseConvRequant = DepthwiseConvInt8<ConvOutput::requant>;
using DepthwiseConvF32 = DepthwiseConvInt8<ConvOutput::f32>;

}  // namespace

HALIDE_REGISTER_GENERATOR(Im2colInt8, im2col_int8)
HALIDE_REGISTER_GENERATOR(DirectConvS32, direct_conv_int8_s32)
HALIDE_REGISTER_GENERATOR(DirectConvRequant, direct_conv_int8_requant)
HALIDE_REGISTER_GENERATOR(DirectConvF32, direct_conv_int8_f32)
HALIDE_REGISTER_GENERATOR(DirectConvRowsS32, direct_conv_rows_int8_s32)
HALIDE_REGISTER_GENERATOR(DirectConvRowsRequant, direct_conv_rows_int8_requant)
HALIDE_REGISTER_GENERATOR(DirectConvRowsF32, direct_conv_rows_int8_f32)
HALIDE_REGISTER_GENERATOR(DepthwiseConvS32, depthwise_conv_int8_s32)
HALIDE_REGISTER_GENERATOR(DepthwiseConvRequant, depthwise_conv_int8_requant)
HALIDE_REGISTER_GENERATOR(DepthwiseConvF32, depthwise_conv_int8_f32)
