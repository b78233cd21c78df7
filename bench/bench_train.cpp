// qforge-train's speed against PyTorch 1.13 on the same machine: one
// training step (FP32 and QAT) of the default network at batch 128, and the
// integer model's inference at batch 1 and 128, in images per second.
//
// The PyTorch side is measured by bench/pytorch_reference.py in the same
// `make bench` run, just before this benchmark (run_all.sh writes its JSON to
// <build>/bench/pytorch_reference.json and passes the path in
// QFORGE_PYTORCH_REFERENCE). Its numbers become each row's baseline_value:
//   fp32_step  <- 60000 / fp32_epoch_s (eager FP32 training)
//   qat_step   <- 60000 / qat_epoch_s  (eager QAT, fake quant + observers)
//   int8_b*    <- batch / int8_b*_ms   (the converted oneDNN int8 model)
// Without the JSON (no PyTorch), the rows are reference rows without a ratio.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "convert.h"
#include "network.h"
#include "params.h"
#include "qforge/dispatch.h"

using namespace qforge;
using namespace qforge::train;

namespace {

constexpr int kBatch = 128;
constexpr int kThreads = 2;

nlohmann::json pytorch_reference() {
    const char *path = std::getenv("QFORGE_PYTORCH_REFERENCE");
    if (!path) return {};
    std::ifstream f(path);
    if (!f) return {};
    try {
        return nlohmann::json::parse(f);
    } catch (...) {
        return {};
    }
}

// The PyTorch baseline in images/s, or 0 when not measured.
double baseline(const char *key, double images) {
    static const nlohmann::json ref = pytorch_reference();
    if (!ref.is_object() || !ref.contains(key) || !ref[key].is_number()) return 0;
    double v = ref[key].get<double>();
    if (v <= 0) return 0;
    bool ms = std::string(key).find("_ms") != std::string::npos;
    return ms ? images / (v / 1e3) : images / v;
}

struct Data {
    std::vector<float> images;
    std::vector<int32_t> labels;
};

const Data &data() {
    static Data d = [] {
        Data x;
        std::mt19937 rng(1);
        std::normal_distribution<float> n(0.0f, 1.0f);
        x.images.resize(size_t(kBatch) * 28 * 28);
        for (float &v : x.images) v = n(rng);
        x.labels.resize(kBatch);
        for (int32_t &l : x.labels) l = static_cast<int32_t>(rng() % 10);
        return x;
    }();
    return d;
}

std::unique_ptr<Network> make_network(bool qat) {
    ModelSpec spec = parse_model_spec(default_model_text(), "default");
    auto net = std::make_unique<Network>(spec, 1);
    if (qat) {
        net->quantize(std::vector<StageQuantConfig>(spec.stages.size(), StageQuantConfig{4, 4}));
        std::vector<float> logits(size_t(kBatch) * 10);
        net->eval_fp32(data().images.data(), kBatch, logits.data(), true);
        net->set_fake_quant(true);
    }
    return net;
}

void label(benchmark::State &state, const std::string &op, const std::string &peer, double peer_value) {
    std::string l = "op=" + op + " shape=default_net_b" + std::to_string(state.range(0)) + " threads=" +
                    std::to_string(kThreads) + " unit=img/s";
    if (peer_value > 0) {
        l += " baseline=" + peer;
        state.counters["baseline_value"] = peer_value;
    }
    state.SetLabel(l);
}

void BM_TrainStep(benchmark::State &state, bool qat) {
    set_num_threads(kThreads);
    auto net = make_network(qat);
    OptimizerOptions opt;
    std::vector<Param *> params = net->parameters();
    int64_t step = 0;
    int correct = 0;
    for (auto _ : state) {
        net->train_step(data().images.data(), data().labels.data(), kBatch, &correct);
        optimizer_step(params, opt, 0.001f, step++);
        net->after_optimizer_step();
    }
    state.counters["value"] = benchmark::Counter(double(kBatch) * state.iterations(), benchmark::Counter::kIsRate);
    label(state, qat ? "qat_step_w4a4" : "fp32_step", qat ? "pytorch_qat_step" : "pytorch_fp32_step",
          baseline(qat ? "qat_epoch_s" : "fp32_epoch_s", 60000));
}

void BM_IntegerInference(benchmark::State &state) {
    set_num_threads(kThreads);
    auto net = make_network(true);
    IntegerModel im = to_integer_model(*net);
    const int batch = static_cast<int>(state.range(0));
    std::vector<float> logits(size_t(batch) * 10);
    for (auto _ : state) im.run(data().images.data(), batch, logits.data());
    state.counters["value"] = benchmark::Counter(double(batch) * state.iterations(), benchmark::Counter::kIsRate);
    label(state, "int8_inference", "pytorch_onednn_int8", baseline(batch == 1 ? "int8_b1_ms" : "int8_b128_ms", batch));
}

}  // namespace

BENCHMARK_CAPTURE(BM_TrainStep, fp32, false)->Arg(kBatch)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_TrainStep, qat_w4a4, true)->Arg(kBatch)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_IntegerInference)->Arg(1)->Arg(kBatch)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);

BENCHMARK_MAIN();
