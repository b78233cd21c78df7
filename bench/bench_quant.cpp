// Memory-bound float32 quantization operators against a streaming copy.
//
// Every operator here moves a fixed number of bytes per element and does
// little arithmetic, so the figure of merit is bandwidth: bytes/s of the op
// (state.SetBytesProcessed) as a fraction of a streaming copy that moves the
// same number of bytes with the same number of threads, measured in the same
// process. The copy is the Halide kernel qf_stream_copy (same runtime, same
// thread pool, same dispatch as the operators); memcpy (1 thread) of the same
// bytes is a second reference row for context.
//
// Ops and the bytes each moves per element:
//   fake_quant_fwd       8   read x, write y                   qforge::fake_quant(x, p, y)
//   fake_quant_fwd_mask  9   + write the u8 STE mask            qforge::fake_quant(x, p, y, mask)
//   fake_quant_bwd       9   read dy and mask, write dx         qforge::fake_quant_backward
//   lsq_fwd              8   read x, write y                   qforge::lsq_forward
//   lsq_bwd             12   read x and dy, write dx (the       qforge::lsq_backward
//                            dscale/dzero sums are negligible)
// Each per_tensor (x: [N]) and per_channel (x: [64, N/64], axis 0: the weight
// layout), at N = 2^20 and 2^24 elements, with 1 and 2 threads. fake_quant_bwd
// runs the same kernel for both schemes (its mask comes from the forward of
// that scheme); it is listed twice so every op has both rows.
//
// Baselines: an op moving B bytes is paired with a copy of B/8 floats (B/2
// bytes read + B/2 written) at the same thread count. Each op row measures its
// copy interleaved with the op (copy, op, copy, op, ...; only the op is in the
// row's time) and reports the copy's bandwidth in the counter baseline_value,
// so background load hits both alike: that is the ratio's denominator. The
// standalone rows "copy/bytes:<B>/threads:<T>" (and memcpy) are measured too,
// as reference rows.
//
// GB/s here and in the summary are 1e9 bytes/s (the console's "G/s" from
// Google Benchmark are 2^30).
//
// Names are "<op>/<scheme>/n:<N>/threads:<T>", "copy/bytes:<B>/threads:<T>"
// and "memcpy/bytes:<B>/threads:1" (Google Benchmark appends its own suffixes,
// e.g. /min_time:..., /real_time). The summary does not parse names: every row
// carries a label of key=value pairs (the convention of bench/summarize.cpp):
//   op=<op> shape=<scheme>[<dims>] scheme=<scheme> elements=<N> threads=<T>
//   unit=GB/s baseline=copy baseline_shape=bytes:<B>
// e.g. shape=per_tensor[16777216] or shape=per_channel[64x262144], and the
// copy rows op=copy shape=bytes:<B> elements=<B/8> threads=<T> unit=GB/s
// (memcpy the same with op=memcpy, threads=1).
//
// Environment knobs (for quick runs): QFORGE_BENCH_MIN_TIME (seconds per
// repetition, default 0.2), QFORGE_BENCH_REPETITIONS (default 3; the JSON
// then holds mean/median/stddev/cv aggregates and the summary uses the median).
// Standard Google Benchmark flags work too (--benchmark_filter=lsq_bwd ...).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "HalideBuffer.h"
#include "qf_stream_copy.h"
#include "stream_copy_baseline.h"
#include "qforge/qforge.h"

