// The float32 training operators around the GEMMs (NHWC; per-channel means
// the last axis), and the small integer-model helpers (quantize, requantize,
// u8 max-pool). Every entry point validates its arguments first (qforge::Error
// naming the argument, no output written), then runs dispatched AOT kernels.
// Formulas follow PyTorch's (torch.nn.functional / torch.optim) so results
// are comparable; the exact definitions are in docs/training-ops.md.
#pragma once

#include <cstdint>

#include "qforge/quant_params.h"
#include "qforge/tensor.h"

namespace qforge {

// ---- per-channel reductions and affine ------------------------------------
// out[c] = sum over all other axes of x[..., c]   (x [..., C], out [C])
void column_sum(const TensorView &x, const TensorView &out);

// y[..., c] = x[..., c] * scale[c] + shift[c]   (y may alias x)
void channel_affine(const TensorView &x, const TensorView &scale, const TensorView &shift, const TensorView &y);
// dx = dy * scale; dscale[c] = sum(dy * x); dshift[c] = sum(dy). dscale / dshift are overwritten.
// dx must not share memory with any other argument.
void channel_affine_backward(const TensorView &dy, const TensorView &x, const TensorView &scale,
                             const TensorView &dx, const TensorView &dscale, const TensorView &dshift);

// ---- batch norm over x [..., C] (statistics over every axis but the last) ---
// Training: mean[c], var[c] (biased) of this batch, two-pass (the mean first,
// then the squared deviations from it); y = (x - mean) * (invstd * gamma) + beta,
// invstd = 1 / sqrt(var + eps). Writes y, batch mean, batch biased var and invstd ([C] each).
// x needs at least one row; y may alias x. eps must be finite and > 0.
// (The running-statistics update, with the unbiased variance, is the caller's:
// it is C numbers.)
void batch_norm_train(const TensorView &x, const TensorView &gamma, const TensorView &beta, float eps,
                      const TensorView &y, const TensorView &mean, const TensorView &var,
                      const TensorView &invstd);
// Backward of batch_norm_train (PyTorch's CPU formula, docs/training-ops.md):
// dx, dgamma, dbeta (overwritten). mean / invstd are batch_norm_train's. dx may alias dy or x.
void batch_norm_backward(const TensorView &dy, const TensorView &x, const TensorView &gamma,
                         const TensorView &mean, const TensorView &invstd, const TensorView &dx,
                         const TensorView &dgamma, const TensorView &dbeta);
// Eval / frozen statistics: y = (x - running_mean) * (invstd * gamma) + beta,
// invstd = 1 / sqrt(running_var + eps) (running_var must be finite and >= 0).
// (Its backward is channel_affine_backward with scale = gamma / sqrt(var + eps).)
void batch_norm_eval(const TensorView &x, const TensorView &gamma, const TensorView &beta,
                     const TensorView &running_mean, const TensorView &running_var, float eps,
                     const TensorView &y);

// ---- ReLU --------------------------------------------------------------------
// y = x < 0 ? +0 : x (PyTorch's clamp_min: -0.0 and NaN pass through). y may alias x.
void relu(const TensorView &x, const TensorView &y);
// dx = y <= 0 ? +0 : dy (PyTorch's threshold_backward; a NaN y passes dy). dx may alias dy or y.
void relu_backward(const TensorView &dy, const TensorView &y, const TensorView &dx);

// ---- 2x2 max pool, stride 2, NHWC (floor: odd trailing row / column dropped) ----
// y [N, H/2, W/2, C]; argmax (u8, same shape as y) = window position 0..3
// (row-major; the first maximum wins, and a NaN always does, as PyTorch's).
void max_pool2x2(const TensorView &x, const TensorView &y, const TensorView &argmax);
// dx [N, H, W, C] overwritten: dy routed to the argmax position, +0 elsewhere
// (an argmax value outside 0..3 routes nothing).
void max_pool2x2_backward(const TensorView &dy, const TensorView &argmax, const TensorView &dx);
// Integer model: u8 or s8 x -> y of the same dtype (max commutes with quantization).
void max_pool2x2_int8(const TensorView &x, const TensorView &y);

// ---- softmax cross-entropy ------------------------------------------------------
// logits [B, K] f32, labels [B] s32 in [0, K). Returns the mean loss over the
// batch; when dlogits is given (non-empty view, [B, K]) writes
// d(mean loss)/dlogits = (softmax - onehot) / B. A default-constructed
// TensorView (no data, rank 0) means "no gradient". Labels outside [0, K)
// throw InvalidArgument.
float softmax_cross_entropy(const TensorView &logits, const TensorView &labels, const TensorView &dlogits);
// The loss alone.
float softmax_cross_entropy(const TensorView &logits, const TensorView &labels);

// ---- optimizers (in place, every tensor the same shape, f32) --------------------
// PyTorch SGD (dampening 0, no Nesterov): g' = grad + weight_decay * param
// (grad itself when weight_decay == 0); buf = buf * momentum + g' (buf = g' at
// the first step: pass first_step); param = param + (-lr) * buf.
// lr, momentum, weight_decay finite and >= 0; the three tensors must not share memory.
void sgd_momentum_update(const TensorView &param, const TensorView &grad, const TensorView &momentum_buf,
                         float lr, float momentum, float weight_decay, bool first_step);
// PyTorch Adam (amsgrad off; L2 weight decay added to the gradient), step counts
// from 1 (the step being taken: pass 1 on the first call). lr, eps, weight_decay
// finite and >= 0; beta1, beta2 in [0, 1). Tensors must not share memory.
void adam_update(const TensorView &param, const TensorView &grad, const TensorView &exp_avg,
                 const TensorView &exp_avg_sq, int64_t step, float lr, float beta1, float beta2, float eps,
                 float weight_decay);

// ---- integer-model helpers (docs/numerics.md) -----------------------------------
// q = clamp(nearbyint(x * (1/scale)) + z, qmin, qmax), into u8 or s8 y (the
// range must fit y's dtype). NaN -> qmin, +-Inf saturate.
void quantize(const TensorView &x, const QuantParams &p, const TensorView &y);
// y = (q - z) * scale, q u8 or s8, y f32.
void dequantize(const TensorView &q, const QuantParams &p, const TensorView &y);
// acc s32 [..., C] -> y u8/s8: clamp(nearbyint(float(acc) * multiplier[c]) + out_zero_point, out_min, out_max)
// with multiplier 1 or C entries, each finite and > 0 (the requantize helper of
// generators/common/numerics.h); out_min <= out_max and out_zero_point within y's dtype.
void requantize(const TensorView &acc, const TensorView &multiplier, int32_t out_zero_point, int32_t out_min,
                int32_t out_max, const TensorView &y);

}  // namespace qforge
