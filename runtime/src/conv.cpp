// int8 convolution: geometry checks, then one of five paths: the depthwise
// kernel; the GEMM on the input as it is (1x1, stride 1, unpadded); the direct
// kernel over flattened input rows (ungrouped, dilation_w = 1, C_in % 4 != 0
// or C_out at most half a GEMM panel); the direct (implicit-GEMM) kernel
// (ungrouped, C_in % 4 == 0); im2col + GEMM per group.
#include "qforge/conv.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "gemm_internal.h"
#include "device_call.h"
#include "kernel_call.h"
#include "qforge/tuning.h"
#include "tuned_kernels.h"
#include "qf_dwconv_f32.h"
#include "qf_dwconv_s32.h"
#include "qf_dwconv_s8.h"
#include "qf_dwconv_u8.h"
#include "qf_dconv_f32.h"
#include "qf_dconv_s32.h"
#include "qf_dconv_s8.h"
#include "qf_dconv_u8.h"
#include "qf_im2col.h"
#include "qf_rconv1_f32.h"
#include "qf_rconv1_s32.h"
#include "qf_rconv1_s8.h"
#include "qf_rconv1_u8.h"
#include "qf_rconv2_f32.h"
#include "qf_rconv2_s32.h"
#include "qf_rconv2_s8.h"
#include "qf_rconv2_u8.h"
#include "qf_rconv4_f32.h"
#include "qf_rconv4_s32.h"
#include "qf_rconv4_s8.h"
#include "qf_rconv4_u8.h"
#include "qforge/error.h"

