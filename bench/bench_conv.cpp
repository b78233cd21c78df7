// int8 convolution: qforge against oneDNN's convolution_forward and against
// this machine's int8 peak.
//
//   bench_conv [--isa=native|vnni|avx2] [Google Benchmark flags]
//
// Same harness and rules as bench_gemm.cpp (read its header: the --isa runs
// and their caps, interleaved timed blocks, contention re-measurement,
// cpu_util, thread control, peaks); the shared code is in bench_harness.h.
//
// What is measured (GOPS = 2 * N*OH*OW*O*KH*KW*Cin_per_group / s), threads 1 and 2:
//   conv   N=1 56x56x64 -> 64, 3x3, pad 1, stride 1     shape n1h56w56c64o64k3s1p1
//          N=1 28x28x128 -> 128, 3x3, pad 1              shape n1h28w28c128o128k3s1p1
//          N=8 14x14x256 -> 256, 3x3, pad 1              shape n8h14w14c256o256k3s1p1
//   dw     N=1 112x112x32, 3x3, pad 1, groups 32         shape n1h112w112c32o32k3s1p1g32
//   qat    the QAT driver's network at batch 128:
//          N=128 28x28x1 -> 16, 5x5, pad 2                shape n128h28w28c1o16k5s1p2
//          N=128 14x14x16 -> 32, 5x5, pad 2               shape n128h14w14c16o32k5s1p2
// ops (suffix _vnni / _avx2 in the capped runs):
//   conv_u8            qforge::conv2d_requantized: x u8 NHWC (zero point 3), OHWI s8
//                      weights packed once outside timing (PackedConvWeights), s32
//                      bias, u8 NHWC output (per-channel multipliers, out zero point
//                      128, clamp [0, 255]); baseline onednn_conv_u8
//   onednn_conv_u8     dnnl::convolution_forward, forward_inference: src u8 nhwc, s8
//                      weights (format_tag::any, reordered once outside timing), s32
//                      bias, u8 dst nhwc, per-channel output scales (mask 2) = the
//                      same multipliers; NO zero points (see below)
//   onednn_conv_u8_zp  the same with src zero point 3 and dst zero point 128 (static
//                      attributes): the same function as conv_u8. Reference row.
// Zero points and oneDNN 2.6 (checked when this was written, on a CPU with AMX):
// the convolution accepts static src/dst zero points on every ISA here without
// falling back to a reference kernel, but they move it off its fastest kernel:
// brgconv (AMX natively, AVX-512 VNNI in the vnni run) becomes the older jit
// kernel (jit:avx512_core_amx_int8 / jit_int8:avx512_core_vnni): 30-45% slower
// natively, 5-25% in the vnni run; the depthwise brdgmm_dw:avx512_core_vnni
// becomes jit_int8 (10-20% slower); on AVX2 the kernel stays
// jit_uni_int8:avx2 and runs 15-30% slower. Runtime zero points
// (DNNL_RUNTIME_S32_VAL) pick the same kernels at the same speed. The
// baseline is therefore the faster oneDNN primitive without zero points (the
// qforge rows' labels say onednn_zero_points=none): a different function (no
// input shift, padding reads 0, output zero point 0), the same work.
// onednn_conv_u8_zp, the like-for-like function, is a reference row.
// oneDNN's AVX2 convolution (like its AVX2 matmul, see bench_gemm.cpp) is not
// exact with full-range u8 x s8 data: vpmaddubsw saturates pairs of products
// to s16; the check below counts it (most outputs, off by up to ~40).
//
// Labels (bench/summarize.cpp): a qforge row is
//   op=conv_u8[_run] shape=<shape> threads=<T> unit=GOPS baseline=onednn_conv_u8[_run]
//   peak=vnni_peak|avx2_peak peak_shape=... impl=qforge:<variant>
//   onednn_impl=<oneDNN implementation> onednn_zero_points=none
// with counters baseline_value (oneDNN's GOPS, interleaved), peak_value (the
// run's peak, measured by this process as in bench_gemm: the best of 5 runs of
// 30 ms before the first row and 3 runs of 10 ms after each qforge row;
// bench_gemm's peak rows list the peaks, this binary has none of its own, so
// the summary holds each peak row once), cpu_util, baseline_cpu_util,
// clean_fraction. oneDNN rows carry impl=<implementation> (impl_info_str());
// each primitive's implementation is also printed on stderr (the .log).
//
// Verification, once per (shape, threads) and outside timing, against a plain
// C++ reference (tests/reference/conv_ref.h: the int64 scalar convolution, and
// gemm_ref.h's requantize), computed once per shape:
//   qforge's u8 output must equal requantize(acc) element for element, or the
//   row fails (SkipWithError).
//   oneDNN with zero points is compared with the same expected output;
//   oneDNN without zero points with requantize(acc0, multiplier, 0, 0, 255),
//   where acc0 = acc + 3 * (the sum of the weights over the taps inside the
//   image): the convolution of the raw input. Elements off by one count in
//   onednn_u8_off_by_one / onednn_zp_u8_off_by_one, off by more in
//   onednn_u8_wrong / onednn_zp_u8_wrong (counts; counters present only when
//   nonzero); the row runs either way. Every check prints one line on stderr.
//
// Environment: QFORGE_BENCH_MIN_TIME (seconds per repetition, default 0.1),
// QFORGE_BENCH_REPETITIONS (default 3).
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
#include "reference/conv_ref.h"
#include "reference/gemm_ref.h"

