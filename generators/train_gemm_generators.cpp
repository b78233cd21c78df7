// float32 GEMM and convolution helpers for training. Algorithms only; the
// loops are decided in schedules/schedules.h (per target family:
// schedules/x86/train_gemm_x86.h, schedules/arm/train_gemm_arm.h).
//
//   sgemm_f32        c(n, m) = [c_prev(n, m) if accumulate] + bias(n) + sum_k a(k, m) * b(n, k)
//                    a is op(A) read as a(k, m) (row-major [M, K]) or, with
//                    a_transposed, from at(m, k) (row-major [K, M]); b is op(B)
//                    row-major [K, N] with its columns padded (zeros) to whole
//                    panels (schedules: sgemm_panel_width), as is bias. The sum
//                    runs over k in order (one FMA chain per output).
//   sgemm_layout_probe  {panel width, rows per tile} of the dispatched variant
//   pack_f32         out(i, j) = in(i, j) (or in(j, i) with transpose), 0 outside in
//   im2col_f32       col(ci, kw, kh, ox, oy, n) = x(channel_offset + ci, ix, iy, n), 0 in the padding
//   col2im_f32       dx(c, ix, iy, n) = sum of dcols(c, kw, kh, p) over the taps
//                    (kh, kw, p) whose input pixel is (ix, iy, n): a gather
//   direct_conv_f32  y(o, ox, oy, n) = bias(o) + sum_{kh, kw, c} x(c, ix, iy, n) * w(o, (kh * KW + kw) * C + c)
//                    (0 in the padding): an implicit GEMM reading x in place,
//                    w the GEMM's op(B) [K, O] with O padded to whole panels.
//                    With dy as x and the flipped, transposed weights it is
//                    also the stride-1 input gradient.
//   conv_wgrad_f32   part(o, j, kh, g) = sum over the output pixels (ox, oy, n)
//                    of images [g * I, (g + 1) * I) of
//                    dy(o, ox, oy, n) * x(f = (ox * stride_w - pad_left) * C + j, iy, n)
//                    with x read as rows of W * C floats (j = kw * C + c:
//                    dilation_w = 1) and 0 in the padding: per image group g,
//                    the weight gradient dw(o, kh, kw, c) transposed.
// with p the output pixel (n, oy, ox) in row-major order and
//   ix = ox * stride_w - pad_left + kw * dilation_w   (iy likewise).
#include "Halide.h"
#include "schedules/schedules.h"

namespace {

using namespace Halide;
namespace qs = qforge::schedules;  // schedules/schedules.h: per-family dispatch

class SgemmF32 : public Generator<SgemmF32> {
public:
    GeneratorParam<bool> a_transposed{"a_transposed", false};
    qs::SgemmParams tiling;

    Input<Buffer<float>> a{"a", 2};          // a(k, m), or a(m, k) with a_transposed
    Input<Buffer<float>> b{"b", 2};          // b(n, k), n padded to whole panels
    Input<Buffer<float>> bias{"bias", 1};    // bias(n), padded likewise
    Input<Buffer<float>> c_prev{"c_prev", 2};  // read only when accumulate != 0 (may be c itself)
    Input<int32_t> accumulate{"accumulate"};
    Output<Buffer<float>> c{"c", 2};         // c(n, m)

    void generate() {
        const int panel = qs::sgemm_panel_width(get_target(), tiling);
        Func op_a("op_a");
        Expr k_extent;
        if (a_transposed) {
            op_a(k, m) = a(m, k);
            k_extent = a.dim(1).extent();
        } else {
            op_a(k, m) = a(k, m);
            k_extent = a.dim(0).extent();
        }
        r = RDom(0, k_extent, "r");
        Expr sum;
        if (qs::gemm_accumulates_by_column(get_target())) {
            acc(n, m) = bias(n);
            acc(n, m) += op_a(r, m) * b(n, r);
            sum = acc(n, m);
        } else {
            acc(ni, no, m) = bias(panel * no + ni);
            acc(ni, no, m) += op_a(r, m) * b(panel * no + ni, r);
            sum = acc(n % panel, n / panel, m);
        }
        c(n, m) = select(accumulate != 0, c_prev(n, m) + sum, sum);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_sgemm(c, acc, ExternFuncArgument(b).image_param, n, m, ni, no, r, accumulate, get_target(), tiling);
    }

private:
    Var n{"n"}, m{"m"}, k{"k"}, ni{"ni"}, no{"no"};
    RDom r;
    Func acc{"acc"};
};

class SgemmLayoutProbe : public Generator<SgemmLayoutProbe> {
public:
    qs::SgemmParams tiling;
    Output<Buffer<int32_t>> layout{"layout", 1};

