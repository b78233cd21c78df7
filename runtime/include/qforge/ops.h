// The float32 quantization operators. Each function validates every argument
// first (throwing a qforge::Error subclass that names the argument and the
// problem, with no output written), then runs the dispatched AOT kernel.
//
// Tensors must be contiguous; an output may alias its input exactly (in-place)
// but not overlap it partially. Numerics: docs/numerics.md.
#pragma once

#include <optional>
#include <vector>

#include "qforge/quant_params.h"
#include "qforge/tensor.h"

namespace qforge {

// y = fake_quant(x). The overloads with `mask` (u8, same shape) also write the
// STE mask (1 where the rounded value is inside [qmin, qmax]) in the same pass.
void fake_quant(const TensorView &x, const QuantParams &p, const TensorView &y);
void fake_quant(const TensorView &x, const QuantParams &p, const TensorView &y, const TensorView &mask);
void fake_quant(const TensorView &x, const PerChannelQuantParams &p, const TensorView &y);
void fake_quant(const TensorView &x, const PerChannelQuantParams &p, const TensorView &y,
                const TensorView &mask);

// Straight-through backward: dx = dy * mask, mask from the forward.
void fake_quant_backward(const TensorView &dy, const TensorView &mask, const TensorView &dx);

// LSQ forward: fake_quant with the learnable zero point rounded (nearbyint, clamped).
void lsq_forward(const TensorView &x, const LearnableQuantParams &p, const TensorView &y);
void lsq_forward(const TensorView &x, const LearnablePerChannelQuantParams &p, const TensorView &y);

struct LsqGradients {
    float dscale = 0.0f;
    float dzero_point = 0.0f;  // the LSQ+ offset gradient; ignore it for plain LSQ
};

// LSQ / LSQ+ backward in one fused pass: dx, dscale and dzero_point.
// grad_scale defaults to 1 / sqrt(numel * qmax).
LsqGradients lsq_backward(const TensorView &x, const TensorView &dy, const LearnableQuantParams &p,
                          const TensorView &dx, std::optional<float> grad_scale = std::nullopt);

struct LsqPerChannelGradients {
    std::vector<float> dscale;       // one per channel
    std::vector<float> dzero_point;  // one per channel
};

// Per channel: g defaults to 1 / sqrt((numel / channels) * qmax).
LsqPerChannelGradients lsq_backward(const TensorView &x, const TensorView &dy,
                                    const LearnablePerChannelQuantParams &p, const TensorView &dx,
                                    std::optional<float> grad_scale = std::nullopt);

}  // namespace qforge
