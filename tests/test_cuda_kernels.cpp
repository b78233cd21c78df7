// The CUDA kernels (cmake/QforgeCuda.cmake, sm_80 builds: newer GPUs run
// their PTX too) against the plain C++ references: fake quant and its mask
// bit for bit, LSQ backward (dx bit for bit, dscale within the bound of
// docs/numerics.md), the int8 GEMM bit for bit (s32 and requantized u8) on
// shapes with N and K tails. Host/device copies are Halide's (buffers with
// host data are copied to the device on first use; outputs come back with
// copy_to_host).
//
// Self-contained: no GTest, no Halide shared library (the Halide runtime is
// inside the kernel archives); libcuda is found as libcuda.so or libcuda.so.1.
// Without a CUDA device it prints SKIPPED and the reason, and exits 77
// (ctest SKIP_RETURN_CODE), never a silent pass.
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <array>
#include <random>
#include <string>
#include <vector>

#include "HalideBuffer.h"
#include "HalideRuntime.h"
#include "HalideRuntimeCuda.h"
#include "qf_cuda_fake_quant_pt_mask_sm80.h"
#include "qf_cuda_fake_quant_pt_sm80.h"
#include "qf_cuda_gemm_s32_sm80.h"
#include "qf_cuda_gemm_u8_sm80.h"
#include "qf_cuda_lsq_backward_pt_sm80.h"
#include "reference/gemm_ref.h"
#include "reference/numerics_ref.h"

namespace {

using Halide::Runtime::Buffer;

std::string g_error;
void record_error(void *, const char *msg) { g_error = msg ? msg : "?"; }

int g_failures = 0;
void expect(bool ok, const std::string &what) {
    std::printf("%s %s\n", ok ? "[  OK  ]" : "[ FAIL ]", what.c_str());
    if (!ok) g_failures++;
}

// Halide's CUDA runtime looks for cuInit in the process, then dlopens
// "libcuda.so" only; driver installs without the development symlink have
// libcuda.so.1 alone, so load that first (RTLD_GLOBAL: the runtime finds it).
std::string cuda_unavailable_reason() {
    if (!dlopen("libcuda.so", RTLD_NOW | RTLD_GLOBAL) && !dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL)) {
        return "no CUDA driver library (libcuda.so / libcuda.so.1)";
    }
    Buffer<uint8_t> probe(16);
    const int rc = probe.device_malloc(halide_cuda_device_interface());
    if (rc != 0) return "no usable CUDA device (halide device_malloc returned " + std::to_string(rc) + ": " + g_error + ")";
    probe.device_free();
    return "";
}

void check_fake_quant() {
    const int n = 100003;
    const float scale = 0.05f;
    const int32_t zero_point = 3, qmin = 0, qmax = 255;
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 4.0f);
    Buffer<float> x(n), y(n), y2(n);
    Buffer<uint8_t> mask(n);
    for (int i = 0; i < n; i++) {
        x(i) = (i % 16 == 0) ? (float((i % 601) - 300) + 0.5f) * scale : d(rng);  // ties at .5 and clip edges
    }
    x.set_host_dirty();
    int rc = qf_cuda_fake_quant_pt_sm80(x, scale, zero_point, qmin, qmax, y);
    rc |= qf_cuda_fake_quant_pt_mask_sm80(x, scale, zero_point, qmin, qmax, y2, mask);
    expect(rc == 0, "fake_quant kernels ran (rc " + std::to_string(rc) + " " + g_error + ")");
    if (rc) return;
    y.copy_to_host();
    y2.copy_to_host();
    mask.copy_to_host();
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const auto want = qforge::ref::fake_quant(x(i), scale, zero_point, qmin, qmax);
        bad += !qforge::ref::same_bits(y(i), want.y) || !qforge::ref::same_bits(y2(i), want.y) || mask(i) != want.mask;
    }
    expect(bad == 0, "fake_quant per tensor (+ mask), " + std::to_string(n) + " values: " + std::to_string(bad) +
                         " differ from the reference");
}

