// float32 training GEMM and convolution: qforge against OpenBLAS and the FMA peak.
//
//   bench_sgemm [Google Benchmark flags]
//
// Rows (GFLOPS = 2*M*N*K / s, 1 and 2 threads):
//   sgemm          qforge::sgemm; shapes square 256/512/1024 (NN) and the
//                  default QAT network's training GEMMs at batch 128:
//                    conv2_fwd   M=25088 N=32 K=400, NT (im2col x W^T)
//                    conv2_wgrad M=32 N=400 K=25088, TN (dy^T x im2col)
//                    conv1_fwd   M=100352 N=16 K=25, NT
//                    fc1_fwd     M=128 N=128 K=1568, NT (x W^T)
//                    fc1_dx      M=128 N=1568 K=128, NN (dy W)
//                    fc1_wgrad   M=128 N=1568 K=128, TN (dy^T x)
//   conv_fwd / conv_dx / conv_dw   qforge::conv2d_f32 / _backward_input /
//                  _backward_weight on the network's conv1 (1->16, 5x5 pad 2,
//                  28x28) and conv2 (16->32, 5x5 pad 2, 14x14), batch 128 (conv1
//                  has no dx row: the image needs no gradient). These run the
//                  implicit-GEMM kernels (direct conv, flipped-weight stride-1
//                  dx, per-image-group dw); QFORGE_CONV_F32_PATH=im2col forces
//                  the column-matrix paths for a before/after comparison.
//                  Measured (1 thread, GFLOPS, wall; im2col -> implicit):
//                  conv1 fwd 14.5 -> 136, conv1 dw 14.4 -> 132, conv2 fwd
//                  106 -> 199, conv2 dx 91 -> 143, conv2 dw 99 -> 168.
// Baselines, measured in the same row in alternating blocks of about 20 ms:
//   sgemm     OpenBLAS cblas_sgemm, same shapes and transposes
//   conv_*    im2col (plain C++, serial) + cblas_sgemm, and for dx
//             cblas_sgemm + a col2im scatter (plain C++, serial)
// Peak: fma_peak, a register-resident loop of independent vfmadd231ps zmm (ymm
// without AVX-512), one per thread: the FMA peak of this machine.
//
// Labels (bench/summarize.cpp): op=sgemm shape=<name> threads=<T> unit=GFLOPS
// baseline=openblas peak=fma_peak with counters value, baseline_value and
// peak_value.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

#include "qforge/qforge.h"
#include "qforge/train_gemm.h"

extern "C" void openblas_set_num_threads(int);

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time of the calling thread: with 1 thread both libraries run on it, so
// this excludes time the thread was descheduled (a loaded machine).
double thread_cpu() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

void set_threads(int t) {
    static int current = 0;
    if (t != current) {
        qforge::set_num_threads(t);
        openblas_set_num_threads(t);
        current = t;
    }
}

// ---- FMA peak ---------------------------------------------------------------------------

