// The training operators (docs/training-ops.md) in plain, scalar C++: the
// reference the kernels of qforge/train_ops.h are tested against. Written for
// clarity, not speed; it shares no code with the kernels.
//
// Elementwise formulas are evaluated in fp32 exactly as the documentation
// writes them (tests are built with -ffp-contract=off), so the kernels must
// match them bit for bit. Reductions (column sums, batch-norm statistics and
// gradients, the loss) are computed in double: the kernels' fp32 sums are
// compared with a tolerance.
//
// Tensors are flat row-major vectors; a [..., C] tensor is M rows of C.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace qforge::ref {

// ---- per-channel reductions and affine (double sums) --------------------------

inline std::vector<double> column_sum(const std::vector<float> &x, size_t channels) {
    std::vector<double> s(channels, 0.0);
    for (size_t i = 0; i < x.size(); i++) s[i % channels] += x[i];
    return s;
}

// Also the sum of magnitudes, the scale of a sum's rounding error.
inline std::vector<double> column_abs_sum(const std::vector<float> &x, size_t channels) {
    std::vector<double> s(channels, 0.0);
    for (size_t i = 0; i < x.size(); i++) s[i % channels] += std::fabs(static_cast<double>(x[i]));
    return s;
}

inline float channel_affine(float x, float scale, float shift) { return x * scale + shift; }

// ---- batch norm ---------------------------------------------------------------------

struct BatchNormStats {
    std::vector<double> mean, var;  // biased variance
};

inline BatchNormStats batch_norm_stats(const std::vector<float> &x, size_t channels) {
    const size_t rows = x.size() / channels;
    BatchNormStats s;
    s.mean.assign(channels, 0.0);
    s.var.assign(channels, 0.0);
    for (size_t i = 0; i < x.size(); i++) s.mean[i % channels] += x[i];
    for (auto &m : s.mean) m /= static_cast<double>(rows);
    for (size_t i = 0; i < x.size(); i++) {
        const double d = x[i] - s.mean[i % channels];
        s.var[i % channels] += d * d;
    }
    for (auto &v : s.var) v /= static_cast<double>(rows);
    return s;
}

// y = (x - mean) * (invstd * gamma) + beta, in fp32 from fp32 statistics: the
// kernel's elementwise step, bit for bit, given the same mean and invstd.
inline float batch_norm_apply(float x, float mean, float invstd, float gamma, float beta) {
    const float factor = invstd * gamma;
    return (x - mean) * factor + beta;
}

inline float inverse_std(float var, float eps) { return 1.0f / std::sqrt(var + eps); }

// The exact (double) batch-norm forward of one element, for finite differences.
inline double batch_norm_exact(double x, double mean, double var, double eps, double gamma, double beta) {
    return (x - mean) / std::sqrt(var + eps) * gamma + beta;
}

// PyTorch's CPU batch-norm backward in double (sums and elementwise).
struct BatchNormGrads {
    std::vector<double> dx, dgamma, dbeta;
};

inline BatchNormGrads batch_norm_backward(const std::vector<float> &dy, const std::vector<float> &x,
                                          const std::vector<float> &gamma, const std::vector<float> &mean,
                                          const std::vector<float> &invstd) {
    const size_t channels = gamma.size(), rows = x.size() / channels;
    BatchNormGrads g;
    std::vector<double> sum_dy(channels, 0.0), dot(channels, 0.0);
    for (size_t i = 0; i < x.size(); i++) {
        const size_t c = i % channels;
        sum_dy[c] += dy[i];
        dot[c] += static_cast<double>(dy[i]) * (static_cast<double>(x[i]) - mean[c]);
    }
    g.dx.resize(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        const size_t c = i % channels;
        const double is = invstd[c], n = static_cast<double>(rows);
        const double k = dot[c] * is * is / n, grad_mean = sum_dy[c] / n;
        g.dx[i] = (dy[i] - grad_mean - (x[i] - mean[c]) * k) * is * gamma[c];
    }
    g.dgamma.resize(channels);
    g.dbeta = sum_dy;
    for (size_t c = 0; c < channels; c++) g.dgamma[c] = dot[c] * invstd[c];
    return g;
}

// ---- ReLU ------------------------------------------------------------------------------

inline float relu(float x) { return x < 0.0f ? 0.0f : x; }
inline float relu_backward(float dy, float y) { return (y > 0.0f || std::isnan(y)) ? dy : 0.0f; }

// ---- 2x2 max pool over NHWC ------------------------------------------------------------

struct PoolShape {
    int64_t n, h, w, c;
    int64_t oh() const { return h / 2; }
    int64_t ow() const { return w / 2; }
    size_t in_size() const { return static_cast<size_t>(n * h * w * c); }
    size_t out_size() const { return static_cast<size_t>(n * oh() * ow() * c); }
    size_t in_index(int64_t b, int64_t y, int64_t x, int64_t ch) const {
        return static_cast<size_t>(((b * h + y) * w + x) * c + ch);
    }
    size_t out_index(int64_t b, int64_t y, int64_t x, int64_t ch) const {
        return static_cast<size_t>(((b * oh() + y) * ow() + x) * c + ch);
    }
};

