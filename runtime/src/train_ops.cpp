// The float32 training operators and the integer-model helpers: validate every
// argument first (nothing is written when one is rejected), then call the AOT
// kernel. Formulas: docs/training-ops.md.
#include "qforge/train_ops.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "device_call.h"
#include "kernel_call.h"
#include "qf_adam.h"
#include "qf_batch_norm_bwd.h"
#include "qf_batch_norm_eval.h"
#include "qf_batch_norm_train.h"
#include "qf_channel_affine.h"
#include "qf_channel_affine_bwd.h"
#include "qf_column_sum.h"
#include "qf_dequantize_s8.h"
#include "qf_dequantize_u8.h"
#include "qf_max_pool2x2.h"
#include "qf_max_pool2x2_bwd.h"
#include "qf_max_pool2x2_s8.h"
#include "qf_max_pool2x2_u8.h"
#include "qf_quantize_s8.h"
#include "qf_quantize_u8.h"
#include "qf_relu.h"
#include "qf_relu_bwd.h"
#include "qf_requantize_s8.h"
#include "qf_requantize_u8.h"
#include "qf_sgd_momentum.h"
#include "qf_softmax_xent.h"

namespace qforge {

using detail::check_kernel;
using detail::flat_buffer;
using detail::require_disjoint;
using detail::require_no_partial_overlap;
using detail::require_same_shape;
using detail::require_tensor;
using FBuf = Halide::Runtime::Buffer<float>;

namespace {

std::string str(int64_t v) { return std::to_string(v); }
std::string str(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// x [..., C] seen as [M, C] rows.
struct Rows {
    int64_t m = 0, c = 0;
    int64_t numel() const { return m * c; }
};

Rows rows_of(const char *op, const char *name, const TensorView &x) {
    if (x.rank() < 1) {
        throw ShapeError(std::string(op) + ": " + name + " must have rank >= 1 ([..., C]), got " + x.describe());
    }
    Rows r;
    r.c = x.dim(x.rank() - 1);
    r.m = 1;
    for (int d = 0; d + 1 < x.rank(); d++) r.m *= x.dim(d);
    return r;
}

// A [C] f32 vector of per-channel values.
void require_channel_vector(const char *op, const char *name, const TensorView &v, int64_t channels) {
    require_tensor(op, name, v, DType::f32);
    if (v.rank() != 1 || v.dim(0) != channels) {
        throw ShapeError(std::string(op) + ": " + name + " must be f32[" + str(channels) + "] (one per channel), got " +
                         v.describe());
    }
}

void require_finite_nonnegative(const char *op, const char *name, float v) {
    if (!std::isfinite(v) || v < 0.0f) {
        throw InvalidArgument(std::string(op) + ": " + name + " must be finite and >= 0, got " + str(double(v)));
    }
}

void require_eps(const char *op, float eps) {
    if (!std::isfinite(eps) || eps <= 0.0f) {
        throw InvalidArgument(std::string(op) + ": eps must be finite and > 0, got " + str(double(eps)));
    }
}

// Pairwise: none of the given views may share memory.
void require_all_disjoint(const char *op, std::initializer_list<std::pair<const char *, const TensorView *>> views) {
    std::vector<std::pair<const char *, const TensorView *>> v(views);
    for (size_t i = 0; i < v.size(); i++) {
        for (size_t j = i + 1; j < v.size(); j++) require_disjoint(op, v[i].first, *v[i].second, v[j].first, *v[j].second);
    }
}

FBuf rows_buffer(const TensorView &t, const Rows &r) {
    return FBuf(t.data_as<float>(), static_cast<int>(r.c), static_cast<int>(r.m));
}
FBuf vec_buffer(const TensorView &t) { return FBuf(t.data_as<float>(), static_cast<int>(t.numel())); }

void fill_zero(const TensorView &t) {
    float *p = t.data_as<float>();
    for (int64_t i = 0; i < t.numel(); i++) p[i] = 0.0f;
}

// The integer range of an 8-bit dtype.
struct ByteRange {
    int32_t lo, hi;
};
ByteRange byte_range(const char *op, const char *name, const TensorView &t) {
    if (t.dtype() == DType::u8) return {0, 255};
    if (t.dtype() == DType::s8) return {-128, 127};
    throw ShapeError(std::string(op) + ": " + name + " must be u8 or s8, got " + t.describe());
}

void require_range_fits(const char *op, const char *name, const TensorView &t, const QuantRange &r) {
    ByteRange b = byte_range(op, name, t);
    if (r.qmin < b.lo || r.qmax > b.hi) {
        throw InvalidArgument(std::string(op) + ": range [" + str(int64_t(r.qmin)) + ", " + str(int64_t(r.qmax)) +
                              "] does not fit " + name + "'s dtype " + dtype_name(t.dtype()) + " [" +
                              str(int64_t(b.lo)) + ", " + str(int64_t(b.hi)) + "]");
    }
}

// [N, H, W, C] of a pooling input.
void require_nhwc(const char *op, const char *name, const TensorView &t) {
    if (t.rank() != 4) throw ShapeError(std::string(op) + ": " + name + " must be NHWC (rank 4), got " + t.describe());
}

Shape pooled_shape(const TensorView &x) { return {x.dim(0), x.dim(1) / 2, x.dim(2) / 2, x.dim(3)}; }

void require_shape(const char *op, const char *name, const TensorView &t, const Shape &want) {
    if (t.shape() != want) {
        throw ShapeError(std::string(op) + ": " + name + " must be " + TensorView(nullptr, t.dtype(), want).describe() +
                         ", got " + t.describe());
    }
}

template<typename T> Halide::Runtime::Buffer<T> nhwc_buffer(const TensorView &t) {
    return Halide::Runtime::Buffer<T>(t.data_as<T>(), static_cast<int>(t.dim(3)), static_cast<int>(t.dim(2)),
                                      static_cast<int>(t.dim(1)), static_cast<int>(t.dim(0)));
}

}  // namespace

// ---- per-channel reductions and affine -------------------------------------------

void column_sum(const TensorView &x, const TensorView &out) {
    const char *op = "column_sum";
    require_tensor(op, "x", x, DType::f32);
    const Rows r = rows_of(op, "x", x);
    require_channel_vector(op, "out", out, r.c);
    require_disjoint(op, "x", x, "out", out);
    if (r.c == 0) return;
    if (r.m == 0) return fill_zero(out);
    detail::ensure_kernel_runtime();
    auto xb = rows_buffer(x, r);
    auto ob = vec_buffer(out);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(column_sum), qf_column_sum, xb, ob), op, "qf_column_sum");
}

