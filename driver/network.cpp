#include "network.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "qforge/conv.h"
#include "qforge/device.h"
#include "qforge/error.h"
#include "qforge/train_gemm.h"
#include "qforge/train_ops.h"

namespace qforge::train {

namespace {

// splitmix64: a tiny portable generator, so initialisation is the same everywhere.
struct SplitMix64 {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    float uniform(float lo, float hi) {  // 24 random bits
        return lo + (hi - lo) * static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
    }
};

TensorView reshape(const TensorView &t, Shape shape) { return TensorView(t.data(), t.dtype(), std::move(shape)); }

float *f32(const Tensor &t) { return t.data_as<float>(); }

void fill(const Tensor &t, float v) { std::fill(f32(t), f32(t) + t.numel(), v); }

}  // namespace

struct Network::Stage {
    StageSpec spec;
    Param weight, bias, gamma, beta;
    Tensor running_mean, running_var;
    std::unique_ptr<WeightQuantizer> wq;
    std::unique_ptr<ActivationQuantizer> aq;  // output activations (none for the last stage)
    std::map<std::string, Tensor> buffers;

    // Per-step state for the backward pass.
    TensorView x;          // input
    TensorView w_used;     // weights the forward multiplied with
    TensorView bn_in;      // batch-norm input (the conv's output)
    TensorView act;        // after BN / bias and ReLU, before pooling
    TensorView pooled;     // after pooling, before the output fake quantizer
    bool folded = false;   // QAT with BN: w_used = fq(w * s) / s (ConvBn2d)
    bool quant_act = false;
    std::vector<float> fold_scale;  // s = gamma / sqrt(running_var + eps)