#define QF_FMA(i) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
__attribute__((target("avx512f"))) void fma_zmm_loop(int64_t iters) {
    asm volatile(
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
        "vmovaps %%zmm0, %%zmm1\n\t vmovaps %%zmm0, %%zmm2\n\t vmovaps %%zmm0, %%zmm3\n\t"
        "vmovaps %%zmm0, %%zmm4\n\t vmovaps %%zmm0, %%zmm5\n\t vmovaps %%zmm0, %%zmm6\n\t"
        "vmovaps %%zmm0, %%zmm7\n\t vmovaps %%zmm0, %%zmm8\n\t vmovaps %%zmm0, %%zmm9\n\t"
        "vmovaps %%zmm0, %%zmm10\n\t vmovaps %%zmm0, %%zmm11\n\t"
        "vmovaps %%zmm0, %%zmm30\n\t vmovaps %%zmm0, %%zmm31\n\t"
        ".p2align 5\n"
        "1:\n\t" QF_FMA(0) QF_FMA(1) QF_FMA(2) QF_FMA(3) QF_FMA(4) QF_FMA(5) QF_FMA(6) QF_FMA(7) QF_FMA(8)
            QF_FMA(9) QF_FMA(10) QF_FMA(11)
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm30", "xmm31");
}
#undef QF_FMA
constexpr double kZmmFlopsPerTrip = 12 * 16 * 2;

#define QF_FMAY(i) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" #i "\n\t"
__attribute__((target("avx2,fma"))) void fma_ymm_loop(int64_t iters) {
    asm volatile(
        "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
        "vmovaps %%ymm0, %%ymm1\n\t vmovaps %%ymm0, %%ymm2\n\t vmovaps %%ymm0, %%ymm3\n\t"
        "vmovaps %%ymm0, %%ymm4\n\t vmovaps %%ymm0, %%ymm5\n\t vmovaps %%ymm0, %%ymm6\n\t"
        "vmovaps %%ymm0, %%ymm7\n\t vmovaps %%ymm0, %%ymm8\n\t vmovaps %%ymm0, %%ymm9\n\t"
        "vmovaps %%ymm0, %%ymm10\n\t vmovaps %%ymm0, %%ymm11\n\t"
        "vmovaps %%ymm0, %%ymm14\n\t vmovaps %%ymm0, %%ymm15\n\t"
        ".p2align 5\n"
        "1:\n\t" QF_FMAY(0) QF_FMAY(1) QF_FMAY(2) QF_FMAY(3) QF_FMAY(4) QF_FMAY(5) QF_FMAY(6) QF_FMAY(7)
            QF_FMAY(8) QF_FMAY(9) QF_FMAY(10) QF_FMAY(11)
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm14", "xmm15");
}
#undef QF_FMAY
constexpr double kYmmFlopsPerTrip = 12 * 8 * 2;

bool has_avx512() { return __builtin_cpu_supports("avx512f"); }

double run_peak_once(int threads, int64_t iters) {
    auto loop = has_avx512() ? fma_zmm_loop : fma_ymm_loop;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) {
        pool.emplace_back([&] {
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) {
            }
            loop(iters);
        });
    }
    while (ready.load() != threads - 1) {
    }
    auto t0 = Clock::now();
    go.store(true, std::memory_order_release);
    loop(iters);
    for (auto &th : pool) th.join();
    return since(t0);
}

// Best GFLOPS over a few runs of about 20 ms (a peak is a maximum).
double peak_gflops(int threads) {
    static double best[3] = {0, 0, 0};
    if (best[threads] > 0) return best[threads];
    const double per_trip = has_avx512() ? kZmmFlopsPerTrip : kYmmFlopsPerTrip;
    int64_t n = 1000;
    double s;
    while ((s = run_peak_once(1, n)) < 0.005) n *= 4;
    const int64_t trips = std::max<int64_t>(1, int64_t(double(n) / s * 0.02));
    for (int r = 0; r < 5; r++) {
        best[threads] = std::max(best[threads], per_trip * double(trips) * threads / run_peak_once(threads, trips) / 1e9);
    }
    return best[threads];
}

void bm_peak(benchmark::State &state, int threads) {
    for (auto _ : state) {
        state.SetIterationTime(0.01);
    }
    state.counters["value"] = peak_gflops(threads);
    state.SetLabel(std::string("op=fma_peak shape=") + (has_avx512() ? "zmm_vfmadd231ps" : "ymm_vfmadd231ps") +
                   " threads=" + std::to_string(threads) + " unit=GFLOPS");
}

// ---- interleaved timing -----------------------------------------------------------------