// PyTorch's scan: a value replaces the maximum when greater or NaN.
template<typename T>
inline void max_pool2x2(const std::vector<T> &x, const PoolShape &s, std::vector<T> &y,
                        std::vector<uint8_t> *argmax) {
    y.assign(s.out_size(), T(0));
    if (argmax) argmax->assign(s.out_size(), 0);
    for (int64_t b = 0; b < s.n; b++) {
        for (int64_t oy = 0; oy < s.oh(); oy++) {
            for (int64_t ox = 0; ox < s.ow(); ox++) {
                for (int64_t ch = 0; ch < s.c; ch++) {
                    T best = x[s.in_index(b, 2 * oy, 2 * ox, ch)];
                    uint8_t at = 0;
                    for (int p = 1; p < 4; p++) {
                        const T v = x[s.in_index(b, 2 * oy + p / 2, 2 * ox + p % 2, ch)];
                        bool take = v > best;
                        if constexpr (std::is_floating_point_v<T>) take = take || std::isnan(v);
                        if (take) {
                            best = v;
                            at = static_cast<uint8_t>(p);
                        }
                    }
                    y[s.out_index(b, oy, ox, ch)] = best;
                    if (argmax) (*argmax)[s.out_index(b, oy, ox, ch)] = at;
                }
            }
        }
    }
}

inline std::vector<float> max_pool2x2_backward(const std::vector<float> &dy, const std::vector<uint8_t> &argmax,
                                               const PoolShape &s) {
    std::vector<float> dx(s.in_size(), 0.0f);
    for (int64_t b = 0; b < s.n; b++) {
        for (int64_t oy = 0; oy < s.oh(); oy++) {
            for (int64_t ox = 0; ox < s.ow(); ox++) {
                for (int64_t ch = 0; ch < s.c; ch++) {
                    const size_t o = s.out_index(b, oy, ox, ch);
                    const int p = argmax[o];
                    if (p < 4) dx[s.in_index(b, 2 * oy + p / 2, 2 * ox + p % 2, ch)] = dy[o];
                }
            }
        }
    }
    return dx;
}

// ---- softmax cross-entropy (double) ----------------------------------------------------

struct CrossEntropy {
    double loss = 0;
    std::vector<double> dlogits;
};

inline CrossEntropy softmax_cross_entropy(const std::vector<float> &logits, const std::vector<int32_t> &labels,
                                          size_t classes) {
    const size_t batch = labels.size();
    CrossEntropy r;
    r.dlogits.resize(logits.size());
    for (size_t b = 0; b < batch; b++) {
        const float *l = &logits[b * classes];
        double mx = l[0];
        for (size_t k = 1; k < classes; k++) mx = std::max(mx, static_cast<double>(l[k]));
        double se = 0;
        for (size_t k = 0; k < classes; k++) se += std::exp(l[k] - mx);
        r.loss += mx + std::log(se) - l[labels[b]];
        for (size_t k = 0; k < classes; k++) {
            r.dlogits[b * classes + k] =
                (std::exp(l[k] - mx) / se - (static_cast<int32_t>(k) == labels[b] ? 1.0 : 0.0)) / double(batch);
        }
    }
    r.loss /= static_cast<double>(batch);
    return r;
}

// ---- optimizers (fp32, PyTorch's source order) --------------------------------------------

struct SgdState {
    float param, buf;
};

inline SgdState sgd_step(float param, float grad, float buf, float lr, float momentum, float weight_decay,
                         bool first_step) {
    float g = grad;
    if (weight_decay != 0.0f) g = grad + weight_decay * param;
    const float b = first_step ? g : buf * momentum + g;
    return {param + (-lr) * b, b};
}

struct AdamState {
    float param, m, v;
};

// step counts from 1; the scalars in double as PyTorch's Python computes them.
inline AdamState adam_step(float param, float grad, float m, float v, int64_t step, float lr, float beta1,
                           float beta2, float eps, float weight_decay) {
    const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
    const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
    const float step_size = static_cast<float>(static_cast<double>(lr) / bc1);
    const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
    const float omb1 = static_cast<float>(1.0 - beta1), omb2 = static_cast<float>(1.0 - beta2);
    float g = grad;
    if (weight_decay != 0.0f) g = grad + weight_decay * param;
    const float m2 = m * beta1 + omb1 * g;
    const float v2 = v * beta2 + (omb2 * g) * g;
    const float denom = std::sqrt(v2) / bc2_sqrt + eps;
    return {param + ((-step_size) * m2) / denom, m2, v2};
}

// ---- integer-model helpers (docs/numerics.md) ----------------------------------------------

// q = clamp(nearbyint(x * (1/s)) + z, qmin, qmax); NaN -> qmin.
inline int32_t quantize(float x, float scale, int32_t z, int32_t qmin, int32_t qmax) {
    if (std::isnan(x)) return qmin;
    const float inv = 1.0f / scale;
    const float qf = std::nearbyint(x * inv) + static_cast<float>(z);
    return static_cast<int32_t>(std::fmin(std::fmax(qf, static_cast<float>(qmin)), static_cast<float>(qmax)));
}

inline float dequantize(int32_t q, float scale, int32_t z) {
    return (static_cast<float>(q) - static_cast<float>(z)) * scale;
}

}  // namespace qforge::ref