namespace {

constexpr int64_t kMaxElements = int64_t(1) << 24;
constexpr int64_t kChannels = 64;
const int64_t kSizes[] = {int64_t(1) << 20, int64_t(1) << 24};
const int kThreads[] = {1, 2};

// ---- shared, pre-faulted storage -----------------------------------------
// Allocated and written once (outside every timed loop); smaller sizes use a
// prefix. Outputs are shared too: the benchmarks run one after another.

void fill_normal(float *p, int64_t n, uint64_t seed) {
    // Two halves in parallel: 2 x 16M normals take a while on one core.
    auto work = [p](int64_t lo, int64_t hi, uint64_t s) {
        std::mt19937_64 rng(s);
        std::normal_distribution<float> dist(0.0f, 1.0f);
        for (int64_t i = lo; i < hi; ++i) p[i] = dist(rng);
    };
    std::thread t(work, 0, n / 2, seed);
    work(n / 2, n, seed ^ 0x9e3779b97f4a7c15ull);
    t.join();
}

struct Pool {
    qforge::Tensor x{qforge::DType::f32, {kMaxElements}};
    qforge::Tensor dy{qforge::DType::f32, {kMaxElements}};
    qforge::Tensor y{qforge::DType::f32, {kMaxElements}};
    qforge::Tensor dx{qforge::DType::f32, {kMaxElements}};
    qforge::Tensor mask{qforge::DType::u8, {kMaxElements}};     // written by fwd+mask
    qforge::Tensor mask_in{qforge::DType::u8, {kMaxElements}};  // input of bwd
    // Copy: the largest op moves 12 bytes/element -> 6 bytes read + 6 written.
    static constexpr int64_t kCopyFloats = kMaxElements * 12 / 8;
    qforge::Tensor copy_src{qforge::DType::f32, {kCopyFloats}};
    qforge::Tensor copy_dst{qforge::DType::f32, {kCopyFloats}};

    Pool() {
        // Tensor storage is memset to 0 on allocation, so every page is
        // already faulted in; give the inputs realistic values.
        fill_normal(x.data_as<float>(), kMaxElements, 1);
        fill_normal(dy.data_as<float>(), kMaxElements, 2);
        float *s = copy_src.data_as<float>();
        for (int64_t i = 0; i < kCopyFloats; ++i) s[i] = static_cast<float>(i & 1023);
    }
};

Pool &pool() {
    static Pool p;
    return p;
}

// ---- shapes and quantization parameters --------------------------------------

enum class Scheme { per_tensor, per_channel };

const char *scheme_name(Scheme s) { return s == Scheme::per_tensor ? "per_tensor" : "per_channel"; }

qforge::Shape shape_of(Scheme s, int64_t n) {
    if (s == Scheme::per_tensor) return {n};
    return {kChannels, n / kChannels};
}

qforge::TensorView view(const qforge::Tensor &t, Scheme s, int64_t n) {
    return qforge::TensorView(t.data(), t.dtype(), shape_of(s, n));
}

// Symmetric signed 8-bit: scale = max|x| / 127, zero point 0.
float abs_max(const float *p, int64_t n) {
    float m = 0.0f;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(p[i]));
    return m;
}

qforge::QuantRange range8() { return qforge::QuantRange::from_bits(8, /*is_signed=*/true); }

qforge::QuantParams per_tensor_params(int64_t n) {
    return {abs_max(pool().x.data_as<float>(), n) / 127.0f, 0, range8()};
}

std::vector<float> channel_scales(int64_t n) {
    const float *x = pool().x.data_as<float>();
    const int64_t inner = n / kChannels;
    std::vector<float> scales;
    for (int64_t c = 0; c < kChannels; ++c) scales.push_back(abs_max(x + c * inner, inner) / 127.0f);
    return scales;
}

qforge::PerChannelQuantParams per_channel_params(int64_t n) {
    qforge::PerChannelQuantParams p;
    p.scales = channel_scales(n);
    p.zero_points.assign(p.scales.size(), 0);
    p.axis = 0;
    p.range = range8();
    return p;
}

qforge::LearnableQuantParams lsq_params(int64_t n) {
    auto p = per_tensor_params(n);
    return {p.scale, 0.0f, p.range};
}

qforge::LearnablePerChannelQuantParams lsq_channel_params(int64_t n) {
    qforge::LearnablePerChannelQuantParams p;
    p.scales = channel_scales(n);
    p.zero_points.assign(p.scales.size(), 0.0f);
    p.axis = 0;
    p.range = range8();
    return p;
}

// ---- benchmark bodies -------------------------------------------------------

