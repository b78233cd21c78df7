// int8 GEMM: qforge against oneDNN's matmul and against this machine's int8 peak.
//
//   bench_gemm [--isa=native|vnni|avx2] [Google Benchmark flags]
//
// What is measured (GOPS = 2*M*N*K / s):
//   gemm_s32   qforge::gemm_s32: A u8 [M,K] (a_zero_point 3) x packed W s8 [N,K] -> s32 [M,N]
//   gemm_u8    qforge::gemm_requantized: the same, requantized to u8 (per-channel
//              multiplier, out_zero_point 128, clamp [0,255])
//   onednn     dnnl::matmul u8 src [M,K] (src zero point 3) x s8 weights [K,N] -> s32 dst
//   onednn_u8  the same with u8 dst, per-column output scales and dst zero point 128
// oneDNN's weights are created with format_tag::any and reordered once into
// the layout the primitive wants, outside timing: the counterpart of qforge's
// PackedGemmWeights, which is also built once outside timing. The zero points
// are compile-time constants of the primitive (static attributes); runtime
// zero points measured the same (within noise) while this was written, and
// neither zero point changed oneDNN's speed measurably except at M=1 on AVX2.
// Shapes (M,N,K): 256^3, 512^3, 1024^3, 2048^3, (1,1024,1024), (64,1024,1024),
// (128,4096,1024), (3136,64,576) for s32; the u8 rows for a subset (kU8Shapes).
// Threads 1 and 2.
//
// The --isa runs (run_all.sh runs this binary once per line of benches.txt):
//   native  both libraries pick their best code: qforge its AVX-512 VNNI variant,
//           oneDNN its best ISA, which on a CPU with AMX is AMX (brg:avx512_core_amx_int8):
//           what a user of either library gets. ops: gemm_s32, gemm_u8, onednn, onednn_u8.
//   vnni    oneDNN capped at AVX512_CORE_VNNI (no AMX): same instructions on both sides.
//           ops: gemm_s32_vnni, gemm_u8_vnni, onednn_vnni, onednn_u8_vnni.
//   avx2    qforge capped at its avx2 variant, oneDNN at AVX2 (no VNNI of any kind).
//           ops: gemm_s32_avx2, gemm_u8_avx2, onednn_avx2, onednn_u8_avx2.
// A capped run takes QFORGE_MAX_CPU_VARIANT and DNNL_MAX_CPU_ISA from the
// environment when they are set (run_all.sh sets them) and otherwise applies
// the same caps itself (qforge::limit_cpu_variant, dnnl::set_max_cpu_isa)
// before the first kernel; either way the run checks that both libraries
// really run at that level (qforge::cpu_variant(), dnnl::get_effective_cpu_isa()
// and the primitive's implementation name) and fails otherwise.
//
// Peaks (register-resident inline-asm loops of independent instructions, one
// loop per thread on std::threads, GOPS counting 2 ops per multiply-add):
//   vnni_peak        zmm vpdpbusd (64 MACs each), 24 independent accumulators
//   avx2_peak        ymm vpmaddubsw + vpmaddwd(ones) + vpaddd (32 MACs per triple,
//                    oneDNN's AVX2 u8s8 path), 6 independent chains
//   avx2_maddwd_peak ymm vpmaddwd + vpaddd on s16 (16 MACs per pair, the
//                    sign-extend-then-vpmaddwd path; the conversions are not counted)
//   amx_peak         AMX tdpbusd on 16x64-byte tiles (16384 MACs each), 4 independent
//                    accumulator tiles; only where the CPU and the kernel allow AMX
// The native and vnni runs compare with vnni_peak, the avx2 run with avx2_peak.
// The peak rows themselves are listed as reference rows (vnni_peak and, for
// context, amx_peak in the native run: oneDNN's native rows use AMX where it
// exists, qforge has no AMX kernels; the two AVX2 peaks in the avx2 run).
//
// Labels (the convention of bench/summarize.cpp): a qforge row is
//   op=gemm_s32[_run] shape=m<M>n<N>k<K> threads=<T> unit=GOPS baseline=onednn[_run]
//   peak=vnni_peak peak_shape=zmm_vpdpbusd
// with counters baseline_value (oneDNN's GOPS, measured interleaved with the row,
// see below) and peak_value (the peak's GOPS at T threads: the best this process
// measured, starting with 5 runs of 30 ms before the first row); the summary
// gives both ratios. oneDNN rows (op=onednn[_run], same shape/threads,
// impl=<oneDNN implementation>) and peak rows (op=vnni_peak shape=zmm_vpdpbusd,
// value in the counter "value": the same best-so-far) are reference rows.
//
// Timing. Each qforge row alternates blocks of about 20 ms: oneDNN calls, then
// qforge calls (each block after an untimed warm-up call when one call is
// shorter than a block); only the qforge block is the row's time (manual
// time) and the oneDNN blocks give baseline_value, so both see the same
// background load. oneDNN rows time the same blocks alone. A block pair where
// either block kept fewer than 0.8 x threads cores busy (another process had a
// core) is measured again, up to 8 times per row run; clean_fraction counts
// the kept share. oneDNN's OpenMP workers keep spinning for a few ms after a
// parallel region (libgomp's default wait policy, measured 3-7 ms of CPU); with
// 2 threads the harness sleeps 10 ms after each oneDNN block so that spin does
// not steal a core from qforge's Halide workers. Counters cpu_util and
// baseline_cpu_util are process CPU time / wall time over the qforge and the
// oneDNN blocks (the oneDNN reference rows have cpu_util too): about 1.0 at
// threads=1 and about 2.0 at threads=2 show that each side ran on the threads
// the row says; clearly less at threads=2 means another process had a core
// (the summary then adds a note).
// Threads: qforge::set_num_threads(T) (Halide's pool), omp_set_num_threads(T)
// for oneDNN (Debian's libdnnl is built with OpenMP; oneDNN reads the OpenMP
// thread count when a primitive is created and when it runs, so primitives are
// created per thread count, after omp_set_num_threads).
//
// Verification, once per (shape, threads, output) and outside timing, against
// an exact int32 reference computed by the benchmark itself (a plain loop, once
// per shape): qforge's s32 result must equal it element for element, or the
// row fails (SkipWithError); so must oneDNN's, except that oneDNN's AVX2 path
// is known not to be exact with full-range u8 x s8 data (vpmaddubsw saturates
// pairs of products to s16): elements where oneDNN is wrong are counted in the
// counter onednn_wrong (present only when nonzero) and reported on stderr,
// and the row runs. (Where both libraries agree, qforge equals oneDNN too.)
// u8 rows: both outputs are compared with the requantization of the exact
// result (gemm.h's formula); a difference of more than 1 fails the row (for
// oneDNN: unless its s32 result of the same shape was already inexact; those
// elements are counted in onednn_wrong); off-by-one counts go to the counters
// u8_off_by_one and onednn_u8_off_by_one (fractions of the elements; present
// only when nonzero).
//
// Environment: QFORGE_BENCH_MIN_TIME (seconds per repetition, default 0.1;
// shapes of 4 GOP or more use half), QFORGE_BENCH_REPETITIONS (default 3).
#include <benchmark/benchmark.h>
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <time.h>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "qforge/qforge.h"

