// int8 GEMM with requantization (docs/numerics.md, "Requantize"):
//
//   acc[m, n] = sum_k (A[m, k] - a_zero_point) * W[n, k] + bias[n]      (int32)
//   C[m, n]   = acc                                                      (s32 output)
//             | clamp(nearbyint(float(acc) * multiplier[n]) + out_zero_point, out_min, out_max)
//                                                                        (u8 / s8 output)
//             | float(acc) * out_scale[n]                                 (f32 output, e.g. logits)
//
// A: activations, u8 or s8, [M, K] row-major. W: weights, s8, symmetric,
// [N, K] as linear layers hold them. Weights are packed once
// (PackedGemmWeights) into the layout the kernels stream, with the per-row
// sums that fold the activation zero point into the bias; s8 activations
// are shifted by +128 inside the kernel (VNNI multiplies u8 x s8) with the
// shift folded into the same bias term: the caller never sees either.
#pragma once

#include <cstdint>
#include <vector>

#include "HalideBuffer.h"
#include "qforge/tensor.h"

namespace qforge {

// Weights [N, K] s8 packed for the GEMM kernels: K padded to a multiple of 4,
// N to a multiple of 64; panels of P columns, each one contiguous block, in
// which groups of G consecutive k of a column are contiguous (G = 4, P = 64
// for the VNNI kernels; G = 2 and P = 32 or 16 for the others: the layout
// follows the CPU variant dispatch chose, so packed weights belong to the
// process that packed them); plus sum_k W[n, k] per row.
class PackedGemmWeights {
public:
    PackedGemmWeights() = default;
    explicit PackedGemmWeights(const TensorView &w);  // s8 [N, K], validated

    int64_t n() const { return n_; }
    int64_t k() const { return k_; }
    bool empty() const { return n_ == 0; }

    // Layout details, for the kernels.
    int64_t n_padded() const { return n_padded_; }
    int64_t k_padded() const { return k_padded_; }
    int64_t k_group() const { return k_group_; }  // 4 on AVX-512 VNNI, 2 elsewhere
    int64_t panel() const { return panel_; }       // columns per contiguous panel: 64, 32 (AVX2), 16
    const int8_t *packed() const { return packed_.data(); }
    Halide::Runtime::Buffer<int8_t> packed_buffer() const;  // the kernels' view of packed()
    const int32_t *row_sums() const { return row_sums_.data(); }

    static constexpr int64_t kColumnPanel = 64;  // N is padded to a multiple of this

private:
    int64_t n_ = 0, k_ = 0, n_padded_ = 0, k_padded_ = 0, k_group_ = 4, panel_ = 64;
    std::vector<int8_t> packed_;     // (k % G, n % P, k / G, n / P), innermost first
    std::vector<int32_t> row_sums_;  // N
};

// Output stage of a GEMM. Per-channel vectors have N entries; a single entry
// applies to every channel.
struct Requantization {
    std::vector<float> multiplier;  // s_a * s_w[n] / s_out, finite, > 0
    int32_t out_zero_point = 0;
    int32_t out_min = -128;         // clamp bounds: the output range, or a
    int32_t out_max = 127;          // narrower one fusing ReLU / ReLU6
};

struct GemmOptions {
    int32_t a_zero_point = 0;     // in the range of A's dtype
    const int32_t *bias = nullptr;  // N entries, or nullptr for none
};

// C (s32 [M, N]) = acc.
void gemm_s32(const TensorView &a, const PackedGemmWeights &w, const GemmOptions &opt, const TensorView &c);

// C (u8 or s8 [M, N]) = requantized acc; out_min/out_max must lie in C's dtype range.
void gemm_requantized(const TensorView &a, const PackedGemmWeights &w, const GemmOptions &opt,
                      const Requantization &rq, const TensorView &c);

// C (f32 [M, N]) = float(acc) * out_scale[n] (1 or N entries, finite).
void gemm_dequantized(const TensorView &a, const PackedGemmWeights &w, const GemmOptions &opt,
                      const std::vector<float> &out_scale, const TensorView &c);

}  // namespace qforge