// Times `ours` and `theirs` in alternating blocks of about 20 ms; sets the
// row's value (ours) and baseline_value (theirs) in GFLOPS.
template<typename F, typename G>
void time_pair(benchmark::State &state, double flops, F &&ours, G &&theirs) {
    ours();
    theirs();  // warm-up: pools, workspaces, caches
    auto t0 = Clock::now();
    ours();
    const double one = std::max(1e-6, since(t0));
    const int64_t calls = std::max<int64_t>(1, int64_t(0.02 / one));
    double t_ours = 0, t_theirs = 0, c_ours = 0, c_theirs = 0;
    int64_t blocks = 0;
    for (auto _ : state) {
        auto a = Clock::now();
        const double ca = thread_cpu();
        for (int64_t i = 0; i < calls; i++) ours();
        const double ta = since(a);
        const double cb = thread_cpu();
        auto b = Clock::now();
        for (int64_t i = 0; i < calls; i++) theirs();
        const double tb = since(b);
        c_ours += cb - ca;
        c_theirs += thread_cpu() - cb;
        t_ours += ta;
        t_theirs += tb;
        blocks++;
        state.SetIterationTime(ta);
    }
    const double total = flops * double(calls) * double(blocks);
    state.SetItemsProcessed(int64_t(total));
    state.counters["value"] = total / t_ours / 1e9;
    state.counters["baseline_value"] = total / t_theirs / 1e9;
    state.counters["ratio"] = t_theirs / t_ours;
    // Calling-thread CPU time: comparable across loads for 1-thread rows only.
    state.counters["cpu_value"] = total / c_ours / 1e9;
    state.counters["cpu_baseline_value"] = total / c_theirs / 1e9;
}

std::vector<float> random_vector(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto &x : v) x = d(rng);
    return v;
}

// ---- sgemm ------------------------------------------------------------------------------

struct GemmShape {
    const char *name;
    int64_t m, n, k;
    bool ta, tb;
};

const GemmShape kGemmShapes[] = {
    {"sq256", 256, 256, 256, false, false},       {"sq512", 512, 512, 512, false, false},
    {"sq1024", 1024, 1024, 1024, false, false},   {"conv2_fwd", 25088, 32, 400, false, true},
    {"conv2_wgrad", 32, 400, 25088, true, false}, {"conv1_fwd", 100352, 16, 25, false, true},
    {"fc1_fwd", 128, 128, 1568, false, true},     {"fc1_dx", 128, 1568, 128, false, false},
    {"fc1_wgrad", 128, 1568, 128, true, false},
};

void bm_sgemm(benchmark::State &state, const GemmShape &s, int threads) {
    set_threads(threads);
    const int64_t ar = s.ta ? s.k : s.m, ac = s.ta ? s.m : s.k, br = s.tb ? s.n : s.k, bc = s.tb ? s.k : s.n;
    static std::vector<float> a, b, c, c2, bias;
    a = random_vector(size_t(ar * ac), 1);
    b = random_vector(size_t(br * bc), 2);
    c.assign(size_t(s.m * s.n), 0.0f);
    c2.assign(size_t(s.m * s.n), 0.0f);
    using qforge::TensorView;
    const TensorView av(a.data(), {ar, ac}), bv(b.data(), {br, bc}), cv(c.data(), {s.m, s.n});
    const auto ta = s.ta ? qforge::Transpose::yes : qforge::Transpose::no;
    const auto tb = s.tb ? qforge::Transpose::yes : qforge::Transpose::no;
    try {
        time_pair(
            state, 2.0 * double(s.m) * double(s.n) * double(s.k), [&] { qforge::sgemm(av, ta, bv, tb, cv); },
            [&] {
                cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
                            int(s.m), int(s.n), int(s.k), 1.0f, a.data(), int(ac), b.data(), int(bc), 0.0f, c2.data(),
                            int(s.n));
            });
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        return;
    }
    double err = 0, mag = 0;
    for (size_t i = 0; i < c.size(); i++) {
        err = std::max(err, double(std::fabs(c[i] - c2[i])));
        mag = std::max(mag, double(std::fabs(c2[i])));
    }
    state.counters["max_rel_diff"] = mag > 0 ? err / mag : err;
    state.counters["peak_value"] = peak_gflops(threads);
    char label[256];
    std::snprintf(label, sizeof label,
                  "op=sgemm shape=%s_m%lldn%lldk%lld_%c%c threads=%d unit=GFLOPS baseline=openblas peak=fma_peak",
                  s.name, (long long)s.m, (long long)s.n, (long long)s.k, s.ta ? 'T' : 'N', s.tb ? 'T' : 'N',
                  threads);
    state.SetLabel(label);
}