#if DNNL_CPU_THREADING_RUNTIME != DNNL_RUNTIME_OMP
#error "bench_gemm sets oneDNN's threads with omp_set_num_threads: it needs an OpenMP build of oneDNN"
#endif

namespace {

// ---- configuration ------------------------------------------------------------

struct GemmShape {
    int64_t m, n, k;
    std::string text() const {
        return "m" + std::to_string(m) + "n" + std::to_string(n) + "k" + std::to_string(k);
    }
    double ops() const { return 2.0 * double(m) * double(n) * double(k); }
};

const GemmShape kShapes[] = {{256, 256, 256},   {512, 512, 512},    {1024, 1024, 1024}, {2048, 2048, 2048},
                             {1, 1024, 1024},   {64, 1024, 1024},   {128, 4096, 1024},  {3136, 64, 576}};
// The u8 (requantized) rows: indices into kShapes.
const int kU8Shapes[] = {2, 4, 6, 7};
const int kThreads[] = {1, 2};

constexpr int32_t kAZeroPoint = 3;
constexpr int32_t kOutZeroPoint = 128;
constexpr double kBlockSeconds = 0.02;  // one interleaved block
constexpr int kCooldownMs = 10;         // after a multi-threaded oneDNN block (libgomp spin)

enum class Run { native, vnni, avx2 };

struct RunInfo {
    Run run = Run::native;
    const char *name = "native";
    std::string suffix;  // op suffix: "", "_vnni", "_avx2"
    const char *peak_op = "vnni_peak";
    const char *peak_shape = "zmm_vpdpbusd";
};
RunInfo g_run;
std::string g_qforge_variant;  // qforge::cpu_variant_name(), set in main

enum class Out { s32, u8 };

double env_double(const char *name, double fallback) {
    const char *v = std::getenv(name);
    if (!v || !*v) return fallback;
    char *end = nullptr;
    double d = std::strtod(v, &end);
    return (end && *end == '\0' && d > 0) ? d : fallback;
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// ---- peaks ----------------------------------------------------------------------
// Each loop body is independent work on registers only; `iters` trips.

#define QF_DP(i) "vpdpbusd %%zmm25, %%zmm24, %%zmm" #i "\n\t"
constexpr double kVnniOpsPerTrip = 24 * 64 * 2;  // 24 vpdpbusd zmm x 64 MACs x 2

__attribute__((target("avx512f,avx512vnni"))) void vnni_zmm_loop(int64_t iters) {
    asm volatile(
        "vpternlogd $0xff, %%zmm24, %%zmm24, %%zmm24\n\t"
        "vpabsb %%zmm24, %%zmm25\n\t"
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
        "vmovdqa64 %%zmm0, %%zmm1\n\t vmovdqa64 %%zmm0, %%zmm2\n\t vmovdqa64 %%zmm0, %%zmm3\n\t"
        "vmovdqa64 %%zmm0, %%zmm4\n\t vmovdqa64 %%zmm0, %%zmm5\n\t vmovdqa64 %%zmm0, %%zmm6\n\t"
        "vmovdqa64 %%zmm0, %%zmm7\n\t vmovdqa64 %%zmm0, %%zmm8\n\t vmovdqa64 %%zmm0, %%zmm9\n\t"
        "vmovdqa64 %%zmm0, %%zmm10\n\t vmovdqa64 %%zmm0, %%zmm11\n\t vmovdqa64 %%zmm0, %%zmm12\n\t"
        "vmovdqa64 %%zmm0, %%zmm13\n\t vmovdqa64 %%zmm0, %%zmm14\n\t vmovdqa64 %%zmm0, %%zmm15\n\t"
        "vmovdqa64 %%zmm0, %%zmm16\n\t vmovdqa64 %%zmm0, %%zmm17\n\t vmovdqa64 %%zmm0, %%zmm18\n\t"
        "vmovdqa64 %%zmm0, %%zmm19\n\t vmovdqa64 %%zmm0, %%zmm20\n\t vmovdqa64 %%zmm0, %%zmm21\n\t"
        "vmovdqa64 %%zmm0, %%zmm22\n\t vmovdqa64 %%zmm0, %%zmm23\n\t"
        ".p2align 5\n"
        "1:\n\t"  //
        QF_DP(0) QF_DP(1) QF_DP(2) QF_DP(3) QF_DP(4) QF_DP(5) QF_DP(6) QF_DP(7)           //
        QF_DP(8) QF_DP(9) QF_DP(10) QF_DP(11) QF_DP(12) QF_DP(13) QF_DP(14) QF_DP(15)     //
        QF_DP(16) QF_DP(17) QF_DP(18) QF_DP(19) QF_DP(20) QF_DP(21) QF_DP(22) QF_DP(23)   //
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
          "xmm24", "xmm25");
}
#undef QF_DP

// t_i = maddubs(a, b); t_i = maddwd(t_i, ones); acc_i += t_i, 6 independent chains.
#define QF_MB(i, t)                               \
    "vpmaddubsw %%ymm13, %%ymm12, %%ymm" #t "\n\t" \
    "vpmaddwd %%ymm14, %%ymm" #t ", %%ymm" #t "\n\t" \
    "vpaddd %%ymm" #t ", %%ymm" #i ", %%ymm" #i "\n\t"
constexpr double kAvx2OpsPerTrip = 6 * 32 * 2;  // 6 x (32 u8*s8 MACs) x 2

__attribute__((target("avx2"))) void avx2_maddubs_loop(int64_t iters) {
    asm volatile(
        "vpcmpeqd %%ymm12, %%ymm12, %%ymm12\n\t"
        "vpabsb %%ymm12, %%ymm13\n\t"
        "vpabsw %%ymm12, %%ymm14\n\t"
        "vpxor %%ymm0, %%ymm0, %%ymm0\n\t vmovdqa %%ymm0, %%ymm1\n\t vmovdqa %%ymm0, %%ymm2\n\t"
        "vmovdqa %%ymm0, %%ymm3\n\t vmovdqa %%ymm0, %%ymm4\n\t vmovdqa %%ymm0, %%ymm5\n\t"
        ".p2align 5\n"
        "1:\n\t"  //
        QF_MB(0, 6) QF_MB(1, 7) QF_MB(2, 8) QF_MB(3, 9) QF_MB(4, 10) QF_MB(5, 11)  //
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "xmm14");
}
#undef QF_MB

// t_i = maddwd(a, b); acc_i += t_i, 7 independent chains.
#define QF_MW(i, t)                               \
    "vpmaddwd %%ymm15, %%ymm14, %%ymm" #t "\n\t"  \
    "vpaddd %%ymm" #t ", %%ymm" #i ", %%ymm" #i "\n\t"
constexpr double kAvx2WdOpsPerTrip = 7 * 16 * 2;  // 7 x (16 s16*s16 MACs) x 2

__attribute__((target("avx2"))) void avx2_maddwd_loop(int64_t iters) {
    asm volatile(
        "vpcmpeqd %%ymm14, %%ymm14, %%ymm14\n\t"
        "vpabsw %%ymm14, %%ymm15\n\t"
        "vpxor %%ymm0, %%ymm0, %%ymm0\n\t vmovdqa %%ymm0, %%ymm1\n\t vmovdqa %%ymm0, %%ymm2\n\t"
        "vmovdqa %%ymm0, %%ymm3\n\t vmovdqa %%ymm0, %%ymm4\n\t vmovdqa %%ymm0, %%ymm5\n\t"
        "vmovdqa %%ymm0, %%ymm6\n\t"
        ".p2align 5\n"
        "1:\n\t"  //
        QF_MW(0, 7) QF_MW(1, 8) QF_MW(2, 9) QF_MW(3, 10) QF_MW(4, 11) QF_MW(5, 12) QF_MW(6, 13)  //
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "xmm14", "xmm15");
}
#undef QF_MW

// AMX: 4 independent tdpbusd (16x16 s32 += 16x64 u8 . 64x16 s8: 16384 MACs
// each) on tiles of 16 rows x 64 bytes. Needs the kernel's permission for the
// tile data state (arch_prctl ARCH_REQ_XCOMP_PERM), which amx_usable() asks for.
constexpr double kAmxOpsPerTrip = 4 * 16384 * 2;

void amx_loop(int64_t iters) {
    alignas(64) uint8_t cfg[64] = {};
    cfg[0] = 1;  // palette 1
    for (int t = 0; t < 8; ++t) {
        cfg[16 + 2 * t] = 64;  // bytes per row
        cfg[48 + t] = 16;      // rows
    }
    asm volatile(
        "ldtilecfg %1\n\t"
        "tilezero %%tmm0\n\t tilezero %%tmm1\n\t tilezero %%tmm2\n\t tilezero %%tmm3\n\t"
        "tilezero %%tmm4\n\t tilezero %%tmm5\n\t tilezero %%tmm6\n\t tilezero %%tmm7\n\t"
        ".p2align 5\n"
        "1:\n\t"
        "tdpbusd %%tmm6, %%tmm4, %%tmm0\n\t"
        "tdpbusd %%tmm7, %%tmm4, %%tmm1\n\t"
        "tdpbusd %%tmm6, %%tmm5, %%tmm2\n\t"
        "tdpbusd %%tmm7, %%tmm5, %%tmm3\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "tilerelease\n\t"
        : "+r"(iters)
        : "m"(cfg)
        : "cc", "memory");
}

bool amx_usable() {
    static const bool ok = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        if (!((d >> 24) & 1) || !((d >> 25) & 1)) return false;  // AMX-TILE, AMX-INT8
        constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    }();
    return ok;
}

struct PeakKind {
    const char *op, *shape;
    void (*loop)(int64_t);
    double ops_per_trip;
    bool (*supported)();
};

bool has_vnni() { return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512f"); }
bool has_avx2() { return __builtin_cpu_supports("avx2"); }

const PeakKind kVnniPeak{"vnni_peak", "zmm_vpdpbusd", vnni_zmm_loop, kVnniOpsPerTrip, has_vnni};
const PeakKind kAvx2Peak{"avx2_peak", "ymm_vpmaddubsw_vpmaddwd", avx2_maddubs_loop, kAvx2OpsPerTrip, has_avx2};
const PeakKind kAvx2WdPeak{"avx2_maddwd_peak", "ymm_vpmaddwd", avx2_maddwd_loop, kAvx2WdOpsPerTrip, has_avx2};
const PeakKind kAmxPeak{"amx_peak", "tmm_tdpbusd", amx_loop, kAmxOpsPerTrip, amx_usable};

// Runs `loop(iters)` on `threads` threads at once; returns the wall seconds
// from the common start to the last thread's end.
double run_peak_once(const PeakKind &k, int threads, int64_t iters) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) {
        pool.emplace_back([&] {
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) {
            }
            k.loop(iters);
        });
    }
    while (ready.load() != threads - 1) {
    }
    auto t0 = Clock::now();
    go.store(true, std::memory_order_release);
    k.loop(iters);
    for (auto &th : pool) th.join();
    return seconds_since(t0);
}

