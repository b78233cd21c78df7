// Inputs for the kernel suites: random values at the scale of the
// quantization grid, mixed with every edge value the contract names.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qforge/quant_params.h"

namespace qforge::testing {

// n integers uniform in [lo, hi], from a fixed seed (the same inputs every run).
template<typename T>
std::vector<T> uniform_ints(size_t n, int lo, int hi, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(lo, hi);
    std::vector<T> v(n);
    for (auto &x : v) x = static_cast<T>(d(rng));
    return v;
}

struct GridCase {
    float scale;
    int32_t zero_point;
    QuantRange range;
};

// The parameter sets every suite sweeps: bit widths 8..2, signed and
// unsigned, narrow range, zero points zero and not, awkward scales.
inline std::vector<GridCase> grid_cases() {
    return {
        {0.05f, 0, QuantRange::from_bits(8, true)},
        {1.0f / 3.0f, 0, QuantRange::from_bits(8, true, /*narrow=*/true)},
        {0.0173f, 128, QuantRange::from_bits(8, false)},
        {0.0173f, 37, QuantRange::from_bits(8, false)},
        {0.5f, 0, QuantRange::from_bits(4, true)},
        {0.25f, 3, QuantRange::from_bits(4, false)},
        {2.0f, -1, QuantRange::from_bits(3, true)},
        {0.7f, 0, QuantRange::from_bits(2, true)},
        {1e-3f, 1, QuantRange::from_bits(2, false)},
    };
}

// n values: about a third random around the grid (inside and somewhat past
// the range), the rest cycling through edge values: ties at +-0.5 and +-1.5
// steps, exact range boundaries and one ulp past them, -0.0, denormals,
// huge magnitudes, and (with_nonfinite) +-Inf and NaN.
inline std::vector<float> grid_inputs(size_t n, const GridCase &c, uint32_t seed, bool with_nonfinite) {
    std::mt19937 rng(seed);
    const float s = c.scale;
    const float lo = (c.range.qmin - c.zero_point) * s, hi = (c.range.qmax - c.zero_point) * s;
    std::uniform_real_distribution<float> around(lo - 0.3f * (hi - lo), hi + 0.3f * (hi - lo));
    std::vector<float> edges = {
        0.5f * s, -0.5f * s, 1.5f * s, -1.5f * s, 2.5f * s, -2.5f * s,
        lo, hi, std::nextafter(lo, -INFINITY), std::nextafter(hi, INFINITY),
        std::nextafter(lo, INFINITY), std::nextafter(hi, -INFINITY),
        lo - 0.5f * s, hi + 0.5f * s,  // ties just outside the range
        -0.0f, 0.0f, 1e-40f, -1e-40f, std::numeric_limits<float>::denorm_min(),
        1e30f, -3e38f, std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(),
        0.49999997f * s,  // x * inv within an ulp of a tie
    };
    if (with_nonfinite) {
        edges.push_back(INFINITY);
        edges.push_back(-INFINITY);
        edges.push_back(std::numeric_limits<float>::quiet_NaN());
    }
    std::vector<float> v(n);
    std::uniform_int_distribution<size_t> pick(0, edges.size() - 1);
    for (size_t i = 0; i < n; i++) v[i] = (rng() % 3 == 0) ? edges[pick(rng)] : around(rng);
    // Small sizes: make sure the first elements are edges so they are covered.
    for (size_t i = 0; i < n && i < edges.size() && n <= 64; i++) v[i] = edges[(i + seed) % edges.size()];
    return v;
}

inline std::vector<float> normal_values(size_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, sigma);
    std::vector<float> v(n);
    for (auto &x : v) x = d(rng);
    return v;
}

// A tensor shape with a channel axis, and the sizes the per-channel kernels
// see: element i belongs to channel (i / inner()) % channels().
struct ChannelLayout {
    std::vector<int64_t> shape;
    int axis;

    size_t numel() const {
        size_t n = 1;
        for (int64_t d : shape) n *= static_cast<size_t>(d);
        return n;
    }
    size_t channels() const { return static_cast<size_t>(shape[axis]); }
    size_t inner() const {
        size_t n = 1;
        for (size_t d = axis + 1; d < shape.size(); d++) n *= static_cast<size_t>(shape[d]);
        return n;
    }
};

inline const std::vector<size_t> &kernel_sizes() {
    static const std::vector<size_t> sizes = {1, 7, 64, 1000, size_t(1) << 20};
    return sizes;
}

}  // namespace qforge::testing
