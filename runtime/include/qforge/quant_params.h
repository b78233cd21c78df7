// Quantization parameters: integer ranges, per-tensor and per-channel
// (scale, zero point), and the learnable (float zero point) form LSQ+ trains.
// The formulas they feed are in docs/numerics.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qforge {

// The integer range [qmin, qmax] of a quantized value.
struct QuantRange {
    int32_t qmin = -128;
    int32_t qmax = 127;

    // bits in 2..8; signed: [-2^(b-1), 2^(b-1)-1], unsigned: [0, 2^b-1];
    // narrow drops the lowest value (e.g. [-127, 127] for 8-bit signed).
    static QuantRange from_bits(int bits, bool is_signed, bool narrow = false);

    // Throws InvalidArgument unless qmin < qmax and both fit in 8 bits
    // (qmin >= -128, qmax <= 255, qmax - qmin <= 255). `what` names the caller.
    void validate(const char *what) const;
};

// Per-tensor affine parameters (symmetric: zero_point = 0 or the unsigned middle).
struct QuantParams {
    float scale = 1.0f;
    int32_t zero_point = 0;
    QuantRange range;

    void validate(const char *what) const;  // scale finite > 0, qmin <= z <= qmax
};

// One (scale, zero point) per index along `axis` of the tensor it applies to.
struct PerChannelQuantParams {
    std::vector<float> scales;
    std::vector<int32_t> zero_points;
    int axis = 0;
    QuantRange range;

    void validate(const char *what) const;
};

// LSQ / LSQ+: the scale and the (float) zero point are trained.
struct LearnableQuantParams {
    float scale = 1.0f;
    float zero_point = 0.0f;
    QuantRange range;

    void validate(const char *what) const;  // scale finite > 0, zero point finite
};

struct LearnablePerChannelQuantParams {
    std::vector<float> scales;
    std::vector<float> zero_points;
    int axis = 0;
    QuantRange range;

    void validate(const char *what) const;
};

// Zero-point rounding of PyTorch's learnable fake-quant (docs/numerics.md):
// the forward uses nearbyint; the per-tensor backward uses trunc(z + 0.5f).
int32_t learnable_zero_point_forward(float zero_point, const QuantRange &r);
int32_t learnable_zero_point_backward_per_tensor(float zero_point, const QuantRange &r);

// LSQ's default gradient scale g = 1 / sqrt(n * qmax); throws InvalidArgument
// when n < 1 or qmax < 1 (then the caller must give g explicitly).
float lsq_default_grad_scale(int64_t elements_per_scale, int32_t qmax);

}  // namespace qforge
