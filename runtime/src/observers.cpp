// Observers: running min/max -> (scale, zero point), PyTorch 1.13 formulas in
// fp32 (torch.ao.quantization.observer._calculate_qparams).
#include "qforge/observers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "kernel_call.h"
#include "qforge/error.h"

namespace qforge {

namespace {

// min / max of n floats folded into *lo / *hi, and *poison += sum(x * 0),
// which is NaN iff some x is NaN or infinite. QAT observes every activation
// tensor every step, so this is written for the vectorizer (16 independent
// lanes: IEEE order forbids reassociating one accumulator; select-style
// min/max) and, on x86, cloned for AVX-512 and AVX2, picked at load time.
#if defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif  // (AArch64: NEON is the baseline; nothing to pick)
void fold_range(const float *x, int n, float *lo, float *hi, float *poison) {
    constexpr int kLanes = 16;
    float lmin[kLanes], lmax[kLanes], lpoison[kLanes];
    for (int j = 0; j < kLanes; j++) {
        lmin[j] = *lo;
        lmax[j] = *hi;
        lpoison[j] = 0.0f;
    }
    int i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (int j = 0; j < kLanes; j++) {
            const float v = x[i + j];
            lpoison[j] += v * 0.0f;
            lmin[j] = v < lmin[j] ? v : lmin[j];
            lmax[j] = v > lmax[j] ? v : lmax[j];
        }
    }
    float l = *lo, h = *hi, p = *poison;
    for (; i < n; i++) {
        const float v = x[i];
        p += v * 0.0f;
        l = v < l ? v : l;
        h = v > h ? v : h;
    }
    for (int j = 0; j < kLanes; j++) {
        p += lpoison[j];
        l = lmin[j] < l ? lmin[j] : l;
        h = lmax[j] > h ? lmax[j] : h;
    }
    *lo = l;
    *hi = h;
    *poison = p;
}
constexpr float kEps = std::numeric_limits<float>::epsilon();  // torch.finfo(float32).eps
}

Observer::Observer(ObserverOptions options) : options_(options) {
    options_.range.validate("Observer");
    if (!(options_.averaging_constant > 0.0f && options_.averaging_constant <= 1.0f)) {
        throw InvalidArgument("Observer: averaging_constant must be in (0, 1], got " +
                              std::to_string(options_.averaging_constant));
    }
    if (options_.axis < -1) {
        throw InvalidArgument("Observer: axis must be -1 (per tensor) or >= 0, got " +
                              std::to_string(options_.axis));
    }
}

void Observer::reset() {
    seen_ = false;
    min_.clear();
    max_.clear();
}

void Observer::observe(const TensorView &x) {
    const char *op = "Observer::observe";
    detail::require_tensor(op, "x", x, DType::f32);
    if (x.numel() == 0) return;
    detail::ChannelSplit split;  // per tensor: everything is one channel
    split.inner = static_cast<int>(x.numel());
    if (per_channel()) {
        if (options_.axis >= x.rank()) {
            throw InvalidArgument(std::string(op) + ": axis " + std::to_string(options_.axis) +
                                  " is out of range for x " + x.describe());
        }
        size_t channels = static_cast<size_t>(x.dim(options_.axis));
        if (seen_ && channels != min_.size()) {
            throw ShapeError(std::string(op) + ": x " + x.describe() + " has " + std::to_string(channels) +
                             " channels, earlier batches had " + std::to_string(min_.size()));
        }
        split = detail::split_at_axis(op, x, options_.axis, channels);
    }
    const float *data = x.data_as<float>();
    std::vector<float> lo(split.channels, std::numeric_limits<float>::infinity());
    std::vector<float> hi(split.channels, -std::numeric_limits<float>::infinity());
    for (int o = 0; o < split.outer; o++) {
        for (int c = 0; c < split.channels; c++) {
            const float *row = data + (static_cast<int64_t>(o) * split.channels + c) * split.inner;
            float l = lo[c], h = hi[c], poison = 0.0f;
            fold_range(row, split.inner, &l, &h, &poison);
            // An infinite range would give an infinite scale (and, averaged, a
            // NaN one forever after): reject the batch instead.
            if (poison != 0.0f) throw InvalidArgument(std::string(op) + ": x contains NaN or Inf");
            lo[c] = l;
            hi[c] = h;
        }
    }
    if (!seen_) {
        min_ = lo;
        max_ = hi;
        seen_ = true;
        return;
    }
    const float c = options_.averaging_constant;
    for (size_t k = 0; k < lo.size(); k++) {
        if (c == 1.0f) {
            min_[k] = std::min(min_[k], lo[k]);
            max_[k] = std::max(max_[k], hi[k]);
        } else {
            min_[k] = min_[k] + c * (lo[k] - min_[k]);
            max_[k] = max_[k] + c * (hi[k] - max_[k]);
        }
    }
}