// ---- convolution ------------------------------------------------------------------------

struct ConvShape {
    const char *name;
    int64_t n, h, w, c, o, k, pad;
};

const ConvShape kConvShapes[] = {
    {"conv1_b128_28x28x1_o16_5x5", 128, 28, 28, 1, 16, 5, 2},
    {"conv2_b128_14x14x16_o32_5x5", 128, 14, 14, 16, 32, 5, 2},
};

enum class ConvPass { fwd, dx, dw };

// The baseline's im2col / col2im (stride 1, square kernel and padding).
void ref_im2col(const ConvShape &s, const float *x, float *cols) {
    const int64_t kc = s.k * s.k * s.c;
    for (int64_t n = 0; n < s.n; n++)
        for (int64_t oy = 0; oy < s.h; oy++)
            for (int64_t ox = 0; ox < s.w; ox++) {
                float *row = cols + ((n * s.h + oy) * s.w + ox) * kc;
                for (int64_t kh = 0; kh < s.k; kh++)
                    for (int64_t kw = 0; kw < s.k; kw++) {
                        const int64_t iy = oy - s.pad + kh, ix = ox - s.pad + kw;
                        float *dst = row + (kh * s.k + kw) * s.c;
                        if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) {
                            std::memset(dst, 0, size_t(s.c) * 4);
                        } else {
                            std::memcpy(dst, x + ((n * s.h + iy) * s.w + ix) * s.c, size_t(s.c) * 4);
                        }
                    }
            }
}

void ref_col2im(const ConvShape &s, const float *cols, float *dx) {
    const int64_t kc = s.k * s.k * s.c;
    std::memset(dx, 0, size_t(s.n * s.h * s.w * s.c) * 4);
    for (int64_t n = 0; n < s.n; n++)
        for (int64_t oy = 0; oy < s.h; oy++)
            for (int64_t ox = 0; ox < s.w; ox++) {
                const float *row = cols + ((n * s.h + oy) * s.w + ox) * kc;
                for (int64_t kh = 0; kh < s.k; kh++)
                    for (int64_t kw = 0; kw < s.k; kw++) {
                        const int64_t iy = oy - s.pad + kh, ix = ox - s.pad + kw;
                        if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                        float *dst = dx + ((n * s.h + iy) * s.w + ix) * s.c;
                        const float *src = row + (kh * s.k + kw) * s.c;
                        for (int64_t c = 0; c < s.c; c++) dst[c] += src[c];
                    }
            }
}