// Trips per thread for about `seconds` of one loop.
int64_t peak_trips(const PeakKind &k, double seconds) {
    static std::map<const PeakKind *, double> trips_per_second;
    auto it = trips_per_second.find(&k);
    if (it == trips_per_second.end()) {
        int64_t n = 1000;
        double s = 0;
        while ((s = run_peak_once(k, 1, n)) < 0.005) n *= 4;
        it = trips_per_second.emplace(&k, double(n) / s).first;
    }
    return std::max<int64_t>(1, int64_t(it->second * seconds));
}

// A peak is a maximum: background load only ever lowers a measurement. The
// process keeps the best GOPS seen for each (loop, threads); the first
// request measures 5 runs of about 30 ms, the peak rows add theirs.
std::map<std::pair<const PeakKind *, int>, double> &peak_best() {
    static std::map<std::pair<const PeakKind *, int>, double> best;
    return best;
}

void record_peak(const PeakKind &k, int threads, double gops) {
    double &b = peak_best()[{&k, threads}];
    b = std::max(b, gops);
}

double peak_gops(const PeakKind &k, int threads) {
    if (auto it = peak_best().find({&k, threads}); it != peak_best().end()) return it->second;
    const int64_t trips = peak_trips(k, 0.03);
    for (int r = 0; r < 5; ++r) {
        record_peak(k, threads, k.ops_per_trip * double(trips) * threads / run_peak_once(k, threads, trips) / 1e9);
    }
    return peak_best()[{&k, threads}];
}