namespace qforge {

namespace {

std::string str(int64_t v) { return std::to_string(v); }

// NHWC output shape, after checking the geometry (defined below).
Shape output_shape(const char *op, const Shape &x, const PackedConvWeights &w, const Conv2dGeometry &g);

// Geometry limits: every index the kernels compute stays far inside int32.
constexpr int kMaxGeometry = 1 << 16;  // strides, dilations, pads

void check_geometry(const char *op, const Conv2dGeometry &g, const PackedConvWeights &w) {
    if (w.out_channels() == 0) throw InvalidArgument(std::string(op) + ": the packed weights are empty");
    if (g.stride_h < 1 || g.stride_w < 1 || g.stride_h > kMaxGeometry || g.stride_w > kMaxGeometry) {
        throw InvalidArgument(std::string(op) + ": strides must be in [1, " + str(kMaxGeometry) + "], got " +
                              str(g.stride_h) + "x" + str(g.stride_w));
    }
    if (g.dilation_h < 1 || g.dilation_w < 1 || g.dilation_h > kMaxGeometry || g.dilation_w > kMaxGeometry) {
        throw InvalidArgument(std::string(op) + ": dilations must be in [1, " + str(kMaxGeometry) + "], got " +
                              str(g.dilation_h) + "x" + str(g.dilation_w));
    }
    // Padding wider than the kernel is allowed (such border outputs see only
    // the zero point, i.e. equal the bias, as in PyTorch).
    for (auto [name, pad] : {std::pair<const char *, int>{"pad_top", g.pad_top},
                             {"pad_bottom", g.pad_bottom},
                             {"pad_left", g.pad_left},
                             {"pad_right", g.pad_right}}) {
        if (pad < 0 || pad > kMaxGeometry) {
            throw InvalidArgument(std::string(op) + ": " + name + " = " + str(pad) + " is out of range [0, " +
                                  str(kMaxGeometry) + "]");
        }
    }
    if (g.groups != w.groups()) {
        throw InvalidArgument(std::string(op) + ": groups = " + str(g.groups) + " but the weights were packed for " +
                              str(w.groups()));
    }
}

struct Prepared {
    std::vector<uint8_t> storage;  // a u8 copy when x is s8
    const uint8_t *data = nullptr;
    int32_t zero_point = 0;       // in u8 terms
    int64_t n = 0, h = 0, w = 0, c = 0;
};

Prepared prepare_input(const char *op, const TensorView &x, const PackedConvWeights &w, int32_t z) {
    if (x.dtype() != DType::u8 && x.dtype() != DType::s8) {
        throw ShapeError(std::string(op) + ": x must be u8 or s8 NHWC, got " + x.describe());
    }
    if (x.rank() != 4) throw ShapeError(std::string(op) + ": x must be NHWC (rank 4), got " + x.describe());
    Prepared p;
    p.n = x.dim(0);
    p.h = x.dim(1);
    p.w = x.dim(2);
    p.c = x.dim(3);
    if (p.c != w.in_channels_per_group() * w.groups()) {
        throw ShapeError(std::string(op) + ": x " + x.describe() + " has " + str(p.c) + " channels; the weights need " +
                         str(w.in_channels_per_group() * w.groups()) + " (" + str(w.groups()) + " groups of " +
                         str(w.in_channels_per_group()) + ")");
    }
    // NHWC viewed as rows of one pixel's channels.
    auto u8 = detail::u8_activations(op, "x", x, z, p.n * p.h * p.w, p.c, p.c);
    p.storage = std::move(u8.storage);
    p.data = p.storage.empty() ? u8.data : p.storage.data();
    p.zero_point = u8.zero_point;
    return p;
}

// The per-output-channel vector of one group (1 entry: shared by all).
std::vector<float> group_slice(const std::vector<float> &v, int64_t first, int64_t count) {
    if (v.size() == 1) return v;
    return std::vector<float>(v.begin() + first, v.begin() + first + count);
}

// One kernel family's four output kinds; call(fn, name) runs the one for `out`.
template<typename Fn>
struct KernelFamily {
    Fn s32, u8, s8, f32;
    const char *name;  // "qf_dconv": the kernels are <name>_s32, _u8, _s8, _f32
};

template<typename Fn, typename Call>
void call_for_output(DType out, const KernelFamily<Fn> &k, const Call &call) {
    const std::string base = k.name;
    switch (out) {
    case DType::s32: call(k.s32, (base + "_s32").c_str()); break;
    case DType::u8: call(k.u8, (base + "_u8").c_str()); break;
    case DType::s8: call(k.s8, (base + "_s8").c_str()); break;
    case DType::f32: call(k.f32, (base + "_f32").c_str()); break;
    }
}

struct Epilogue {
    DType out;
    std::vector<float> channel_scale;  // 1 or C_out entries; empty for s32
    Requantization rq;
};

// Ungrouped, C_in % 4 == 0: the direct (implicit-GEMM) kernel, no im2col pass.
void direct_conv(const char *op, const Prepared &in, const PackedConvWeights &w, const Conv2dGeometry &g,
                 const GemmOptions &opt, const Epilogue &e, int64_t oh, int64_t ow, const TensorView &y) {
    const PackedGemmWeights &gw = w.group_weights()[0];
    detail::GemmEpilogue ge = detail::GemmEpilogue::raw(gw);
    if (e.out == DType::f32) {
        ge = detail::GemmEpilogue::dequantized(op, e.channel_scale, gw);
    } else if (e.out != DType::s32) {
        Requantization rq = e.rq;
        rq.multiplier = e.channel_scale;
        ge = detail::GemmEpilogue::requantized(op, rq, e.out, gw);
    }
    std::vector<int32_t> bias(static_cast<size_t>(gw.n_padded()), 0);
    if (opt.bias) std::copy(opt.bias, opt.bias + gw.n(), bias.begin());
    Halide::Runtime::Buffer<uint8_t> xb(const_cast<uint8_t *>(in.data), static_cast<int>(in.c), static_cast<int>(in.w),
                                        static_cast<int>(in.h), static_cast<int>(in.n));
    auto pb = gw.packed_buffer();
    Halide::Runtime::Buffer<int32_t> sb(const_cast<int32_t *>(gw.row_sums()), static_cast<int>(gw.n_padded()));
    Halide::Runtime::Buffer<int32_t> bb(bias.data(), static_cast<int>(gw.n_padded()));
    Halide::Runtime::Buffer<float> cs(ge.channel_scale.data(), static_cast<int>(gw.n_padded()));
    Halide::Runtime::Buffer<void> yb(detail::halide_type_for(e.out), y.data(), static_cast<int>(w.out_channels()),
                                     static_cast<int>(ow), static_cast<int>(oh), static_cast<int>(in.n));
    const int32_t kw = static_cast<int32_t>(w.kernel_w()), kh = static_cast<int32_t>(w.kernel_h());
    int32_t stride_w = g.stride_w, stride_h = g.stride_h, dilation_w = g.dilation_w, dilation_h = g.dilation_h;
    int32_t pad_left = g.pad_left, pad_top = g.pad_top, x_zero_point = in.zero_point;
    const char *cls = shape_class::direct_conv(ow);  // tuned kernels per class (qforge/tuning.h)
    auto call = [&](auto fn, const char *name) {
        detail::check_kernel(detail::call_kernel(detail::choose_kernel(name, cls), fn, xb, pb, sb, bb, x_zero_point,
                                                 kw, kh, stride_w, stride_h, dilation_w, dilation_h, pad_left,
                                                 pad_top, cs, ge.out_zero_point, ge.out_min, ge.out_max, yb),
                             op, name);
    };
    call_for_output(e.out, KernelFamily<decltype(&qf_dconv_s32)>{qf_dconv_s32, qf_dconv_u8, qf_dconv_s8, qf_dconv_f32, "qf_dconv"},
                    call);
}

// Ungrouped, dilation_w = 1, weights packed for it (C_in % 4 != 0 or a
// narrow C_out): the direct kernel over flattened input rows. x is passed as
// rows of W * C_in bytes; the kernel of the weights' panel width runs.
void rows_conv(const char *op, const Prepared &in, const PackedConvWeights &w, const Conv2dGeometry &g,
               const Epilogue &e, const int32_t *bias_in, int64_t oh, int64_t ow, const TensorView &y) {
    const PackedGemmWeights &gw = w.group_weights()[0];  // its row sums and padded column count
    detail::GemmEpilogue ge = detail::GemmEpilogue::raw(gw);
    if (e.out == DType::f32) {
        ge = detail::GemmEpilogue::dequantized(op, e.channel_scale, gw);
    } else if (e.out != DType::s32) {
        Requantization rq = e.rq;
        rq.multiplier = e.channel_scale;
        ge = detail::GemmEpilogue::requantized(op, rq, e.out, gw);
    }
    std::vector<int32_t> bias(static_cast<size_t>(gw.n_padded()), 0);
    if (bias_in) std::copy(bias_in, bias_in + gw.n(), bias.begin());
    const int32_t row_bytes = static_cast<int32_t>(in.w * in.c);
    halide_dimension_t xdims[3] = {{0, row_bytes, 1, 0},
                                   {0, static_cast<int32_t>(in.h), row_bytes, 0},
                                   {0, static_cast<int32_t>(in.n), static_cast<int32_t>(in.h) * row_bytes, 0}};
    Halide::Runtime::Buffer<uint8_t> xb(const_cast<uint8_t *>(in.data), 3, xdims);
    const int32_t group = detail::gemm_layout().k_group, panel = static_cast<int32_t>(w.row_panel());
    const int32_t kgroups = static_cast<int32_t>(w.kernel_h() * w.row_groups());
    const int32_t panels = static_cast<int32_t>(w.row_packed_weights().size() / (size_t(group) * panel * kgroups));
    halide_dimension_t pdims[4] = {{0, group, 1, 0},
                                   {0, panel, group, 0},
                                   {0, kgroups, group * panel, 0},
                                   {0, panels, group * panel * kgroups, 0}};
    Halide::Runtime::Buffer<int8_t> pb(const_cast<int8_t *>(w.row_packed_weights().data()), 4, pdims);
    Halide::Runtime::Buffer<int32_t> sb(const_cast<int32_t *>(gw.row_sums()), static_cast<int>(gw.n_padded()));
    Halide::Runtime::Buffer<int32_t> bb(bias.data(), static_cast<int>(gw.n_padded()));
    Halide::Runtime::Buffer<float> cs(ge.channel_scale.data(), static_cast<int>(gw.n_padded()));
    Halide::Runtime::Buffer<void> yb(detail::halide_type_for(e.out), y.data(), static_cast<int>(w.out_channels()),
                                     static_cast<int>(ow), static_cast<int>(oh), static_cast<int>(in.n));
    const int64_t vectors = panel / (detail::gemm_layout().panel / 4);
    const char *cls = shape_class::rows_conv(vectors);  // tuned kernels per panel width (qforge/tuning.h)
    const int32_t c_in = static_cast<int32_t>(in.c), row_groups = static_cast<int32_t>(w.row_groups());
    const int32_t kh = static_cast<int32_t>(w.kernel_h()), x_zero_point = in.zero_point;
    auto call = [&](auto fn, const char *name) {
        detail::check_kernel(detail::call_kernel(detail::choose_kernel(name, cls), fn, xb, pb, sb, bb, x_zero_point,
                                                 c_in, row_groups, kh, g.stride_w, g.stride_h, g.dilation_h,
                                                 g.pad_left, g.pad_top, cs, ge.out_zero_point, ge.out_min, ge.out_max,
                                                 yb),
                             op, name);
    };
    using Fn = decltype(&qf_rconv1_s32);
    if (vectors == 1) {
        call_for_output(e.out, KernelFamily<Fn>{qf_rconv1_s32, qf_rconv1_u8, qf_rconv1_s8, qf_rconv1_f32, "qf_rconv1"},
                        call);
    } else if (vectors == 2) {
        call_for_output(e.out, KernelFamily<Fn>{qf_rconv2_s32, qf_rconv2_u8, qf_rconv2_s8, qf_rconv2_f32, "qf_rconv2"},
                        call);
    } else {
        call_for_output(e.out, KernelFamily<Fn>{qf_rconv4_s32, qf_rconv4_u8, qf_rconv4_s8, qf_rconv4_f32, "qf_rconv4"},
                        call);
    }
}

void conv2d(const char *op, const TensorView &x, const PackedConvWeights &w, const Conv2dGeometry &g,
            const GemmOptions &opt, const Epilogue &e, const TensorView &y) {
    detail::require_cpu_device(op);  // packed for the CPU variant's layout; no CUDA path yet
    const Shape out_shape = output_shape(op, x.shape(), w, g);  // checks the geometry
    Prepared in = prepare_input(op, x, w, opt.a_zero_point);
    detail::require_tensor(op, "y", y, e.out);
    // Parallel tasks read input rows while others write output rows.
    detail::require_disjoint(op, "x", x, "y", y);
    detail::check_bias_headroom(op, opt.bias, w.out_channels(), w.kernel_h() * w.kernel_w() * w.in_channels_per_group());
    if (y.shape() != out_shape) {
        throw ShapeError(std::string(op) + ": y must be " + TensorView(nullptr, e.out, out_shape).describe() +
                         ", got " + y.describe());
    }
    const int64_t co = w.out_channels();
    if (!e.channel_scale.empty() && e.channel_scale.size() != 1 && static_cast<int64_t>(e.channel_scale.size()) != co) {
        throw InvalidArgument(std::string(op) + ": " + (e.out == DType::f32 ? "out_scale" : "multiplier") + " has " +
                              str(e.channel_scale.size()) + " entries; expected 1 or C_out = " + str(co));
    }
    const int64_t oh = out_shape[1], ow = out_shape[2], pixels = in.n * oh * ow;
    if (pixels == 0) return;
    detail::ensure_kernel_runtime();

    if (w.depthwise()) {
        // Depthwise (the epilogue was checked by the public entry point). The
        // kernel runs whole vectors of 16 channels: weights, bias, scales
        // and (when C % 16 != 0) the input come padded to cp channels; the
        // output keeps C. Padded channels compute zeros nobody reads.
        const int64_t cp = (co + 15) / 16 * 16;
        std::vector<int32_t> bias(static_cast<size_t>(cp), 0);
        if (opt.bias) std::copy(opt.bias, opt.bias + co, bias.begin());
        std::vector<float> scale(static_cast<size_t>(cp), 0.0f);
        for (int64_t c = 0; c < co && !e.channel_scale.empty(); c++) {
            scale[c] = e.channel_scale.size() == 1 ? e.channel_scale[0] : e.channel_scale[c];
        }
        const uint8_t *xdata = in.data;
        std::vector<uint8_t> xpadded;
        if (cp != in.c) {
            const int64_t px = in.n * in.h * in.w;
            xpadded.assign(static_cast<size_t>(px * cp), static_cast<uint8_t>(in.zero_point));
            for (int64_t p = 0; p < px; p++) std::copy_n(in.data + p * in.c, in.c, xpadded.data() + p * cp);
            xdata = xpadded.data();
        }
        Halide::Runtime::Buffer<uint8_t> xb(const_cast<uint8_t *>(xdata), static_cast<int>(cp),
                                            static_cast<int>(in.w), static_cast<int>(in.h), static_cast<int>(in.n));
        // (c, kw, kh) over cp channels: see the PackedConvWeights constructor.
        Halide::Runtime::Buffer<int8_t> wb(const_cast<int8_t *>(w.depthwise_weights().data()), static_cast<int>(cp),
                                           static_cast<int>(w.kernel_w()), static_cast<int>(w.kernel_h()));
        Halide::Runtime::Buffer<int32_t> bb(bias.data(), static_cast<int>(cp));
        Halide::Runtime::Buffer<float> sb(scale.data(), static_cast<int>(cp));
        Halide::Runtime::Buffer<void> yb(detail::halide_type_for(e.out), y.data(), static_cast<int>(co),
                                         static_cast<int>(ow), static_cast<int>(oh), static_cast<int>(in.n));
        int32_t x_zero_point = in.zero_point, stride_w = g.stride_w, stride_h = g.stride_h;
        int32_t dilation_w = g.dilation_w, dilation_h = g.dilation_h, pad_left = g.pad_left, pad_top = g.pad_top;
        Requantization rq = e.rq;
        auto call = [&](auto fn, const char *name) {
            detail::check_kernel(
                detail::call_kernel(detail::choose_kernel(name, shape_class::depthwise_conv()), fn, xb, wb, bb,
                                    x_zero_point, stride_w, stride_h, dilation_w, dilation_h, pad_left, pad_top, sb,
                                    rq.out_zero_point, rq.out_min, rq.out_max, yb),
                op, name);
        };
        call_for_output(e.out,
                        KernelFamily<decltype(&qf_dwconv_s32)>{qf_dwconv_s32, qf_dwconv_u8, qf_dwconv_s8, qf_dwconv_f32,
                                                               "qf_dwconv"},
                        call);
        return;
    }

    const int64_t og = co / g.groups, cg = w.in_channels_per_group();
    const bool direct_gemm = g.groups == 1 && w.kernel_h() == 1 && w.kernel_w() == 1 && g.stride_h == 1 &&
                             g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 && g.pad_bottom == 0 &&
                             g.pad_right == 0 && cg % 4 == 0;
    if (!direct_gemm && g.groups == 1 && g.dilation_w == 1 && !w.row_packed_weights().empty() &&
        in.w * in.c <= INT32_MAX / 2) {
        rows_conv(op, in, w, g, e, opt.bias, oh, ow, y);
        return;
    }
    if (!direct_gemm && g.groups == 1 && cg % 4 == 0) {
        direct_conv(op, in, w, g, opt, e, oh, ow, y);
        return;
    }
    // im2col rows, reused across calls on this thread (a conv layer's rows are
    // megabytes: allocating and faulting them in per call costs more than the gather).
    thread_local std::vector<uint8_t> col;
    for (int gi = 0; gi < g.groups; gi++) {
        const PackedGemmWeights &gw = w.group_weights()[gi];
        const int64_t k_padded = gw.k_padded();
        Halide::Runtime::Buffer<uint8_t> a;
        if (direct_gemm) {
            a = Halide::Runtime::Buffer<uint8_t>(const_cast<uint8_t *>(in.data), static_cast<int>(cg),
                                                 static_cast<int>(pixels));
        } else {
            // One row of K padded bytes per output pixel. The bytes past
            // KH*KW*Cg meet zero weights; they are zeroed anyway so the GEMM
            // never reads memory nobody wrote.
            if (pixels * k_padded > INT32_MAX) {
                throw ShapeError(std::string(op) + ": the im2col matrix of this convolution (" + str(pixels) +
                                 " pixels x " + str(k_padded) + " bytes) exceeds 2 GiB; split the batch");
            }
            const size_t bytes = static_cast<size_t>(pixels * k_padded);
            if (col.size() < bytes) col.resize(bytes);
            const int64_t k = cg * w.kernel_h() * w.kernel_w();
            if (gi == 0 && k < k_padded) {
                for (int64_t p = 0; p < pixels; p++) std::fill_n(col.data() + p * k_padded + k, k_padded - k, 0);
            }
            halide_dimension_t dims[4] = {{0, static_cast<int32_t>(cg), 1, 0},
                                          {0, static_cast<int32_t>(w.kernel_w()), static_cast<int32_t>(cg), 0},
                                          {0, static_cast<int32_t>(w.kernel_h()),
                                           static_cast<int32_t>(cg * w.kernel_w()), 0},
                                          {0, static_cast<int32_t>(pixels), static_cast<int32_t>(k_padded), 0}};
            Halide::Runtime::Buffer<uint8_t> colb(col.data(), 4, dims);
            Halide::Runtime::Buffer<uint8_t> xb(const_cast<uint8_t *>(in.data), static_cast<int>(in.c),
                                                static_cast<int>(in.w), static_cast<int>(in.h), static_cast<int>(in.n));
            detail::check_kernel(qf_im2col(xb, static_cast<int32_t>(gi * cg), static_cast<int32_t>(ow),
                                           static_cast<int32_t>(oh), g.stride_w, g.stride_h, g.dilation_w,
                                           g.dilation_h, g.pad_left, g.pad_top, in.zero_point, colb),
                                 op, "qf_im2col");
            a = Halide::Runtime::Buffer<uint8_t>(col.data(), static_cast<int>(k_padded), static_cast<int>(pixels));
        }
        // This group's output channels: columns [gi * og, (gi + 1) * og) of every output pixel.
        halide_dimension_t ydims[2] = {{0, static_cast<int32_t>(og), 1, 0},
                                       {0, static_cast<int32_t>(pixels), static_cast<int32_t>(co), 0}};
        auto *ybase = static_cast<uint8_t *>(y.data()) + gi * og * dtype_size(e.out);
        Halide::Runtime::Buffer<void> yb(detail::halide_type_for(e.out), ybase, 2, ydims);
        detail::GemmEpilogue ge = detail::GemmEpilogue::raw(gw);
        if (e.out == DType::f32) {
            ge = detail::GemmEpilogue::dequantized(op, group_slice(e.channel_scale, gi * og, og), gw);
        } else if (e.out != DType::s32) {
            Requantization rq = e.rq;
            rq.multiplier = group_slice(e.channel_scale, gi * og, og);
            ge = detail::GemmEpilogue::requantized(op, rq, e.out, gw);
        }
        detail::run_gemm(op, a, pixels, in.zero_point, gw, opt.bias ? opt.bias + gi * og : nullptr, ge, yb);
    }
}

}  // namespace

PackedConvWeights::PackedConvWeights(const TensorView &w, int groups) {
    const char *op = "PackedConvWeights";
    detail::require_tensor(op, "w", w, DType::s8);
    if (w.rank() != 4) throw ShapeError(std::string(op) + ": w must be OHWI (rank 4), got " + w.describe());
    if (groups < 1 || w.dim(0) % groups != 0) {
        throw InvalidArgument(std::string(op) + ": groups = " + str(groups) + " must be >= 1 and divide C_out = " +
                              str(w.dim(0)));
    }
    for (int d = 0; d < 4; d++) {
        if (w.dim(d) < 1) throw ShapeError(std::string(op) + ": w has an empty dimension: " + w.describe());
    }
    if (w.dim(1) * w.dim(2) * w.dim(3) > 65536) {
        throw ShapeError(std::string(op) + ": KH*KW*C_in/groups = " + str(w.dim(1) * w.dim(2) * w.dim(3)) +
                         " exceeds 65536 (the int32 accumulator could overflow)");
    }
    out_channels_ = w.dim(0);
    kh_ = w.dim(1);
    kw_ = w.dim(2);
    cg_ = w.dim(3);
    groups_ = groups;
    const auto *src = static_cast<const int8_t *>(w.data());
    if (depthwise()) {
        // OHWI [C, KH, KW, 1] -> (c, kw, kh) with c innermost: vectors across
        // channels. Channels are padded with zero filters to cp, a multiple of
        // 16: the kernel runs whole vectors.
        const int64_t cp = (out_channels_ + 15) / 16 * 16;
        depthwise_.assign(static_cast<size_t>(cp * kh_ * kw_), 0);
        for (int64_t c = 0; c < out_channels_; c++) {
            for (int64_t y = 0; y < kh_; y++) {
                for (int64_t x = 0; x < kw_; x++) depthwise_[(y * kw_ + x) * cp + c] = src[(c * kh_ + y) * kw_ + x];
            }
        }
        return;
    }
    // Each group's rows [O / groups, KH * KW * Cg] are contiguous in OHWI: the GEMM's [N, K].
    const int64_t og = out_channels_ / groups, k = kh_ * kw_ * cg_;
    for (int gi = 0; gi < groups; gi++) {
        group_weights_.emplace_back(TensorView(const_cast<int8_t *>(src + gi * og * k), {og, k}));
    }
    if (groups > 1) return;
    // The direct kernel over input rows, when this conv can take it: C_in % 4
    // != 0 (no k group of channels), or C_out at most half a GEMM panel (the
    // panel of 1 or 2 vectors computes no padded columns). Weights
    // [O, KH, KW * C_in] with each kernel row's run of KW * C_in bytes padded
    // to whole k groups of the dispatched variant, packed in panels.
    const detail::GemmLayout &layout = detail::gemm_layout();
    const int64_t vec = layout.panel / 4, group = layout.k_group;
    if (cg_ % 4 == 0 && out_channels_ > 2 * vec) return;
    row_panel_ = (out_channels_ <= vec ? 1 : out_channels_ <= 2 * vec ? 2 : 4) * vec;
    const int64_t run = kw_ * cg_;
    row_groups_ = (run + group - 1) / group;
    const int64_t kgroups = kh_ * row_groups_, panels = (out_channels_ + row_panel_ - 1) / row_panel_;
    row_packed_.assign(static_cast<size_t>(panels * kgroups * row_panel_ * group), 0);
    for (int64_t o = 0; o < out_channels_; o++) {
        for (int64_t y = 0; y < kh_; y++) {
            for (int64_t j = 0; j < run; j++) {
                const int64_t ko = y * row_groups_ + j / group;
                row_packed_[static_cast<size_t>((((o / row_panel_) * kgroups + ko) * row_panel_ + o % row_panel_) *
                                                    group +
                                                j % group)] = src[(o * kh_ + y) * run + j];
            }
        }
    }
}

Shape conv2d_output_shape(const Shape &x, const PackedConvWeights &w, const Conv2dGeometry &g) {
    return output_shape("conv2d_output_shape", x, w, g);
}

namespace {

Shape output_shape(const char *op, const Shape &x, const PackedConvWeights &w, const Conv2dGeometry &g) {
    check_geometry(op, g, w);
    if (x.size() != 4) throw ShapeError(std::string(op) + ": x must be NHWC (rank 4)");
    for (int d = 0; d < 4; d++) {
        if (x[d] < 0 || x[d] > INT32_MAX) {
            throw ShapeError(std::string(op) + ": x dimension " + str(d) + " = " + str(x[d]) + " is out of range");
        }
    }
    const int64_t span_h = (w.kernel_h() - 1) * g.dilation_h + 1, span_w = (w.kernel_w() - 1) * g.dilation_w + 1;
    const int64_t eh = x[1] + g.pad_top + g.pad_bottom - span_h, ew = x[2] + g.pad_left + g.pad_right - span_w;
    if (eh < 0 || ew < 0) {
        throw ShapeError(std::string(op) + ": the dilated kernel (" + str(span_h) + "x" + str(span_w) +
                         ") is larger than the padded input (" + str(x[1] + g.pad_top + g.pad_bottom) + "x" +
                         str(x[2] + g.pad_left + g.pad_right) + ")");
    }
    return {x[0], eh / g.stride_h + 1, ew / g.stride_w + 1, w.out_channels()};
}

}  // namespace

void conv2d_s32(const TensorView &x, const PackedConvWeights &w, const Conv2dGeometry &g, const GemmOptions &opt,
                const TensorView &y) {
    conv2d("conv2d_s32", x, w, g, opt, {DType::s32, {}, {}}, y);
}

void conv2d_requantized(const TensorView &x, const PackedConvWeights &w, const Conv2dGeometry &g,
                        const GemmOptions &opt, const Requantization &rq, const TensorView &y) {
    const char *op = "conv2d_requantized";
    if (y.dtype() != DType::u8 && y.dtype() != DType::s8) {
        throw ShapeError(std::string(op) + ": y must be u8 or s8, got " + y.describe());
    }
    detail::check_requantization(op, rq, y.dtype());  // the GEMM's rules, checked before any work
    conv2d(op, x, w, g, opt, {y.dtype(), rq.multiplier, rq}, y);
}

void conv2d_dequantized(const TensorView &x, const PackedConvWeights &w, const Conv2dGeometry &g,
                        const GemmOptions &opt, const std::vector<float> &out_scale, const TensorView &y) {
    const char *op = "conv2d_dequantized";
    for (size_t i = 0; i < out_scale.size(); i++) {
        if (!std::isfinite(out_scale[i])) {
            throw InvalidArgument(std::string(op) + ": out_scale[" + str(i) + "] must be finite");
        }
    }
    if (out_scale.empty()) throw InvalidArgument(std::string(op) + ": out_scale is empty");
    conv2d(op, x, w, g, opt, {DType::f32, out_scale, {}}, y);
}

}  // namespace qforge