void channel_affine(const TensorView &x, const TensorView &scale, const TensorView &shift, const TensorView &y) {
    const char *op = "channel_affine";
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "y", y, DType::f32);
    const Rows r = rows_of(op, "x", x);
    require_same_shape(op, "x", x, "y", y);
    require_channel_vector(op, "scale", scale, r.c);
    require_channel_vector(op, "shift", shift, r.c);
    require_no_partial_overlap(op, "x", x, "y", y);
    require_all_disjoint(op, {{"y", &y}, {"scale", &scale}});
    require_all_disjoint(op, {{"y", &y}, {"shift", &shift}});
    if (r.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto xb = rows_buffer(x, r), yb = rows_buffer(y, r);
    auto sb = vec_buffer(scale), hb = vec_buffer(shift);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(channel_affine), qf_channel_affine, xb, sb, hb, yb), op, "qf_channel_affine");
}

void channel_affine_backward(const TensorView &dy, const TensorView &x, const TensorView &scale,
                             const TensorView &dx, const TensorView &dscale, const TensorView &dshift) {
    const char *op = "channel_affine_backward";
    require_tensor(op, "dy", dy, DType::f32);
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "dx", dx, DType::f32);
    const Rows r = rows_of(op, "x", x);
    require_same_shape(op, "x", x, "dy", dy);
    require_same_shape(op, "x", x, "dx", dx);
    require_channel_vector(op, "scale", scale, r.c);
    require_channel_vector(op, "dscale", dscale, r.c);
    require_channel_vector(op, "dshift", dshift, r.c);
    // dx and the sums are independent outputs computed in any order: no aliasing.
    require_all_disjoint(op, {{"dx", &dx}, {"dy", &dy}, {"x", &x}, {"scale", &scale}, {"dscale", &dscale},
                              {"dshift", &dshift}});
    if (r.c == 0) return;
    if (r.m == 0) {
        fill_zero(dscale);
        fill_zero(dshift);
        return;
    }
    detail::ensure_kernel_runtime();
    auto dyb = rows_buffer(dy, r), xb = rows_buffer(x, r), dxb = rows_buffer(dx, r);
    auto sb = vec_buffer(scale), dsb = vec_buffer(dscale), dhb = vec_buffer(dshift);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(channel_affine_backward), qf_channel_affine_bwd, dyb, xb, sb, dxb, dsb, dhb), op, "qf_channel_affine_bwd");
}