// A peak row: runs of about 10 ms; its value (counter "value") is the best
// GOPS of the process so far, this row's runs included.
void bm_peak(benchmark::State &state, const PeakKind *k, int threads) {
    const int64_t trips = peak_trips(*k, 0.01);
    const double ops = k->ops_per_trip * double(trips) * threads;
    for (auto _ : state) {
        const double t = run_peak_once(*k, threads, trips);
        state.SetIterationTime(t);
        record_peak(*k, threads, ops / t / 1e9);
    }
    state.SetItemsProcessed(int64_t(double(state.iterations()) * ops));
    state.counters["value"] = peak_gops(*k, threads);
    state.SetLabel(std::string("op=") + k->op + " shape=" + k->shape + " threads=" + std::to_string(threads) +
                   " unit=GOPS");
}

// ---- threads --------------------------------------------------------------------------

void set_threads(int t) {
    static int current = 0;
    if (t != current) {
        qforge::set_num_threads(t);  // restarts Halide's pool: only when it changes
        current = t;
    }
    omp_set_num_threads(t);
}

// ---- problems ---------------------------------------------------------------------------

dnnl::engine &engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}
dnnl::stream &stream() {
    static dnnl::stream s(engine());
    return s;
}

// ---- the exact reference --------------------------------------------------------------
// C[m,n] = sum_k (A[m,k] - kAZeroPoint) * W[k,n] in int32: exact while
// K * 252 * 128 < 2^31 (K < 66000). Four rows of A per pass over W, in an
// order the compiler vectorizes; an AVX2 build of the same loop where the CPU
// has AVX2 (2048^3 then takes a fraction of a second).
inline void exact_gemm_body(const uint8_t *a, const int8_t *w_kn, int64_t m_total, int64_t n_total, int64_t k_total,
                            int32_t *c) {
    std::fill(c, c + m_total * n_total, 0);
    for (int64_t m0 = 0; m0 < m_total; m0 += 4) {
        const int64_t rows = std::min<int64_t>(4, m_total - m0);
        int32_t *c0 = c + m0 * n_total;
        int32_t *c1 = rows > 1 ? c0 + n_total : c0;  // rows past the end alias row 0 with a = 0
        int32_t *c2 = rows > 2 ? c0 + 2 * n_total : c0;
        int32_t *c3 = rows > 3 ? c0 + 3 * n_total : c0;
        for (int64_t k = 0; k < k_total; ++k) {
            auto av = [&](int64_t r) { return r < rows ? int32_t(a[(m0 + r) * k_total + k]) - kAZeroPoint : 0; };
            const int32_t a0 = av(0), a1 = av(1), a2 = av(2), a3 = av(3);
            const int8_t *wk = w_kn + k * n_total;
            if (rows == 4) {
                for (int64_t n = 0; n < n_total; ++n) {
                    const int32_t wv = wk[n];
                    c0[n] += a0 * wv;
                    c1[n] += a1 * wv;
                    c2[n] += a2 * wv;
                    c3[n] += a3 * wv;
                }
            } else {
                for (int64_t n = 0; n < n_total; ++n) c0[n] += a0 * int32_t(wk[n]);
                if (rows > 1) for (int64_t n = 0; n < n_total; ++n) c1[n] += a1 * int32_t(wk[n]);
                if (rows > 2) for (int64_t n = 0; n < n_total; ++n) c2[n] += a2 * int32_t(wk[n]);
            }
        }
    }
}

__attribute__((target("avx2"))) void exact_gemm_avx2(const uint8_t *a, const int8_t *w_kn, int64_t m, int64_t n,
                                                      int64_t k, int32_t *c) {
    exact_gemm_body(a, w_kn, m, n, k, c);
}

void exact_gemm(const uint8_t *a, const int8_t *w_kn, int64_t m, int64_t n, int64_t k, int32_t *c) {
    if (__builtin_cpu_supports("avx2")) {
        exact_gemm_avx2(a, w_kn, m, n, k, c);
    } else {
        exact_gemm_body(a, w_kn, m, n, k, c);
    }
}

