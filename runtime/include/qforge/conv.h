// int8 2-D convolution with requantization: NHWC activations (u8 or s8, zero
// point z_x), OHWI weights (s8, symmetric), int32 bias, and the same output
// stages as the GEMM (gemm.h): s32, requantized u8/s8 (ReLU/ReLU6 fused by the
// clamp bounds), dequantized f32.
//
//   acc[n, oy, ox, o] = bias[o] + sum_{kh, kw, ci} (x[n, iy, ix, g*Cg + ci] - z_x) * w[o, kh, kw, ci]
//   iy = oy * stride_h - pad_top + kh * dilation_h   (ix likewise), g = o / (O / groups)
//
// Taps in the padding read z_x, so they add nothing. Paths: depthwise
// (groups = C_in = C_out) runs a direct kernel; a 1x1, stride-1, unpadded,
// ungrouped conv with C_in % 4 == 0 runs the GEMM on the input as it is;
// ungrouped convs with dilation_w = 1 and C_in % 4 != 0 or a narrow C_out
// (at most half a GEMM panel: 32 on AVX-512) run the direct kernel over
// flattened input rows (narrow weight panels); other ungrouped convs with
// C_in % 4 == 0 run the direct (implicit-GEMM) kernel; everything else runs
// im2col + the GEMM, per group.
#pragma once

#include <cstdint>
#include <vector>

#include "qforge/gemm.h"
#include "qforge/tensor.h"

namespace qforge {

struct Conv2dGeometry {
    int stride_h = 1, stride_w = 1;
    int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    int dilation_h = 1, dilation_w = 1;
    int groups = 1;
};

// OHWI weights packed once for the path their shape takes.
class PackedConvWeights {
public:
    PackedConvWeights() = default;
    PackedConvWeights(const TensorView &w, int groups);  // s8 [O, KH, KW, C_in / groups]

    int64_t out_channels() const { return out_channels_; }
    int64_t kernel_h() const { return kh_; }
    int64_t kernel_w() const { return kw_; }
    int64_t in_channels_per_group() const { return cg_; }
    int groups() const { return groups_; }
    bool depthwise() const { return groups_ > 1 && cg_ == 1 && out_channels_ == groups_; }

    const std::vector<PackedGemmWeights> &group_weights() const { return group_weights_; }
    const std::vector<int8_t> &depthwise_weights() const { return depthwise_; }  // (c, kw, kh), c innermost

    // Layout details of the direct kernel over input rows (empty when this
    // conv never takes it): (kk, oi, ko, oo) innermost first, panels of
    // row_panel() columns, ko = kh * row_groups() + the k group within the
    // kernel row's KW * C_in bytes (zero-padded to whole groups).
    const std::vector<int8_t> &row_packed_weights() const { return row_packed_; }
    int64_t row_panel() const { return row_panel_; }
    int64_t row_groups() const { return row_groups_; }

private:
    int64_t out_channels_ = 0, kh_ = 0, kw_ = 0, cg_ = 0;
    int groups_ = 1;
    std::vector<PackedGemmWeights> group_weights_;  // one [O / groups, KH * KW * Cg] GEMM per group
    std::vector<int8_t> depthwise_;
    std::vector<int8_t> row_packed_;
    int64_t row_panel_ = 0, row_groups_ = 0;
};

// NHWC output shape; throws on geometry that yields no output or is invalid.
Shape conv2d_output_shape(const Shape &x_nhwc, const PackedConvWeights &w, const Conv2dGeometry &g);

// opt.a_zero_point is z_x; opt.bias has C_out entries (or nullptr).
void conv2d_s32(const TensorView &x, const PackedConvWeights &w, const Conv2dGeometry &g, const GemmOptions &opt,
                const TensorView &y);
void conv2d_requantized(const TensorView &x, const PackedConvWeights &w, const Conv2dGeometry &g,
                        const GemmOptions &opt, const Requantization &rq, const TensorView &y);
void conv2d_dequantized(const TensorView &x, const PackedConvWeights &w, const Conv2dGeometry &g,
                        const GemmOptions &opt, const std::vector<float> &out_scale, const TensorView &y);

}  // namespace qforge