// The copy-interleaved timing (stream_copy_baseline.h), over this file's buffers.
StreamCopy make_copy(int64_t bytes) {
    return StreamCopy(pool().copy_src.data_as<float>(), pool().copy_dst.data_as<float>(), bytes);
}

// "per_tensor[1048576]", "per_channel[64x16384]"
std::string shape_text(Scheme s, int64_t n) {
    std::string dims;
    for (int64_t d : shape_of(s, n)) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    return std::string(scheme_name(s)) + "[" + dims + "]";
}

std::string op_label(const char *op, Scheme s, int64_t n, int threads, int64_t bytes) {
    return std::string("op=") + op + " shape=" + shape_text(s, n) + " scheme=" + scheme_name(s) +
           " elements=" + std::to_string(n) + " threads=" + std::to_string(threads) +
           " unit=GB/s baseline=copy baseline_shape=bytes:" + std::to_string(bytes);
}

struct Op {
    const char *name;
    int bytes_per_element;
    // Builds the call for (scheme, n): does all set-up, returns the timed work.
    std::function<std::function<void()>(Scheme, int64_t)> make;
};

std::vector<Op> ops() {
    std::vector<Op> v;
    v.push_back({"fake_quant_fwd", 8, [](Scheme s, int64_t n) -> std::function<void()> {
                     auto x = view(pool().x, s, n), y = view(pool().y, s, n);
                     if (s == Scheme::per_tensor) {
                         auto p = per_tensor_params(n);
                         return [=] { qforge::fake_quant(x, p, y); };
                     }
                     auto p = per_channel_params(n);
                     return [=] { qforge::fake_quant(x, p, y); };
                 }});
    v.push_back({"fake_quant_fwd_mask", 9, [](Scheme s, int64_t n) -> std::function<void()> {
                     auto x = view(pool().x, s, n), y = view(pool().y, s, n), m = view(pool().mask, s, n);
                     if (s == Scheme::per_tensor) {
                         auto p = per_tensor_params(n);
                         return [=] { qforge::fake_quant(x, p, y, m); };
                     }
                     auto p = per_channel_params(n);
                     return [=] { qforge::fake_quant(x, p, y, m); };
                 }});
    v.push_back({"fake_quant_bwd", 9, [](Scheme s, int64_t n) -> std::function<void()> {
                     auto x = view(pool().x, s, n), y = view(pool().y, s, n);
                     auto mask = view(pool().mask_in, s, n);
                     // The mask a real forward of this scheme produces.
                     if (s == Scheme::per_tensor) {
                         qforge::fake_quant(x, per_tensor_params(n), y, mask);
                     } else {
                         qforge::fake_quant(x, per_channel_params(n), y, mask);
                     }
                     auto dy = view(pool().dy, s, n), dx = view(pool().dx, s, n);
                     return [=] { qforge::fake_quant_backward(dy, mask, dx); };
                 }});
    v.push_back({"lsq_fwd", 8, [](Scheme s, int64_t n) -> std::function<void()> {
                     auto x = view(pool().x, s, n), y = view(pool().y, s, n);
                     if (s == Scheme::per_tensor) {
                         auto p = lsq_params(n);
                         return [=] { qforge::lsq_forward(x, p, y); };
                     }
                     auto p = lsq_channel_params(n);
                     return [=] { qforge::lsq_forward(x, p, y); };
                 }});
    v.push_back({"lsq_bwd", 12, [](Scheme s, int64_t n) -> std::function<void()> {
                     auto x = view(pool().x, s, n), dy = view(pool().dy, s, n), dx = view(pool().dx, s, n);
                     if (s == Scheme::per_tensor) {
                         auto p = lsq_params(n);
                         return [=] {
                             auto g = qforge::lsq_backward(x, dy, p, dx);
                             benchmark::DoNotOptimize(g);
                         };
                     }
                     auto p = lsq_channel_params(n);
                     return [=] {
                         auto g = qforge::lsq_backward(x, dy, p, dx);
                         benchmark::DoNotOptimize(g);
                     };
                 }});
    return v;
}

