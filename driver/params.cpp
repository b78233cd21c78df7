#include "params.h"

#include <cmath>
#include <cstring>

#include "qforge/train_ops.h"

namespace qforge::train {

Param::Param(std::string n, Shape shape, bool decay)
    : name(std::move(n)), value(DType::f32, shape), grad(DType::f32, shape), state1(DType::f32, shape),
      state2(DType::f32, shape), weight_decay(decay) {}

void Param::zero_grad() { std::memset(grad.data(), 0, grad.numel() * sizeof(float)); }

void optimizer_step(const std::vector<Param *> &params, const OptimizerOptions &o, float lr, int64_t step) {
    for (Param *p : params) {
        float wd = p->weight_decay ? o.weight_decay : 0.0f;
        if (o.kind == OptimizerKind::sgd) {
            sgd_momentum_update(p->value, p->grad, p->state1, lr, o.momentum, wd, step == 0);
        } else {
            adam_update(p->value, p->grad, p->state1, p->state2, step + 1, lr, o.beta1, o.beta2, o.eps, wd);
        }
    }
}

float cosine_lr(float lr0, int64_t step, int64_t total_steps) {
    if (total_steps <= 0) return lr0;
    double t = std::min<double>(1.0, double(step) / double(total_steps));
    return static_cast<float>(0.5 * lr0 * (1.0 + std::cos(M_PI * t)));
}

void load_tensor_into(const ModelFile &f, const std::string &name, const Tensor &t) {
    const Tensor &src = f.tensor(name);
    if (src.dtype() != t.dtype() || src.shape() != t.shape()) {
        throw FileError("tensor '" + name + "' is " + src.view().describe() + ", expected " + t.view().describe());
    }
    std::memcpy(t.data(), src.data(), t.view().nbytes());
}

namespace {
Tensor copy_of(const Tensor &t) {
    Tensor c(t.dtype(), t.shape());
    std::memcpy(c.data(), t.data(), t.view().nbytes());
    return c;
}
}  // namespace

void save_param(ModelFile &f, const Param &p, bool optimizer_state) {
    f.add(p.name, copy_of(p.value));
    if (optimizer_state) {
        f.add(p.name + "#opt1", copy_of(p.state1));
        f.add(p.name + "#opt2", copy_of(p.state2));
    }
}

void load_param(const ModelFile &f, Param &p, bool optimizer_state) {
    load_tensor_into(f, p.name, p.value);
    if (optimizer_state) {
        load_tensor_into(f, p.name + "#opt1", p.state1);
        load_tensor_into(f, p.name + "#opt2", p.state2);
    }
}

}  // namespace qforge::train
