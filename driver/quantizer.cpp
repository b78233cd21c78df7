#include "quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "qforge/error.h"
#include "qforge/ops.h"

namespace qforge::train {

namespace {

// Learned scales stay positive and finite (docs/numerics.md, LSQ).
constexpr float kMinScale = 1e-8f;

void clamp_scales(Param &p) {
    float *s = p.data();
    for (int64_t i = 0; i < p.numel(); i++) {
        if (!(s[i] >= kMinScale)) s[i] = kMinScale;  // also catches NaN
    }
}

Tensor vector_tensor(const std::vector<float> &v) {
    Tensor t(DType::f32, {static_cast<int64_t>(v.size())});
    if (!v.empty()) std::memcpy(t.data(), v.data(), v.size() * sizeof(float));
    return t;
}

void save_observer(ModelFile &f, const std::string &name, const Observer &o) {
    f.add(name + ".observer_min", vector_tensor(o.min()));
    f.add(name + ".observer_max", vector_tensor(o.max()));
}

void load_observer(const ModelFile &f, const std::string &name, Observer &o) {
    const Tensor &lo = f.tensor(name + ".observer_min"), &hi = f.tensor(name + ".observer_max");
    if (lo.dtype() != DType::f32 || hi.dtype() != DType::f32) throw FileError(name + ": observer range is not f32");
    const float *l = lo.data_as<float>(), *h = hi.data_as<float>();
    o.restore(std::vector<float>(l, l + lo.numel()), std::vector<float>(h, h + hi.numel()));
}

Tensor flag_tensor(bool b) {
    Tensor t(DType::s32, {1});
    t.data_as<int32_t>()[0] = b ? 1 : 0;
    return t;
}

bool load_flag(const ModelFile &f, const std::string &name) {
    const Tensor &t = f.tensor(name);
    if (t.dtype() != DType::s32 || t.numel() != 1) throw FileError(name + ": expected one s32");
    return t.data_as<int32_t>()[0] != 0;
}

}  // namespace

const char *quant_method_name(QuantMethod m) {
    switch (m) {
    case QuantMethod::minmax: return "minmax";
    case QuantMethod::lsq: return "lsq";
    case QuantMethod::multiplier: return "multiplier";
    }
    return "?";
}

QuantMethod parse_quant_method(const std::string &s) {
    if (s == "minmax") return QuantMethod::minmax;
    if (s == "lsq") return QuantMethod::lsq;
    if (s == "multiplier") return QuantMethod::multiplier;
    throw InvalidArgument("unknown quantization method '" + s + "' (minmax, lsq, multiplier)");
}

// ---- activations -------------------------------------------------------------

ActivationQuantizer::ActivationQuantizer(std::string name, int bits, QuantMethod method)
    : name_(std::move(name)), bits_(bits), method_(method), range_(QuantRange::from_bits(bits, false)),
      observer_(ObserverOptions::moving_average(range_, QScheme::affine, 0.01f)),
      scale_(name_ + ".scale", {1}, false), offset_(name_ + ".offset", {1}, false) {
    scale_.data()[0] = 1.0f;
}

void ActivationQuantizer::observe(const TensorView &x) { observer_.observe(x); }

LearnableQuantParams ActivationQuantizer::learnable_params() const {
    LearnableQuantParams p;
    p.range = range_;
    if (method_ == QuantMethod::lsq) {
        p.scale = scale_.data()[0];
        p.zero_point = offset_.data()[0];
    } else {  // multiplier
        QuantParams base = observer_.qparams();
        p.scale = base.scale * scale_.data()[0];
        p.zero_point = static_cast<float>(base.zero_point);
    }
    return p;
}

QuantParams ActivationQuantizer::params() const {
    if (method_ == QuantMethod::minmax) return observer_.qparams();
    LearnableQuantParams l = learnable_params();
    QuantParams p;
    p.scale = l.scale;
    p.zero_point = learnable_zero_point_forward(l.zero_point, range_);
    p.range = range_;
    return p;
}

void ActivationQuantizer::forward(const TensorView &x, const TensorView &y) {
    // LSQ reads its observer only to initialise the learned scale and offset.
    const bool observer_used = method_ != QuantMethod::lsq || !initialised_;
    if ((observing_ && observer_used) || !observer_.has_observations()) observer_.observe(x);
    if (method_ == QuantMethod::lsq && !initialised_) {
        QuantParams init = observer_.qparams();  // LSQ+ starts from the calibrated range
        scale_.data()[0] = init.scale;
        offset_.data()[0] = static_cast<float>(init.zero_point);
        initialised_ = true;
    }
    if (method_ == QuantMethod::minmax) {
        if (mask_.shape() != x.shape()) mask_ = Tensor(DType::u8, x.shape());
        fake_quant(x, observer_.qparams(), y, mask_);
    } else {
        lsq_forward(x, learnable_params(), y);
        saved_x_ = x;
    }
}

void ActivationQuantizer::backward(const TensorView &dy, const TensorView &dx) {
    if (method_ == QuantMethod::minmax) {
        fake_quant_backward(dy, mask_, dx);
        return;
    }
    LearnableQuantParams p = learnable_params();
    LsqGradients g = lsq_backward(saved_x_, dy, p, dx);
    if (method_ == QuantMethod::lsq) {
        scale_.grad_data()[0] += g.dscale;
        offset_.grad_data()[0] += g.dzero_point;  // LSQ+: the learned offset
    } else {
        scale_.grad_data()[0] += g.dscale * observer_.qparams().scale;
    }
}

void ActivationQuantizer::after_step() { clamp_scales(scale_); }

std::vector<Param *> ActivationQuantizer::parameters() {
    if (method_ == QuantMethod::lsq) return {&scale_, &offset_};
    if (method_ == QuantMethod::multiplier) return {&scale_};
    return {};
}

void ActivationQuantizer::save(ModelFile &f, bool optimizer_state) const {
    save_observer(f, name_, observer_);
    f.add(name_ + ".initialised", flag_tensor(initialised_));
    save_param(f, scale_, optimizer_state);
    save_param(f, offset_, optimizer_state);
}

void ActivationQuantizer::load(const ModelFile &f, bool optimizer_state) {
    load_observer(f, name_, observer_);
    initialised_ = load_flag(f, name_ + ".initialised");
    load_param(f, scale_, optimizer_state);
    load_param(f, offset_, optimizer_state);
}

// ---- weights -------------------------------------------------------------------

WeightQuantizer::WeightQuantizer(std::string name, int bits, QuantMethod method, int64_t channels)
    : name_(std::move(name)), bits_(bits), method_(method), range_(QuantRange::from_bits(bits, true)),
      channels_(channels), observer_(ObserverOptions::per_channel(range_, QScheme::symmetric, 0)),
      scale_(name_ + ".scale", {method == QuantMethod::lsq ? channels : 1}, false) {
    std::fill(scale_.data(), scale_.data() + scale_.numel(), 1.0f);
}

void WeightQuantizer::update_observer(const TensorView &w) {
    // The weights' own current range (not a running one: they move every step).
    observer_.reset();
    observer_.observe(w);
}

PerChannelQuantParams WeightQuantizer::observer_params() const { return observer_.channel_qparams(); }

LearnablePerChannelQuantParams WeightQuantizer::learnable_params() const {
    LearnablePerChannelQuantParams p;
    p.axis = 0;
    p.range = range_;
    p.zero_points.assign(channels_, 0.0f);
    if (method_ == QuantMethod::lsq) {
        p.scales.assign(scale_.data(), scale_.data() + channels_);
    } else {
        PerChannelQuantParams base = observer_params();
        p.scales.resize(channels_);
        for (int64_t c = 0; c < channels_; c++) p.scales[c] = base.scales[c] * scale_.data()[0];
    }
    return p;
}

PerChannelQuantParams WeightQuantizer::params_for(const TensorView &w) {
    if (method_ != QuantMethod::lsq && (observing_ || !observer_.has_observations())) update_observer(w);
    if (method_ == QuantMethod::minmax) return observer_params();
    if (method_ == QuantMethod::lsq && !initialised_) {
        update_observer(w);
        PerChannelQuantParams init = observer_params();
        std::copy(init.scales.begin(), init.scales.end(), scale_.data());
        initialised_ = true;
    }
    LearnablePerChannelQuantParams l = learnable_params();
    PerChannelQuantParams p;
    p.axis = 0;
    p.range = range_;
    p.scales = l.scales;
    p.zero_points.assign(channels_, 0);
    return p;
}

void WeightQuantizer::forward(const TensorView &w, const TensorView &wq) {
    PerChannelQuantParams p = params_for(w);
    if (method_ == QuantMethod::minmax) {
        if (mask_.shape() != w.shape()) mask_ = Tensor(DType::u8, w.shape());
        fake_quant(w, p, wq, mask_);
    } else {
        lsq_forward(w, learnable_params(), wq);
        saved_w_ = w;
    }
}

void WeightQuantizer::backward(const TensorView &dwq, const TensorView &dw) {
    if (method_ == QuantMethod::minmax) {
        fake_quant_backward(dwq, mask_, dw);
        return;
    }
    LsqPerChannelGradients g = lsq_backward(saved_w_, dwq, learnable_params(), dw);
    if (method_ == QuantMethod::lsq) {
        for (int64_t c = 0; c < channels_; c++) scale_.grad_data()[c] += g.dscale[c];
    } else {
        PerChannelQuantParams base = observer_params();
        double d = 0;
        for (int64_t c = 0; c < channels_; c++) d += double(g.dscale[c]) * base.scales[c];
        scale_.grad_data()[0] += static_cast<float>(d);
    }
}

void WeightQuantizer::after_step() { clamp_scales(scale_); }

std::vector<Param *> WeightQuantizer::parameters() {
    if (method_ == QuantMethod::minmax) return {};
    return {&scale_};
}

void WeightQuantizer::save(ModelFile &f, bool optimizer_state) const {
    save_observer(f, name_, observer_);
    f.add(name_ + ".initialised", flag_tensor(initialised_));
    save_param(f, scale_, optimizer_state);
}

void WeightQuantizer::load(const ModelFile &f, bool optimizer_state) {
    load_observer(f, name_, observer_);
    initialised_ = load_flag(f, name_ + ".initialised");
    load_param(f, scale_, optimizer_state);
}

}  // namespace qforge::train