// ---- batch norm -------------------------------------------------------------------------

void batch_norm_train(const TensorView &x, const TensorView &gamma, const TensorView &beta, float eps,
                      const TensorView &y, const TensorView &mean, const TensorView &var,
                      const TensorView &invstd) {
    const char *op = "batch_norm_train";
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "y", y, DType::f32);
    const Rows r = rows_of(op, "x", x);
    require_same_shape(op, "x", x, "y", y);
    require_channel_vector(op, "gamma", gamma, r.c);
    require_channel_vector(op, "beta", beta, r.c);
    require_channel_vector(op, "mean", mean, r.c);
    require_channel_vector(op, "var", var, r.c);
    require_channel_vector(op, "invstd", invstd, r.c);
    require_eps(op, eps);
    if (r.m == 0 && r.c > 0) {
        throw ShapeError(std::string(op) + ": x " + x.describe() + " has no rows to take statistics over");
    }
    // y is written after every statistic is known: it may alias x exactly.
    require_no_partial_overlap(op, "x", x, "y", y);
    require_all_disjoint(op, {{"y", &y}, {"gamma", &gamma}, {"beta", &beta}, {"mean", &mean}, {"var", &var},
                              {"invstd", &invstd}});
    require_all_disjoint(op, {{"x", &x}, {"mean", &mean}, {"var", &var}, {"invstd", &invstd}, {"gamma", &gamma}});
    require_all_disjoint(op, {{"beta", &beta}, {"mean", &mean}});
    require_all_disjoint(op, {{"beta", &beta}, {"var", &var}});
    require_all_disjoint(op, {{"beta", &beta}, {"invstd", &invstd}});
    if (r.c == 0) return;
    detail::ensure_kernel_runtime();
    auto xb = rows_buffer(x, r), yb = rows_buffer(y, r);
    auto gb = vec_buffer(gamma), bb = vec_buffer(beta);
    auto mb = vec_buffer(mean), vb = vec_buffer(var), ib = vec_buffer(invstd);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(batch_norm_train), qf_batch_norm_train, xb, gb, bb, eps, yb, mb, vb, ib), op, "qf_batch_norm_train");
}

