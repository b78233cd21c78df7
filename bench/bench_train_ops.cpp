// Memory-bound training operators (qforge/train_ops.h) against a streaming
// copy of the same bytes, at the default network's training shapes (batch
// 128, Fashion-MNIST 28x28: conv1 activations [128*28*28, 16] = [100352, 16],
// conv2 activations [128*14*14, 32] = [25088, 32]; the pools over them;
// optimizer steps over 2^20 parameters).
//
// The figure of merit is bandwidth: the bytes an op must move at least (read
// every input once, write every output once; listed below) per second, as a
// fraction of a streaming copy that moves the same number of bytes with the
// same number of threads, measured interleaved with the op in the same
// process (the copy is the Halide kernel qf_stream_copy: same runtime, thread
// pool and dispatch). A ratio near 1 means the op runs at copy speed. Ops
// that read their input more than once count it once, so their ratio shows
// the cost of the extra passes:
//   column_sum            4 B/elem   read x
//   channel_affine        8          read x, write y
//   channel_affine_bwd   12          read dy, x, write dx (+ sums)          reads dy twice
//   batch_norm_train      8          read x, write y (+ stats)              reads x three times
//   batch_norm_eval       8          read x, write y
//   batch_norm_bwd       12          read dy, x, write dx (+ sums)          reads dy, x twice
//   relu                  8, relu_bwd 12
//   max_pool2x2           x + y + argmax bytes;  max_pool2x2_bwd dy + argmax + dx
//   max_pool2x2_u8        x + y bytes
//   sgd_momentum         20          read param, grad, buf; write param, buf
//   adam                 28          read param, grad, m, v; write param, m, v
//   quantize / dequantize 5, requantize 5 (s32 in, u8 out)
//
// Names are "<op>/<shape>/threads:<T>" and "copy/bytes:<B>/threads:<T>". Rows
// carry labels in the convention of bench/summarize.cpp:
//   op=<op> shape=<shape> elements=<N> threads=<T> unit=GB/s baseline=copy baseline_shape=bytes:<B>
// with the interleaved copy's bandwidth in the counter baseline_value.
//
// Environment knobs: QFORGE_BENCH_MIN_TIME (seconds per repetition, default
// 0.2), QFORGE_BENCH_REPETITIONS (default 3).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
#include "qforge/train_ops.h"

namespace {

using qforge::DType;
using qforge::Shape;
using qforge::Tensor;
using qforge::TensorView;

constexpr int64_t kMaxElements = 128 * 28 * 28 * 16;  // the largest activation
constexpr int64_t kParams = int64_t(1) << 20;          // optimizer rows
constexpr int64_t kCopyFloats = int64_t(1) << 23;      // 32 MB each side: covers every op's bytes
const int kThreads[] = {1, 2};

void fill_normal(float *p, int64_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (int64_t i = 0; i < n; ++i) p[i] = dist(rng);
}

// Shared, pre-faulted storage (Tensor memsets on allocation), filled once.
struct Pool {
    Tensor a{DType::f32, {kMaxElements}}, b{DType::f32, {kMaxElements}}, c{DType::f32, {kMaxElements}};
    Tensor d{DType::f32, {kMaxElements}};
    Tensor u8a{DType::u8, {kMaxElements}}, u8b{DType::u8, {kMaxElements}};
    Tensor s32{DType::s32, {kMaxElements}};
    // Per-channel vectors: 0..2 inputs (positive: gamma, beta, running statistics), 3.. outputs.
    std::vector<Tensor> ch;
    Tensor copy_src{DType::f32, {kCopyFloats}}, copy_dst{DType::f32, {kCopyFloats}};