void check_lsq_backward() {
    const int n = 65537;
    const float scale = 0.05f, g = 1.0f / std::sqrt(float(n) * 127.0f);
    const int32_t zero_point = 2, qmin = -128, qmax = 127;
    std::mt19937 rng(2);
    std::normal_distribution<float> d(0.0f, 3.0f);
    Buffer<float> x(n), dy(n), dx(n);
    auto dscale = Buffer<float>::make_scalar(), dzero = Buffer<float>::make_scalar();
    for (int i = 0; i < n; i++) {
        x(i) = d(rng);
        dy(i) = d(rng) * 0.01f;
    }
    int rc = qf_cuda_lsq_backward_pt_sm80(x, dy, scale, zero_point, qmin, qmax, g, dx, dscale, dzero);
    expect(rc == 0, "lsq_backward kernel ran (rc " + std::to_string(rc) + " " + g_error + ")");
    if (rc) return;
    dx.copy_to_host();
    dscale.copy_to_host();
    qforge::ref::LearnableSums sums;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const auto t = qforge::ref::learnable_backward(x(i), dy(i), scale, zero_point, qmin, qmax);
        bad += !qforge::ref::same_bits(dx(i), t.dx);
        qforge::ref::accumulate(sums, t, scale, g);
    }
    expect(bad == 0, "lsq_backward dx: " + std::to_string(bad) + " of " + std::to_string(n) + " differ");
    expect(std::fabs(dscale() - sums.ds) <= 1e-4 * sums.ds_abs + 1e-12,
           "lsq_backward dscale " + std::to_string(dscale()) + " vs " + std::to_string(sums.ds));
}

// The packed layout of schedules/cuda/: packed(kk, ni, ko, no) = w[64 no + ni][4 ko + kk].
void check_gemm(int M, int N, int K) {
    const int np = (N + 63) / 64 * 64, kp = (K + 3) / 4 * 4;
    std::mt19937 rng(uint32_t(M * 7 + N));
    std::uniform_int_distribution<int> du8(0, 255), ds8(-128, 127), db(-3000, 3000);
    std::vector<uint8_t> a(size_t(M) * K);
    std::vector<int8_t> w(size_t(N) * K);
    std::vector<int32_t> bias(static_cast<size_t>(N));
    for (auto &v : a) v = uint8_t(du8(rng));
    for (auto &v : w) v = int8_t(ds8(rng));
    for (auto &v : bias) v = db(rng);
    const int32_t za = 7;
    Buffer<uint8_t> ab(kp, M);
    ab.fill(0);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) ab(k, m) = a[size_t(m) * K + k];
    Buffer<int8_t> packed(4, 64, kp / 4, np / 64);
    packed.fill(0);
    Buffer<int32_t> row_sums(np), bb(np);
    Buffer<float> scale(np);
    row_sums.fill(0);
    bb.fill(0);
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) {
            packed(k % 4, n % 64, k / 4, n / 64) = w[size_t(n) * K + k];
            row_sums(n) += w[size_t(n) * K + k];
        }
        bb(n) = bias[n];
    }
    for (int n = 0; n < np; n++) scale(n) = 0.0017f;
    Buffer<int32_t> c32(N, M);
    Buffer<uint8_t> c8(N, M);
    int rc = qf_cuda_gemm_s32_sm80(ab, packed, row_sums, bb, za, scale, 0, 0, 0, c32);
    rc |= qf_cuda_gemm_u8_sm80(ab, packed, row_sums, bb, za, scale, 5, 0, 255, c8);
    const std::string what = "gemm M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K);
    expect(rc == 0, what + " ran (rc " + std::to_string(rc) + " " + g_error + ")");
    if (rc) return;
    c32.copy_to_host();
    c8.copy_to_host();
    const auto acc = qforge::ref::gemm_acc(a, w, bias, za, M, N, K);
    int bad32 = 0, bad8 = 0;
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            const int32_t want = acc[size_t(m) * N + n];
            bad32 += c32(n, m) != want;
            bad8 += c8(n, m) != uint8_t(qforge::ref::requantize(want, 0.0017f, 5, 0, 255));
        }
    }
    expect(bad32 == 0 && bad8 == 0, what + ": s32 " + std::to_string(bad32) + ", u8 " + std::to_string(bad8) +
                                        " of " + std::to_string(M * N) + " differ (dp4a)");
}

}  // namespace

int main() {
    halide_set_error_handler(record_error);  // Halide's default handler aborts (HALIDE14_NOTES G9)
    const std::string why = cuda_unavailable_reason();
    if (!why.empty()) {
        std::printf("SKIPPED: %s\n", why.c_str());
        return 77;
    }
    check_fake_quant();
    check_lsq_backward();
    for (auto [m, n, k] : {std::array<int, 3>{16, 64, 64}, {37, 100, 301}, {1, 1000, 1024}, {256, 256, 256}}) {
        check_gemm(m, n, k);
    }
    std::printf("%s: %d failure(s)\n", g_failures ? "FAILED" : "PASSED", g_failures);
    return g_failures ? 1 : 0;
}