void batch_norm_backward(const TensorView &dy, const TensorView &x, const TensorView &gamma,
                         const TensorView &mean, const TensorView &invstd, const TensorView &dx,
                         const TensorView &dgamma, const TensorView &dbeta) {
    const char *op = "batch_norm_backward";
    require_tensor(op, "dy", dy, DType::f32);
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "dx", dx, DType::f32);
    const Rows r = rows_of(op, "x", x);
    require_same_shape(op, "x", x, "dy", dy);
    require_same_shape(op, "x", x, "dx", dx);
    require_channel_vector(op, "gamma", gamma, r.c);
    require_channel_vector(op, "mean", mean, r.c);
    require_channel_vector(op, "invstd", invstd, r.c);
    require_channel_vector(op, "dgamma", dgamma, r.c);
    require_channel_vector(op, "dbeta", dbeta, r.c);
    if (r.m == 0 && r.c > 0) {
        throw ShapeError(std::string(op) + ": x " + x.describe() + " has no rows");
    }
    // dx is written after both sums are complete: it may alias dy or x exactly.
    require_no_partial_overlap(op, "dy", dy, "dx", dx);
    require_no_partial_overlap(op, "x", x, "dx", dx);
    require_all_disjoint(op, {{"dx", &dx}, {"gamma", &gamma}, {"mean", &mean}, {"invstd", &invstd},
                              {"dgamma", &dgamma}, {"dbeta", &dbeta}});
    require_all_disjoint(op, {{"dy", &dy}, {"dgamma", &dgamma}});
    require_all_disjoint(op, {{"dy", &dy}, {"dbeta", &dbeta}});
    require_all_disjoint(op, {{"x", &x}, {"dgamma", &dgamma}});
    require_all_disjoint(op, {{"x", &x}, {"dbeta", &dbeta}});
    require_all_disjoint(op, {{"gamma", &gamma}, {"dbeta", &dbeta}});
    require_all_disjoint(op, {{"mean", &mean}, {"dbeta", &dbeta}});
    require_all_disjoint(op, {{"invstd", &invstd}, {"dbeta", &dbeta}});
    if (r.c == 0) return;
    detail::ensure_kernel_runtime();
    auto dyb = rows_buffer(dy, r), xb = rows_buffer(x, r), dxb = rows_buffer(dx, r);
    auto gb = vec_buffer(gamma), mb = vec_buffer(mean), ib = vec_buffer(invstd);
    auto dgb = vec_buffer(dgamma), dbb = vec_buffer(dbeta);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(batch_norm_backward), qf_batch_norm_bwd, dyb, xb, gb, mb, ib, dxb, dgb, dbb), op, "qf_batch_norm_bwd");
}

void batch_norm_eval(const TensorView &x, const TensorView &gamma, const TensorView &beta,
                     const TensorView &running_mean, const TensorView &running_var, float eps,
                     const TensorView &y) {
    const char *op = "batch_norm_eval";
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "y", y, DType::f32);
    const Rows r = rows_of(op, "x", x);
    require_same_shape(op, "x", x, "y", y);
    require_channel_vector(op, "gamma", gamma, r.c);
    require_channel_vector(op, "beta", beta, r.c);
    require_channel_vector(op, "running_mean", running_mean, r.c);
    require_channel_vector(op, "running_var", running_var, r.c);
    require_eps(op, eps);
    const float *rv = running_var.data_as<float>();
    for (int64_t c = 0; c < r.c; c++) {
        if (!(rv[c] >= 0.0f) || !std::isfinite(rv[c])) {
            throw InvalidArgument(std::string(op) + ": running_var[" + str(c) + "] must be finite and >= 0, got " +
                                  str(double(rv[c])));
        }
    }
    require_no_partial_overlap(op, "x", x, "y", y);
    require_all_disjoint(op, {{"y", &y}, {"gamma", &gamma}});
    require_all_disjoint(op, {{"y", &y}, {"beta", &beta}});
    require_all_disjoint(op, {{"y", &y}, {"running_mean", &running_mean}});
    require_all_disjoint(op, {{"y", &y}, {"running_var", &running_var}});
    if (r.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto xb = rows_buffer(x, r), yb = rows_buffer(y, r);
    auto gb = vec_buffer(gamma), bb = vec_buffer(beta), mb = vec_buffer(running_mean), vb = vec_buffer(running_var);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(batch_norm_eval), qf_batch_norm_eval, xb, gb, bb, mb, vb, eps, yb), op, "qf_batch_norm_eval");
}

// ---- ReLU --------------------------------------------------------------------------------

void relu(const TensorView &x, const TensorView &y) {
    const char *op = "relu";
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "y", y, DType::f32);
    require_same_shape(op, "x", x, "y", y);
    require_no_partial_overlap(op, "x", x, "y", y);
    if (x.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto xb = flat_buffer<float>(x), yb = flat_buffer<float>(y);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(relu), qf_relu, xb, yb), op, "qf_relu");
}