struct Problem {
    GemmShape s;
    qforge::Tensor a, w;          // u8 [M,K], s8 [N,K]
    qforge::PackedGemmWeights packed;
    std::vector<int8_t> w_kn;     // W transposed: s8 [K,N], what oneDNN takes
    std::vector<float> multiplier;  // per channel
    qforge::Tensor c32, c8;       // qforge outputs: s32 [M,N], u8 [M,N]
    qforge::Requantization rq;

    explicit Problem(const GemmShape &shape)
        : s(shape),
          a(qforge::DType::u8, {shape.m, shape.k}),
          w(qforge::DType::s8, {shape.n, shape.k}),
          c32(qforge::DType::s32, {shape.m, shape.n}),
          c8(qforge::DType::u8, {shape.m, shape.n}) {
        std::mt19937_64 rng(uint64_t(shape.m) * 1000003u + uint64_t(shape.n) * 1009u + uint64_t(shape.k));
        std::uniform_int_distribution<int> ua(0, 255), uw(-128, 127);
        auto *pa = a.data_as<uint8_t>();
        for (int64_t i = 0; i < s.m * s.k; ++i) pa[i] = uint8_t(ua(rng));
        auto *pw = w.data_as<int8_t>();
        for (int64_t i = 0; i < s.n * s.k; ++i) pw[i] = int8_t(uw(rng));
        w_kn.resize(size_t(s.k * s.n));
        for (int64_t n = 0; n < s.n; ++n)
            for (int64_t k = 0; k < s.k; ++k) w_kn[size_t(k * s.n + n)] = pw[n * s.k + k];
        packed = qforge::PackedGemmWeights(w.view());
        // Spread the u8 outputs over their range: acc has a standard deviation of
        // about 74 * 74 * sqrt(K); +-3 sigma over about +-120 codes, varying per channel.
        const double base = 40.0 / (74.0 * 74.0 * std::sqrt(double(s.k)));
        for (int64_t n = 0; n < s.n; ++n) multiplier.push_back(float(base * (0.75 + 0.5 * double((n * 37) % 16) / 15.0)));
        rq.multiplier = multiplier;
        rq.out_zero_point = kOutZeroPoint;
        rq.out_min = 0;
        rq.out_max = 255;
    }

    qforge::GemmOptions options() const {
        qforge::GemmOptions o;
        o.a_zero_point = kAZeroPoint;
        return o;
    }
    void run_qforge(Out out) const {
        if (out == Out::s32) {
            qforge::gemm_s32(a, packed, options(), c32);
        } else {
            qforge::gemm_requantized(a, packed, options(), rq, c8);
        }
    }

    // The exact accumulators, s32 [M,N] (computed on first use, kept).
    const std::vector<int32_t> &exact() {
        if (exact_.empty()) {
            exact_.resize(size_t(s.m * s.n));
            exact_gemm(a.data_as<uint8_t>(), w_kn.data(), s.m, s.n, s.k, exact_.data());
        }
        return exact_;
    }
    // gemm.h's requantization of an accumulator.
    int requantize(int32_t acc, int64_t n) const {
        float v = std::nearbyint(float(acc) * multiplier[size_t(n)]) + float(kOutZeroPoint);
        return int(std::min(255.0f, std::max(0.0f, v)));
    }

private:
    std::vector<int32_t> exact_;
};

Problem &problem(int shape_index) {
    static std::map<int, std::unique_ptr<Problem>> cache;
    auto &p = cache[shape_index];
    if (!p) p = std::make_unique<Problem>(kShapes[shape_index]);
    return *p;
}

// A oneDNN matmul for one problem, thread count and output.
struct DnnlGemm {
    dnnl::matmul prim;
    dnnl::memory src, wei, dst;
    std::unordered_map<int, dnnl::memory> args;
    std::string impl;

    DnnlGemm(Problem &p, Out out) {
        using dt = dnnl::memory::data_type;
        using tag = dnnl::memory::format_tag;
        auto &eng = engine();
        const GemmShape &s = p.s;
        dnnl::memory::desc a_md({s.m, s.k}, dt::u8, tag::ab);
        dnnl::memory::desc w_any({s.k, s.n}, dt::s8, tag::any);
        dnnl::memory::desc w_plain({s.k, s.n}, dt::s8, tag::ab);
        dnnl::memory::desc c_md({s.m, s.n}, out == Out::s32 ? dt::s32 : dt::u8, tag::ab);
        dnnl::primitive_attr attr;
        attr.set_zero_points(DNNL_ARG_SRC, 0, {kAZeroPoint});
        if (out == Out::u8) {
            attr.set_output_scales(1 << 1, p.multiplier);  // per column of dst
            attr.set_zero_points(DNNL_ARG_DST, 0, {kOutZeroPoint});
        }
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any, c_md), attr, eng);
        impl = pd.impl_info_str();
        src = dnnl::memory(a_md, eng, p.a.data());
        dnnl::memory plain(w_plain, eng, p.w_kn.data());
        wei = dnnl::memory(pd.weights_desc(), eng);
        dnnl::reorder(plain, wei).execute(stream(), plain, wei);
        stream().wait();
        dst = dnnl::memory(pd.dst_desc(), eng);
        prim = dnnl::matmul(pd);
        args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    }
    void run() {
        prim.execute(stream(), args);
        stream().wait();
    }
};

// Whether oneDNN's implementation respects the run's cap (belt and braces on
// top of dnnl::get_effective_cpu_isa(), checked in main).
bool impl_within_cap(const std::string &impl) {
    auto has = [&](const char *s) { return impl.find(s) != std::string::npos; };
    switch (g_run.run) {
        case Run::native: return true;
        case Run::vnni: return !has("amx");
        case Run::avx2: return !has("amx") && !has("avx512") && !has("vnni");
    }
    return false;
}

