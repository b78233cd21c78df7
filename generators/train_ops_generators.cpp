// The float32 training operators around the GEMMs, and the small integer-model
// helpers. Algorithms only: every scheduling decision is in
// schedules/schedules.h (per target family: schedules/x86/train_ops_x86.h,
// schedules/arm/train_ops_arm.h). The formulas are written down in
// docs/training-ops.md (and, for quantize/requantize, docs/numerics.md).
//
// Layout: NHWC activations, "per channel" is the innermost axis. A tensor
// [..., C] is seen as x(c, m): c the channel, m every other axis flattened.
//
// Generators:
//   column_sum                out(c) = sum_m x(c, m)
//   channel_affine            y = x * scale(c) + shift(c)
//   channel_affine_backward   dx = dy * scale(c); dscale(c) = sum dy * x; dshift(c) = sum dy
//   batch_norm_train          batch statistics (mean first, then squared deviations) and y
//   batch_norm_eval           y from running statistics
//   batch_norm_backward       dx, dgamma, dbeta (PyTorch's CPU formula)
//   relu / relu_backward      flat streams
//   max_pool2x2               (y, argmax) over NHWC, 2x2 stride 2, floor
//   max_pool2x2_backward      dx from dy and argmax
//   max_pool2x2_{u8,s8}       integer-model max pool
//   softmax_cross_entropy     mean loss and d(mean loss)/dlogits
//   sgd_momentum              (param, buf) in place
//   adam                      (param, exp_avg, exp_avg_sq) in place
//   quantize_{u8,s8}          the numerics contract's quantize
//   dequantize_{u8,s8}        (q - z) * s
//   requantize_{u8,s8}        the numerics contract's requantize, per-channel multiplier
#include <functional>

#include "Halide.h"
#include "common/numerics.h"
#include "common/template_generator.h"
#include "schedules/schedules.h"

namespace {

using namespace Halide;
namespace nx = qforge::numerics;
namespace qs = qforge::schedules;  // schedules/schedules.h: per-family dispatch

// ---- per-channel reductions and affine -----------------------------------------

class ColumnSum : public Generator<ColumnSum> {
public:
    qs::ColumnReductionParams reduce;

    Input<Buffer<float>> x{"x", 2};  // (c, m)
    Output<Buffer<float>> out{"out", 1};

    void generate() {
        r = RDom(0, x.dim(1).extent(), "r");
        total(c) = 0.0f;
        total(c) += x(c, r.x);
        out(c) = total(c);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_column_reduction(total, c, r, get_target(), reduce);
        qs::schedule_channel_outputs({out}, c, get_target());
    }

private:
    Var c{"c"};
    RDom r;
    Func total{"total"};
};

class ChannelAffine : public Generator<ChannelAffine> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> x{"x", 2};
    Input<Buffer<float>> scale{"scale", 1};
    Input<Buffer<float>> shift{"shift", 1};
    Output<Buffer<float>> y{"y", 2};

    void generate() { y(c, m) = x(c, m) * scale(c) + shift(c); }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_rows_2d(y, c, m, x.dim(0).extent(), get_target(), stream);
    }

private:
    Var c{"c"}, m{"m"};
};

class ChannelAffineBackward : public Generator<ChannelAffineBackward> {
public:
    qs::StreamingParams stream;
    qs::ColumnReductionParams reduce;

    Input<Buffer<float>> dy{"dy", 2};
    Input<Buffer<float>> x{"x", 2};
    Input<Buffer<float>> scale{"scale", 1};
    Output<Buffer<float>> dx{"dx", 2};
    Output<Buffer<float>> dscale{"dscale", 1};
    Output<Buffer<float>> dshift{"dshift", 1};

    void generate() {
        dx(c, m) = dy(c, m) * scale(c);
        r = RDom(0, x.dim(1).extent(), "r");
        sums(c) = Tuple(0.0f, 0.0f);
        sums(c) = Tuple(sums(c)[0] + dy(c, r.x) * x(c, r.x), sums(c)[1] + dy(c, r.x));
        dscale(c) = sums(c)[0];
        dshift(c) = sums(c)[1];
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_column_reduction(sums, c, r, get_target(), reduce);
        qs::schedule_rows_2d(dx, c, m, x.dim(0).extent(), get_target(), stream);
        qs::schedule_channel_outputs({dscale, dshift}, c, get_target());
    }

private:
    Var c{"c"}, m{"m"};
    RDom r;
    Func sums{"sums"};
};