namespace {

using namespace qfbench;

// ---- configuration ------------------------------------------------------------

struct ConvShape {
    int64_t n, h, w, c, o, k, stride, pad, groups;
    int64_t oh() const { return (h + 2 * pad - k) / stride + 1; }
    int64_t ow() const { return (w + 2 * pad - k) / stride + 1; }
    int64_t cg() const { return c / groups; }
    std::string text() const {
        std::string t = "n" + std::to_string(n) + "h" + std::to_string(h) + "w" + std::to_string(w) + "c" +
                        std::to_string(c) + "o" + std::to_string(o) + "k" + std::to_string(k) + "s" +
                        std::to_string(stride) + "p" + std::to_string(pad);
        if (groups > 1) t += "g" + std::to_string(groups);
        return t;
    }
    double ops() const { return 2.0 * double(n * oh() * ow() * o) * double(k * k * cg()); }
};

const ConvShape kShapes[] = {{1, 56, 56, 64, 64, 3, 1, 1, 1},
                             {1, 28, 28, 128, 128, 3, 1, 1, 1},
                             {8, 14, 14, 256, 256, 3, 1, 1, 1},
                             {1, 112, 112, 32, 32, 3, 1, 1, 32},
                             // The QAT driver's default network at batch 128 (driver/): conv1 has
                             // one input channel, conv2 only 32 output channels.
                             {128, 28, 28, 1, 16, 5, 1, 2, 1},
                             {128, 14, 14, 16, 32, 5, 1, 2, 1}};

constexpr int32_t kXZeroPoint = 3;
constexpr int32_t kOutZeroPoint = 128;

enum class Zp { none, src_dst };  // oneDNN's zero points

// ---- problems -------------------------------------------------------------------------

struct Problem {
    ConvShape s;
    qforge::Conv2dGeometry geom;
    std::vector<uint8_t> x_ref;    // x again, as the reference takes it
    std::vector<int8_t> w;         // OHWI [O, K, K, Cg]
    std::vector<int32_t> bias;     // O
    std::vector<float> multiplier; // O
    qforge::Tensor x, y;           // u8 NHWC input, u8 NHWC output
    qforge::PackedConvWeights packed;
    qforge::Requantization rq;