void bm_op(benchmark::State &state, const Op &op, Scheme s, int64_t n, int threads) {
    const int64_t bytes = n * op.bytes_per_element;
    std::function<void()> call;
    try {
        call = op.make(s, n);
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        for (auto _ : state) {
        }
        return;
    }
    StreamCopy copy = make_copy(bytes);
    timed(state, threads, bytes, op_label(op.name, s, n, threads, bytes), call, [&] { copy(); });
}

// The copy rows: the standalone streaming copy of `bytes`.
void bm_copy(benchmark::State &state, int64_t bytes, int threads) {
    const std::string label = "op=copy shape=bytes:" + std::to_string(bytes) + " elements=" +
                              std::to_string(bytes / 8) + " threads=" + std::to_string(threads) + " unit=GB/s";
    StreamCopy copy = make_copy(bytes);
    timed(state, threads, bytes, label, [&] { copy(); });
}

void bm_memcpy(benchmark::State &state, int64_t bytes) {
    const size_t half = static_cast<size_t>(bytes / 2);
    void *src = pool().copy_src.data(), *dst = pool().copy_dst.data();
    const std::string label = "op=memcpy shape=bytes:" + std::to_string(bytes) + " elements=" +
                              std::to_string(bytes / 8) + " threads=1 unit=GB/s";
    std::memcpy(dst, src, half);
    for (auto _ : state) {
        std::memcpy(dst, src, half);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * bytes);
    state.SetLabel(label);
}

// Op rows time themselves (manual time, a wall clock around the op alone);
// copy and memcpy rows use Google Benchmark's real time.
benchmark::internal::Benchmark *configure(benchmark::internal::Benchmark *b, bool manual_time = false) {
    if (manual_time) {
        b->UseManualTime();
    } else {
        b->UseRealTime();
    }
    return b->Unit(benchmark::kMillisecond)
        ->MinTime(env_double("QFORGE_BENCH_MIN_TIME", 0.2))
        ->Repetitions(static_cast<int>(env_double("QFORGE_BENCH_REPETITIONS", 3)))
        ->ReportAggregatesOnly(true);
}

void register_all() {
    std::vector<int64_t> copy_bytes;
    for (const Op &op : ops()) {
        for (Scheme s : {Scheme::per_tensor, Scheme::per_channel}) {
            for (int64_t n : kSizes) {
                for (int t : kThreads) {
                    std::string name = std::string(op.name) + "/" + scheme_name(s) + "/n:" + std::to_string(n) +
                                       "/threads:" + std::to_string(t);
                    configure(benchmark::RegisterBenchmark(name.c_str(), bm_op, op, s, n, t), true);
                }
                const int64_t bytes = n * op.bytes_per_element;
                if (std::find(copy_bytes.begin(), copy_bytes.end(), bytes) == copy_bytes.end()) {
                    copy_bytes.push_back(bytes);
                }
            }
        }
    }
    std::sort(copy_bytes.begin(), copy_bytes.end());
    for (int64_t bytes : copy_bytes) {
        for (int t : kThreads) {
            std::string name = "copy/bytes:" + std::to_string(bytes) + "/threads:" + std::to_string(t);
            configure(benchmark::RegisterBenchmark(name.c_str(), bm_copy, bytes, t));
        }
        std::string name = "memcpy/bytes:" + std::to_string(bytes) + "/threads:1";
        configure(benchmark::RegisterBenchmark(name.c_str(), bm_memcpy, bytes));
    }
}

}  // namespace

int main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    try {
        benchmark::AddCustomContext("qforge_cpu_variant", qforge::cpu_variant_name(qforge::cpu_variant()));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_quant: cannot start the kernels: %s\n", e.what());
        return 1;
    }
    benchmark::AddCustomContext("qforge_hardware_threads", std::to_string(std::thread::hardware_concurrency()));
    register_all();
    // Allocate, fault in and fill the shared buffers before anything is timed.
    pool();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