// ---- batch norm ------------------------------------------------------------------------

// y = (x - mean) * (invstd * gamma) + beta: the per-channel factor once, then
// one subtract, multiply and add per element.
Expr batch_norm_apply(const Expr &x, const Expr &mean, const Expr &factor, const Expr &beta) {
    return (x - mean) * factor + beta;
}

class BatchNormTrain : public Generator<BatchNormTrain> {
public:
    qs::StreamingParams stream;
    qs::ColumnReductionParams reduce;

    Input<Buffer<float>> x{"x", 2};  // (c, m)
    Input<Buffer<float>> gamma{"gamma", 1};
    Input<Buffer<float>> beta{"beta", 1};
    Input<float> eps{"eps"};
    Output<Buffer<float>> y{"y", 2};
    Output<Buffer<float>> mean{"mean", 1};
    Output<Buffer<float>> var{"var", 1};
    Output<Buffer<float>> invstd{"invstd", 1};

    void generate() {
        Expr count = cast<float>(x.dim(1).extent());
        r = RDom(0, x.dim(1).extent(), "r");
        // Pass 1: the mean.
        sum_x(c) = 0.0f;
        sum_x(c) += x(c, r.x);
        mean(c) = sum_x(c) / count;
        // Pass 2: squared deviations from that mean (no E[x^2] - E[x]^2 cancellation).
        sum_sq(c) = 0.0f;
        Expr d = x(c, r.x) - mean(c);
        sum_sq(c) += d * d;
        var(c) = sum_sq(c) / count;
        invstd(c) = 1.0f / sqrt(var(c) + eps);
        factor(c) = invstd(c) * gamma(c);
        y(c, m) = batch_norm_apply(x(c, m), mean(c), factor(c), beta(c));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        const Target t = get_target();
        qs::schedule_column_reduction(sum_x, c, r, t, reduce);
        qs::schedule_column_reduction(sum_sq, c, r, t, reduce);
        qs::schedule_per_channel_scalars({factor}, c, t);
        qs::schedule_rows_2d(y, c, m, x.dim(0).extent(), t, stream);
    }

private:
    Var c{"c"}, m{"m"};
    RDom r;
    Func sum_x{"sum_x"}, sum_sq{"sum_sq"}, factor{"factor"};
};

class BatchNormEval : public Generator<BatchNormEval> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> x{"x", 2};
    Input<Buffer<float>> gamma{"gamma", 1};
    Input<Buffer<float>> beta{"beta", 1};
    Input<Buffer<float>> running_mean{"running_mean", 1};
    Input<Buffer<float>> running_var{"running_var", 1};
    Input<float> eps{"eps"};
    Output<Buffer<float>> y{"y", 2};

    void generate() {
        invstd(c) = 1.0f / sqrt(running_var(c) + eps);
        factor(c) = invstd(c) * gamma(c);
        y(c, m) = batch_norm_apply(x(c, m), running_mean(c), factor(c), beta(c));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_per_channel_scalars({factor}, c, get_target());
        qs::schedule_rows_2d(y, c, m, x.dim(0).extent(), get_target(), stream);
    }

private:
    Var c{"c"}, m{"m"};
    Func invstd{"invstd"}, factor{"factor"};
};

// PyTorch's CPU batch_norm_backward (training): with n rows,
//   sum_dy = sum dy, dot = sum dy * (x - mean)
//   k = dot * invstd * invstd / n, grad_mean = sum_dy / n
//   dx = (dy - grad_mean - (x - mean) * k) * invstd * gamma
//   dgamma = dot * invstd, dbeta = sum_dy
class BatchNormBackward : public Generator<BatchNormBackward> {
public:
    qs::StreamingParams stream;
    qs::ColumnReductionParams reduce;

