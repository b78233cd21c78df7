// GPU benchmarks of the CUDA kernels (cmake/QforgeCuda.cmake): the memory-
// bound quantization operators in GB/s (bytes each kernel must move: inputs
// read once, outputs written once) next to a device-to-device copy by a Halide
// kernel of the same build (qf_cuda_stream_copy), and the compute-bound ones
// (int8 GEMM, float32 GEMM and conv) in TOPS / TFLOP/s. bench/cuda_peers.py
// measures the same shapes with PyTorch on the same GPU (torch._int_mm, the
// copy engine, torch's fake quantization, cuDNN) and prints the comparison.
//
//   bench_cuda [--json FILE] [--repetitions N]
//
// Self-contained like tests/test_cuda_kernels (copy the binary to a GPU
// machine): no Google Benchmark shared library (Debian ships none static), so
// the timing loop is here: a warm-up call (module load, first host-to-device
// copies), then N timed calls, each ended by a device synchronisation, and the
// median. Inputs stay on the device between calls: only kernel time is timed.
// Without a CUDA device it prints SKIPPED and exits 77.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "HalideBuffer.h"
#include "HalideRuntime.h"
#include "HalideRuntimeCuda.h"
#include "cuda_driver.h"
#include "qf_cuda_kernels_all.h"
#include "qforge/qforge.h"