    void generate() {
        const Target t = get_target();
        layout(i) = select(i == 0, qs::sgemm_panel_width(t, tiling), qs::sgemm_tile_rows(t, tiling));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        layout.bound(i, 0, 2);
    }

private:
    Var i{"i"};
};

class PackF32 : public Generator<PackF32> {
public:
    GeneratorParam<bool> transpose{"transpose", false};
    Input<Buffer<float>> in{"in", 2};
    Output<Buffer<float>> out{"out", 2};

    void generate() {
        Func padded = BoundaryConditions::constant_exterior(in, 0.0f);
        if (transpose) {
            out(i, j) = padded(j, i);
        } else {
            out(i, j) = padded(i, j);
        }
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_pack_f32(out, i, j, transpose, get_target());
    }

private:
    Var i{"i"}, j{"j"};
};

// x(c, w, h, n) read outside its width or height is 0; only w and h are
// bounded (a condition on c would turn the channel vector loads into
// per-lane checked loads, docs/halide14-notes.md).
Func pad_spatially(const GeneratorInput<Buffer<float>> &x) {
    return BoundaryConditions::constant_exterior(
        x, 0.0f, {Range(), Range(x.dim(1).min(), x.dim(1).extent()), Range(x.dim(2).min(), x.dim(2).extent()), Range()});
}

class Im2colF32 : public Generator<Im2colF32> {
public:
    qs::Im2colF32Params tuning;
    Input<Buffer<float>> x{"x", 4};                   // x(c, w, h, n)
    Input<int32_t> channel_offset{"channel_offset"};  // first channel of the group
    Input<int32_t> stride_w{"stride_w"}, stride_h{"stride_h"};
    Input<int32_t> dilation_w{"dilation_w"}, dilation_h{"dilation_h"};
    Input<int32_t> pad_left{"pad_left"}, pad_top{"pad_top"};
    // col(ci, kw, kh, ox, oy, n): the runtime gives it strides making each
    // output pixel's row KH * KW * Cg floats (or wider), pixels row-major.
    Output<Buffer<float>> col{"col", 6};

    void generate() {
        Func x_padded = pad_spatially(x);
        Expr ix = ox * stride_w - pad_left + kw * dilation_w;
        Expr iy = oy * stride_h - pad_top + kh * dilation_h;
        col(ci, kw, kh, ox, oy, nn) = x_padded(channel_offset + ci, ix, iy, nn);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_im2col_f32(col, ci, kw, kh, ox, oy, nn, col.dim(0).extent(), get_target(), tuning);
    }

private:
    Var ci{"ci"}, kw{"kw"}, kh{"kh"}, ox{"ox"}, oy{"oy"}, nn{"nn"};
};

class Col2imF32 : public Generator<Col2imF32> {
public:
    qs::Col2imF32Params tuning;
    Input<Buffer<float>> dcols{"dcols", 4};  // dcols(ci, kw, kh, p)
    Input<int32_t> out_width{"out_width"};
    Input<int32_t> out_height{"out_height"};
    Input<int32_t> stride_w{"stride_w"}, stride_h{"stride_h"};
    Input<int32_t> dilation_w{"dilation_w"}, dilation_h{"dilation_h"};
    Input<int32_t> pad_left{"pad_left"}, pad_top{"pad_top"};
    Output<Buffer<float>> dx{"dx", 4};       // dx(c, ix, iy, n): one group's channels

    void generate() {
        RDom r(0, dcols.dim(1).extent(), 0, dcols.dim(2).extent(), "r");  // kw, kh
        Expr tx = ix + pad_left - r.x * dilation_w;  // ox * stride_w
        Expr ty = iy + pad_top - r.y * dilation_h;   // oy * stride_h
        Expr ox = tx / stride_w, oy = ty / stride_h;  // floor division
        Expr valid = tx >= 0 && ty >= 0 && tx % stride_w == 0 && ty % stride_h == 0 && ox < out_width &&
                     oy < out_height;
        Expr pixels = dcols.dim(3).extent();
        Expr p = clamp((nn * out_height + oy) * out_width + ox, 0, pixels - 1);
        dx(c, ix, iy, nn) = sum(select(valid, dcols(c, r.x, r.y, p), 0.0f));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_col2im_f32(dx, c, iy, nn, get_target(), tuning);
    }

private:
    Var c{"c"}, ix{"ix"}, iy{"iy"}, nn{"nn"};
};

class DirectConvF32 : public Generator<DirectConvF32> {
public:
    qs::DirectConvF32Params tiling;
    Input<Buffer<float>> x{"x", 4};        // x(c, w, h, n)
    Input<Buffer<float>> w{"w", 2};        // w(o, k), o padded (zeros) to whole panels
    Input<Buffer<float>> bias{"bias", 1};  // bias(o), padded likewise
    Input<int32_t> kernel_w{"kernel_w"}, kernel_h{"kernel_h"};
    Input<int32_t> stride_w{"stride_w"}, stride_h{"stride_h"};
    Input<int32_t> dilation_w{"dilation_w"}, dilation_h{"dilation_h"};
    Input<int32_t> pad_left{"pad_left"}, pad_top{"pad_top"};
    Output<Buffer<float>> y{"y", 4};       // y(o, ox, oy, n)