    Input<Buffer<float>> dy{"dy", 2};
    Input<Buffer<float>> x{"x", 2};
    Input<Buffer<float>> gamma{"gamma", 1};
    Input<Buffer<float>> mean{"mean", 1};
    Input<Buffer<float>> invstd{"invstd", 1};
    Output<Buffer<float>> dx{"dx", 2};
    Output<Buffer<float>> dgamma{"dgamma", 1};
    Output<Buffer<float>> dbeta{"dbeta", 1};

    void generate() {
        Expr count = cast<float>(x.dim(1).extent());
        r = RDom(0, x.dim(1).extent(), "r");
        sums(c) = Tuple(0.0f, 0.0f);  // (sum dy, sum dy * (x - mean))
        Expr g = dy(c, r.x);
        sums(c) = Tuple(sums(c)[0] + g, sums(c)[1] + g * (x(c, r.x) - mean(c)));
        k(c) = sums(c)[1] * invstd(c) * invstd(c) / count;
        grad_mean(c) = sums(c)[0] / count;
        factor(c) = invstd(c) * gamma(c);
        dx(c, m) = (dy(c, m) - grad_mean(c) - (x(c, m) - mean(c)) * k(c)) * factor(c);
        dgamma(c) = sums(c)[1] * invstd(c);
        dbeta(c) = sums(c)[0];
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        const Target t = get_target();
        qs::schedule_column_reduction(sums, c, r, t, reduce);
        qs::schedule_per_channel_scalars({k, grad_mean, factor}, c, t);
        qs::schedule_rows_2d(dx, c, m, x.dim(0).extent(), t, stream);
        qs::schedule_channel_outputs({dgamma, dbeta}, c, t);
    }

private:
    Var c{"c"}, m{"m"};
    RDom r;
    Func sums{"sums"}, k{"k"}, grad_mean{"grad_mean"}, factor{"factor"};
};

// ---- ReLU -------------------------------------------------------------------------------

