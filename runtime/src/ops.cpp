// The float32 quantization operators: validate, then call the AOT kernel.
#include "qforge/ops.h"

#include <cmath>
#include <string>

#include "device_call.h"
#include "kernel_call.h"
#include "qforge/tuning.h"
#include "tuned_kernels.h"
#include "qf_fake_quant_pc.h"
#include "qf_fake_quant_pc_mask.h"
#include "qf_fake_quant_pt.h"
#include "qf_fake_quant_pt_mask.h"
#include "qf_lsq_backward_pc.h"
#include "qf_lsq_backward_pt.h"
#include "qf_ste_backward.h"

namespace qforge {

using detail::channel_buffer;
using detail::check_kernel;
using detail::flat_buffer;
using detail::require_no_partial_overlap;
using detail::require_same_shape;
using detail::require_tensor;
using HBuf = Halide::Runtime::Buffer<float>;

namespace {

// An elementwise kernel call: on CUDA the slot's CUDA kernel; on the CPU the
// tuned kernel for its slot where the build has one (qforge/tuning.h), else
// the default library.
template<typename Fn, typename... Args>
int run_elementwise(const char *slot, const detail::CudaKernel &cuda, int64_t elements, Fn fn, Args &&...args) {
    if (current_device() == Device::cuda) return detail::call_cuda(slot, cuda, args...);
    return detail::call_kernel(detail::choose_kernel(slot, shape_class::elementwise(elements)), fn, args...);
}

// Checks shared by both fake_quant forms: x, y, and the optional mask.
void check_forward_tensors(const char *op, const TensorView &x, const TensorView &y, const TensorView *mask) {
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "y", y, DType::f32);
    require_same_shape(op, "x", x, "y", y);
    require_no_partial_overlap(op, "x", x, "y", y);
    if (mask) {
        require_tensor(op, "mask", *mask, DType::u8);
        require_same_shape(op, "x", x, "mask", *mask);
        require_no_partial_overlap(op, "x", x, "mask", *mask);
        require_no_partial_overlap(op, "y", y, "mask", *mask);
    }
}

void check_grad_scale(const char *op, float g) {
    if (!std::isfinite(g)) {
        throw InvalidArgument(std::string(op) + ": grad_scale must be finite, got " + std::to_string(g));
    }
}

void check_backward_tensors(const char *op, const TensorView &x, const TensorView &dy, const TensorView &dx) {
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "dy", dy, DType::f32);
    require_tensor(op, "dx", dx, DType::f32);
    require_same_shape(op, "x", x, "dy", dy);
    require_same_shape(op, "x", x, "dx", dx);
    require_no_partial_overlap(op, "x", x, "dx", dx);
    require_no_partial_overlap(op, "dy", dy, "dx", dx);
}

void fake_quant_per_tensor(const TensorView &x, const QuantParams &p, const TensorView &y, const TensorView *mask) {
    const char *op = "fake_quant";
    p.validate(op);
    check_forward_tensors(op, x, y, mask);
    if (x.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto xb = flat_buffer<float>(x);
    auto yb = flat_buffer<float>(y);
    if (mask) {
        auto mb = flat_buffer<uint8_t>(*mask);
        check_kernel(run_elementwise("qf_fake_quant_pt_mask", QF_CUDA_KERNEL(fake_quant_pt_mask), x.numel(), qf_fake_quant_pt_mask, xb, p.scale,
                                     p.zero_point, p.range.qmin, p.range.qmax, yb, mb),
                     op, "qf_fake_quant_pt_mask");
    } else {
        check_kernel(run_elementwise("qf_fake_quant_pt", QF_CUDA_KERNEL(fake_quant_pt), x.numel(), qf_fake_quant_pt, xb, p.scale, p.zero_point,
                                     p.range.qmin, p.range.qmax, yb),
                     op, "qf_fake_quant_pt");
    }
}

void fake_quant_per_channel(const TensorView &x, const PerChannelQuantParams &p, const TensorView &y,
                            const TensorView *mask) {
    const char *op = "fake_quant(per-channel)";
    p.validate(op);
    check_forward_tensors(op, x, y, mask);
    auto split = detail::split_at_axis(op, x, p.axis, p.scales.size());
    if (x.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto xb = channel_buffer<float>(x, split);
    auto yb = channel_buffer<float>(y, split);
    HBuf sb(const_cast<float *>(p.scales.data()), split.channels);
    Halide::Runtime::Buffer<int32_t> zb(const_cast<int32_t *>(p.zero_points.data()), split.channels);
    if (mask) {
        auto mb = channel_buffer<uint8_t>(*mask, split);
        check_kernel(run_elementwise("qf_fake_quant_pc_mask", QF_CUDA_KERNEL(fake_quant_pc_mask), x.numel(), qf_fake_quant_pc_mask,
                                 xb, sb, zb, p.range.qmin, p.range.qmax, yb, mb), op,
                     "qf_fake_quant_pc_mask");
    } else {
        check_kernel(run_elementwise("qf_fake_quant_pc", QF_CUDA_KERNEL(fake_quant_pc), x.numel(), qf_fake_quant_pc,
                                 xb, sb, zb, p.range.qmin, p.range.qmax, yb), op, "qf_fake_quant_pc");
    }
}

}  // namespace

void fake_quant(const TensorView &x, const QuantParams &p, const TensorView &y) {
    fake_quant_per_tensor(x, p, y, nullptr);
}
void fake_quant(const TensorView &x, const QuantParams &p, const TensorView &y, const TensorView &mask) {
    fake_quant_per_tensor(x, p, y, &mask);
}
void fake_quant(const TensorView &x, const PerChannelQuantParams &p, const TensorView &y) {
    fake_quant_per_channel(x, p, y, nullptr);
}
void fake_quant(const TensorView &x, const PerChannelQuantParams &p, const TensorView &y,
                const TensorView &mask) {
    fake_quant_per_channel(x, p, y, &mask);
}

void fake_quant_backward(const TensorView &dy, const TensorView &mask, const TensorView &dx) {
    const char *op = "fake_quant_backward";
    require_tensor(op, "dy", dy, DType::f32);
    require_tensor(op, "mask", mask, DType::u8);
    require_tensor(op, "dx", dx, DType::f32);
    require_same_shape(op, "dy", dy, "mask", mask);
    require_same_shape(op, "dy", dy, "dx", dx);
    require_no_partial_overlap(op, "dy", dy, "dx", dx);
    require_no_partial_overlap(op, "mask", mask, "dx", dx);
    if (dy.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto dyb = flat_buffer<float>(dy);
    auto mb = flat_buffer<uint8_t>(mask);
    auto dxb = flat_buffer<float>(dx);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(ste_backward), qf_ste_backward, dyb, mb, dxb), op,
                 "qf_ste_backward");
}

