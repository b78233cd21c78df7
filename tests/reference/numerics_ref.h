// The numerics contract (docs/numerics.md) in plain, scalar C++: the
// reference every kernel is tested against. Written for clarity, not speed;
// it shares no code with the kernels (generators/common/numerics.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace qforge::ref {

// The compiler must not contract these expressions into FMAs: the tests are
// built without -ffast-math, and GCC does not contract across statements
// when -ffp-contract=off, which tests/CMakeLists.txt sets.

struct FakeQuantResult {
    float y;
    uint8_t mask;
};

inline FakeQuantResult fake_quant(float x, float scale, int32_t z, int32_t qmin, int32_t qmax) {
    const float inv = 1.0f / scale;
    const float r = std::nearbyint(x * inv);      // round half to even
    const float qf = r + static_cast<float>(z);   // rounded, unclamped
    const uint8_t mask = (qf >= static_cast<float>(qmin) && qf <= static_cast<float>(qmax)) ? 1 : 0;
    if (std::isnan(x)) return {x, 0};
    const float q = std::fmin(std::fmax(qf, static_cast<float>(qmin)), static_cast<float>(qmax));
    const float y = (q - static_cast<float>(z)) * scale;
    return {y, mask};
}

inline float ste_backward(float dy, uint8_t mask) { return dy * static_cast<float>(mask); }

struct LearnableTerms {
    float dx;
    float ds_term;  // dy * t
    float dz_term;  // dy where clipped, 0 inside
};

inline LearnableTerms learnable_backward(float x, float dy, float scale, int32_t z, int32_t qmin,
                                         int32_t qmax) {
    const float inv = 1.0f / scale;
    const float zf = static_cast<float>(z), lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
    const float v = x * inv;
    const float xq = std::nearbyint(zf + v);  // z added before rounding
    const bool inside = xq >= lo && xq <= hi;
    LearnableTerms t;
    t.dx = dy * static_cast<float>(inside);
    if (std::isnan(x)) {
        t.ds_term = x;
        t.dz_term = x;
        return t;
    }
    float step;
    if (inside) {
        const float xfq = (std::fmin(std::fmax(xq, lo), hi) - zf) * scale;
        step = (xfq - x) * inv;
    } else if (xq < lo) {
        step = lo - zf;
    } else {
        step = hi - zf;
    }
    t.ds_term = dy * step;
    t.dz_term = inside ? 0.0f : dy;
    return t;
}

// Sums in double (the "exact" side of the documented bound), plus the sum of
// magnitudes the bound is relative to.
struct LearnableSums {
    double ds = 0, dz = 0;          // g * sum(dy t), -g * s * sum(dz_term)
    double ds_abs = 0, dz_abs = 0;  // g * sum|dy t|, g * s * sum|dz_term|
};

inline void accumulate(LearnableSums &s, const LearnableTerms &t, float scale, float g) {
    s.ds += static_cast<double>(g) * t.ds_term;
    s.ds_abs += std::fabs(static_cast<double>(g) * t.ds_term);
    s.dz += -static_cast<double>(g) * scale * t.dz_term;
    s.dz_abs += std::fabs(static_cast<double>(g) * scale * t.dz_term);
}

// Bit pattern equality: distinguishes -0.0 from +0.0 and compares NaNs by payload-insensitive class.
inline bool same_bits(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return true;
    uint32_t ua, ub;
    std::memcpy(&ua, &a, 4);
    std::memcpy(&ub, &b, 4);
    return ua == ub;
}

}  // namespace qforge::ref