void Observer::compute(float lo, float hi, float *scale, int32_t *zero_point) const {
    const QuantRange &r = options_.range;
    const float min_neg = std::min(lo, 0.0f);
    const float max_pos = std::max(hi, 0.0f);
    if (options_.scheme == QScheme::symmetric) {
        const float bound = std::max(-min_neg, max_pos);
        *scale = std::max(bound / (static_cast<float>(r.qmax - r.qmin) / 2.0f), kEps);
        if (r.qmin >= 0) {
            // PyTorch quint8: 128 for the default [0, 255], else the rounded-down middle.
            *zero_point = (r.qmin == 0 && r.qmax == 255) ? 128 : (r.qmin + r.qmax) / 2;
        } else {
            *zero_point = 0;
        }
    } else {
        *scale = std::max((max_pos - min_neg) / static_cast<float>(r.qmax - r.qmin), kEps);
        const float z = static_cast<float>(r.qmin) - std::nearbyint(min_neg / *scale);
        *zero_point = static_cast<int32_t>(
            std::clamp(z, static_cast<float>(r.qmin), static_cast<float>(r.qmax)));
    }
}

QuantParams Observer::qparams() const {
    if (per_channel()) {
        throw InvalidArgument("Observer::qparams: this observer is per-channel; use channel_qparams()");
    }
    QuantParams p;
    p.range = options_.range;
    if (seen_) compute(min_[0], max_[0], &p.scale, &p.zero_point);
    return p;
}

PerChannelQuantParams Observer::channel_qparams() const {
    if (!per_channel()) {
        throw InvalidArgument("Observer::channel_qparams: this observer is per-tensor; use qparams()");
    }
    if (!seen_) {
        throw InvalidArgument("Observer::channel_qparams: no batch observed yet, the channel count is unknown");
    }
    PerChannelQuantParams p;
    p.axis = options_.axis;
    p.range = options_.range;
    p.scales.resize(min_.size());
    p.zero_points.resize(min_.size());
    for (size_t c = 0; c < min_.size(); c++) compute(min_[c], max_[c], &p.scales[c], &p.zero_points[c]);
    return p;
}

}  // namespace qforge

namespace qforge {

void Observer::restore(std::vector<float> min, std::vector<float> max) {
    const char *op = "Observer::restore";
    if (min.size() != max.size()) {
        throw InvalidArgument(std::string(op) + ": min has " + std::to_string(min.size()) + " entries, max " +
                              std::to_string(max.size()));
    }
    if (!per_channel() && min.size() > 1) {
        throw InvalidArgument(std::string(op) + ": a per-tensor observer takes one range, got " +
                              std::to_string(min.size()));
    }
    for (size_t i = 0; i < min.size(); i++) {
        if (!std::isfinite(min[i]) || !std::isfinite(max[i]) || min[i] > max[i]) {
            throw InvalidArgument(std::string(op) + ": range " + std::to_string(i) + " is not finite with min <= max");
        }
    }
    seen_ = !min.empty();
    min_ = std::move(min);
    max_ = std::move(max);
}

}  // namespace qforge