void lsq_forward(const TensorView &x, const LearnableQuantParams &p, const TensorView &y) {
    p.validate("lsq_forward");
    check_forward_tensors("lsq_forward", x, y, nullptr);  // errors name lsq_forward, not fake_quant
    QuantParams q{p.scale, learnable_zero_point_forward(p.zero_point, p.range), p.range};
    fake_quant(x, q, y);
}

void lsq_forward(const TensorView &x, const LearnablePerChannelQuantParams &p, const TensorView &y) {
    p.validate("lsq_forward(per-channel)");
    check_forward_tensors("lsq_forward(per-channel)", x, y, nullptr);
    PerChannelQuantParams q{p.scales, {}, p.axis, p.range};
    for (float z : p.zero_points) q.zero_points.push_back(learnable_zero_point_forward(z, p.range));
    fake_quant(x, q, y);
}

LsqGradients lsq_backward(const TensorView &x, const TensorView &dy, const LearnableQuantParams &p,
                          const TensorView &dx, std::optional<float> grad_scale) {
    const char *op = "lsq_backward";
    p.validate(op);
    check_backward_tensors(op, x, dy, dx);
    LsqGradients grads;
    if (x.numel() == 0) return grads;  // nothing to sum (and no default g for n = 0)
    float g = grad_scale ? *grad_scale : lsq_default_grad_scale(x.numel(), p.range.qmax);
    check_grad_scale(op, g);
    detail::ensure_kernel_runtime();
    auto xb = flat_buffer<float>(x);
    auto dyb = flat_buffer<float>(dy);
    auto dxb = flat_buffer<float>(dx);
    auto dsb = HBuf::make_scalar(&grads.dscale);
    auto dzb = HBuf::make_scalar(&grads.dzero_point);
    int32_t z = learnable_zero_point_backward_per_tensor(p.zero_point, p.range);
    check_kernel(run_elementwise("qf_lsq_backward_pt", QF_CUDA_KERNEL(lsq_backward_pt), x.numel(), qf_lsq_backward_pt,
                                 xb, dyb, p.scale, z, p.range.qmin, p.range.qmax, g, dxb, dsb, dzb), op,
                 "qf_lsq_backward_pt");
    return grads;
}

LsqPerChannelGradients lsq_backward(const TensorView &x, const TensorView &dy,
                                    const LearnablePerChannelQuantParams &p, const TensorView &dx,
                                    std::optional<float> grad_scale) {
    const char *op = "lsq_backward(per-channel)";
    p.validate(op);
    check_backward_tensors(op, x, dy, dx);
    auto split = detail::split_at_axis(op, x, p.axis, p.scales.size());
    const int64_t per_channel = static_cast<int64_t>(split.inner) * split.outer;
    LsqPerChannelGradients grads;
    grads.dscale.assign(p.scales.size(), 0.0f);
    grads.dzero_point.assign(p.scales.size(), 0.0f);
    if (x.numel() == 0) return grads;  // nothing to sum (and no default g for n = 0)
    float g = grad_scale ? *grad_scale : lsq_default_grad_scale(per_channel, p.range.qmax);
    check_grad_scale(op, g);
    detail::ensure_kernel_runtime();
    // Per-channel learnable backward rounds zero points like the forward (numerics.md).
    std::vector<int32_t> z(p.zero_points.size());
    for (size_t c = 0; c < z.size(); c++) z[c] = learnable_zero_point_forward(p.zero_points[c], p.range);
    auto xb = channel_buffer<float>(x, split);
    auto dyb = channel_buffer<float>(dy, split);
    auto dxb = channel_buffer<float>(dx, split);
    HBuf sb(const_cast<float *>(p.scales.data()), split.channels);
    Halide::Runtime::Buffer<int32_t> zb(z.data(), split.channels);
    HBuf dsb(grads.dscale.data(), split.channels);
    HBuf dzb(grads.dzero_point.data(), split.channels);
    check_kernel(run_elementwise("qf_lsq_backward_pc", QF_CUDA_KERNEL(lsq_backward_pc), x.numel(), qf_lsq_backward_pc,
                                 xb, dyb, sb, zb, p.range.qmin, p.range.qmax, g, dxb, dsb, dzb), op,
                 "qf_lsq_backward_pc");
    return grads;
}

}  // namespace qforge
