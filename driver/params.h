// Trainable parameters and the optimizers that update them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qforge/model_file.h"
#include "qforge/tensor.h"

namespace qforge::train {

// A trainable f32 tensor with its gradient and optimizer state
// (momentum buffer for SGD; first and second moments for Adam).
struct Param {
    std::string name;
    Tensor value, grad, state1, state2;
    bool weight_decay = false;  // conv / linear weights only: not BN, biases or quantizer scales

    Param() = default;
    Param(std::string n, Shape shape, bool decay);
    void zero_grad();
    float *data() const { return value.data_as<float>(); }
    float *grad_data() const { return grad.data_as<float>(); }
    int64_t numel() const { return value.numel(); }
};

enum class OptimizerKind { sgd, adam };

struct OptimizerOptions {
    OptimizerKind kind = OptimizerKind::sgd;
    float momentum = 0.9f;       // SGD
    float weight_decay = 5e-4f;  // applied to params with weight_decay set
    float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // Adam
};

// One optimizer step over `params` at learning rate lr (the runtime's
// sgd_momentum_update / adam_update kernels). `step` counts from 0.
void optimizer_step(const std::vector<Param *> &params, const OptimizerOptions &o, float lr, int64_t step);

// Cosine annealing from lr0 to 0 over total_steps (PyTorch's CosineAnnealingLR
// stepped once per batch).
float cosine_lr(float lr0, int64_t step, int64_t total_steps);

// Checkpoint I/O of a parameter: value (and optimizer state when asked).
void save_param(ModelFile &f, const Param &p, bool optimizer_state);
void load_param(const ModelFile &f, Param &p, bool optimizer_state);

// A tensor of `t`'s shape and dtype read from f (FileError on a shape mismatch).
void load_tensor_into(const ModelFile &f, const std::string &name, const Tensor &t);

}  // namespace qforge::train