void relu_backward(const TensorView &dy, const TensorView &y, const TensorView &dx) {
    const char *op = "relu_backward";
    require_tensor(op, "dy", dy, DType::f32);
    require_tensor(op, "y", y, DType::f32);
    require_tensor(op, "dx", dx, DType::f32);
    require_same_shape(op, "dy", dy, "y", y);
    require_same_shape(op, "dy", dy, "dx", dx);
    require_no_partial_overlap(op, "dy", dy, "dx", dx);
    require_no_partial_overlap(op, "y", y, "dx", dx);
    if (dy.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto dyb = flat_buffer<float>(dy), yb = flat_buffer<float>(y), dxb = flat_buffer<float>(dx);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(relu_backward), qf_relu_bwd, dyb, yb, dxb), op, "qf_relu_bwd");
}

// ---- 2x2 max pool ------------------------------------------------------------------------

void max_pool2x2(const TensorView &x, const TensorView &y, const TensorView &argmax) {
    const char *op = "max_pool2x2";
    require_tensor(op, "x", x, DType::f32);
    require_tensor(op, "y", y, DType::f32);
    require_tensor(op, "argmax", argmax, DType::u8);
    require_nhwc(op, "x", x);
    const Shape out = pooled_shape(x);
    require_shape(op, "y", y, out);
    require_shape(op, "argmax", argmax, out);
    require_all_disjoint(op, {{"x", &x}, {"y", &y}, {"argmax", &argmax}});
    if (y.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto xb = nhwc_buffer<float>(x), yb = nhwc_buffer<float>(y);
    auto ab = nhwc_buffer<uint8_t>(argmax);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(max_pool2x2), qf_max_pool2x2, xb, yb, ab), op, "qf_max_pool2x2");
}

void max_pool2x2_backward(const TensorView &dy, const TensorView &argmax, const TensorView &dx) {
    const char *op = "max_pool2x2_backward";
    require_tensor(op, "dy", dy, DType::f32);
    require_tensor(op, "argmax", argmax, DType::u8);
    require_tensor(op, "dx", dx, DType::f32);
    require_nhwc(op, "dx", dx);
    require_shape(op, "dy", dy, pooled_shape(dx));
    require_shape(op, "argmax", argmax, pooled_shape(dx));
    require_all_disjoint(op, {{"dx", &dx}, {"dy", &dy}, {"argmax", &argmax}});
    if (dx.numel() == 0) return;
    if (dy.numel() == 0) return fill_zero(dx);  // H or W is 1: no window
    detail::ensure_kernel_runtime();
    auto dyb = nhwc_buffer<float>(dy), dxb = nhwc_buffer<float>(dx);
    auto ab = nhwc_buffer<uint8_t>(argmax);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(max_pool2x2_backward), qf_max_pool2x2_bwd, dyb, ab, dxb), op, "qf_max_pool2x2_bwd");
}

void max_pool2x2_int8(const TensorView &x, const TensorView &y) {
    const char *op = "max_pool2x2_int8";
    byte_range(op, "x", x);
    require_tensor(op, "x", x, x.dtype());
    require_tensor(op, "y", y, x.dtype());
    require_nhwc(op, "x", x);
    require_shape(op, "y", y, pooled_shape(x));
    require_disjoint(op, "x", x, "y", y);
    if (y.numel() == 0) return;
    detail::ensure_kernel_runtime();
    if (x.dtype() == DType::u8) {
        auto xb = nhwc_buffer<uint8_t>(x), yb = nhwc_buffer<uint8_t>(y);
        check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(max_pool2x2_u8), qf_max_pool2x2_u8, xb, yb), op, "qf_max_pool2x2_u8");
    } else {
        auto xb = nhwc_buffer<int8_t>(x), yb = nhwc_buffer<int8_t>(y);
        check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(max_pool2x2_s8), qf_max_pool2x2_s8, xb, yb), op, "qf_max_pool2x2_s8");
    }
}

// ---- softmax cross-entropy ----------------------------------------------------------------