void bm_conv(benchmark::State &state, const ConvShape &s, ConvPass pass, int threads) {
    set_threads(threads);
    const int64_t kc = s.k * s.k * s.c, p = s.n * s.h * s.w;
    static std::vector<float> x, w, y, dy, dx, dw, bias, cols;
    x = random_vector(size_t(p * s.c), 1);
    w = random_vector(size_t(s.o * kc), 2);
    bias = random_vector(size_t(s.o), 3);
    dy = random_vector(size_t(p * s.o), 4);
    y.assign(size_t(p * s.o), 0.0f);
    dx.assign(size_t(p * s.c), 0.0f);
    dw.assign(size_t(s.o * kc), 0.0f);
    cols.assign(size_t(p * kc), 0.0f);
    qforge::Conv2dGeometry g;
    g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = int(s.pad);
    using qforge::TensorView;
    const TensorView xv(x.data(), {s.n, s.h, s.w, s.c}), wv(w.data(), {s.o, s.k, s.k, s.c});
    const TensorView yv(y.data(), {s.n, s.h, s.w, s.o}), dyv(dy.data(), {s.n, s.h, s.w, s.o});
    const TensorView dxv(dx.data(), {s.n, s.h, s.w, s.c}), dwv(dw.data(), {s.o, s.k, s.k, s.c});
    const double flops = 2.0 * double(p) * double(s.o) * double(kc);
    const char *op = "";
    try {
        switch (pass) {
        case ConvPass::fwd:
            op = "conv_fwd";
            time_pair(
                state, flops, [&] { qforge::conv2d_f32(xv, wv, bias.data(), g, yv); },
                [&] {
                    ref_im2col(s, x.data(), cols.data());
                    for (int64_t i = 0; i < p; i++) std::memcpy(y.data() + i * s.o, bias.data(), size_t(s.o) * 4);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(p), int(s.o), int(kc), 1.0f, cols.data(),
                                int(kc), w.data(), int(kc), 1.0f, y.data(), int(s.o));
                });
            break;
        case ConvPass::dx:
            op = "conv_dx";
            time_pair(
                state, flops, [&] { qforge::conv2d_f32_backward_input(dyv, wv, g, dxv); },
                [&] {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(p), int(kc), int(s.o), 1.0f, dy.data(),
                                int(s.o), w.data(), int(kc), 0.0f, cols.data(), int(kc));
                    ref_col2im(s, cols.data(), dx.data());
                });
            break;
        case ConvPass::dw:
            op = "conv_dw";
            time_pair(
                state, flops, [&] { qforge::conv2d_f32_backward_weight(xv, dyv, g, dwv); },
                [&] {
                    ref_im2col(s, x.data(), cols.data());
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(s.o), int(kc), int(p), 1.0f, dy.data(),
                                int(s.o), cols.data(), int(kc), 0.0f, dw.data(), int(kc));
                });
            break;
        }
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        return;
    }
    state.counters["peak_value"] = peak_gflops(threads);
    char label[256];
    std::snprintf(label, sizeof label, "op=%s shape=%s threads=%d unit=GFLOPS baseline=openblas_im2col peak=fma_peak",
                  op, s.name, threads);
    state.SetLabel(label);
}

void register_all() {
    for (int t : {1, 2}) {
        benchmark::RegisterBenchmark(("fma_peak/threads:" + std::to_string(t)).c_str(), bm_peak, t)
            ->UseManualTime()
            ->Iterations(1);
    }
    for (const auto &s : kGemmShapes) {
        for (int t : {1, 2}) {
            benchmark::RegisterBenchmark(("sgemm/" + std::string(s.name) + "/threads:" + std::to_string(t)).c_str(),
                                         bm_sgemm, s, t)
                ->UseManualTime()
                ->MinTime(0.3)
                ->Unit(benchmark::kMillisecond);
        }
    }
    for (const auto &s : kConvShapes) {
        for (ConvPass pass : {ConvPass::fwd, ConvPass::dx, ConvPass::dw}) {
            if (pass == ConvPass::dx && s.c == 1) continue;
            const char *pn = pass == ConvPass::fwd ? "fwd" : pass == ConvPass::dx ? "dx" : "dw";
            for (int t : {1, 2}) {
                benchmark::RegisterBenchmark(
                    ("conv_" + std::string(pn) + "/" + s.name + "/threads:" + std::to_string(t)).c_str(), bm_conv, s,
                    pass, t)
                    ->UseManualTime()
                    ->MinTime(0.3)
                    ->Unit(benchmark::kMillisecond);
            }
        }
    }
}

}  // namespace

int main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("qforge_cpu_variant", qforge::cpu_variant_name(qforge::cpu_variant()));
    // The peak before any row (no thread pool spinning yet).
    peak_gflops(1);
    peak_gflops(2);
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
