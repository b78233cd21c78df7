// int8 GEMM: packing, argument checks, activation preparation, kernel choice.
#include "qforge/gemm.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "gemm_internal.h"
#include "device_call.h"
#include "kernel_call.h"
#include "qforge/dispatch.h"
#include "qf_gemm_f32.h"
#include "qf_gemm_f32_gemv.h"
#include "qf_gemm_s32.h"
#include "qf_gemm_s32_gemv.h"
#include "qf_gemm_s8.h"
#include "qf_gemm_s8_gemv.h"
#include "qf_gemm_u8.h"
#include "qf_gemm_u8_gemv.h"
#include "qf_gemm_layout_probe.h"
#include "qforge/tuning.h"
#include "tuned_kernels.h"
#include "qf_pack_gemm_weights.h"

namespace qforge {

namespace {

// K bound: |a - z| * |w| <= 255 * 128 per product, so K <= 65536 keeps the
// int32 sum within 255 * 128 * 65536 = 2139095040; the bias gets the rest of
// the int32 range (checked per call: check_bias_headroom).
constexpr int64_t kMaxK = 65536;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

using KernelFn = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, int32_t,
                         halide_buffer_t *, int32_t, int32_t, int32_t, halide_buffer_t *);

// One output kind's two tilings (cmake/kernels.cmake).
struct GemmKernels {
    KernelFn tiled, gemv;
    const char *name;  // the tiled library's; the GEMV one adds _gemv
};

#define QF_GEMM_KERNELS(kind) GemmKernels{qf_gemm_##kind, qf_gemm_##kind##_gemv, "qf_gemm_" #kind}

// Activations as the GEMM kernels take them: u8, K padded to a multiple of 4.
struct PreparedActivations {
    detail::U8Activations u8;
    int64_t m = 0, k_padded = 0;
};

PreparedActivations prepare_activations(const char *op, const TensorView &a, const PackedGemmWeights &w,
                                        int32_t a_zero_point) {
    if (a.dtype() != DType::u8 && a.dtype() != DType::s8) {
        throw ShapeError(std::string(op) + ": a must be u8 or s8, got " + a.describe());
    }
    if (a.rank() != 2) throw ShapeError(std::string(op) + ": a must be [M, K], got " + a.describe());
    if (a.dim(1) != w.k()) {
        throw ShapeError(std::string(op) + ": a " + a.describe() + " has K = " + std::to_string(a.dim(1)) +
                         " but the weights have K = " + std::to_string(w.k()));
    }
    PreparedActivations p;
    p.m = a.dim(0);
    p.k_padded = w.k_padded();
    p.u8 = detail::u8_activations(op, "a", a, a_zero_point, p.m, w.k(), p.k_padded);
    return p;
}

// A per-column vector (1 or N entries) widened to the padded column count.
std::vector<float> per_column(const char *op, const char *name, const std::vector<float> &v, const PackedGemmWeights &w) {
    if (v.size() != 1 && static_cast<int64_t>(v.size()) != w.n()) {
        throw InvalidArgument(std::string(op) + ": " + name + " has " + std::to_string(v.size()) +
                              " entries; expected 1 or N = " + std::to_string(w.n()));
    }
    std::vector<float> out(static_cast<size_t>(w.n_padded()), 0.0f);
    for (int64_t n = 0; n < w.n(); n++) out[n] = v.size() == 1 ? v[0] : v[n];
    return out;
}

void check_output(const char *op, const TensorView &c, DType dtype, const PreparedActivations &a,
                  const PackedGemmWeights &w) {
    detail::require_tensor(op, "c", c, dtype);
    if (c.rank() != 2 || c.dim(0) != a.m || c.dim(1) != w.n()) {
        throw ShapeError(std::string(op) + ": c must be [M, N] = [" + std::to_string(a.m) + ", " +
                         std::to_string(w.n()) + "], got " + c.describe());
    }
}

void check_weights(const char *op, const PackedGemmWeights &w) {
    if (w.empty()) throw InvalidArgument(std::string(op) + ": the packed weights are empty");
}

GemmKernels kernels_for(DType out) {
    switch (out) {
    case DType::s32: return QF_GEMM_KERNELS(s32);
    case DType::u8: return QF_GEMM_KERNELS(u8);
    case DType::s8: return QF_GEMM_KERNELS(s8);
    case DType::f32: return QF_GEMM_KERNELS(f32);
    }
    throw ShapeError("gemm: no kernel for output dtype " + std::string(dtype_name(out)));
}

}  // namespace