namespace {

float softmax_xent_impl(const TensorView &logits, const TensorView &labels, const TensorView *dlogits) {
    const char *op = "softmax_cross_entropy";
    require_tensor(op, "logits", logits, DType::f32);
    require_tensor(op, "labels", labels, DType::s32);
    if (logits.rank() != 2 || logits.dim(0) < 1 || logits.dim(1) < 1) {
        throw ShapeError(std::string(op) + ": logits must be [B, K] with B, K >= 1, got " + logits.describe());
    }
    const int64_t batch = logits.dim(0), classes = logits.dim(1);
    require_shape(op, "labels", labels, {batch});
    if (dlogits) {
        require_tensor(op, "dlogits", *dlogits, DType::f32);
        require_same_shape(op, "logits", logits, "dlogits", *dlogits);
        require_all_disjoint(op, {{"dlogits", dlogits}, {"logits", &logits}, {"labels", &labels}});
    }
    const int32_t *lab = labels.data_as<int32_t>();
    for (int64_t b = 0; b < batch; b++) {
        if (lab[b] < 0 || lab[b] >= classes) {
            throw InvalidArgument(std::string(op) + ": labels[" + str(b) + "] = " + str(int64_t(lab[b])) +
                                  " is outside [0, " + str(classes) + ")");
        }
    }
    detail::ensure_kernel_runtime();
    std::vector<float> scratch;
    float *d = nullptr;
    if (dlogits) {
        d = dlogits->data_as<float>();
    } else {
        scratch.resize(static_cast<size_t>(batch * classes));
        d = scratch.data();
    }
    float loss = 0.0f;
    FBuf lb(logits.data_as<float>(), static_cast<int>(classes), static_cast<int>(batch));
    Halide::Runtime::Buffer<int32_t> labb(const_cast<int32_t *>(lab), static_cast<int>(batch));
    auto out = FBuf::make_scalar(&loss);
    FBuf db(d, static_cast<int>(classes), static_cast<int>(batch));
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(softmax_cross_entropy), qf_softmax_xent, lb, labb, out, db), op, "qf_softmax_xent");
    return loss;
}

}  // namespace

float softmax_cross_entropy(const TensorView &logits, const TensorView &labels, const TensorView &dlogits) {
    // A default-constructed view (no data, rank 0) means "no gradient".
    const bool given = !(dlogits.data() == nullptr && dlogits.rank() == 0);
    return softmax_xent_impl(logits, labels, given ? &dlogits : nullptr);
}

float softmax_cross_entropy(const TensorView &logits, const TensorView &labels) {
    return softmax_xent_impl(logits, labels, nullptr);
}

// ---- optimizers ------------------------------------------------------------------------------

void sgd_momentum_update(const TensorView &param, const TensorView &grad, const TensorView &momentum_buf,
                         float lr, float momentum, float weight_decay, bool first_step) {
    const char *op = "sgd_momentum_update";
    require_tensor(op, "param", param, DType::f32);
    require_tensor(op, "grad", grad, DType::f32);
    require_tensor(op, "momentum_buf", momentum_buf, DType::f32);
    require_same_shape(op, "param", param, "grad", grad);
    require_same_shape(op, "param", param, "momentum_buf", momentum_buf);
    require_all_disjoint(op, {{"param", &param}, {"grad", &grad}, {"momentum_buf", &momentum_buf}});
    require_finite_nonnegative(op, "lr", lr);
    require_finite_nonnegative(op, "momentum", momentum);
    require_finite_nonnegative(op, "weight_decay", weight_decay);
    if (param.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto pb = flat_buffer<float>(param), gb = flat_buffer<float>(grad), bb = flat_buffer<float>(momentum_buf);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(sgd_momentum), qf_sgd_momentum, pb, gb, bb, lr, momentum, weight_decay, first_step, pb, bb), op,
                 "qf_sgd_momentum");
}