namespace {

using Halide::Runtime::Buffer;

std::string g_error;
void record_error(void *, const char *msg) { g_error = msg ? msg : "?"; }

int g_repetitions = 21;

// Median seconds of one call of `call` after a warm-up call.
double time_call_median(const std::function<void()> &call) {
    call();  // warm-up: module load, first copies
    std::vector<double> t;
    for (int i = 0; i < g_repetitions; i++) {
        const auto t0 = std::chrono::steady_clock::now();
        call();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// A kernel's median time; `sync` (an output buffer) waits for the device.
double time_median(const std::function<int()> &kernel, halide_buffer_t *sync) {
    return time_call_median([&] {
        if (kernel() != 0) throw std::runtime_error("kernel failed: " + g_error);
        if (halide_device_sync(nullptr, sync) != 0) throw std::runtime_error("device sync failed: " + g_error);
    });
}

template<typename T> Buffer<T> random_buffer(std::vector<int> shape, uint32_t seed, float lo, float hi) {
    Buffer<T> b(shape);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    b.for_each_value([&](T &v) { v = static_cast<T>(d(rng)); });
    b.set_host_dirty();
    return b;
}

struct Row {
    std::string op, shape, unit;
    double seconds, value;  // value in unit (GB/s, TOPS, TFLOP/s)
};
std::vector<Row> g_rows;

void record(const std::string &op, const std::string &shape, double seconds, double amount, const char *unit) {
    g_rows.push_back({op, shape, unit, seconds, amount / seconds / 1e9 / (std::string(unit) == "GB/s" ? 1 : 1e3)});
    std::printf("%-26s %-22s %10.3f ms %10.1f %s\n", op.c_str(), shape.c_str(), seconds * 1e3, g_rows.back().value,
                unit);
}

void bench_streams() {
    const int n = 64 << 20;  // 64 Mi floats: 256 MiB, far beyond L2
    const std::string shape = std::to_string(n >> 20) + "Mi f32";
    auto x = random_buffer<float>({n}, 1, -8, 8);
    auto dy = random_buffer<float>({n}, 2, -1, 1);
    Buffer<float> y(n), dx(n);
    Buffer<uint8_t> mask(n);
    auto ds = Buffer<float>::make_scalar(), dz = Buffer<float>::make_scalar();
    const double f = sizeof(float);
    record("stream_copy", shape, time_median([&] { return qf_cuda_stream_copy_sm80(x, y); }, y), 2 * f * n, "GB/s");
    record("fake_quant_pt", shape,
           time_median([&] { return qf_cuda_fake_quant_pt_sm80(x, 0.05f, 3, 0, 255, y); }, y), 2 * f * n, "GB/s");
    record("fake_quant_pt_mask", shape,
           time_median([&] { return qf_cuda_fake_quant_pt_mask_sm80(x, 0.05f, 3, 0, 255, y, mask); }, y),
           (2 * f + 1) * n, "GB/s");
    const float g = 1.0f / std::sqrt(float(n) * 127.0f);
    record("lsq_backward_pt", shape,
           time_median([&] { return qf_cuda_lsq_backward_pt_sm80(x, dy, 0.05f, 0, -128, 127, g, dx, ds, dz); }, dx),
           3 * f * n, "GB/s");
    // Per channel over [C = 256] with 1024-float rows: x(i, c, o).
    Buffer<float> x3(x.data(), 1024, 256, n / (1024 * 256)), y3(1024, 256, n / (1024 * 256));
    x3.set_host_dirty();
    Buffer<float> scales(256);
    Buffer<int32_t> zps(256);
    scales.fill(0.05f);
    zps.fill(0);
    record("fake_quant_pc", shape + " C=256",
           time_median([&] { return qf_cuda_fake_quant_pc_sm80(x3, scales, zps, -128, 127, y3); }, y3), 2 * f * n,
           "GB/s");
}

void bench_gemm_int8(int M, int N, int K) {
    const int np = (N + 63) / 64 * 64, kp = (K + 3) / 4 * 4;
    auto a = random_buffer<uint8_t>({kp, M}, 3, 0, 255);
    auto w = random_buffer<int8_t>({K, N}, 4, -127, 127);
    Buffer<int8_t> packed(4, 64, kp / 4, np / 64);
    Buffer<int32_t> row_sums(np), bias(np), c(N, M);
    Buffer<float> scale(np);
    bias.fill(0);
    scale.fill(0.001f);
    if (qf_cuda_pack_gemm_weights_sm80(w, packed, row_sums) != 0) throw std::runtime_error("pack: " + g_error);
    const std::string shape = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
    const double t = time_median(
        [&] { return qf_cuda_gemm_s32_sm80(a, packed, row_sums, bias, 3, scale, 0, 0, 0, c); }, c);
    record("gemm_int8_s32", shape, t, 2.0 * M * N * K, "TOPS");
}

void bench_sgemm(int M, int N, int K) {
    const int np = (N + 31) / 32 * 32;
    auto a = random_buffer<float>({K, M}, 5, -1, 1);
    auto b = random_buffer<float>({np, K}, 6, -1, 1);
    Buffer<float> bias(np), c(N, M);
    bias.fill(0.0f);
    const std::string shape = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
    const double t = time_median([&] { return qf_cuda_sgemm_nn_sm80(a, b, bias, c, 0, c); }, c);
    record("sgemm_f32", shape, t, 2.0 * M * N * K, "TFLOP/s");
}

// NHWC float32 conv, OHWI weights as the implicit GEMM's op(B) [KH*KW*C, O].
void bench_conv_f32(int N, int H, int W, int C, int O, int KH) {
    const int op = (O + 31) / 32 * 32, pad = KH / 2;
    auto x = random_buffer<float>({C, W, H, N}, 7, -1, 1);
    auto w = random_buffer<float>({op, KH * KH * C}, 8, -1, 1);
    Buffer<float> bias(op), y(O, W, H, N);
    bias.fill(0.0f);
    const std::string shape = "N" + std::to_string(N) + " " + std::to_string(H) + "x" + std::to_string(W) + " " +
                              std::to_string(C) + "->" + std::to_string(O) + " " + std::to_string(KH) + "x" +
                              std::to_string(KH);
    const double t = time_median(
        [&] { return qf_cuda_direct_conv_f32_sm80(x, w, bias, KH, KH, 1, 1, 1, 1, pad, pad, y); }, y);
    record("conv2d_f32", shape, t, 2.0 * N * H * W * O * C * KH * KH, "TFLOP/s");
}

void bench_batch_norm(int N, int H, int W, int C) {
    auto x = random_buffer<float>({C, W * H * N}, 9, -2, 2);
    Buffer<float> gamma(C), beta(C), y(C, W * H * N), mean(C), var(C), invstd(C);
    gamma.fill(1.0f);
    beta.fill(0.0f);
    const std::string shape = "N" + std::to_string(N) + " " + std::to_string(H) + "x" + std::to_string(W) + " C" +
                              std::to_string(C);
    const double t = time_median(
        [&] { return qf_cuda_batch_norm_train_sm80(x, gamma, beta, 1e-5f, y, mean, var, invstd); }, y);
    record("batch_norm_train", shape, t, 2.0 * sizeof(float) * N * H * W * C, "GB/s");
}

// The runtime's calls on Device::cuda, transfers included (every call copies
// its operands to the device and back), next to the same calls on the CPU:
// what a model pays per operator. Shapes of qforge-train's network at batch 128.
void bench_runtime_calls() {
    using qforge::Tensor;
    using qforge::DType;
    auto random = [](qforge::Shape shape, uint32_t seed) {
        Tensor t(DType::f32, std::move(shape));
        std::mt19937 rng(seed);
        std::normal_distribution<float> d(0.0f, 1.0f);
        for (int64_t i = 0; i < t.numel(); i++) t.data_as<float>()[i] = d(rng);
        return t;
    };
    Tensor x = random({128, 28, 28, 16}, 1), y(DType::f32, {128, 28, 28, 16});
    Tensor gamma = random({16}, 2), beta = random({16}, 3), mean(DType::f32, {16}), var(DType::f32, {16}),
           invstd(DType::f32, {16});
    qforge::Conv2dGeometry g;
    g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = 1;
    Tensor cx = random({128, 28, 28, 16}, 4), cw = random({32, 3, 3, 16}, 5);
    Tensor cy(DType::f32, qforge::conv2d_f32_output_shape(cx.shape(), cw.shape(), g)), cdw(DType::f32, cw.shape());
    Tensor cdy = random(cy.shape(), 6);
    struct Case {
        const char *op;
        const char *shape;
        std::function<void()> call;
    };
    const Case cases[] = {
        {"relu", "[128,28,28,16]", [&] { qforge::relu(x, y); }},
        {"batch_norm_train", "[128,28,28,16]",
         [&] { qforge::batch_norm_train(x, gamma, beta, 1e-5f, y, mean, var, invstd); }},
        {"conv2d_f32", "[128,28,28,16] 3x3 ->32", [&] { qforge::conv2d_f32(cx, cw, nullptr, g, cy); }},
        {"conv2d_f32_backward_weight", "[128,28,28,16] 3x3 ->32",
         [&] { qforge::conv2d_f32_backward_weight(cx, cdy, g, cdw); }},
    };
    std::printf("\nruntime calls, transfers included (ms per call; CPU: %d threads)\n", 2);
    qforge::set_num_threads(2);
    for (const Case &c : cases) {
        double cpu, gpu;
        {
            qforge::DeviceScope on(qforge::Device::cpu);
            cpu = time_call_median(c.call);
        }
        {
            qforge::DeviceScope on(qforge::Device::cuda);
            gpu = time_call_median(c.call);
        }
        std::printf("%-28s %-26s cuda %9.3f ms   cpu %9.3f ms   cuda/cpu time %6.2f\n", c.op, c.shape, gpu * 1e3,
                    cpu * 1e3, gpu / cpu);
        g_rows.push_back({std::string("runtime_") + c.op, c.shape, "ms (cuda, transfers included)", gpu, gpu * 1e3});
        g_rows.push_back({std::string("runtime_") + c.op + "_cpu2t", c.shape, "ms (cpu, 2 threads)", cpu, cpu * 1e3});
    }
}

}  // namespace

int main(int argc, char **argv) {
    std::string json_path;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--json" && i + 1 < argc) {
            json_path = argv[++i];
        } else if (a == "--repetitions" && i + 1 < argc) {
            g_repetitions = std::max(1, std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr, "usage: %s [--json FILE] [--repetitions N]\n", argv[0]);
            return 2;
        }
    }
    halide_set_error_handler(record_error);
    const auto device = qforge::cuda_driver::open_first_device();
    if (!device.unavailable.empty()) {
        std::printf("SKIPPED: %s\n", device.unavailable.c_str());
        return 77;
    }
    std::printf("device: %s, compute capability %d.%d (sm_80 builds)\n", device.name.c_str(), device.major,
                device.minor);
    try {
        bench_streams();
        for (int s : {1024, 4096}) bench_gemm_int8(s, s, s);
        bench_gemm_int8(1, 4096, 4096);
        bench_gemm_int8(64, 4096, 4096);
        for (int s : {1024, 4096}) bench_sgemm(s, s, s);
        bench_conv_f32(32, 56, 56, 64, 64, 3);
        bench_conv_f32(256, 14, 14, 32, 64, 5);
        bench_batch_norm(32, 56, 56, 64);
        bench_runtime_calls();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_cuda: %s\n", e.what());
        return 1;
    }
    if (!json_path.empty()) {
        nlohmann::json j;
        j["device"] = device.name;
        j["capability"] = std::to_string(device.major) + "." + std::to_string(device.minor);
        for (const Row &r : g_rows) {
            j["rows"].push_back({{"op", r.op}, {"shape", r.shape}, {"unit", r.unit}, {"ms", r.seconds * 1e3},
                                 {"value", r.value}});
        }
        std::ofstream(json_path) << j.dump(2) << "\n";
    }
    return 0;
}