// y = x < 0 ? +0 : x (PyTorch's clamp_min(x, 0): -0.0 and NaN pass through).
class Relu : public Generator<Relu> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> x{"x", 1};
    Output<Buffer<float>> y{"y", 1};

    // x < 0 ? +0 : x, so -0 and NaN pass unchanged (PyTorch's relu). Written
    // on the bits, integer compares only: a float compare-and-select becomes
    // max(x, 0) (Halide's simplifier or LLVM, even through bitcasts), and
    // AArch64's fmax gives +0 for -0. x < 0 <=> sign set, not -0, not NaN.
    void generate() {
        Expr bits = reinterpret<int32_t>(x(i));
        Expr magnitude = bits & 0x7fffffff;
        Expr negative = bits < 0 && magnitude != 0 && magnitude <= 0x7f800000;
        y(i) = reinterpret<float>(select(negative, 0, bits));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_stream_1d(y, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

// dx = y <= 0 ? +0 : dy (PyTorch's threshold_backward: NaN y passes dy). The
// NaN test is explicit: Halide canonicalises y <= 0 into !(0 < y).
class ReluBackward : public Generator<ReluBackward> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> dy{"dy", 1};
    Input<Buffer<float>> y{"y", 1};
    Output<Buffer<float>> dx{"dx", 1};

    void generate() { dx(i) = select(y(i) > 0.0f || is_nan(y(i)), dy(i), 0.0f); }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_stream_1d(dx, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

// ---- 2x2 max pool ------------------------------------------------------------------------

// The window's values in PyTorch's scan order (row-major), combined the way
// its CPU kernel does: a value replaces the running maximum when it is
// greater or NaN, so the first maximum wins and a NaN always does.
struct PoolMax {
    Expr value, index;
};

PoolMax pool_window(const std::function<Expr(Expr, Expr)> &at) {
    PoolMax p{at(0, 0), Expr(0)};
    const int dys[3] = {0, 1, 1}, dxs[3] = {1, 0, 1};
    for (int k = 0; k < 3; k++) {
        Expr v = at(dxs[k], dys[k]);
        Expr take = v > p.value || is_nan(v);
        p.value = select(take, v, p.value);
        p.index = select(take, k + 1, p.index);
    }
    return p;
}

class MaxPool2x2 : public Generator<MaxPool2x2> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> x{"x", 4};                       // (c, w, h, n)
    Output<Func> out{"out", {Float(32), UInt(8)}, 4};     // (y, argmax) at (c, wo, ho, n)

    void generate() {
        PoolMax p = pool_window([&](Expr dx, Expr dy) { return x(c, 2 * w + dx, 2 * h + dy, n); });
        out(c, w, h, n) = Tuple(p.value, cast<uint8_t>(p.index));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_pool_rows(out, c, h, n, x.dim(0).extent() * (x.dim(1).extent() / 2), get_target(), stream);
    }

private:
    Var c{"c"}, w{"w"}, h{"h"}, n{"n"};
};

class MaxPool2x2Backward : public Generator<MaxPool2x2Backward> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> dy{"dy", 4};           // (c, wo, ho, n)
    Input<Buffer<uint8_t>> argmax{"argmax", 4};  // same
    Output<Buffer<float>> dx{"dx", 4};           // (c, w, h, n)

    void generate() {
        // A trailing odd row / column lies in no window: clamp the (unused) read.
        Expr wo = min(w / 2, dy.dim(1).extent() - 1), ho = min(h / 2, dy.dim(2).extent() - 1);
        Expr inside = w / 2 < dy.dim(1).extent() && h / 2 < dy.dim(2).extent();
        Expr pos = cast<uint8_t>((h % 2) * 2 + w % 2);
        dx(c, w, h, n) = select(inside && argmax(c, wo, ho, n) == pos, dy(c, wo, ho, n), 0.0f);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_pool_rows(dx, c, h, n, dy.dim(0).extent() * dy.dim(1).extent() * 2, get_target(), stream);
    }

private:
    Var c{"c"}, w{"w"}, h{"h"}, n{"n"};
};

template<typename Elem>
class MaxPool2x2Int8 : public Generator<MaxPool2x2Int8<Elem>> {
public:
    QF_TEMPLATE_GENERATOR(MaxPool2x2Int8);
    qs::StreamingParams stream;

    Input<Buffer<Elem>> x{"x", 4};
    Output<Buffer<Elem>> y{"y", 4};

    void generate() {
        y(c, w, h, n) = max(max(x(c, 2 * w, 2 * h, n), x(c, 2 * w + 1, 2 * h, n)),
                            max(x(c, 2 * w, 2 * h + 1, n), x(c, 2 * w + 1, 2 * h + 1, n)));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_pool_rows(y, c, h, n, x.dim(0).extent() * (x.dim(1).extent() / 2), get_target(), stream,
                                 qs::byte_lanes(get_target()));
    }

private:
    Var c{"c"}, w{"w"}, h{"h"}, n{"n"};
};

// ---- softmax cross-entropy -------------------------------------------------------------

// Per row b: mx = max_k l, se = sum_k exp(l - mx), lse = mx + log(se),
// loss_b = lse - l[label]; loss = sum_b loss_b / B;
// dlogits = (exp(l - mx) / se - onehot) / B.
class SoftmaxCrossEntropy : public Generator<SoftmaxCrossEntropy> {
public:
    Input<Buffer<float>> logits{"logits", 2};   // (k, b)
    Input<Buffer<int32_t>> labels{"labels", 1};  // (b), validated in [0, K) by the runtime
    Output<Buffer<float>> loss{"loss", 0};
    Output<Buffer<float>> dlogits{"dlogits", 2};

    void generate() {
        Expr classes = logits.dim(0).extent(), batch = logits.dim(1).extent();
        Expr bf = cast<float>(batch);
        rk = RDom(0, classes, "rk");
        mx(b) = logits(0, b);
        mx(b) = max(mx(b), logits(rk, b));
        se(b) = 0.0f;
        se(b) += exp(logits(rk, b) - mx(b));
        Expr label = clamp(labels(b), 0, classes - 1);
        row_loss(b) = (mx(b) + log(se(b))) - logits(label, b);
        rb = RDom(0, batch, "rb");
        total() = 0.0f;
        total() += row_loss(rb);
        loss() = total() / bf;
        Expr onehot = select(k == labels(b), 1.0f, 0.0f);
        dlogits(k, b) = (exp(logits(k, b) - mx(b)) / se(b) - onehot) / bf;
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_softmax_rows(dlogits, k, b, {mx, se, row_loss, total}, get_target());
    }

private:
    Var k{"k"}, b{"b"};
    RDom rk, rb;
    Func mx{"mx"}, se{"se"}, row_loss{"row_loss"}, total{"total"};
};

// ---- optimizers ---------------------------------------------------------------------------

// torch.optim.SGD (dampening 0, nesterov off), one step, in place:
//   g   = weight_decay != 0 ? grad + weight_decay * param : grad
//   buf = first_step ? g : buf * momentum + g
//   param = param + (-lr) * buf
class SgdMomentum : public Generator<SgdMomentum> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> param{"param", 1};
    Input<Buffer<float>> grad{"grad", 1};
    Input<Buffer<float>> buf{"buf", 1};
    Input<float> lr{"lr"};
    Input<float> momentum{"momentum"};
    Input<float> weight_decay{"weight_decay"};
    Input<bool> first_step{"first_step"};
    Output<Func> out{"out", {Float(32), Float(32)}, 1};  // (param, buf)

    void generate() {
        Expr p = param(i);
        Expr g = select(weight_decay != 0.0f, grad(i) + weight_decay * p, grad(i));
        Expr b = select(first_step, g, buf(i) * momentum + g);
        out(i) = Tuple(p + (-lr) * b, b);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_stream_1d(out, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

// torch.optim.Adam (amsgrad off; weight decay as L2 on the gradient), one
// step, in place. The step-dependent scalars come from the runtime, computed
// in double as PyTorch's Python does:
//   g   = weight_decay != 0 ? grad + weight_decay * param : grad
//   m   = m * beta1 + one_minus_beta1 * g
//   v   = v * beta2 + (one_minus_beta2 * g) * g
//   denom = sqrt(v) / bias_correction2_sqrt + eps
//   param = param + (neg_step_size * m) / denom
class Adam : public Generator<Adam> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> param{"param", 1};
    Input<Buffer<float>> grad{"grad", 1};
    Input<Buffer<float>> exp_avg{"exp_avg", 1};
    Input<Buffer<float>> exp_avg_sq{"exp_avg_sq", 1};
    Input<float> beta1{"beta1"};
    Input<float> beta2{"beta2"};
    Input<float> one_minus_beta1{"one_minus_beta1"};
    Input<float> one_minus_beta2{"one_minus_beta2"};
    Input<float> neg_step_size{"neg_step_size"};
    Input<float> bias_correction2_sqrt{"bias_correction2_sqrt"};
    Input<float> eps{"eps"};
    Input<float> weight_decay{"weight_decay"};
    Output<Func> out{"out", {Float(32), Float(32), Float(32)}, 1};  // (param, exp_avg, exp_avg_sq)

    void generate() {
        Expr p = param(i);
        Expr g = select(weight_decay != 0.0f, grad(i) + weight_decay * p, grad(i));
        Expr m = exp_avg(i) * beta1 + one_minus_beta1 * g;
        Expr v = exp_avg_sq(i) * beta2 + (one_minus_beta2 * g) * g;
        Expr denom = sqrt(v) / bias_correction2_sqrt + eps;
        out(i) = Tuple(p + (neg_step_size * m) / denom, m, v);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_stream_1d(out, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

// ---- integer-model helpers (docs/numerics.md) -----------------------------------------------

// q = clamp(nearbyint(x * (1/s)) + z, qmin, qmax); NaN -> qmin (what
// PyTorch's int64 cast gives on x86).
template<typename Elem>
class Quantize : public Generator<Quantize<Elem>> {
public:
    QF_TEMPLATE_GENERATOR(Quantize);
    qs::StreamingParams stream;

    Input<Buffer<float>> x{"x", 1};
    Input<float> scale{"scale"};
    Input<int32_t> zero_point{"zero_point"};
    Input<int32_t> qmin{"qmin"};
    Input<int32_t> qmax{"qmax"};
    Output<Buffer<Elem>> q{"q", 1};

    void generate() {
        Expr lo = cast<float>(qmin), hi = cast<float>(qmax);
        Expr qf = nx::clamp_to_range(nx::quantize_unclamped(x(i), nx::inverse_scale(scale), cast<float>(zero_point)),
                                     lo, hi);
        q(i) = cast<Elem>(select(is_nan(x(i)), lo, qf));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_stream_1d(q, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

template<typename Elem>
class Dequantize : public Generator<Dequantize<Elem>> {
public:
    QF_TEMPLATE_GENERATOR(Dequantize);
    qs::StreamingParams stream;

    Input<Buffer<Elem>> q{"q", 1};
    Input<float> scale{"scale"};
    Input<int32_t> zero_point{"zero_point"};
    Output<Buffer<float>> y{"y", 1};

    void generate() { y(i) = nx::dequantize(cast<float>(q(i)), cast<float>(zero_point), scale); }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_stream_1d(y, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

// acc(c, m) -> clamp(nearbyint(float(acc) * multiplier(c)) + z_out, lo, hi).
template<typename Elem>
class Requantize : public Generator<Requantize<Elem>> {
public:
    QF_TEMPLATE_GENERATOR(Requantize);
    qs::StreamingParams stream;

    Input<Buffer<int32_t>> acc{"acc", 2};
    Input<Buffer<float>> multiplier{"multiplier", 1};
    Input<int32_t> out_zero_point{"out_zero_point"};
    Input<int32_t> out_min{"out_min"};
    Input<int32_t> out_max{"out_max"};
    Output<Buffer<Elem>> y{"y", 2};

    void generate() {
        y(c, m) = cast<Elem>(nx::requantize(acc(c, m), multiplier(c), out_zero_point, out_min, out_max));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_rows_2d(y, c, m, acc.dim(0).extent(), get_target(), stream);
    }

private:
    Var c{"c"}, m{"m"};
};

}  // namespace

using MaxPool2x2U8 = MaxPool2x2Int8<uint8_t>;
using MaxPool2x2S8 = MaxPool2x2Int8<int8_t>;
using QuantizeU8 = Quantize<uint8_t>;
using QuantizeS8 = Quantize<int8_t>;
using DequantizeU8 = Dequantize<uint8_t>;
using DequantizeS8 = Dequantize<int8_t>;
using RequantizeU8 = Requantize<uint8_t>;
using RequantizeS8 = Requantize<int8_t>;
HALIDE_REGISTER_GENERATOR(ColumnSum, column_sum)
HALIDE_REGISTER_GENERATOR(ChannelAffine, channel_affine)
HALIDE_REGISTER_GENERATOR(ChannelAffineBackward, channel_affine_backward)
HALIDE_REGISTER_GENERATOR(BatchNormTrain, batch_norm_train)
HALIDE_REGISTER_GENERATOR(BatchNormEval, batch_norm_eval)
HALIDE_REGISTER_GENERATOR(BatchNormBackward, batch_norm_backward)
HALIDE_REGISTER_GENERATOR(Relu, relu)
HALIDE_REGISTER_GENERATOR(ReluBackward, relu_backward)
HALIDE_REGISTER_GENERATOR(MaxPool2x2, max_pool2x2)
HALIDE_REGISTER_GENERATOR(MaxPool2x2Backward, max_pool2x2_backward)
HALIDE_REGISTER_GENERATOR(MaxPool2x2U8, max_pool2x2_u8)
HALIDE_REGISTER_GENERATOR(MaxPool2x2S8, max_pool2x2_s8)
HALIDE_REGISTER_GENERATOR(SoftmaxCrossEntropy, softmax_cross_entropy)
HALIDE_REGISTER_GENERATOR(SgdMomentum, sgd_momentum)
HALIDE_REGISTER_GENERATOR(Adam, adam)
HALIDE_REGISTER_GENERATOR(QuantizeU8, quantize_u8)
HALIDE_REGISTER_GENERATOR(QuantizeS8, quantize_s8)
HALIDE_REGISTER_GENERATOR(DequantizeU8, dequantize_u8)
HALIDE_REGISTER_GENERATOR(DequantizeS8, dequantize_s8)
HALIDE_REGISTER_GENERATOR(RequantizeU8, requantize_u8)
HALIDE_REGISTER_GENERATOR(RequantizeS8, requantize_s8)