    explicit Problem(const ConvShape &shape)
        : s(shape),
          x(qforge::DType::u8, {shape.n, shape.h, shape.w, shape.c}),
          y(qforge::DType::u8, {shape.n, shape.oh(), shape.ow(), shape.o}) {
        geom.stride_h = geom.stride_w = int(s.stride);
        geom.pad_top = geom.pad_bottom = geom.pad_left = geom.pad_right = int(s.pad);
        geom.groups = int(s.groups);
        std::mt19937_64 rng(uint64_t(s.n) * 1000003u + uint64_t(s.h) * 10007u + uint64_t(s.c) * 101u +
                            uint64_t(s.groups));
        std::uniform_int_distribution<int> ux(0, 255), uw(-128, 127), ub(-5000, 5000);
        x_ref.resize(size_t(s.n * s.h * s.w * s.c));
        for (auto &v : x_ref) v = uint8_t(ux(rng));
        std::copy(x_ref.begin(), x_ref.end(), x.data_as<uint8_t>());
        w.resize(size_t(s.o * s.k * s.k * s.cg()));
        for (auto &v : w) v = int8_t(uw(rng));
        bias.resize(size_t(s.o));
        for (auto &v : bias) v = ub(rng);
        packed = qforge::PackedConvWeights(qforge::TensorView(w.data(), {s.o, s.k, s.k, s.cg()}), int(s.groups));
        // As bench_gemm: spread the u8 outputs over their range (acc has a standard
        // deviation of about 74 * 74 * sqrt(K) over the input), varying per channel.
        const double base = 40.0 / (74.0 * 74.0 * std::sqrt(double(s.k * s.k * s.cg())));
        for (int64_t o = 0; o < s.o; ++o) multiplier.push_back(float(base * (0.75 + 0.5 * double((o * 37) % 16) / 15.0)));
        rq.multiplier = multiplier;
        rq.out_zero_point = kOutZeroPoint;
        rq.out_min = 0;
        rq.out_max = 255;
    }

    qforge::GemmOptions options() const {
        qforge::GemmOptions o;
        o.a_zero_point = kXZeroPoint;
        o.bias = bias.data();
        return o;
    }
    void run_qforge() const { qforge::conv2d_requantized(x, packed, geom, options(), rq, y); }

    // The reference accumulators, NHWC [N, OH, OW, O], bias included (once).
    const std::vector<int32_t> &acc() {
        if (acc_.empty()) {
            acc_ = qforge::ref::conv2d_acc(x_ref, s.n, s.h, s.w, s.c, w, s.o, s.k, s.k, bias, kXZeroPoint, geom,
                                           s.oh(), s.ow());
        }
        return acc_;
    }
    // The accumulators of the raw input (no input zero point): acc plus
    // kXZeroPoint times the weights of the taps inside the image.
    std::vector<int32_t> acc_raw() {
        const std::vector<int32_t> &a = acc();
        const int64_t cg = s.cg(), taps = s.k * s.k;
        std::vector<int64_t> tap_sum(size_t(s.o * taps));  // [o, kh * K + kw]
        for (int64_t o = 0; o < s.o; ++o)
            for (int64_t t = 0; t < taps; ++t) {
                int64_t sum = 0;
                for (int64_t ci = 0; ci < cg; ++ci) sum += w[size_t((o * taps + t) * cg + ci)];
                tap_sum[size_t(o * taps + t)] = sum;
            }
        std::vector<int32_t> out(a.size());
        for (int64_t n = 0; n < s.n; ++n)
            for (int64_t oy = 0; oy < s.oh(); ++oy)
                for (int64_t ox = 0; ox < s.ow(); ++ox) {
                    const int64_t pixel = (n * s.oh() + oy) * s.ow() + ox;
                    for (int64_t o = 0; o < s.o; ++o) {
                        int64_t inside = 0;
                        for (int64_t kh = 0; kh < s.k; ++kh)
                            for (int64_t kw = 0; kw < s.k; ++kw) {
                                const int64_t iy = oy * s.stride - s.pad + kh, ix = ox * s.stride - s.pad + kw;
                                if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) inside += tap_sum[size_t(o * taps + kh * s.k + kw)];
                            }
                        const int64_t v = int64_t(a[size_t(pixel * s.o + o)]) + kXZeroPoint * inside;
                        if (v < INT32_MIN || v > INT32_MAX) throw std::runtime_error("raw accumulator overflows int32");
                        out[size_t(pixel * s.o + o)] = int32_t(v);
                    }
                }
        return out;
    }

private:
    std::vector<int32_t> acc_;
};