void adam_update(const TensorView &param, const TensorView &grad, const TensorView &exp_avg,
                 const TensorView &exp_avg_sq, int64_t step, float lr, float beta1, float beta2, float eps,
                 float weight_decay) {
    const char *op = "adam_update";
    require_tensor(op, "param", param, DType::f32);
    require_tensor(op, "grad", grad, DType::f32);
    require_tensor(op, "exp_avg", exp_avg, DType::f32);
    require_tensor(op, "exp_avg_sq", exp_avg_sq, DType::f32);
    require_same_shape(op, "param", param, "grad", grad);
    require_same_shape(op, "param", param, "exp_avg", exp_avg);
    require_same_shape(op, "param", param, "exp_avg_sq", exp_avg_sq);
    require_all_disjoint(op, {{"param", &param}, {"grad", &grad}, {"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}});
    if (step < 1) throw InvalidArgument(std::string(op) + ": step must be >= 1 (counts from 1), got " + str(step));
    require_finite_nonnegative(op, "lr", lr);
    require_finite_nonnegative(op, "eps", eps);
    require_finite_nonnegative(op, "weight_decay", weight_decay);
    for (auto [name, b] : {std::pair<const char *, float>{"beta1", beta1}, {"beta2", beta2}}) {
        if (!(b >= 0.0f && b < 1.0f)) {
            throw InvalidArgument(std::string(op) + ": " + name + " must be in [0, 1), got " + str(double(b)));
        }
    }
    // The step's scalars in double, as PyTorch's Python computes them, then
    // rounded once to fp32 where the tensor op takes them.
    const double b1 = beta1, b2 = beta2;
    const double bias_correction1 = 1.0 - std::pow(b1, static_cast<double>(step));
    const double bias_correction2 = 1.0 - std::pow(b2, static_cast<double>(step));
    const float neg_step_size = static_cast<float>(-(static_cast<double>(lr) / bias_correction1));
    const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
    const float omb1 = static_cast<float>(1.0 - b1), omb2 = static_cast<float>(1.0 - b2);
    if (!(bc2_sqrt > 0.0f) || !std::isfinite(neg_step_size)) {
        throw InvalidArgument(std::string(op) + ": the bias corrections underflow at step " + str(step) +
                              " (beta1 = " + str(double(beta1)) + ", beta2 = " + str(double(beta2)) + ")");
    }
    if (param.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto pb = flat_buffer<float>(param), gb = flat_buffer<float>(grad);
    auto mb = flat_buffer<float>(exp_avg), vb = flat_buffer<float>(exp_avg_sq);
    check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(adam), qf_adam, pb, gb, mb, vb, beta1, beta2, omb1, omb2, neg_step_size, bc2_sqrt, eps, weight_decay, pb, mb,
                         vb),
                 op, "qf_adam");
}

// ---- integer-model helpers ------------------------------------------------------------------

void quantize(const TensorView &x, const QuantParams &p, const TensorView &y) {
    const char *op = "quantize";
    p.validate(op);
    require_tensor(op, "x", x, DType::f32);
    byte_range(op, "y", y);
    require_tensor(op, "y", y, y.dtype());
    require_same_shape(op, "x", x, "y", y);
    require_range_fits(op, "y", y, p.range);
    require_disjoint(op, "x", x, "y", y);
    if (x.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto xb = flat_buffer<float>(x);
    if (y.dtype() == DType::u8) {
        auto yb = flat_buffer<uint8_t>(y);
        check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(quantize_u8), qf_quantize_u8, xb, p.scale, p.zero_point, p.range.qmin, p.range.qmax, yb), op, "qf_quantize_u8");
    } else {
        auto yb = flat_buffer<int8_t>(y);
        check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(quantize_s8), qf_quantize_s8, xb, p.scale, p.zero_point, p.range.qmin, p.range.qmax, yb), op, "qf_quantize_s8");
    }
}

