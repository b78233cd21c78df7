// The trainable network of qforge-train: a sequence of stages
// (conv/linear [+ BN] [+ ReLU] [+ 2x2 max pools], qforge/model_spec.h), NHWC, f32,
// with QAT's fake quantizers once quantize() has inserted them.
//
// Three forwards:
//   train_step      training (batch statistics, optional fake quantization
//                   with BN folded into the weights as PyTorch's ConvBn2d does),
//                   then the backward pass into every parameter's gradient;
//   eval_fp32       inference with BN's running statistics (and, for
//                   calibration, feeding the activation observers);
//   eval_integer    the integer-exact QAT forward (docs/qforge-train.md):
//                   every stage folded (fold()) and run as an int32
//                   accumulator plus the contract's requantize, so its
//                   activations equal the converted integer model's, bit for bit.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "params.h"
#include "quantizer.h"
#include "qforge/gemm.h"
#include "qforge/int_model.h"
#include "qforge/model_file.h"
#include "qforge/model_spec.h"
#include "qforge/quant_params.h"
#include "qforge/tensor.h"

namespace qforge::train {

// Quantization of one stage: its weights and its input activations.
struct StageQuantConfig {
    int weight_bits = 8, act_bits = 8;
    QuantMethod weight_method = QuantMethod::minmax, act_method = QuantMethod::minmax;
};

// A stage in integer form: what conversion stores and both integer forwards
// run (the runtime's plain description, qforge/int_model.h).
using FoldedStage = IntegerStage;

constexpr float kBatchNormEps = 1e-5f;
constexpr float kBatchNormMomentum = 0.1f;

class Network {
public:
    Network(const ModelSpec &spec, uint64_t seed);  // PyTorch-style (Kaiming-uniform) initialisation
    ~Network();
    Network(const Network &) = delete;
    Network &operator=(const Network &) = delete;

    const ModelSpec &spec() const { return spec_; }

    // Inserts fake quantizers (one config per stage; stage 0's act_bits
    // quantize the network input).
    void quantize(const std::vector<StageQuantConfig> &config);
    bool quantized() const { return input_quantizer_ != nullptr; }
    const std::vector<StageQuantConfig> &quant_config() const { return quant_config_; }
    void set_fake_quant(bool on) { fake_quant_ = on; }
    void set_observers(bool on);
    void set_bn_frozen(bool on) { bn_frozen_ = on; }
    bool fake_quant() const { return fake_quant_; }
    bool bn_frozen() const { return bn_frozen_; }

    // One training forward + backward on a batch: gradients of the mean loss in
    // every parameter (zeroed first). Returns the loss; *correct = right predictions.
    float train_step(const float *images, const int32_t *labels, int batch, int *correct);
    std::vector<Param *> parameters();
    void after_optimizer_step();  // keeps learned quantizer scales valid

    // Inference: logits [batch, classes].
    void eval_fp32(const float *images, int batch, float *logits, bool calibrate_observers = false);
    // Integer-exact QAT forward; `activations` (if given) receives each stage's
    // integer output (after pooling; u8) for agreement checks.
    void eval_integer(const float *images, int batch, float *logits, std::vector<Tensor> *activations = nullptr);
    // The same on stages folded once (fold_all) for a whole evaluation.
    void eval_integer(const std::vector<FoldedStage> &folded, const float *images, int batch, float *logits,
                      std::vector<Tensor> *activations = nullptr);
    std::vector<FoldedStage> fold_all();
    FoldedStage fold(int stage);
    QuantParams input_params() const;

    // Parameters, BN statistics and quantizer state (optimizer state too when asked).
    void save(ModelFile &f, bool optimizer_state) const;
    void load(const ModelFile &f, bool optimizer_state);

private:
    struct Stage;
    Tensor &buffer(Stage &s, const std::string &key, DType t, const Shape &shape);
    void run_weight_op(Stage &s, const TensorView &x, const TensorView &w, const float *bias, const TensorView &y);

    ModelSpec spec_;
    std::vector<std::unique_ptr<Stage>> stages_;
    std::unique_ptr<ActivationQuantizer> input_quantizer_;
    std::vector<StageQuantConfig> quant_config_;
    bool fake_quant_ = false, bn_frozen_ = false;
    std::map<std::string, Tensor> scratch_;
};

// Predicted class per row of logits [batch, classes].
int argmax_row(const float *logits, int classes);

}  // namespace qforge::train