namespace detail {

U8Activations u8_activations(const char *op, const char *name, const TensorView &a, int32_t zero_point, int64_t rows,
                             int64_t row_bytes, int64_t row_stride) {
    require_tensor(op, name, a, a.dtype());
    const bool is_signed = a.dtype() == DType::s8;
    const int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
    if (zero_point < lo || zero_point > hi) {
        throw InvalidArgument(std::string(op) + ": the zero point of " + name + ", " + std::to_string(zero_point) +
                              ", is outside the range of " + dtype_name(a.dtype()) + " [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "]");
    }
    U8Activations u;
    u.zero_point = zero_point + (is_signed ? 128 : 0);
    if (!is_signed && row_bytes == row_stride) {
        u.data = static_cast<const uint8_t *>(a.data());
        return u;
    }
    u.storage.assign(static_cast<size_t>(rows * row_stride), 0);
    const uint8_t flip = is_signed ? 0x80 : 0x00;
    const auto *src = static_cast<const uint8_t *>(a.data());
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < row_bytes; i++) u.storage[r * row_stride + i] = src[r * row_bytes + i] ^ flip;
    }
    u.data = u.storage.data();
    return u;
}

const GemmLayout &gemm_layout() {
    // Asked once from the probe kernel (same targets and dispatch as the GEMM
    // kernels, built from the same schedule functions): never restated here.
    static const GemmLayout layout = [] {
        ensure_kernel_runtime();
        int32_t v[3] = {0, 0, 0};
        Halide::Runtime::Buffer<int32_t> out(v, 3);
        check_kernel(qf_gemm_layout_probe(out), "gemm", "qf_gemm_layout_probe");
        return GemmLayout{v[0], v[1], v[2]};
    }();
    return layout;
}

void check_bias_headroom(const char *op, const int32_t *bias, int64_t n, int64_t k) {
    if (!bias) return;
    const int64_t limit = int64_t(INT32_MAX) - int64_t(255) * 128 * k;
    for (int64_t i = 0; i < n; i++) {
        if (std::llabs(int64_t(bias[i])) > limit) {
            throw InvalidArgument(std::string(op) + ": bias[" + std::to_string(i) + "] = " + std::to_string(bias[i]) +
                                  " could overflow the int32 accumulator with K = " + std::to_string(k) +
                                  " (|bias| must be <= " + std::to_string(limit) + ")");
        }
    }
}