void dequantize(const TensorView &q, const QuantParams &p, const TensorView &y) {
    const char *op = "dequantize";
    p.validate(op);
    byte_range(op, "q", q);
    require_tensor(op, "q", q, q.dtype());
    require_tensor(op, "y", y, DType::f32);
    require_same_shape(op, "q", q, "y", y);
    require_range_fits(op, "q", q, p.range);
    require_disjoint(op, "q", q, "y", y);
    if (q.numel() == 0) return;
    detail::ensure_kernel_runtime();
    auto yb = flat_buffer<float>(y);
    if (q.dtype() == DType::u8) {
        auto qb = flat_buffer<uint8_t>(q);
        check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(dequantize_u8), qf_dequantize_u8, qb, p.scale, p.zero_point, yb), op, "qf_dequantize_u8");
    } else {
        auto qb = flat_buffer<int8_t>(q);
        check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(dequantize_s8), qf_dequantize_s8, qb, p.scale, p.zero_point, yb), op, "qf_dequantize_s8");
    }
}

void requantize(const TensorView &acc, const TensorView &multiplier, int32_t out_zero_point, int32_t out_min,
                int32_t out_max, const TensorView &y) {
    const char *op = "requantize";
    require_tensor(op, "acc", acc, DType::s32);
    const Rows r = rows_of(op, "acc", acc);
    ByteRange b = byte_range(op, "y", y);
    require_tensor(op, "y", y, y.dtype());
    require_same_shape(op, "acc", acc, "y", y);
    require_tensor(op, "multiplier", multiplier, DType::f32);
    if (multiplier.rank() != 1 || (multiplier.dim(0) != 1 && multiplier.dim(0) != r.c)) {
        throw ShapeError(std::string(op) + ": multiplier must be f32[1] or f32[C] = f32[" + str(r.c) + "], got " +
                         multiplier.describe());
    }
    const float *mp = multiplier.data_as<float>();
    for (int64_t c = 0; c < multiplier.dim(0); c++) {
        if (!std::isfinite(mp[c]) || !(mp[c] > 0.0f)) {
            throw InvalidArgument(std::string(op) + ": multiplier[" + str(c) + "] must be finite and > 0, got " +
                                  str(double(mp[c])));
        }
    }
    if (out_min > out_max || out_min < b.lo || out_max > b.hi) {
        throw InvalidArgument(std::string(op) + ": [out_min, out_max] = [" + str(int64_t(out_min)) + ", " +
                              str(int64_t(out_max)) + "] must be ordered and within " + dtype_name(y.dtype()) + " [" +
                              str(int64_t(b.lo)) + ", " + str(int64_t(b.hi)) + "]");
    }
    if (out_zero_point < b.lo || out_zero_point > b.hi) {
        throw InvalidArgument(std::string(op) + ": out_zero_point " + str(int64_t(out_zero_point)) + " is outside " +
                              dtype_name(y.dtype()) + " [" + str(int64_t(b.lo)) + ", " + str(int64_t(b.hi)) + "]");
    }
    require_disjoint(op, "acc", acc, "y", y);
    require_disjoint(op, "multiplier", multiplier, "y", y);
    if (r.numel() == 0) return;
    detail::ensure_kernel_runtime();
    // One multiplier per channel for the kernel (a per-tensor one repeated).
    std::vector<float> mult(static_cast<size_t>(r.c), mp[0]);
    if (multiplier.dim(0) == r.c) mult.assign(mp, mp + r.c);
    Halide::Runtime::Buffer<int32_t> ab(acc.data_as<int32_t>(), static_cast<int>(r.c), static_cast<int>(r.m));
    FBuf mb(mult.data(), static_cast<int>(r.c));
    if (y.dtype() == DType::u8) {
        Halide::Runtime::Buffer<uint8_t> yb(y.data_as<uint8_t>(), static_cast<int>(r.c), static_cast<int>(r.m));
        check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(requantize_u8), qf_requantize_u8, ab, mb, out_zero_point, out_min, out_max, yb), op, "qf_requantize_u8");
    } else {
        Halide::Runtime::Buffer<int8_t> yb(y.data_as<int8_t>(), static_cast<int>(r.c), static_cast<int>(r.m));
        check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(requantize_s8), qf_requantize_s8, ab, mb, out_zero_point, out_min, out_max, yb), op, "qf_requantize_s8");
    }
}

}  // namespace qforge