Problem &problem(int shape_index) { return qfbench::cached_problem<Problem>(shape_index, kShapes); }

// A oneDNN convolution for one problem, thread count and zero-point choice.
struct DnnlConv {
    dnnl::convolution_forward prim;
    dnnl::memory src, wei, bia, dst;
    std::unordered_map<int, dnnl::memory> args;
    std::string impl;

    DnnlConv(Problem &p, Zp zp) {
        using dt = dnnl::memory::data_type;
        using tag = dnnl::memory::format_tag;
        auto &eng = engine();
        const ConvShape &s = p.s;
        const dnnl::memory::dims w_dims = s.groups > 1 ? dnnl::memory::dims{s.groups, s.o / s.groups, s.cg(), s.k, s.k}
                                                       : dnnl::memory::dims{s.o, s.c, s.k, s.k};
        dnnl::memory::desc src_md({s.n, s.c, s.h, s.w}, dt::u8, tag::nhwc);
        dnnl::memory::desc w_any(w_dims, dt::s8, tag::any);
        // qforge's OHWI: [G, O/G, KH, KW, Cg] when grouped.
        dnnl::memory::desc w_plain(w_dims, dt::s8, s.groups > 1 ? tag::gohwi : tag::ohwi);
        dnnl::memory::desc bias_md({s.o}, dt::s32, tag::x);
        dnnl::memory::desc dst_md({s.n, s.o, s.oh(), s.ow()}, dt::u8, tag::nhwc);
        dnnl::primitive_attr attr;
        attr.set_output_scales(1 << 1, p.multiplier);  // per output channel
        if (zp == Zp::src_dst) {
            attr.set_zero_points(DNNL_ARG_SRC, 0, {kXZeroPoint});
            attr.set_zero_points(DNNL_ARG_DST, 0, {kOutZeroPoint});
        }
        dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                             src_md, w_any, bias_md, dst_md, {s.stride, s.stride}, {s.pad, s.pad},
                                             {s.pad, s.pad});
        dnnl::convolution_forward::primitive_desc pd(desc, attr, eng);
        impl = pd.impl_info_str();
        if (pd.src_desc() != src_md || pd.dst_desc() != dst_md) {
            throw std::runtime_error("oneDNN (" + impl + ") does not take nhwc src/dst as given");
        }
        src = dnnl::memory(src_md, eng, p.x.data());
        bia = dnnl::memory(bias_md, eng, p.bias.data());
        dnnl::memory plain(w_plain, eng, p.w.data());
        wei = dnnl::memory(pd.weights_desc(), eng);
        dnnl::reorder(plain, wei).execute(stream(), plain, wei);
        stream().wait();
        dst = dnnl::memory(dst_md, eng);
        prim = dnnl::convolution_forward(pd);
        args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, bia}, {DNNL_ARG_DST, dst}};
    }
    void run() {
        prim.execute(stream(), args);
        stream().wait();
    }
};

DnnlConv &dnnl_conv(int shape_index, int threads, Zp zp) {
    static std::map<std::tuple<int, int, Zp>, std::unique_ptr<DnnlConv>> cache;
    auto &c = cache[{shape_index, threads, zp}];
    if (!c) {
        c = std::make_unique<DnnlConv>(problem(shape_index), zp);  // after set_threads(threads)
        std::fprintf(stderr, "bench_conv: oneDNN %s threads=%d %s: %s\n", kShapes[shape_index].text().c_str(), threads,
                     zp == Zp::none ? "no zero points" : "src/dst zero points", c->impl.c_str());
        const std::string impl = c->impl;
        if (!impl_within_cap(impl)) c.reset();  // not cached: every row reports the error
        require_impl_within_cap(impl);
    }
    return *c;
}

// ---- verification ----------------------------------------------------------------------

struct Diffs {
    int64_t off_by_one = 0, wrong = 0, max_diff = 0;
};