DnnlGemm &dnnl_gemm(int shape_index, int threads, Out out) {
    static std::map<std::tuple<int, int, Out>, std::unique_ptr<DnnlGemm>> cache;
    auto &g = cache[{shape_index, threads, out}];
    if (!g) {
        g = std::make_unique<DnnlGemm>(problem(shape_index), out);  // after set_threads(threads)
        if (!impl_within_cap(g->impl)) {
            const std::string impl = g->impl;
            g.reset();
            throw std::runtime_error(std::string("oneDNN chose ") + impl + ", above the --isa=" + g_run.name + " cap");
        }
    }
    return *g;
}

// ---- verification ----------------------------------------------------------------------

struct Check {
    std::string error;  // empty: passed
    std::map<std::string, double> counters;
};

// Compares qforge's and oneDNN's outputs with the exact result (see the top of
// the file). onednn_inexact (u8 only): oneDNN's s32 result of the same shape
// and threads was not exact (its AVX2 path saturates), so its u8 output need
// not be either.
Check verify(Problem &p, DnnlGemm &d, Out out, bool onednn_inexact) {
    Check r;
    const GemmShape &s = p.s;
    const int64_t total = s.m * s.n;
    const int32_t *exact = p.exact().data();
    auto at = [&](int64_t i) { return " at m=" + std::to_string(i / s.n) + " n=" + std::to_string(i % s.n); };
    p.run_qforge(out);
    d.run();
    if (out == Out::s32) {
        const int32_t *q32 = p.c32.data_as<int32_t>();
        const auto *o32 = static_cast<const int32_t *>(d.dst.get_data_handle());
        int64_t onednn_wrong = 0;
        for (int64_t i = 0; i < total; ++i) {
            if (q32[i] != exact[i]) {
                r.error = "qforge gemm_s32 is not exact" + at(i) + ": " + std::to_string(q32[i]) + ", exact " +
                          std::to_string(exact[i]) + ", oneDNN " + std::to_string(o32[i]);
                return r;
            }
            onednn_wrong += o32[i] != exact[i];
        }
        if (onednn_wrong) {
            // Counters only when nonzero: the "cv" aggregate of a counter that is 0 in
            // every repetition is NaN, which Google Benchmark writes as a bare NaN.
            r.counters["onednn_wrong"] = double(onednn_wrong);
            std::fprintf(stderr, "bench_gemm: %s: oneDNN (%s) s32 result is not exact at %lld of %lld elements\n",
                         s.text().c_str(), d.impl.c_str(), (long long)onednn_wrong, (long long)total);
        }
        return r;
    }
    const uint8_t *q8 = p.c8.data_as<uint8_t>();
    const auto *o8 = static_cast<const uint8_t *>(d.dst.get_data_handle());
    int64_t q_off = 0, o_off = 0, o_wrong = 0;
    for (int64_t i = 0; i < total; ++i) {
        const int ref = p.requantize(exact[i], i % s.n);
        const int dq = std::abs(int(q8[i]) - ref), dn = std::abs(int(o8[i]) - ref);
        if (dq > 1 || (dn > 1 && !onednn_inexact)) {
            r.error = std::string(dq > 1 ? "qforge gemm_requantized" : "oneDNN's u8 matmul") + " is off by " +
                      std::to_string(dq > 1 ? dq : dn) + at(i) + ": qforge " + std::to_string(q8[i]) + ", oneDNN " +
                      std::to_string(o8[i]) + ", reference " + std::to_string(ref);
            return r;
        }
        q_off += dq;
        if (dn > 1) {
            ++o_wrong;
        } else {
            o_off += dn;
        }
    }
    if (q_off) r.counters["u8_off_by_one"] = double(q_off) / double(total);
    if (o_off) r.counters["onednn_u8_off_by_one"] = double(o_off) / double(total);
    if (o_wrong) {
        r.counters["onednn_wrong"] = double(o_wrong);
        std::fprintf(stderr, "bench_gemm: %s: oneDNN (%s) u8 output is off by more than 1 at %lld of %lld elements\n",
                     s.text().c_str(), d.impl.c_str(), (long long)o_wrong, (long long)total);
    }
    return r;
}

const Check &checked(int shape_index, int threads, Out out) {
    static std::map<std::tuple<int, int, Out>, Check> cache;
    auto key = std::make_tuple(shape_index, threads, out);
    auto it = cache.find(key);
    if (it == cache.end()) {
        Check c;
        try {
            bool onednn_inexact = false;
            if (out == Out::u8) {
                const Check &c32 = checked(shape_index, threads, Out::s32);
                onednn_inexact = c32.counters.count("onednn_wrong") > 0;
            }
            c = verify(problem(shape_index), dnnl_gemm(shape_index, threads, out), out, onednn_inexact);
        } catch (const std::exception &e) {
            c.error = std::string("verification failed: ") + e.what();
        }
        it = cache.emplace(key, std::move(c)).first;
    }
    return it->second;
}

// ---- benchmark bodies ------------------------------------------------------------------

std::string op_name(const char *base) { return base + g_run.suffix; }

void fail(benchmark::State &state, const std::string &msg) {
    state.SkipWithError(msg.c_str());
    for (auto _ : state) {
    }
}

// ---- timed blocks -------------------------------------------------------------------
// Rows time blocks of calls of about kBlockSeconds. A block during which the
// process kept fewer than kMinUtil * threads cores busy (CPU time / wall time)
// ran while another process had a core; it is measured again, at most
// kMaxRetries times per row run. (On this kind of machine such contention
// costs far more than its share: libgomp's spinning barriers make a 2-thread
// oneDNN call 10-100x slower when one of the two cores is taken.) The
// counter clean_fraction is kept blocks / measured blocks.
constexpr double kMinUtil = 0.8;
constexpr int kMaxRetries = 8;

struct Timed {
    double wall = 0, cpu = 0;
};

struct BlockPlan {
    int64_t calls = 1;
    bool warm = true;  // an untimed call first (pools, caches, libgomp's wake-up)
};

