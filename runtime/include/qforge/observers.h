// Range observers, as PyTorch 1.13's MinMaxObserver, MovingAverageMinMaxObserver
// and their per-channel forms: they track min/max of what they see and turn it
// into (scale, zero point), symmetric or affine (docs/numerics.md, Observers).
#pragma once

#include <cstdint>
#include <vector>

#include "qforge/quant_params.h"
#include "qforge/tensor.h"

namespace qforge {

enum class QScheme { affine, symmetric };

struct ObserverOptions {
    QuantRange range;
    QScheme scheme = QScheme::affine;
    // 1.0 keeps the running min/max of everything seen (MinMax); below 1 it is
    // the moving-average constant c: min += c * (batch_min - min).
    float averaging_constant = 1.0f;
    // -1: one range for the tensor; otherwise the channel axis (per-channel).
    int axis = -1;

    static ObserverOptions min_max(QuantRange r, QScheme s) { return {r, s, 1.0f, -1}; }
    static ObserverOptions moving_average(QuantRange r, QScheme s, float c = 0.01f) {
        return {r, s, c, -1};
    }
    static ObserverOptions per_channel(QuantRange r, QScheme s, int axis, float c = 1.0f) {
        return {r, s, c, axis};
    }
};

class Observer {
public:
    explicit Observer(ObserverOptions options);  // validates the options

    // Folds a batch in. Throws on NaN or Inf in x, on a rank that does not have the
    // axis, or on a channel count that changed since the first batch.
    void observe(const TensorView &x);

    bool has_observations() const { return seen_; }
    bool per_channel() const { return options_.axis >= 0; }
    const std::vector<float> &min() const { return min_; }  // one entry per tensor or channel
    const std::vector<float> &max() const { return max_; }
    const ObserverOptions &options() const { return options_; }

    // Parameters from the range seen so far (scale 1, zero point 0 before any
    // observation). qparams() needs a per-tensor observer, channel_qparams() a
    // per-channel one; the other throws InvalidArgument.
    QuantParams qparams() const;
    PerChannelQuantParams channel_qparams() const;

    void reset();

    // Restores a range saved from min()/max() (checkpoints): one entry per
    // tensor or per channel, finite, min <= max. Empty vectors mean "nothing seen".
    void restore(std::vector<float> min, std::vector<float> max);

private:
    void compute(float lo, float hi, float *scale, int32_t *zero_point) const;

    ObserverOptions options_;
    bool seen_ = false;
    std::vector<float> min_, max_;
};

}  // namespace qforge
