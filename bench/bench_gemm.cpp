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
// not steal a core from qforge's workers. Counters cpu_util and
// baseline_cpu_util are process CPU time / wall time over the qforge and the
// oneDNN blocks (the oneDNN reference rows have cpu_util too): about 1.0 at
// threads=1 and about 2.0 at threads=2 show that each side ran on the threads
// the row says; clearly less at threads=2 means another process had a core
// (the summary then adds a note).
// Threads: qforge::set_num_threads(T) (qforge's pool), omp_set_num_threads(T)
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
//
// The runs and their caps, the peaks, the timed blocks, thread control and
// main are in bench_harness.h (shared with bench_conv.cpp).
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "bench_harness.h"
#include "qforge/qforge.h"

namespace {

using namespace qfbench;

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

constexpr int32_t kAZeroPoint = 3;
constexpr int32_t kOutZeroPoint = 128;

enum class Out { s32, u8 };

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

Problem &problem(int shape_index) { return qfbench::cached_problem<Problem>(shape_index, kShapes); }

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
DnnlGemm &dnnl_gemm(int shape_index, int threads, Out out) {
    static std::map<std::tuple<int, int, Out>, std::unique_ptr<DnnlGemm>> cache;
    auto &g = cache[{shape_index, threads, out}];
    if (!g) {
        g = std::make_unique<DnnlGemm>(problem(shape_index), out);  // after set_threads(threads)
        const std::string impl = g->impl;
        if (!impl_within_cap(impl)) g.reset();  // not cached: every row reports the error
        require_impl_within_cap(impl);
    }
    return *g;
}

// ---- verification ----------------------------------------------------------------------

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
    Interleaved r;
    if (!run_interleaved(state, threads, q, o, r)) return;
    set_interleaved_counters(state, r, s.ops(), threads);
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
    Alone r;
    if (!run_alone(state, threads, o, r)) return;
    set_alone_counters(state, r, s.ops());
    state.SetLabel("op=" + op_name(out == Out::s32 ? "onednn" : "onednn_u8") + " shape=" + s.text() +
                   " threads=" + std::to_string(threads) + " unit=GOPS impl=" + d->impl);
}

// Every row times itself (manual time): configure() in bench_harness.h.
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

}  // namespace

int main(int argc, char **argv) { return bench_main(argc, argv, "bench_gemm", register_all); }