template<typename F>
double time_one(F &f) {
    auto t0 = Clock::now();
    f();
    return seconds_since(t0);
}

// Calls per block from the time of one call (after a warm-up call).
template<typename F>
BlockPlan plan_blocks(F &f) {
    f();
    const double one = std::min(time_one(f), time_one(f));
    return {std::max<int64_t>(1, int64_t(std::ceil(kBlockSeconds / one))), one < kBlockSeconds};
}

template<typename F>
Timed run_block(F &f, const BlockPlan &plan) {
    if (plan.warm) f();
    const double c0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < plan.calls; ++i) f();
    Timed t;
    t.wall = seconds_since(t0);
    t.cpu = process_cpu_seconds() - c0;
    return t;
}

bool contended(const Timed &t, int threads) { return t.cpu < kMinUtil * threads * t.wall; }

// A qforge row with its oneDNN baseline interleaved (see the top of the file).
void bm_gemm(benchmark::State &state, int shape_index, int threads, Out out) {
    const GemmShape &s = kShapes[shape_index];
    DnnlGemm *d = nullptr;
    Problem *p = nullptr;
    try {
        set_threads(threads);
        p = &problem(shape_index);
        d = &dnnl_gemm(shape_index, threads, out);
    } catch (const std::exception &e) {
        return fail(state, e.what());
    }
    const Check &check = checked(shape_index, threads, out);
    if (!check.error.empty()) return fail(state, check.error);

    auto q = [&] { p->run_qforge(out); };
    auto o = [&] { d->run(); };
    Timed q_sum, o_sum;
    BlockPlan pq, po;
    int retries_left = kMaxRetries;
    int64_t blocks = 0;
    try {
        pq = plan_blocks(q);
        po = plan_blocks(o);
        for (auto _ : state) {
            Timed tq, to;
            for (;;) {
                ++blocks;
                to = run_block(o, po);
                if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(kCooldownMs));
                tq = run_block(q, pq);
                if (!(contended(to, threads) || contended(tq, threads)) || retries_left == 0) break;
                --retries_left;
            }
            q_sum.wall += tq.wall;
            q_sum.cpu += tq.cpu;
            o_sum.wall += to.wall;
            o_sum.cpu += to.cpu;
            state.SetIterationTime(tq.wall);
        }
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        return;
    }
    const double iters = double(state.iterations());
    state.SetItemsProcessed(int64_t(iters * double(pq.calls) * s.ops()));
    state.counters["baseline_value"] = iters * double(po.calls) * s.ops() / o_sum.wall / 1e9;
    const PeakKind &peak = g_run.run == Run::avx2 ? kAvx2Peak : kVnniPeak;
    if (peak.supported()) state.counters["peak_value"] = peak_gops(peak, threads);
    state.counters["cpu_util"] = q_sum.cpu / q_sum.wall;
    state.counters["baseline_cpu_util"] = o_sum.cpu / o_sum.wall;
    state.counters["clean_fraction"] = iters / double(blocks);
    for (const auto &[name, value] : check.counters) state.counters[name] = value;
    const char *base = out == Out::s32 ? "gemm_s32" : "gemm_u8";
    const char *base_onednn = out == Out::s32 ? "onednn" : "onednn_u8";
    state.SetLabel("op=" + op_name(base) + " shape=" + s.text() + " threads=" + std::to_string(threads) +
                   " unit=GOPS baseline=" + op_name(base_onednn) + " peak=" + g_run.peak_op +
                   " peak_shape=" + g_run.peak_shape + " impl=qforge:" + g_qforge_variant +
                   " onednn_impl=" + d->impl);
}

// A oneDNN reference row: the same blocks, oneDNN alone.
void bm_onednn(benchmark::State &state, int shape_index, int threads, Out out) {
    const GemmShape &s = kShapes[shape_index];
    DnnlGemm *d = nullptr;
    try {
        set_threads(threads);
        d = &dnnl_gemm(shape_index, threads, out);
    } catch (const std::exception &e) {
        return fail(state, e.what());
    }
    auto o = [&] { d->run(); };
    Timed sum;
    BlockPlan po;
    int retries_left = kMaxRetries;
    int64_t blocks = 0;
    try {
        po = plan_blocks(o);
        for (auto _ : state) {
            Timed t;
            do {
                ++blocks;
                t = run_block(o, po);
            } while (contended(t, threads) && retries_left-- > 0);
            sum.wall += t.wall;
            sum.cpu += t.cpu;
            state.SetIterationTime(t.wall);
        }
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        return;
    }
    const double iters = double(state.iterations());
    state.SetItemsProcessed(int64_t(iters * double(po.calls) * s.ops()));
    state.counters["cpu_util"] = sum.cpu / sum.wall;
    state.counters["clean_fraction"] = iters / double(blocks);
    state.SetLabel("op=" + op_name(out == Out::s32 ? "onednn" : "onednn_u8") + " shape=" + s.text() +
                   " threads=" + std::to_string(threads) + " unit=GOPS impl=" + d->impl);
}

// Every row times itself (manual time).
benchmark::internal::Benchmark *configure(benchmark::internal::Benchmark *b, double ops) {
    b->UseManualTime();
    const double min_time = env_double("QFORGE_BENCH_MIN_TIME", 0.1) * (ops >= 4e9 ? 0.5 : 1.0);
    return b->Unit(benchmark::kMillisecond)
        ->MinTime(min_time)
        ->Repetitions(static_cast<int>(env_double("QFORGE_BENCH_REPETITIONS", 3)))
        ->ReportAggregatesOnly(true);
}

