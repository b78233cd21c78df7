// The harness the oneDNN comparison benchmarks share (bench_gemm.cpp,
// bench_conv.cpp): the --isa=native|vnni|avx2 runs and their caps, thread
// control for both libraries, the int8 peak loops, the timed blocks (qforge
// and oneDNN interleaved, contention re-measurement) and main. What the
// numbers mean is described at the top of bench_gemm.cpp; bench_conv.cpp
// follows the same rules.
//
// One translation unit per benchmark includes this header: everything is
// inline in namespace qfbench.
#pragma once

#include "bench_env.h"

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
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <time.h>
#include <utility>
#include <vector>

#include "qforge/qforge.h"

#if DNNL_CPU_THREADING_RUNTIME != DNNL_RUNTIME_OMP
#error "the oneDNN benchmarks set oneDNN's threads with omp_set_num_threads: they need an OpenMP build of oneDNN"
#endif

namespace qfbench {

// ---- configuration ------------------------------------------------------------

const int kThreads[] = {1, 2};
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
inline RunInfo g_run;
inline std::string g_qforge_variant;  // qforge::cpu_variant_name(), set in bench_main
inline const char *g_program = "bench";  // for messages: "bench_gemm", "bench_conv"


using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

inline double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// ---- peaks ----------------------------------------------------------------------
// Each loop body is independent work on registers only; `iters` trips.

#define QF_DP(i) "vpdpbusd %%zmm25, %%zmm24, %%zmm" #i "\n\t"
constexpr double kVnniOpsPerTrip = 24 * 64 * 2;  // 24 vpdpbusd zmm x 64 MACs x 2

__attribute__((target("avx512f,avx512vnni"))) inline void vnni_zmm_loop(int64_t iters) {
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

__attribute__((target("avx2"))) inline void avx2_maddubs_loop(int64_t iters) {
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

__attribute__((target("avx2"))) inline void avx2_maddwd_loop(int64_t iters) {
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

inline void amx_loop(int64_t iters) {
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

inline bool amx_usable() {
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

inline bool has_vnni() { return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512f"); }
inline bool has_avx2() { return __builtin_cpu_supports("avx2"); }

inline const PeakKind kVnniPeak{"vnni_peak", "zmm_vpdpbusd", vnni_zmm_loop, kVnniOpsPerTrip, has_vnni};
inline const PeakKind kAvx2Peak{"avx2_peak", "ymm_vpmaddubsw_vpmaddwd", avx2_maddubs_loop, kAvx2OpsPerTrip, has_avx2};
inline const PeakKind kAvx2WdPeak{"avx2_maddwd_peak", "ymm_vpmaddwd", avx2_maddwd_loop, kAvx2WdOpsPerTrip, has_avx2};
inline const PeakKind kAmxPeak{"amx_peak", "tmm_tdpbusd", amx_loop, kAmxOpsPerTrip, amx_usable};

// Runs `loop(iters)` on `threads` threads at once; returns the wall seconds
// from the common start to the last thread's end.
inline double run_peak_once(const PeakKind &k, int threads, int64_t iters) {
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
inline int64_t peak_trips(const PeakKind &k, double seconds) {
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
inline std::map<std::pair<const PeakKind *, int>, double> &peak_best() {
    static std::map<std::pair<const PeakKind *, int>, double> best;
    return best;
}

inline void record_peak(const PeakKind &k, int threads, double gops) {
    double &b = peak_best()[{&k, threads}];
    b = std::max(b, gops);
}

inline double peak_gops(const PeakKind &k, int threads) {
    if (auto it = peak_best().find({&k, threads}); it != peak_best().end()) return it->second;
    const int64_t trips = peak_trips(k, 0.03);
    for (int r = 0; r < 5; ++r) {
        record_peak(k, threads, k.ops_per_trip * double(trips) * threads / run_peak_once(k, threads, trips) / 1e9);
    }
    return peak_best()[{&k, threads}];
}

// A peak row: runs of about 10 ms; its value (counter "value") is the best
// GOPS of the process so far, this row's runs included.
inline void bm_peak(benchmark::State &state, const PeakKind *k, int threads) {
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

inline void set_threads(int t) {
    static int current = 0;
    if (t != current) {
        qforge::set_num_threads(t);  // replaces the kernels' thread pool: only when it changes
        current = t;
    }
    omp_set_num_threads(t);
}

// ---- oneDNN ------------------------------------------------------------------------------

inline dnnl::engine &engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}
inline dnnl::stream &stream() {
    static dnnl::stream s(engine());
    return s;
}

// Whether oneDNN's implementation respects the run's cap (belt and braces on
// top of dnnl::get_effective_cpu_isa(), checked in bench_main).
inline bool impl_within_cap(const std::string &impl) {
    auto has = [&](const char *s) { return impl.find(s) != std::string::npos; };
    switch (g_run.run) {
        case Run::native: return true;
        case Run::vnni: return !has("amx");
        case Run::avx2: return !has("amx") && !has("avx512") && !has("vnni");
    }
    return false;
}

// Throws if oneDNN picked an implementation above this run's --isa cap (the
// comparison would not be like for like).
inline void require_impl_within_cap(const std::string &impl) {
    if (!impl_within_cap(impl)) {
        throw std::runtime_error(std::string("oneDNN chose ") + impl + ", above the --isa=" + g_run.name + " cap");
    }
}

// The outcome of a row's one-time exactness check.
struct Check {
    std::string error;  // empty: passed
    std::map<std::string, double> counters;
};

// ---- benchmark bodies ------------------------------------------------------------------

// An op name of this run: "gemm_s32" -> "gemm_s32_vnni" in the vnni run.
inline std::string op_name(const char *base) { return base + g_run.suffix; }

inline void fail(benchmark::State &state, const std::string &msg) {
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

inline bool contended(const Timed &t, int threads) { return t.cpu < kMinUtil * threads * t.wall; }


// Every row times itself (manual time).
inline benchmark::internal::Benchmark *configure(benchmark::internal::Benchmark *b, double ops) {
    b->UseManualTime();
    const double min_time = env_double("QFORGE_BENCH_MIN_TIME", 0.1) * (ops >= 4e9 ? 0.5 : 1.0);
    return b->Unit(benchmark::kMillisecond)
        ->MinTime(min_time)
        ->Repetitions(static_cast<int>(env_double("QFORGE_BENCH_REPETITIONS", 3)))
        ->ReportAggregatesOnly(true);
}

// ---- the run's ISA caps --------------------------------------------------------------

inline const char *dnnl_isa_name(dnnl::cpu_isa isa) {
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
inline bool apply_run(Run run) {
    const char *q_env = std::getenv("QFORGE_MAX_CPU_VARIANT");
    const char *d_env = std::getenv("DNNL_MAX_CPU_ISA");
    const bool q_set = q_env && *q_env, d_set = d_env && *d_env;
    if (run == Run::native) {
        if (q_set || d_set) {
            std::fprintf(stderr,
                         "%s: warning: QFORGE_MAX_CPU_VARIANT / DNNL_MAX_CPU_ISA are set, the native run is "
                         "capped by them (see the context lines of the summary)\n",
                         g_program);
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

// ---- rows ---------------------------------------------------------------------------
// The peak a row of this run is compared with: vnni_peak, avx2_peak in the avx2 run.
inline const PeakKind &run_peak() { return g_run.run == Run::avx2 ? kAvx2Peak : kVnniPeak; }

// A qforge row with its oneDNN baseline interleaved: blocks of o (oneDNN) and
// q (qforge) alternate; only q's block is the row's (manual) time. A block
// pair where either block was contended is measured again (kMaxRetries per
// row run). Sums over the kept blocks.
struct Interleaved {
    Timed q, o;
    BlockPlan pq, po;
    int64_t blocks = 0;  // measured block pairs, the re-measured ones included
};

// Returns false (after SkipWithError) when a call threw.
template<typename Q, typename O>
bool run_interleaved(benchmark::State &state, int threads, Q &q, O &o, Interleaved &r) {
    int retries_left = kMaxRetries;
    try {
        r.pq = plan_blocks(q);
        r.po = plan_blocks(o);
        for (auto _ : state) {
            Timed tq, to;
            for (;;) {
                ++r.blocks;
                to = run_block(o, r.po);
                if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(kCooldownMs));
                tq = run_block(q, r.pq);
                if (!(contended(to, threads) || contended(tq, threads)) || retries_left == 0) break;
                --retries_left;
            }
            r.q.wall += tq.wall;
            r.q.cpu += tq.cpu;
            r.o.wall += to.wall;
            r.o.cpu += to.cpu;
            state.SetIterationTime(tq.wall);
        }
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        return false;
    }
    return true;
}

// The counters of an interleaved row; `ops` per call (items = operations).
inline void set_interleaved_counters(benchmark::State &state, const Interleaved &r, double ops, int threads) {
    const double iters = double(state.iterations());
    state.SetItemsProcessed(int64_t(iters * double(r.pq.calls) * ops));
    state.counters["baseline_value"] = iters * double(r.po.calls) * ops / r.o.wall / 1e9;
    const PeakKind &peak = run_peak();
    if (peak.supported()) state.counters["peak_value"] = peak_gops(peak, threads);
    state.counters["cpu_util"] = r.q.cpu / r.q.wall;
    state.counters["baseline_cpu_util"] = r.o.cpu / r.o.wall;
    state.counters["clean_fraction"] = iters / double(r.blocks);
}

// A reference row: the same blocks, one library alone.
struct Alone {
    Timed sum;
    BlockPlan po;
    int64_t blocks = 0;
};

template<typename O>
bool run_alone(benchmark::State &state, int threads, O &o, Alone &r) {
    int retries_left = kMaxRetries;
    try {
        r.po = plan_blocks(o);
        for (auto _ : state) {
            Timed t;
            do {
                ++r.blocks;
                t = run_block(o, r.po);
            } while (contended(t, threads) && retries_left-- > 0);
            r.sum.wall += t.wall;
            r.sum.cpu += t.cpu;
            state.SetIterationTime(t.wall);
        }
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        return false;
    }
    return true;
}

inline void set_alone_counters(benchmark::State &state, const Alone &r, double ops) {
    const double iters = double(state.iterations());
    state.SetItemsProcessed(int64_t(iters * double(r.po.calls) * ops));
    state.counters["cpu_util"] = r.sum.cpu / r.sum.wall;
    state.counters["clean_fraction"] = iters / double(r.blocks);
}

// ---- main ------------------------------------------------------------------------------
// Parses --isa=, applies the run's caps, records the context, measures the
// run's peak before any row, then registers (register_all) and runs the rows.
inline int bench_main(int argc, char **argv, const char *program, void (*register_all)()) {
    g_program = program;
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
                std::fprintf(stderr, "%s: --isa must be native, vnni or avx2, got '%s'\n", program, v.c_str());
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
            std::fprintf(stderr, "%s: --isa=%s: the CPU lacks these instructions; nothing to measure\n", program,
                         g_run.name);
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
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        return 1;
    }
    benchmark::AddCustomContext("qforge_hardware_threads", std::to_string(std::thread::hardware_concurrency()));
    // The peak the rows are compared with, measured before any of them.
    if (const PeakKind &peak = run_peak(); peak.supported()) {
        for (int t : kThreads) peak_gops(peak, t);
    }
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

// One benchmark problem (inputs, packed weights, reference) per shape, built
// on first use and kept: rows for 1 and 2 threads share it.
template<typename Problem, typename Shape, size_t N>
Problem &cached_problem(int shape_index, const Shape (&shapes)[N]) {
    static std::map<int, std::unique_ptr<Problem>> cache;
    auto &p = cache[shape_index];
    if (!p) p = std::make_unique<Problem>(shapes[shape_index]);
    return *p;
}

}  // namespace qfbench