    bool last = false;
    Shape out_shape(int batch) const {  // before pooling
        if (spec.kind == LayerKind::linear) return {batch, spec.out_c};
        return {batch, spec.out_h, spec.out_w, spec.out_c};
    }
    Shape in_shape(int batch) const {
        if (spec.kind == LayerKind::linear) return {batch, spec.in_c};
        return {batch, spec.in_h, spec.in_w, spec.in_c};
    }
    Shape weight_shape() const {
        if (spec.kind == LayerKind::linear) return {spec.out_c, spec.in_c};
        return {spec.out_c, spec.kernel_h, spec.kernel_w, spec.in_c / spec.geometry.groups};
    }
};

int argmax_row(const float *logits, int classes) {
    int best = 0;
    for (int k = 1; k < classes; k++) {
        if (logits[k] > logits[best]) best = k;
    }
    return best;
}

Network::Network(const ModelSpec &spec, uint64_t seed) : spec_(spec) {
    SplitMix64 rng{seed};
    for (size_t i = 0; i < spec.stages.size(); i++) {
        auto s = std::make_unique<Stage>();
        s->spec = spec.stages[i];
        s->last = i + 1 == spec.stages.size();
        const std::string &n = s->spec.name;
        s->weight = Param(n + ".weight", s->weight_shape(), true);
        // PyTorch's default: kaiming_uniform(a = sqrt(5)) => U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias alike.
        float bound = 1.0f / std::sqrt(static_cast<float>(s->spec.weight_fan_in()));
        for (int64_t j = 0; j < s->weight.numel(); j++) s->weight.data()[j] = rng.uniform(-bound, bound);
        int64_t o = s->spec.out_c;
        if (s->spec.batch_norm) {
            s->gamma = Param(n + ".bn.weight", {o}, false);
            s->beta = Param(n + ".bn.bias", {o}, false);
            fill(s->gamma.value, 1.0f);
            s->running_mean = Tensor(DType::f32, {o});
            s->running_var = Tensor(DType::f32, {o});
            fill(s->running_var, 1.0f);
        } else {
            s->bias = Param(n + ".bias", {o}, false);
            for (int64_t j = 0; j < o; j++) s->bias.data()[j] = rng.uniform(-bound, bound);
        }
        stages_.push_back(std::move(s));
    }
}

Network::~Network() = default;

void Network::quantize(const std::vector<StageQuantConfig> &config) {
    if (config.size() != stages_.size()) {
        throw InvalidArgument("Network::quantize: " + std::to_string(config.size()) + " stage configs for " +
                              std::to_string(stages_.size()) + " stages");
    }
    quant_config_ = config;
    input_quantizer_ = std::make_unique<ActivationQuantizer>("input.act_quant", config[0].act_bits, config[0].act_method);
    for (size_t i = 0; i < stages_.size(); i++) {
        Stage &s = *stages_[i];
        s.wq = std::make_unique<WeightQuantizer>(s.spec.name + ".weight_quant", config[i].weight_bits,
                                                 config[i].weight_method, s.spec.out_c);
        if (!s.last) {
            s.aq = std::make_unique<ActivationQuantizer>(s.spec.name + ".act_quant", config[i + 1].act_bits,
                                                         config[i + 1].act_method);
        }
    }
}

void Network::set_observers(bool on) {
    if (input_quantizer_) input_quantizer_->set_observing(on);
    for (auto &s : stages_) {
        if (s->wq) s->wq->set_observing(on);
        if (s->aq) s->aq->set_observing(on);
    }
}

std::vector<Param *> Network::parameters() {
    std::vector<Param *> out;
    for (auto &s : stages_) {
        out.push_back(&s->weight);
        if (s->spec.batch_norm) {
            out.push_back(&s->gamma);
            out.push_back(&s->beta);
        } else {
            out.push_back(&s->bias);
        }
    }
    if (quantized()) {
        for (Param *p : input_quantizer_->parameters()) out.push_back(p);
        for (auto &s : stages_) {
            for (Param *p : s->wq->parameters()) out.push_back(p);
            if (s->aq) {
                for (Param *p : s->aq->parameters()) out.push_back(p);
            }
        }
    }
    return out;
}

void Network::after_optimizer_step() {
    if (!quantized()) return;
    input_quantizer_->after_step();
    for (auto &s : stages_) {
        s->wq->after_step();
        if (s->aq) s->aq->after_step();
    }
}

Tensor &Network::buffer(Stage &s, const std::string &key, DType t, const Shape &shape) {
    Tensor &b = s.buffers[key];
    if (b.dtype() != t || b.shape() != shape) b = Tensor(t, shape);
    return b;
}

void Network::run_weight_op(Stage &s, const TensorView &x, const TensorView &w, const float *bias,
                            const TensorView &y) {
    if (s.spec.kind == LayerKind::linear) {
        sgemm(x, Transpose::no, w, Transpose::yes, y, bias);
    } else {
        conv2d_f32(x, w, bias, s.spec.geometry, y);
    }
}

// ---- training ------------------------------------------------------------------

float Network::train_step(const float *images, const int32_t *labels, int batch, int *correct) {
    for (Param *p : parameters()) p->zero_grad();
    const bool fq = quantized() && fake_quant_;
    Stage &first = *stages_[0];
    TensorView x(const_cast<float *>(images), {batch, spec_.in_h, spec_.in_w, spec_.in_c});
    TensorView input = x;
    if (fq) {
        Tensor &xq = buffer(first, "input_q", DType::f32, x.shape());
        input_quantizer_->forward(x, xq);
        x = xq;
    }

    for (auto &sp : stages_) {
        Stage &s = *sp;
        const int64_t O = s.spec.out_c;
        s.x = reshape(x, s.in_shape(batch));
        s.folded = fq && s.spec.batch_norm;
        s.quant_act = fq && s.aq;
        // Weights: plain, fake-quantized, or (QAT with BN) BN-scaled then fake-quantized.
        s.w_used = s.weight.value;
        if (s.folded) {
            s.fold_scale.resize(O);
            Tensor &wf = buffer(s, "w_folded", DType::f32, s.weight_shape());
            int64_t per = s.weight.numel() / O;
            float *wfp = f32(wf);
            const float *w = s.weight.data();
            for (int64_t o = 0; o < O; o++) {
                float sd = std::sqrt(f32(s.running_var)[o] + kBatchNormEps);
                s.fold_scale[o] = s.gamma.data()[o] / sd;
                for (int64_t j = 0; j < per; j++) wfp[o * per + j] = w[o * per + j] * s.fold_scale[o];
            }
            Tensor &wq = buffer(s, "w_quant", DType::f32, s.weight_shape());
            s.wq->forward(wf, wq);
            // ConvBn2d divides the conv's output by s; dividing the (small)
            // weights instead gives the same y1 = conv(x, fq(w s)) / s without
            // a pass over the activations (forward and backward).
            Tensor &weff = buffer(s, "w_eff", DType::f32, s.weight_shape());
            float *we = f32(weff);
            const float *wqp = f32(wq);
            for (int64_t o = 0; o < O; o++) {
                const float inv = 1.0f / s.fold_scale[o];
                for (int64_t j = 0; j < per; j++) we[o * per + j] = wqp[o * per + j] * inv;
            }
            s.w_used = weff;
        } else if (fq) {
            Tensor &wq = buffer(s, "w_quant", DType::f32, s.weight_shape());
            s.wq->forward(s.weight.value, wq);
            s.w_used = wq;
        }
        Tensor &y0 = buffer(s, "y0", DType::f32, s.out_shape(batch));
        run_weight_op(s, s.x, s.w_used, s.spec.batch_norm ? nullptr : s.bias.data(), y0);
        TensorView act = y0;
        if (s.spec.batch_norm) {
            s.bn_in = y0;  // (folded: already y1 = conv(x, fq(w s)) / s)
            Tensor &bn_out = buffer(s, "bn_out", DType::f32, s.out_shape(batch));
            if (bn_frozen_) {
                batch_norm_eval(s.bn_in, s.gamma.value, s.beta.value, s.running_mean, s.running_var, kBatchNormEps,
                                bn_out);
            } else {
                Tensor &mean = buffer(s, "bn_mean", DType::f32, {O});
                Tensor &var = buffer(s, "bn_var", DType::f32, {O});
                Tensor &invstd = buffer(s, "bn_invstd", DType::f32, {O});
                batch_norm_train(s.bn_in, s.gamma.value, s.beta.value, kBatchNormEps, bn_out, mean, var, invstd);
                // Running statistics as PyTorch: the unbiased batch variance.
                double n = double(s.bn_in.numel() / O);
                float unbias = n > 1 ? static_cast<float>(n / (n - 1)) : 1.0f;
                for (int64_t o = 0; o < O; o++) {
                    float &rm = f32(s.running_mean)[o], &rv = f32(s.running_var)[o];
                    rm = (1 - kBatchNormMomentum) * rm + kBatchNormMomentum * f32(mean)[o];
                    rv = (1 - kBatchNormMomentum) * rv + kBatchNormMomentum * f32(var)[o] * unbias;
                }
            }
            act = bn_out;
        }
        if (s.spec.relu) relu(act, act);
        s.act = act;
        TensorView out = act;
        for (int k = 0; k < s.spec.pools; k++) {
            Shape in = out.shape();
            Shape ps = {in[0], in[1] / 2, in[2] / 2, in[3]};
            Tensor &p = buffer(s, "pool" + std::to_string(k), DType::f32, ps);
            Tensor &am = buffer(s, "argmax" + std::to_string(k), DType::u8, ps);
            max_pool2x2(out, p, am);
            out = p;
        }
        // The output quantizer runs after the pools: fake quantization is
        // monotone, so it commutes with max-pooling (same values, a quarter
        // of the work per pool; the integer model requantizes before pooling
        // with the same parameters and gets the same integers).
        s.pooled = out;
        if (s.quant_act) {
            Tensor &q = buffer(s, "act_q", DType::f32, out.shape());
            s.aq->forward(out, q);
            out = q;
        }
        x = out;
    }

    // Loss.
    const int classes = spec_.num_classes();
    Stage &last = *stages_.back();
    Tensor &dlogits = buffer(last, "dlogits", DType::f32, {batch, classes});
    TensorView label_view(const_cast<int32_t *>(labels), {batch});
    float loss = softmax_cross_entropy(x, label_view, dlogits);
    if (correct) {
        int c = 0;
        for (int b = 0; b < batch; b++) c += argmax_row(x.data_as<float>() + int64_t(b) * classes, classes) == labels[b];
        *correct = c;
    }

    // Backward.
    TensorView d = dlogits;
    const bool input_grad_needed = fq && input_quantizer_->learnable();
    for (int i = static_cast<int>(stages_.size()) - 1; i >= 0; i--) {
        Stage &s = *stages_[i];
        const int64_t O = s.spec.out_c;
        if (s.quant_act) {
            Tensor &da = buffer(s, "d_act_q", DType::f32, s.pooled.shape());
            s.aq->backward(d, da);
            d = da;
        }
        for (int k = s.spec.pools - 1; k >= 0; k--) {
            Shape pool_in = k == 0 ? s.act.shape() : s.buffers.at("pool" + std::to_string(k - 1)).shape();
            Tensor &dp = buffer(s, "dpool" + std::to_string(k), DType::f32, pool_in);
            max_pool2x2_backward(d, s.buffers.at("argmax" + std::to_string(k)), dp);
            d = dp;
        }
        if (s.spec.relu) {
            Tensor &dr = buffer(s, "d_relu", DType::f32, s.act.shape());
            relu_backward(d, s.act, dr);
            d = dr;
        }
        TensorView dy0 = d;
        if (s.spec.batch_norm) {
            Tensor &dbn = buffer(s, "d_bn_in", DType::f32, s.act.shape());
            Tensor &dg = buffer(s, "d_gamma", DType::f32, {O});
            Tensor &db = buffer(s, "d_beta", DType::f32, {O});
            if (bn_frozen_) {
                // y = x * (gamma / sd) + (beta - rm * gamma / sd)
                Tensor &scale = buffer(s, "frozen_scale", DType::f32, {O});
                for (int64_t o = 0; o < O; o++) {
                    f32(scale)[o] = s.gamma.data()[o] / std::sqrt(f32(s.running_var)[o] + kBatchNormEps);
                }
                channel_affine_backward(d, s.bn_in, scale, dbn, dg, db);
                for (int64_t o = 0; o < O; o++) {
                    float sd = std::sqrt(f32(s.running_var)[o] + kBatchNormEps);
                    s.gamma.grad_data()[o] += (f32(dg)[o] - f32(s.running_mean)[o] * f32(db)[o]) / sd;
                    s.beta.grad_data()[o] += f32(db)[o];
                }
            } else {
                batch_norm_backward(d, s.bn_in, s.gamma.value, s.buffers["bn_mean"], s.buffers["bn_invstd"], dbn, dg,
                                    db);
                for (int64_t o = 0; o < O; o++) {
                    s.gamma.grad_data()[o] += f32(dg)[o];
                    s.beta.grad_data()[o] += f32(db)[o];
                }
            }
            dy0 = dbn;
        } else {
            Tensor &db = buffer(s, "d_bias", DType::f32, {O});
            column_sum(dy0, db);
            for (int64_t o = 0; o < O; o++) s.bias.grad_data()[o] += f32(db)[o];
        }
        // Weight gradient (of the weights actually multiplied with).
        Tensor &dw_used = buffer(s, "d_w_used", DType::f32, s.weight_shape());
        if (s.spec.kind == LayerKind::linear) {
            sgemm(dy0, Transpose::yes, s.x, Transpose::no, dw_used);
        } else {
            conv2d_f32_backward_weight(s.x, dy0, s.spec.geometry, dw_used);
        }
        // Input gradient.
        if (i > 0 || input_grad_needed) {
            Tensor &dx = buffer(s, "d_x", DType::f32, s.x.shape());
            if (s.spec.kind == LayerKind::linear) {
                sgemm(dy0, Transpose::no, s.w_used, Transpose::no, dx);
            } else {
                conv2d_f32_backward_input(dy0, s.w_used, s.spec.geometry, dx);
            }
            d = dx;
            if (i > 0) {  // the previous stage's (pooled) output shape
                const Stage &prev = *stages_[i - 1];
                d = reshape(dx, prev.spec.kind == LayerKind::linear
                                    ? Shape{batch, prev.spec.out_c}
                                    : Shape{batch, prev.spec.pooled_h(), prev.spec.pooled_w(), prev.spec.out_c});
            }
        }
        // Back through the weight quantizer (and the BN scaling of folded weights).
        float *gw = s.weight.grad_data();
        if (s.folded) {
            // w_eff = wq * (1/s): d(wq) = d(w_eff) / s and d(1/s) = sum(d(w_eff) * wq).
            const int64_t per = s.weight.numel() / O;
            Tensor &dwq = buffer(s, "d_w_quant", DType::f32, s.weight_shape());
            const float *wq = f32(s.buffers.at("w_quant")), *dwu = f32(dw_used);
            float *dwqp = f32(dwq);
            std::vector<float> ds(O);
            for (int64_t o = 0; o < O; o++) {
                double dinv = 0;
                for (int64_t j = 0; j < per; j++) {
                    const float g = dwu[o * per + j];
                    dinv += double(g) * wq[o * per + j];
                    dwqp[o * per + j] = g / s.fold_scale[o];
                }
                ds[o] = static_cast<float>(-dinv / (double(s.fold_scale[o]) * s.fold_scale[o]));
            }
            Tensor &dwf = buffer(s, "d_w_folded", DType::f32, s.weight_shape());
            s.wq->backward(dwq, dwf);
            const float *dwfp = f32(dwf);
            for (int64_t o = 0; o < O; o++) {
                double dso = 0;
                for (int64_t j = 0; j < per; j++) {
                    float g = dwfp[o * per + j];
                    gw[o * per + j] += g * s.fold_scale[o];
                    dso += double(g) * s.weight.data()[o * per + j];
                }
                float dsc = ds[o] + static_cast<float>(dso);
                // s = gamma / sd, the running statistics being constants.
                s.gamma.grad_data()[o] += dsc / std::sqrt(f32(s.running_var)[o] + kBatchNormEps);
            }
        } else if (fq) {
            Tensor &dw = buffer(s, "d_w", DType::f32, s.weight_shape());
            s.wq->backward(dw_used, dw);
            const float *g = f32(dw);
            for (int64_t j = 0, n = s.weight.numel(); j < n; j++) gw[j] += g[j];
        } else {
            const float *g = f32(dw_used);
            for (int64_t j = 0, n = s.weight.numel(); j < n; j++) gw[j] += g[j];
        }
    }
    if (input_grad_needed) {
        Tensor &dxin = buffer(first, "d_input", DType::f32, input.shape());
        input_quantizer_->backward(reshape(d, input.shape()), dxin);
    }
    return loss;
}

// ---- inference -------------------------------------------------------------------

void Network::eval_fp32(const float *images, int batch, float *logits, bool calibrate_observers) {
    if (calibrate_observers && !quantized()) {
        throw InvalidArgument("Network::eval_fp32: calibration needs quantizers (call quantize first)");
    }
    TensorView x(const_cast<float *>(images), {batch, spec_.in_h, spec_.in_w, spec_.in_c});
    if (calibrate_observers) input_quantizer_->observe(x);
    for (auto &sp : stages_) {
        Stage &s = *sp;
        TensorView in = reshape(x, s.in_shape(batch));
        Tensor &y = buffer(s, "eval_y", DType::f32, s.out_shape(batch));
        run_weight_op(s, in, s.weight.value, s.spec.batch_norm ? nullptr : s.bias.data(), y);
        if (s.spec.batch_norm) {
            batch_norm_eval(y, s.gamma.value, s.beta.value, s.running_mean, s.running_var, kBatchNormEps, y);
        }
        if (s.spec.relu) relu(y, y);
        TensorView out = y;
        for (int k = 0; k < s.spec.pools; k++) {
            Shape ps = {batch, out.dim(1) / 2, out.dim(2) / 2, out.dim(3)};
            Tensor &p = buffer(s, "eval_pool" + std::to_string(k), DType::f32, ps);
            Tensor &am = buffer(s, "eval_argmax" + std::to_string(k), DType::u8, ps);
            max_pool2x2(out, p, am);
            out = p;
        }
        if (calibrate_observers && s.aq) s.aq->observe(out);  // after the pools, as in training
        x = out;
    }
    std::memcpy(logits, x.data(), size_t(batch) * spec_.num_classes() * sizeof(float));
}

QuantParams Network::input_params() const {
    if (!quantized()) throw InvalidArgument("Network: not quantized");
    return input_quantizer_->params();
}

FoldedStage Network::fold(int index) {
    if (!quantized()) throw InvalidArgument("Network::fold: the network has no quantizers");
    Stage &s = *stages_.at(index);
    const int64_t O = s.spec.out_c;
    const int64_t per = s.weight.numel() / O;
    FoldedStage f;
    f.last = s.last;
    f.input = index == 0 ? input_quantizer_->params() : stages_[index - 1]->aq->params();
    // BN folded as torch.nn.utils.fuse_conv_bn_weights: w * s, (b - rm) * s + beta, s = gamma / sqrt(rv + eps).
    Tensor wf(DType::f32, s.weight_shape());
    std::vector<float> bias_f(O);
    for (int64_t o = 0; o < O; o++) {
        float scale = 1.0f, b = 0.0f;
        if (s.spec.batch_norm) {
            scale = s.gamma.data()[o] / std::sqrt(f32(s.running_var)[o] + kBatchNormEps);
            b = (0.0f - f32(s.running_mean)[o]) * scale + s.beta.data()[o];
        } else {
            b = s.bias.data()[o];
        }
        float *wfp = f32(wf);
        for (int64_t j = 0; j < per; j++) wfp[o * per + j] = s.weight.data()[o * per + j] * scale;
        bias_f[o] = b;
    }
    PerChannelQuantParams wp = s.wq->params_for(wf);
    f.weight_bits = s.wq->bits();
    f.weight_scales = wp.scales;
    f.weights = Tensor(DType::s8, s.weight_shape());
    for (int64_t o = 0; o < O; o++) {
        QuantParams row{wp.scales[o], 0, wp.range};
        qforge::quantize(TensorView(f32(wf) + o * per, {per}), row, TensorView(f.weights.data_as<int8_t>() + o * per, {per}));
    }
    // int32 bias and the output stage (docs/numerics.md, Requantize).
    f.bias.resize(O);
    const float sx = f.input.scale;
    for (int64_t o = 0; o < O; o++) {
        float r = std::nearbyint(bias_f[o] / (sx * wp.scales[o]));
        r = std::min(std::max(r, -2147483520.0f), 2147483520.0f);
        f.bias[o] = static_cast<int32_t>(r);
    }
    if (s.last) {
        f.out_scale.resize(O);
        for (int64_t o = 0; o < O; o++) f.out_scale[o] = sx * wp.scales[o];
    } else {
        f.output = s.aq->params();
        f.requant.multiplier.resize(O);
        for (int64_t o = 0; o < O; o++) f.requant.multiplier[o] = (sx * wp.scales[o]) / f.output.scale;
        f.requant.out_zero_point = f.output.zero_point;
        f.requant.out_min = s.spec.relu ? std::max(f.output.range.qmin, f.output.zero_point) : f.output.range.qmin;
        f.requant.out_max = f.output.range.qmax;
    }
    return f;
}

std::vector<FoldedStage> Network::fold_all() {
    std::vector<FoldedStage> folded;
    for (size_t i = 0; i < stages_.size(); i++) folded.push_back(fold(static_cast<int>(i)));
    return folded;
}

void Network::eval_integer(const float *images, int batch, float *logits, std::vector<Tensor> *activations) {
    if (!quantized()) throw InvalidArgument("Network::eval_integer: the network has no quantizers");
    eval_integer(fold_all(), images, batch, logits, activations);
}

void Network::eval_integer(const std::vector<FoldedStage> &folded, const float *images, int batch, float *logits,
                           std::vector<Tensor> *activations) {
    DeviceScope on_cpu(Device::cpu);  // the int8 kernels run on the CPU (qforge/device.h)
    if (folded.size() != stages_.size()) {
        throw InvalidArgument("Network::eval_integer: " + std::to_string(folded.size()) + " folded stages for " +
                              std::to_string(stages_.size()) + " stages");
    }
    if (activations) activations->clear();
    TensorView x(const_cast<float *>(images), {batch, spec_.in_h, spec_.in_w, spec_.in_c});
    Stage &first = *stages_[0];
    Tensor &xq0 = buffer(first, "int_input", DType::u8, x.shape());
    qforge::quantize(x, folded[0].input, xq0);
    TensorView xq = xq0;
    for (size_t i = 0; i < stages_.size(); i++) {
        Stage &s = *stages_[i];
        const FoldedStage &f = folded[i];
        TensorView in = reshape(xq, s.in_shape(batch));
        Tensor &acc = buffer(s, "int_acc", DType::s32, s.out_shape(batch));
        GemmOptions opt{f.input.zero_point, f.bias.data()};
        if (s.spec.kind == LayerKind::linear) {
            gemm_s32(in, PackedGemmWeights(f.weights), opt, acc);
        } else {
            conv2d_s32(in, PackedConvWeights(f.weights, s.spec.geometry.groups), s.spec.geometry, opt, acc);
        }
        if (f.last) {
            const int64_t O = s.spec.out_c;
            const int32_t *a = acc.data_as<int32_t>();
            for (int64_t b = 0; b < batch; b++) {
                for (int64_t o = 0; o < O; o++) logits[b * O + o] = static_cast<float>(a[b * O + o]) * f.out_scale[o];
            }
            break;
        }
        Tensor &mult = buffer(s, "int_multiplier", DType::f32, {s.spec.out_c});
        std::copy(f.requant.multiplier.begin(), f.requant.multiplier.end(), f32(mult));
        Tensor &y = buffer(s, "int_y", DType::u8, s.out_shape(batch));
        requantize(acc, mult, f.requant.out_zero_point, f.requant.out_min, f.requant.out_max, y);
        TensorView out = y;
        for (int k = 0; k < s.spec.pools; k++) {
            Shape ps = {batch, out.dim(1) / 2, out.dim(2) / 2, out.dim(3)};
            Tensor &p = buffer(s, "int_pool" + std::to_string(k), DType::u8, ps);
            max_pool2x2_int8(out, p);
            out = p;
        }
        if (activations) {
            Tensor copy(DType::u8, out.shape());
            std::memcpy(copy.data(), out.data(), out.nbytes());
            activations->push_back(std::move(copy));
        }
        xq = out;
    }
}

// ---- state -----------------------------------------------------------------------

void Network::save(ModelFile &f, bool optimizer_state) const {
    for (const auto &s : stages_) {
        save_param(f, s->weight, optimizer_state);
        if (s->spec.batch_norm) {
            save_param(f, s->gamma, optimizer_state);
            save_param(f, s->beta, optimizer_state);
            Tensor rm(DType::f32, {s->spec.out_c}), rv(DType::f32, {s->spec.out_c});
            std::memcpy(rm.data(), s->running_mean.data(), rm.view().nbytes());
            std::memcpy(rv.data(), s->running_var.data(), rv.view().nbytes());
            f.add(s->spec.name + ".bn.running_mean", std::move(rm));
            f.add(s->spec.name + ".bn.running_var", std::move(rv));
        } else {
            save_param(f, s->bias, optimizer_state);
        }
    }
    if (quantized()) {
        input_quantizer_->save(f, optimizer_state);
        for (const auto &s : stages_) {
            s->wq->save(f, optimizer_state);
            if (s->aq) s->aq->save(f, optimizer_state);
        }
    }
}

void Network::load(const ModelFile &f, bool optimizer_state) {
    for (auto &s : stages_) {
        load_param(f, s->weight, optimizer_state);
        if (s->spec.batch_norm) {
            load_param(f, s->gamma, optimizer_state);
            load_param(f, s->beta, optimizer_state);
            load_tensor_into(f, s->spec.name + ".bn.running_mean", s->running_mean);
            load_tensor_into(f, s->spec.name + ".bn.running_var", s->running_var);
        } else {
            load_param(f, s->bias, optimizer_state);
        }
    }
    if (quantized()) {
        input_quantizer_->load(f, optimizer_state);
        for (auto &s : stages_) {
            s->wq->load(f, optimizer_state);
            if (s->aq) s->aq->load(f, optimizer_state);
        }
    }
}

}  // namespace qforge::train