void check_requantization(const char *op, const Requantization &rq, DType out) {
    if (out != DType::u8 && out != DType::s8) {
        throw ShapeError(std::string(op) + ": the output must be u8 or s8, got " + dtype_name(out));
    }
    const int32_t lo = out == DType::s8 ? -128 : 0, hi = out == DType::s8 ? 127 : 255;
    if (rq.out_min < lo || rq.out_max > hi || rq.out_min > rq.out_max) {
        throw InvalidArgument(std::string(op) + ": clamp bounds [" + std::to_string(rq.out_min) + ", " +
                              std::to_string(rq.out_max) + "] must be ordered and inside " + dtype_name(out) +
                              " [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    if (rq.out_zero_point < lo || rq.out_zero_point > hi) {
        throw InvalidArgument(std::string(op) + ": out_zero_point " + std::to_string(rq.out_zero_point) +
                              " is outside " + dtype_name(out) + " [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "]");
    }
    if (rq.multiplier.empty()) throw InvalidArgument(std::string(op) + ": multiplier is empty");
    for (size_t i = 0; i < rq.multiplier.size(); i++) {
        if (!std::isfinite(rq.multiplier[i]) || !(rq.multiplier[i] > 0.0f)) {
            throw InvalidArgument(std::string(op) + ": multiplier[" + std::to_string(i) +
                                  "] must be finite and > 0, got " + std::to_string(rq.multiplier[i]));
        }
    }
}

GemmEpilogue GemmEpilogue::requantized(const char *op, const Requantization &rq, DType out, const PackedGemmWeights &w) {
    check_requantization(op, rq, out);
    return {out, per_column(op, "multiplier", rq.multiplier, w), rq.out_zero_point, rq.out_min, rq.out_max};
}

GemmEpilogue GemmEpilogue::dequantized(const char *op, const std::vector<float> &out_scale, const PackedGemmWeights &w) {
    for (size_t i = 0; i < out_scale.size(); i++) {
        if (!std::isfinite(out_scale[i])) {
            throw InvalidArgument(std::string(op) + ": out_scale[" + std::to_string(i) + "] must be finite, got " +
                                  std::to_string(out_scale[i]));
        }
    }
    return {DType::f32, per_column(op, "out_scale", out_scale, w), 0, 0, 0};
}

GemmEpilogue GemmEpilogue::raw(const PackedGemmWeights &w) {
    return {DType::s32, std::vector<float>(static_cast<size_t>(w.n_padded()), 0.0f), 0, 0, 0};
}

void run_gemm(const char *op, halide_buffer_t *a, int64_t m, int32_t a_zero_point, const PackedGemmWeights &w,
              const int32_t *bias, const GemmEpilogue &epilogue, halide_buffer_t *c) {
    if (m == 0) return;
    ensure_kernel_runtime();
    std::vector<int32_t> bias_padded(static_cast<size_t>(w.n_padded()), 0);
    if (bias) std::copy(bias, bias + w.n(), bias_padded.begin());
    std::vector<float> channel_scale = epilogue.channel_scale;
    auto pb = w.packed_buffer();
    Halide::Runtime::Buffer<int32_t> sb(const_cast<int32_t *>(w.row_sums()), static_cast<int>(w.n_padded()));
    Halide::Runtime::Buffer<int32_t> bb(bias_padded.data(), static_cast<int>(w.n_padded()));
    Halide::Runtime::Buffer<float> cs(channel_scale.data(), static_cast<int>(w.n_padded()));
    const GemmKernels kernels = kernels_for(epilogue.out);
    // M >= R rows run the tiled kernel in one call: its last row tile is
    // shifted inwards to end at row M (overlapping the one before, whose rows
    // it writes again with the same values), so M need not be a multiple of R.
    // One call, not a second one for the last M mod R rows: a parallel region
    // costs microseconds of wake-up, which shows at 2 threads on short GEMMs.
    // A short M runs the one-row kernel.
    const int64_t tile = gemm_layout().tile_rows;
    const std::string tiled_name = kernels.name, gemv_name = tiled_name + "_gemv";
    auto call = [&](const KernelChoice &k, KernelFn fn, halide_buffer_t *ab, halide_buffer_t *cb,
                    const std::string &name) {
        check_kernel(call_kernel(k, fn, ab, pb, sb, bb, a_zero_point, cs, epilogue.out_zero_point, epilogue.out_min,
                                 epilogue.out_max, cb),
                     op, name.c_str());
    };
    // The shape class picks a tuned kernel where the build has one
    // (qforge/tuning.h): the one-row slot for "gemv", the tiled slot for the
    // others, whose tuned row tile never exceeds the class's smallest M.
    const char *cls = shape_class::gemm(m);
    if (std::string_view(cls) == "gemv") {
        call(choose_kernel(gemv_name.c_str(), cls), kernels.gemv, a, c, gemv_name);
        return;
    }
    const KernelChoice tuned = choose_kernel(tiled_name.c_str(), cls);
    if ((tuned.argv || tuned.tuned) && m >= (tuned.tile_m > 0 ? tuned.tile_m : tile)) {
        call(tuned, kernels.tiled, a, c, tiled_name);
    } else if (m >= tile) {
        call(KernelChoice{}, kernels.tiled, a, c, tiled_name);
    } else {
        call(KernelChoice{}, kernels.gemv, a, c, gemv_name);
    }
}

}  // namespace detail

Halide::Runtime::Buffer<int8_t> PackedGemmWeights::packed_buffer() const {
    // (G, P, K padded / G, N padded / P), densely nested: panel after panel.
    const int g = static_cast<int>(k_group_), p = static_cast<int>(panel_);
    halide_dimension_t dims[4] = {{0, g, 1, 0},
                                  {0, p, g, 0},
                                  {0, static_cast<int32_t>(k_padded_ / g), g * p, 0},
                                  {0, static_cast<int32_t>(n_padded_ / p), static_cast<int32_t>(p * k_padded_), 0}};
    return Halide::Runtime::Buffer<int8_t>(const_cast<int8_t *>(packed_.data()), 4, dims);
}

