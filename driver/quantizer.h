// The fake quantizers QAT inserts: per-tensor affine for activations
// (unsigned range [0, 2^b - 1]) and per-output-channel symmetric for weights
// (signed range [-2^(b-1), 2^(b-1) - 1]), each with one of three methods:
//
//   minmax      observer-driven parameters (moving-average min/max for
//               activations, min/max of the current weights), STE backward;
//   lsq         learned step size (LSQ, gradient scale 1/sqrt(n * qmax)); for
//               activations also the learned offset (LSQ+); initialised
//               from the observer's calibration;
//   multiplier  the observer's scale times a learnable multiplier (init 1)
//               (the classic QAT module with learnable weight / input scales).
//
// Observers can be switched off (the last epochs of QAT): parameters then
// stay where they are, and learned ones keep learning.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "params.h"
#include "qforge/observers.h"
#include "qforge/quant_params.h"
#include "qforge/tensor.h"

namespace qforge::train {

enum class QuantMethod { minmax, lsq, multiplier };
const char *quant_method_name(QuantMethod m);
QuantMethod parse_quant_method(const std::string &s);  // InvalidArgument naming the choices

class ActivationQuantizer {
public:
    ActivationQuantizer(std::string name, int bits, QuantMethod method);

    const std::string &name() const { return name_; }
    int bits() const { return bits_; }
    QuantMethod method() const { return method_; }
    void set_observing(bool on) { observing_ = on; }
    bool observing() const { return observing_; }

    // Calibration: fold x into the observer (no quantization).
    void observe(const TensorView &x);
    // Training forward y = fake_quant(x) (observing first when enabled); keeps
    // what backward needs (the mask, or x itself for the learned methods:
    // x must stay alive until backward).
    void forward(const TensorView &x, const TensorView &y);
    // dx from dy; accumulates the learned parameters' gradients.
    void backward(const TensorView &dy, const TensorView &dx);
    // Whether backward produces gradients for parameters (not just dx).
    bool learnable() const { return method_ != QuantMethod::minmax; }

    // The integer parameters the next layer sees (eval, conversion).
    QuantParams params() const;
    std::vector<Param *> parameters();
    void after_step();  // keeps learned scales positive and finite after an optimizer step

    void save(ModelFile &f, bool optimizer_state) const;
    void load(const ModelFile &f, bool optimizer_state);

private:
    LearnableQuantParams learnable_params() const;
    std::string name_;
    int bits_;
    QuantMethod method_;
    QuantRange range_;
    bool observing_ = true;
    Observer observer_;
    Param scale_, offset_;  // lsq: scale, zero point; multiplier: [0] = multiplier
    bool initialised_ = false;  // lsq: scale/offset taken from the observer
    Tensor mask_;
    TensorView saved_x_;
};

class WeightQuantizer {
public:
    WeightQuantizer(std::string name, int bits, QuantMethod method, int64_t channels);

    const std::string &name() const { return name_; }
    int bits() const { return bits_; }
    QuantMethod method() const { return method_; }
    void set_observing(bool on) { observing_ = on; }

    // wq = fake_quant(w) per output channel (axis 0); w must stay alive until backward.
    void forward(const TensorView &w, const TensorView &wq);
    void backward(const TensorView &dwq, const TensorView &dw);
    // The per-channel parameters for weights w (observing them first when
    // the minmax/multiplier observer is on).
    PerChannelQuantParams params_for(const TensorView &w);
    std::vector<Param *> parameters();
    void after_step();  // keeps learned scales positive and finite after an optimizer step

    void save(ModelFile &f, bool optimizer_state) const;
    void load(const ModelFile &f, bool optimizer_state);

private:
    void update_observer(const TensorView &w);
    PerChannelQuantParams observer_params() const;
    LearnablePerChannelQuantParams learnable_params() const;
    std::string name_;
    int bits_;
    QuantMethod method_;
    QuantRange range_;
    int64_t channels_;
    bool observing_ = true;
    Observer observer_;
    Param scale_;  // lsq: per-channel scales; multiplier: [0] = multiplier
    bool initialised_ = false;
    Tensor mask_;
    TensorView saved_w_;
};

}  // namespace qforge::train