    Pool() {
        for (int i = 0; i < 12; ++i) ch.emplace_back(DType::f32, Shape{64});
        fill_normal(a.data_as<float>(), kMaxElements, 1);
        fill_normal(b.data_as<float>(), kMaxElements, 2);
        fill_normal(c.data_as<float>(), kMaxElements, 3);
        std::mt19937 rng(4);
        for (int64_t i = 0; i < kMaxElements; ++i) {
            u8a.data_as<uint8_t>()[i] = static_cast<uint8_t>(rng());
            s32.data_as<int32_t>()[i] = static_cast<int32_t>(rng() % 20001) - 10000;
        }
        for (auto &t : ch) {
            float *p = t.data_as<float>();
            for (int i = 0; i < 64; ++i) p[i] = 0.5f + 0.01f * static_cast<float>(i);
        }
        float *s = copy_src.data_as<float>();
        for (int64_t i = 0; i < kCopyFloats; ++i) s[i] = static_cast<float>(i & 1023);
    }
};

Pool &pool() {
    static Pool p;
    return p;
}

// A view of the first elements of a pool buffer; a shape larger than the buffer is a bug here.
TensorView view(const Tensor &t, Shape shape) {
    TensorView v(t.data(), t.dtype(), std::move(shape));
    if (v.numel() > t.numel()) throw std::logic_error("bench_train_ops: " + v.describe() + " exceeds its pool buffer");
    return v;
}
TensorView chan(int k, int64_t c) { return view(pool().ch[k], {c}); }

// The copy-interleaved timing (stream_copy_baseline.h), over this file's buffers.
StreamCopy make_copy(int64_t bytes) {
    return StreamCopy(pool().copy_src.data_as<float>(), pool().copy_dst.data_as<float>(), bytes);
}

struct Case {
    std::string op, shape;  // shape: text without spaces, e.g. "[100352,16]"
    int64_t elements, bytes;
    std::function<void()> call;
};

std::string dims(const Shape &s) {
    std::string t = "[";
    for (size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
    return t + "]";
}

// Every (op, shape) row. Views are built here; the calls capture them.
std::vector<Case> cases() {
    std::vector<Case> v;
    Pool &p = pool();
    for (Shape s : {Shape{100352, 16}, Shape{25088, 32}}) {
        const int64_t n = s[0] * s[1], C = s[1];
        auto x = view(p.a, s), dy = view(p.b, s), y = view(p.c, s), dx = view(p.d, s);
        auto c0 = chan(0, C), c1 = chan(1, C), c2 = chan(2, C);
        auto sum = chan(3, C), dscale = chan(4, C), dshift = chan(5, C), mean = chan(6, C), var = chan(7, C);
        auto invstd = chan(8, C), dgamma = chan(9, C), dbeta = chan(10, C);
        const std::string sh = dims(s);
        // Statistics the backward can use.
        qforge::batch_norm_train(x, c0, c1, 1e-5f, y, mean, var, invstd);
        v.push_back({"column_sum", sh, n, 4 * n, [=] { qforge::column_sum(x, sum); }});
        v.push_back({"channel_affine", sh, n, 8 * n, [=] { qforge::channel_affine(x, c0, c1, y); }});
        v.push_back({"channel_affine_bwd", sh, n, 12 * n,
                     [=] { qforge::channel_affine_backward(dy, x, c0, dx, dscale, dshift); }});
        v.push_back({"batch_norm_train", sh, n, 8 * n,
                     [=] { qforge::batch_norm_train(x, c0, c1, 1e-5f, y, mean, var, invstd); }});
        v.push_back({"batch_norm_eval", sh, n, 8 * n,
                     [=] { qforge::batch_norm_eval(x, c0, c1, c2, c1, 1e-5f, y); }});
        v.push_back({"batch_norm_bwd", sh, n, 12 * n,
                     [=] { qforge::batch_norm_backward(dy, x, c0, mean, invstd, dx, dgamma, dbeta); }});
        v.push_back({"relu", sh, n, 8 * n, [=] { qforge::relu(x, y); }});
        v.push_back({"relu_bwd", sh, n, 12 * n, [=] { qforge::relu_backward(dy, x, dx); }});
        auto acc = view(p.s32, s), q = view(p.u8b, s);
        std::vector<float> mult(static_cast<size_t>(C), 0.0123f);
        v.push_back({"quantize", sh, n, 5 * n,
                     [=] { qforge::quantize(x, qforge::QuantParams{0.05f, 128, {0, 255}}, q); }});
        v.push_back({"dequantize", sh, n, 5 * n,
                     [=] { qforge::dequantize(q, qforge::QuantParams{0.05f, 128, {0, 255}}, y); }});
        v.push_back({"requantize", sh, n, 5 * n, [=] {
                         qforge::requantize(acc, TensorView(const_cast<float *>(mult.data()), {C}), 128, 0, 255, q);
                     }});
    }
    for (Shape s : {Shape{128, 28, 28, 16}, Shape{128, 14, 14, 32}}) {
        const int64_t n = s[0] * s[1] * s[2] * s[3];
        const Shape o{s[0], s[1] / 2, s[2] / 2, s[3]};
        const int64_t no = n / 4;
        auto x = view(p.a, s), y = view(p.c, o), am = view(p.u8a, o), dy = view(p.b, o), dx = view(p.d, s);
        const std::string sh = dims(s);
        // The backward needs a real argmax (values 0..3).
        qforge::max_pool2x2(x, y, am);
        v.push_back({"max_pool2x2", sh, n, 4 * n + 5 * no, [=] {
                         auto amw = view(pool().u8b, o);
                         qforge::max_pool2x2(x, y, amw);
                     }});
        v.push_back({"max_pool2x2_bwd", sh, n, 5 * no + 4 * n, [=] { qforge::max_pool2x2_backward(dy, am, dx); }});
        auto xq = view(p.u8a, s), yq = view(p.u8b, o);
        v.push_back({"max_pool2x2_u8", sh, n, n + no, [=] { qforge::max_pool2x2_int8(xq, yq); }});
    }
    // Softmax cross-entropy: the default network's logits [128, 10] (small:
    // call overhead shows) and a wide classifier [1024, 1000] (within the pool's buffers).
    for (Shape s : {Shape{128, 10}, Shape{1024, 1000}}) {
        const int64_t n = s[0] * s[1];
        auto logits = view(p.a, s), dlogits = view(p.d, s);
        auto labels = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(s[0]));
        for (int64_t i = 0; i < s[0]; ++i) (*labels)[i] = static_cast<int32_t>(i % s[1]);
        const TensorView lv(labels->data(), {s[0]});
        v.push_back({"softmax_xent", dims(s), n, 8 * n + 4 * s[0], [=] {
                         (void)labels;  // keeps the labels alive with the call
                         qforge::softmax_cross_entropy(logits, lv, dlogits);
                     }});
    }
    {
        const Shape s{kParams};
        auto prm = view(p.a, s), g = view(p.b, s), m = view(p.c, s), vv = view(p.d, s);
        const std::string sh = dims(s);
        v.push_back({"sgd_momentum", sh, kParams, 20 * kParams,
                     [=] { qforge::sgd_momentum_update(prm, g, m, 1e-9f, 0.9f, 5e-4f, false); }});
        v.push_back({"adam", sh, kParams, 28 * kParams,
                     [=] { qforge::adam_update(prm, g, m, vv, 10, 1e-9f, 0.9f, 0.999f, 1e-8f, 0.0f); }});
    }
    return v;
}

std::string op_label(const Case &c, int threads) {
    return "op=" + c.op + " shape=" + c.shape + " elements=" + std::to_string(c.elements) +
           " threads=" + std::to_string(threads) + " unit=GB/s baseline=copy baseline_shape=bytes:" +
           std::to_string(c.bytes);
}

void bm_case(benchmark::State &state, const Case &c, int threads) {
    StreamCopy copy = make_copy(c.bytes);
    timed(state, threads, c.bytes, op_label(c, threads), c.call, [&] { copy(); });
}

void bm_copy(benchmark::State &state, int64_t bytes, int threads) {
    const std::string label = "op=copy shape=bytes:" + std::to_string(bytes) + " elements=" + std::to_string(bytes / 8) +
                              " threads=" + std::to_string(threads) + " unit=GB/s";
    StreamCopy copy = make_copy(bytes);
    timed(state, threads, bytes, label, [&] { copy(); });
}

benchmark::internal::Benchmark *configure(benchmark::internal::Benchmark *b, bool manual_time) {
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
    static const std::vector<Case> all = cases();
    std::vector<int64_t> copy_bytes;
    for (const Case &c : all) {
        for (int t : kThreads) {
            const std::string name = c.op + "/" + c.shape + "/threads:" + std::to_string(t);
            configure(benchmark::RegisterBenchmark(name.c_str(), bm_case, c, t), true);
        }
        if (std::find(copy_bytes.begin(), copy_bytes.end(), c.bytes) == copy_bytes.end()) copy_bytes.push_back(c.bytes);
    }
    std::sort(copy_bytes.begin(), copy_bytes.end());
    for (int64_t bytes : copy_bytes) {
        for (int t : kThreads) {
            const std::string name = "copy/bytes:" + std::to_string(bytes) + "/threads:" + std::to_string(t);
            configure(benchmark::RegisterBenchmark(name.c_str(), bm_copy, bytes, t), false);
        }
    }
}

}  // namespace

int main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    try {
        benchmark::AddCustomContext("qforge_cpu_variant", qforge::cpu_variant_name(qforge::cpu_variant()));
        register_all();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_train_ops: cannot set up: %s\n", e.what());
        return 1;
    }
    benchmark::AddCustomContext("qforge_hardware_threads", std::to_string(std::thread::hardware_concurrency()));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