PackedGemmWeights::PackedGemmWeights(const TensorView &w) {
    const char *op = "PackedGemmWeights";
    detail::require_tensor(op, "w", w, DType::s8);
    if (w.rank() != 2 || w.dim(0) < 1 || w.dim(1) < 1) {
        throw ShapeError(std::string(op) + ": w must be [N, K] with N, K >= 1, got " + w.describe());
    }
    if (w.dim(1) > kMaxK) {
        throw ShapeError(std::string(op) + ": K = " + std::to_string(w.dim(1)) + " exceeds " +
                         std::to_string(kMaxK) + " (the int32 accumulator could overflow)");
    }
    n_ = w.dim(0);
    k_ = w.dim(1);
    n_padded_ = round_up(n_, kColumnPanel);
    k_padded_ = round_up(k_, 4);
    packed_.assign(static_cast<size_t>(n_padded_ * k_padded_), 0);
    row_sums_.assign(static_cast<size_t>(n_padded_), 0);
    // The kernels' k group and panel follow the variant dispatch picks.
    k_group_ = detail::gemm_layout().k_group;
    panel_ = detail::gemm_layout().panel;
    Halide::Runtime::Buffer<int8_t> wb(const_cast<int8_t *>(static_cast<const int8_t *>(w.data())),
                                       static_cast<int>(k_), static_cast<int>(n_));
    auto pb = packed_buffer();
    Halide::Runtime::Buffer<int32_t> sb(row_sums_.data(), static_cast<int>(n_padded_));
    detail::check_kernel(qf_pack_gemm_weights(wb, pb, sb), op, "qf_pack_gemm_weights");
}

namespace {

// The public GEMMs: check A and C, then one kernel call.
void gemm_public(const char *op, const TensorView &a, const PackedGemmWeights &w, const GemmOptions &opt,
                 const detail::GemmEpilogue &epilogue, const TensorView &c) {
    detail::require_cpu_device(op);  // packed for the CPU variant's layout; no CUDA path yet
    auto pa = prepare_activations(op, a, w, opt.a_zero_point);
    check_output(op, c, epilogue.out, pa, w);
    // Parallel tasks read rows of A while others write rows of C: no aliasing at all.
    detail::require_disjoint(op, "a", a, "c", c);
    detail::check_bias_headroom(op, opt.bias, w.n(), w.k());
    if (pa.m == 0) return;
    Halide::Runtime::Buffer<uint8_t> ab(const_cast<uint8_t *>(pa.u8.data), static_cast<int>(pa.k_padded),
                                        static_cast<int>(pa.m));
    Halide::Runtime::Buffer<void> cb(detail::halide_type_for(c.dtype()), c.data(), static_cast<int>(w.n()),
                                     static_cast<int>(pa.m));
    detail::run_gemm(op, ab, pa.m, pa.u8.zero_point, w, opt.bias, epilogue, cb);
}

}  // namespace

void gemm_s32(const TensorView &a, const PackedGemmWeights &w, const GemmOptions &opt, const TensorView &c) {
    const char *op = "gemm_s32";
    check_weights(op, w);
    gemm_public(op, a, w, opt, detail::GemmEpilogue::raw(w), c);
}

void gemm_requantized(const TensorView &a, const PackedGemmWeights &w, const GemmOptions &opt,
                      const Requantization &rq, const TensorView &c) {
    const char *op = "gemm_requantized";
    check_weights(op, w);
    gemm_public(op, a, w, opt, detail::GemmEpilogue::requantized(op, rq, c.dtype(), w), c);
}

void gemm_dequantized(const TensorView &a, const PackedGemmWeights &w, const GemmOptions &opt,
                      const std::vector<float> &out_scale, const TensorView &c) {
    const char *op = "gemm_dequantized";
    check_weights(op, w);
    gemm_public(op, a, w, opt, detail::GemmEpilogue::dequantized(op, out_scale, w), c);
}

}  // namespace qforge