void register_all() {
    std::vector<const PeakKind *> peaks;
    if (g_run.run == Run::native) peaks = {&kVnniPeak, &kAmxPeak};  // amx_peak: context for oneDNN's AMX rows
    if (g_run.run == Run::avx2) peaks = {&kAvx2Peak, &kAvx2WdPeak};
    for (const PeakKind *k : peaks) {
        if (!k->supported()) continue;
        for (int t : kThreads) {
            std::string name = std::string(k->op) + "/threads:" + std::to_string(t);
            configure(benchmark::RegisterBenchmark(name.c_str(), bm_peak, k, t), 0);
        }
    }
    for (int t : kThreads) {
        for (int i = 0; i < int(std::size(kShapes)); ++i) {
            const GemmShape &s = kShapes[i];
            std::vector<Out> outs = {Out::s32};
            if (std::find(std::begin(kU8Shapes), std::end(kU8Shapes), i) != std::end(kU8Shapes)) outs.push_back(Out::u8);
            for (Out out : outs) {
                const std::string tail = "/" + s.text() + "/threads:" + std::to_string(t);
                const std::string qname = op_name(out == Out::s32 ? "gemm_s32" : "gemm_u8") + tail;
                const std::string oname = op_name(out == Out::s32 ? "onednn" : "onednn_u8") + tail;
                configure(benchmark::RegisterBenchmark(oname.c_str(), bm_onednn, i, t, out), s.ops());
                configure(benchmark::RegisterBenchmark(qname.c_str(), bm_gemm, i, t, out), s.ops());
            }
        }
    }
}

// ---- the run's ISA caps --------------------------------------------------------------

const char *dnnl_isa_name(dnnl::cpu_isa isa) {
    switch (isa) {
        case dnnl::cpu_isa::sse41: return "sse41";
        case dnnl::cpu_isa::avx: return "avx";
        case dnnl::cpu_isa::avx2: return "avx2";
        case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
        case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
        case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
        case dnnl::cpu_isa::avx512_core: return "avx512_core";
        case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
        case dnnl::cpu_isa::all: return "all";
        default: return "other";
    }
}

// Applies and checks the caps of the run; throws on a mismatch. Returns false
// when the CPU lacks the run's instructions (nothing to measure).
bool apply_run(Run run) {
    const char *q_env = std::getenv("QFORGE_MAX_CPU_VARIANT");
    const char *d_env = std::getenv("DNNL_MAX_CPU_ISA");
    const bool q_set = q_env && *q_env, d_set = d_env && *d_env;
    if (run == Run::native) {
        if (q_set || d_set) {
            std::fprintf(stderr,
                         "bench_gemm: warning: QFORGE_MAX_CPU_VARIANT / DNNL_MAX_CPU_ISA are set, the native run is "
                         "capped by them (see the context lines of the summary)\n");
        }
        return true;
    }
    if (!(run == Run::avx2 ? has_avx2() : has_vnni())) return false;
    const qforge::CpuVariant q_want = run == Run::avx2 ? qforge::CpuVariant::avx2 : qforge::CpuVariant::avx512_vnni;
    const dnnl::cpu_isa d_want = run == Run::avx2 ? dnnl::cpu_isa::avx2 : dnnl::cpu_isa::avx512_core_vnni;
    if (!q_set) qforge::limit_cpu_variant(q_want);
    if (!d_set) dnnl::set_max_cpu_isa(d_want);
    if (qforge::cpu_variant() != q_want) {
        throw std::runtime_error(std::string("qforge runs its ") + qforge::cpu_variant_name(qforge::cpu_variant()) +
                                 " variant, not " + qforge::cpu_variant_name(q_want) +
                                 " (QFORGE_MAX_CPU_VARIANT=" + (q_set ? q_env : "") + ")");
    }
    if (dnnl::get_effective_cpu_isa() != d_want) {
        throw std::runtime_error(std::string("oneDNN runs at ") + dnnl_isa_name(dnnl::get_effective_cpu_isa()) +
                                 ", not " + dnnl_isa_name(d_want) + " (DNNL_MAX_CPU_ISA=" + (d_set ? d_env : "") + ")");
    }
    return true;
}

}  // namespace

int main(int argc, char **argv) {
    // Our own flag first (Google Benchmark rejects flags it does not know).
    std::vector<char *> args;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (i > 0 && a.rfind("--isa=", 0) == 0) {
            const std::string v = a.substr(6);
            if (v == "native") {
                g_run = RunInfo{};
            } else if (v == "vnni") {
                g_run = RunInfo{Run::vnni, "vnni", "_vnni", "vnni_peak", "zmm_vpdpbusd"};
            } else if (v == "avx2") {
                g_run = RunInfo{Run::avx2, "avx2", "_avx2", "avx2_peak", "ymm_vpmaddubsw_vpmaddwd"};
            } else {
                std::fprintf(stderr, "bench_gemm: --isa must be native, vnni or avx2, got '%s'\n", v.c_str());
                return 1;
            }
            continue;
        }
        args.push_back(argv[i]);
    }
    int nargs = int(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&nargs, args.data());
    if (benchmark::ReportUnrecognizedArguments(nargs, args.data())) return 1;
    try {
        if (!apply_run(g_run.run)) {
            std::fprintf(stderr, "bench_gemm: --isa=%s: the CPU lacks these instructions; nothing to measure\n", g_run.name);
            return 0;
        }
        benchmark::AddCustomContext("qforge_bench_isa", g_run.name);
        g_qforge_variant = qforge::cpu_variant_name(qforge::cpu_variant());
        benchmark::AddCustomContext("qforge_cpu_variant", g_qforge_variant);
        benchmark::AddCustomContext("onednn_isa", dnnl_isa_name(dnnl::get_effective_cpu_isa()));
        const dnnl_version_t *v = dnnl_version();
        benchmark::AddCustomContext("onednn_version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                                                          std::to_string(v->patch));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_gemm: %s\n", e.what());
        return 1;
    }
    benchmark::AddCustomContext("qforge_hardware_threads", std::to_string(std::thread::hardware_concurrency()));
    // The peak the GEMM rows are compared with, measured before any of them.
    if (const PeakKind &peak = g_run.run == Run::avx2 ? kAvx2Peak : kVnniPeak; peak.supported()) {
        for (int t : kThreads) peak_gops(peak, t);
    }
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