Diffs compare(const uint8_t *got, const std::vector<int> &want) {
    Diffs d;
    for (size_t i = 0; i < want.size(); ++i) {
        const int64_t diff = std::abs(int(got[i]) - want[i]);
        if (diff == 1) {
            ++d.off_by_one;
        } else if (diff > 1) {
            ++d.wrong;
        }
        d.max_diff = std::max(d.max_diff, diff);
    }
    return d;
}

Check verify(Problem &p, int threads, DnnlConv &d0, DnnlConv &dz) {
    Check r;
    const ConvShape &s = p.s;
    const std::vector<int32_t> &acc = p.acc();
    const int64_t total = int64_t(acc.size());
    std::vector<int> want(acc.size()), want_raw(acc.size());
    for (int64_t i = 0; i < total; ++i) {
        want[size_t(i)] = qforge::ref::requantize(acc[size_t(i)], p.multiplier[size_t(i % s.o)], kOutZeroPoint, 0, 255);
    }
    const std::vector<int32_t> raw = p.acc_raw();
    for (int64_t i = 0; i < total; ++i) {
        want_raw[size_t(i)] = qforge::ref::requantize(raw[size_t(i)], p.multiplier[size_t(i % s.o)], 0, 0, 255);
    }
    std::fill_n(p.y.data_as<uint8_t>(), total, uint8_t(0xCD));
    p.run_qforge();
    d0.run();
    dz.run();
    const uint8_t *q = p.y.data_as<uint8_t>();
    int64_t q_bad = 0, first = -1;
    for (int64_t i = 0; i < total; ++i) {
        if (int(q[i]) != want[size_t(i)]) {
            if (first < 0) first = i;
            ++q_bad;
        }
    }
    const Diffs n0 = compare(static_cast<const uint8_t *>(d0.dst.get_data_handle()), want_raw);
    const Diffs nz = compare(static_cast<const uint8_t *>(dz.dst.get_data_handle()), want);
    std::fprintf(stderr,
                 "bench_conv: check %s threads=%d (%lld outputs): qforge %lld mismatches; oneDNN %s (no zero points) "
                 "%lld off by one, %lld off by more (max %lld); oneDNN %s (zero points) %lld off by one, %lld off by "
                 "more (max %lld)\n",
                 s.text().c_str(), threads, (long long)total, (long long)q_bad, d0.impl.c_str(),
                 (long long)n0.off_by_one, (long long)n0.wrong, (long long)n0.max_diff, dz.impl.c_str(),
                 (long long)nz.off_by_one, (long long)nz.wrong, (long long)nz.max_diff);
    if (q_bad) {
        const int64_t o = first % s.o, px = first / s.o;
        r.error = "qforge conv2d_requantized differs from the reference at " + std::to_string(q_bad) + " of " +
                  std::to_string(total) + " outputs; first at n=" + std::to_string(px / (s.oh() * s.ow())) +
                  " oy=" + std::to_string(px / s.ow() % s.oh()) + " ox=" + std::to_string(px % s.ow()) +
                  " o=" + std::to_string(o) + ": " + std::to_string(q[first]) + ", reference " +
                  std::to_string(want[size_t(first)]) + " (acc " + std::to_string(acc[size_t(first)]) + ")";
        return r;
    }
    // Counters only when nonzero (the "cv" aggregate of an all-zero counter is NaN).
    if (n0.off_by_one) r.counters["onednn_u8_off_by_one"] = double(n0.off_by_one);
    if (n0.wrong) r.counters["onednn_u8_wrong"] = double(n0.wrong);
    if (nz.off_by_one) r.counters["onednn_zp_u8_off_by_one"] = double(nz.off_by_one);
    if (nz.wrong) r.counters["onednn_zp_u8_wrong"] = double(nz.wrong);
    return r;
}

const Check &checked(int shape_index, int threads) {
    static std::map<std::pair<int, int>, Check> cache;
    auto key = std::make_pair(shape_index, threads);
    auto it = cache.find(key);
    if (it == cache.end()) {
        Check c;
        try {
            c = verify(problem(shape_index), threads, dnnl_conv(shape_index, threads, Zp::none),
                       dnnl_conv(shape_index, threads, Zp::src_dst));
        } catch (const std::exception &e) {
            c.error = std::string("verification failed: ") + e.what();
        }
        it = cache.emplace(key, std::move(c)).first;
    }
    return it->second;
}