    void generate() {
        const int panel = qs::direct_conv_f32_panel_width(get_target(), tiling);
        x_padded = pad_spatially(x);
        const Expr channels = x.dim(0).extent();
        r = RDom(0, channels, 0, kernel_w, 0, kernel_h, "r");  // c, kw, kh
        const Expr ix = ox * stride_w - pad_left + r.y * dilation_w;
        const Expr iy = oy * stride_h - pad_top + r.z * dilation_h;
        const Expr k = (r.z * kernel_w + r.y) * channels + r.x;  // OHWI order
        acc(oi, oo, ox, oy, n) = bias(panel * oo + oi);
        acc(oi, oo, ox, oy, n) += x_padded(r.x, ix, iy, n) * w(panel * oo + oi, k);
        y(o, ox, oy, n) = acc(o % panel, o / panel, ox, oy, n);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_direct_conv_f32(y, acc, x_padded, o, ox, oy, n, oi, oo, r, x.dim(0).extent(), stride_w,
                                       get_target(), tiling);
    }

private:
    Var o{"o"}, ox{"ox"}, oy{"oy"}, n{"n"}, oi{"oi"}, oo{"oo"};
    RDom r;
    Func acc{"acc"}, x_padded{"x_padded"};
};

class ConvWgradF32 : public Generator<ConvWgradF32> {
public:
    qs::ConvWgradF32Params tiling;
    Input<Buffer<float>> x{"x", 3};        // x(f, h, n): rows of W * C floats
    Input<Buffer<float>> dy{"dy", 4};      // dy(o, ox, oy, n), O a whole number of panels
    Input<int32_t> channels{"channels"};
    Input<int32_t> stride_w{"stride_w"}, stride_h{"stride_h"};
    Input<int32_t> dilation_h{"dilation_h"};
    Input<int32_t> pad_left{"pad_left"}, pad_top{"pad_top"};
    Input<int32_t> images_per_part{"images_per_part"};
    Output<Buffer<float>> part{"part", 4};  // part(o, j, kh, g)

    void generate() {
        const int panel = qs::conv_wgrad_f32_panel_width(get_target(), tiling);
        x_padded = BoundaryConditions::constant_exterior(
            x, 0.0f, {Range(x.dim(0).min(), x.dim(0).extent()), Range(x.dim(1).min(), x.dim(1).extent()), Range()});
        r = RDom(0, dy.dim(1).extent(), 0, dy.dim(2).extent(), 0, images_per_part, "r");  // ox, oy, image
        const Expr nn = g * images_per_part + r.z;
        const Expr f = (r.x * stride_w - pad_left) * channels + j;
        const Expr iy = r.y * stride_h - pad_top + kh * dilation_h;
        acc(oi, oo, j, kh, g) = 0.0f;
        acc(oi, oo, j, kh, g) += dy(panel * oo + oi, r.x, r.y, nn) * x_padded(f, iy, nn);
        part(o, j, kh, g) = acc(o % panel, o / panel, j, kh, g);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_conv_wgrad_f32(part, acc, x_padded, o, j, kh, g, oi, oo, r, get_target(), tiling);
    }

private:
    Var o{"o"}, j{"j"}, kh{"kh"}, g{"g"}, oi{"oi"}, oo{"oo"};
    RDom r;
    Func acc{"acc"}, x_padded{"x_padded"};
};

class ConvF32LayoutProbe : public Generator<ConvF32LayoutProbe> {
public:
    qs::DirectConvF32Params tiling;
    Output<Buffer<int32_t>> layout{"layout", 1};

    // {float lanes, direct conv tile rows with 1-vector panels, with 2-vector panels}
    void generate() {
        const Target t = get_target();
        layout(i) = select(i == 0, qs::float_lanes(t), i == 1, qs::direct_conv_f32_tile_rows(t, 1, tiling),
                           qs::direct_conv_f32_tile_rows(t, 2, tiling));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        layout.bound(i, 0, 3);
    }

private:
    Var i{"i"};
};

}  // namespace

HALIDE_REGISTER_GENERATOR(SgemmF32, sgemm_f32)
HALIDE_REGISTER_GENERATOR(SgemmLayoutProbe, sgemm_layout_probe)
HALIDE_REGISTER_GENERATOR(PackF32, pack_f32)
HALIDE_REGISTER_GENERATOR(Im2colF32, im2col_f32)
HALIDE_REGISTER_GENERATOR(Col2imF32, col2im_f32)
HALIDE_REGISTER_GENERATOR(DirectConvF32, direct_conv_f32)
HALIDE_REGISTER_GENERATOR(ConvWgradF32, conv_wgrad_f32)
HALIDE_REGISTER_GENERATOR(ConvF32LayoutProbe, conv_f32_layout_probe)
