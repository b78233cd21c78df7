// The int8 GEMM contract (runtime/include/qforge/gemm.h, docs/numerics.md)
// in plain scalar C++, accumulating in int64 so an int32 overflow in a kernel
// cannot hide: the reference asserts the true sum fits in int32.
#pragma once

#include <stdexcept>
#include <cmath>
#include <cstdint>
#include <vector>

namespace qforge::ref {

// acc[m * N + n] = bias[n] + sum_k (a[m, k] - za) * w[n, k]; A is u8 or s8.
template<typename AT>
std::vector<int32_t> gemm_acc(const std::vector<AT> &a, const std::vector<int8_t> &w, const std::vector<int32_t> &bias,
                              int32_t za, int64_t M, int64_t N, int64_t K) {
    std::vector<int32_t> acc(static_cast<size_t>(M * N));
    for (int64_t m = 0; m < M; m++) {
        for (int64_t n = 0; n < N; n++) {
            int64_t s = bias.empty() ? 0 : bias[n];
            for (int64_t k = 0; k < K; k++) s += (int64_t(a[m * K + k]) - za) * int64_t(w[n * K + k]);
            if (s < INT32_MIN || s > INT32_MAX) throw std::overflow_error("reference: the true sum does not fit int32");
            acc[m * N + n] = static_cast<int32_t>(s);
        }
    }
    return acc;
}

// clamp(nearbyint(float(acc) * multiplier) + z_out, lo, hi), all in fp32 as the kernels do.
inline int32_t requantize(int32_t acc, float multiplier, int32_t z_out, int32_t lo, int32_t hi) {
    const float scaled = std::nearbyint(static_cast<float>(acc) * multiplier);
    const float shifted = scaled + static_cast<float>(z_out);
    return static_cast<int32_t>(std::fmin(std::fmax(shifted, static_cast<float>(lo)), static_cast<float>(hi)));
}

inline float dequantize(int32_t acc, float scale) { return static_cast<float>(acc) * scale; }

}  // namespace qforge::ref
