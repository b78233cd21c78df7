// An int8 linear layer on kernels emitted by qforge-gen, with no qforge
// runtime: pack the weights once, then C = requantize(A W^T + bias) as u8,
// checked against a plain C++ loop that follows the same numerics contract
// (docs/numerics.md: round half to even of acc * multiplier, + zero point,
// clamped).
//
// What an app has to do itself when it links the kernels directly (the qforge
// runtime does all of it for its users):
//  - on AArch64, tell Halide whether the CPU has dot product before the first
//    call (Halide 14 assumes it does; a Cortex-A53 would die of SIGILL);
//  - ask the layout probe for the packed layout of the variant dispatch
//    picked (k group G, panel width P, rows per register tile R);
//  - pad K to a multiple of 4 and N to a multiple of 64 (zeros), and run M in
//    whole row tiles (here: rows past M are padding, their results unused).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "HalideBuffer.h"
#include "HalideRuntime.h"
#include "gemm_int8_requant.h"
#include "gemm_layout_probe.h"
#include "pack_gemm_weights.h"

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>

// Halide 14 treats arm_dot_prod as present on every ARM CPU; ask the kernel.
static int can_use_target_features(int count, const uint64_t *features) {
    const int bit = halide_target_feature_arm_dot_prod;
    const bool wants_dot = bit / 64 < count && ((features[bit / 64] >> (bit % 64)) & 1);
    if (wants_dot && !(getauxval(AT_HWCAP) & HWCAP_ASIMDDP)) return 0;
    return halide_default_can_use_target_features(count, features);
}
#endif

namespace {

int round_up(int x, int m) { return (x + m - 1) / m * m; }

// The contract's requantize (docs/numerics.md), for the check.
uint8_t requantize_u8(int32_t acc, float multiplier, int32_t zero_point) {
    const float scaled = static_cast<float>(acc) * multiplier;
    const long q = std::lrint(scaled) + zero_point;  // round half to even (default rounding mode)
    return static_cast<uint8_t>(q < 0 ? 0 : q > 255 ? 255 : q);
}

}  // namespace

int main() {
#if defined(__aarch64__)
    halide_set_custom_can_use_target_features(can_use_target_features);
    std::printf("CPU: %s dot product (HWCAP_ASIMDDP)\n", (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ? "has" : "lacks");
#endif
    // Layout of the variant dispatch picks.
    Halide::Runtime::Buffer<int32_t> layout(3);
    if (gemm_layout_probe(layout) != 0) return 1;
    const int G = layout(0), P = layout(1), R = layout(2);
    std::printf("packed layout: k group %d, panel %d columns, %d rows per tile\n", G, P, R);

    // A linear layer: M = 37 rows (a batch), K = 300 inputs, N = 100 outputs.
    const int M = 37, K = 300, N = 100;
    const int Kp = round_up(K, 4), Np = round_up(N, 64), Mp = round_up(M, R);
    const int32_t a_zero_point = 3, out_zero_point = 128;
    const float multiplier = 0.0007f;

    unsigned seed = 12345;
    auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
    Halide::Runtime::Buffer<uint8_t> a(Kp, Mp);  // a(k, m): rows of K inputs
    Halide::Runtime::Buffer<int8_t> w(Kp, N);    // w(k, n): [N, K] as linear layers hold it
    a.fill(0);
    w.fill(0);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) a(k, m) = static_cast<uint8_t>(next() % 256);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) w(k, n) = static_cast<int8_t>(static_cast<int>(next() % 256) - 128);
    std::vector<int32_t> bias(Np, 0);
    for (int n = 0; n < N; n++) bias[n] = static_cast<int32_t>(next() % 20001) - 10000;

    // Pack once (a real app keeps the packed weights with the layer).
    Halide::Runtime::Buffer<int8_t> packed(G, P, Kp / G, Np / P);
    Halide::Runtime::Buffer<int32_t> row_sums(Np);
    if (pack_gemm_weights(w, packed, row_sums) != 0) return 1;

    Halide::Runtime::Buffer<int32_t> bias_buf(bias.data(), Np);
    Halide::Runtime::Buffer<float> scale(Np);
    scale.fill(multiplier);
    Halide::Runtime::Buffer<uint8_t> c(N, Mp);
    if (gemm_int8_requant(a, packed, row_sums, bias_buf, a_zero_point, scale, out_zero_point, 0, 255, c) != 0) {
        return 1;
    }

    int bad = 0;
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            int32_t acc = bias[n];
            for (int k = 0; k < K; k++) acc += (a(k, m) - a_zero_point) * w(k, n);
            const uint8_t want = requantize_u8(acc, multiplier, out_zero_point);
            if (c(n, m) != want && bad++ < 5) {
                std::printf("c[%d][%d] = %d, expected %d\n", m, n, c(n, m), want);
            }
        }
    }
    std::printf("%s: %dx%dx%d int8 GEMM + u8 requantization, %d of %d outputs differ from the reference\n",
                bad ? "FAIL" : "ok", M, N, K, bad, M * N);
    return bad ? 1 : 0;
}