// ---- benchmark bodies ------------------------------------------------------------------

// A qforge row with its oneDNN baseline (no zero points) interleaved.
void bm_conv(benchmark::State &state, int shape_index, int threads) {
    const ConvShape &s = kShapes[shape_index];
    DnnlConv *d = nullptr;
    Problem *p = nullptr;
    try {
        set_threads(threads);
        p = &problem(shape_index);
        d = &dnnl_conv(shape_index, threads, Zp::none);
    } catch (const std::exception &e) {
        return fail(state, e.what());
    }
    const Check &check = checked(shape_index, threads);
    if (!check.error.empty()) return fail(state, check.error);

    auto q = [&] { p->run_qforge(); };
    auto o = [&] { d->run(); };
    Interleaved r;
    if (!run_interleaved(state, threads, q, o, r)) return;
    // This binary has no peak rows adding runs to the process's best peak: each
    // row adds 3 runs of about 10 ms before the counter reads it.
    if (const PeakKind &peak = run_peak(); peak.supported()) {
        const int64_t trips = peak_trips(peak, 0.01);
        for (int i = 0; i < 3; ++i) {
            record_peak(peak, threads,
                        peak.ops_per_trip * double(trips) * threads / run_peak_once(peak, threads, trips) / 1e9);
        }
    }
    set_interleaved_counters(state, r, s.ops(), threads);
    for (const auto &[name, value] : check.counters) state.counters[name] = value;
    state.SetLabel("op=" + op_name("conv_u8") + " shape=" + s.text() + " threads=" + std::to_string(threads) +
                   " unit=GOPS baseline=" + op_name("onednn_conv_u8") + " peak=" + g_run.peak_op +
                   " peak_shape=" + g_run.peak_shape + " impl=qforge:" + g_qforge_variant +
                   " onednn_impl=" + d->impl + " onednn_zero_points=none");
}

// A oneDNN reference row: the same blocks, oneDNN alone.
void bm_onednn(benchmark::State &state, int shape_index, int threads, Zp zp) {
    const ConvShape &s = kShapes[shape_index];
    DnnlConv *d = nullptr;
    try {
        set_threads(threads);
        d = &dnnl_conv(shape_index, threads, zp);
    } catch (const std::exception &e) {
        return fail(state, e.what());
    }
    auto o = [&] { d->run(); };
    Alone r;
    if (!run_alone(state, threads, o, r)) return;
    set_alone_counters(state, r, s.ops());
    state.SetLabel("op=" + op_name(zp == Zp::none ? "onednn_conv_u8" : "onednn_conv_u8_zp") + " shape=" + s.text() +
                   " threads=" + std::to_string(threads) + " unit=GOPS impl=" + d->impl + " zero_points=" +
                   (zp == Zp::none ? "none" : "src" + std::to_string(kXZeroPoint) + ",dst" +
                                                  std::to_string(kOutZeroPoint)));
}

// No peak rows here: bench_gemm lists them (the rows' peak_value counters
// carry this process's own measurement).
void register_all() {
    for (int t : kThreads) {
        for (int i = 0; i < int(std::size(kShapes)); ++i) {
            const ConvShape &s = kShapes[i];
            const std::string tail = "/" + s.text() + "/threads:" + std::to_string(t);
            configure(benchmark::RegisterBenchmark((op_name("onednn_conv_u8") + tail).c_str(), bm_onednn, i, t, Zp::none),
                      s.ops());
            configure(benchmark::RegisterBenchmark((op_name("onednn_conv_u8_zp") + tail).c_str(), bm_onednn, i, t,
                                                   Zp::src_dst),
                      s.ops());
            configure(benchmark::RegisterBenchmark((op_name("conv_u8") + tail).c_str(), bm_conv, i, t), s.ops());
        }
    }
}

}  // namespace

int main(int argc, char **argv) { return bench_main(argc, argv, "bench_conv", register_all); }
