// qforge-train: quantization-aware training on Fashion-MNIST (or other IDX
// data), from FP32 through PTQ and QAT to integer models that run on the int8
// kernels. `qforge-train --help` documents every flag; docs/qforge-train.md
// the recipe, the file formats and the report.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "dataset.h"
#include "convert.h"
#include "network.h"
#include "qforge/device.h"
#include "qforge/dispatch.h"
#include "qforge/error.h"
#include "qforge/model_file.h"
#include "recipe.h"
#include "report.h"
#include "trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace qforge;
using namespace qforge::train;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string data_dir = default_fashion_mnist_dir();
    std::string model_file, init_file, report_dir = "qforge-report";
    int epochs = 12, batch = 128, threads = 2, eval_batch = 500;
    std::string device = "cpu";
    float lr = 0.05f, momentum = 0.9f, weight_decay = 5e-4f;
    std::string optimizer = "sgd";
    int qat_epochs = 2, qat_warmup = 0, freeze_epochs = 1;
    float qat_lr = 0.005f;
    std::string qat_from = "ptq";
    int calib_images = 1024;
    std::string configs = "w8a8,w4a4,mixed,w3a3,w2a2";
    std::string bits = "conv1=8,fc2=8,*=4", bits_file, quantizer = "*=minmax";
    int input_bits = 8;
    uint64_t seed = 1;
    int64_t train_limit = 0, test_limit = 0;
    bool resume = false, no_ptq = false;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Median latency (ms) of `run` on a batch, after warm-up.
template<typename F> double latency_ms(F run, int iterations) {
    for (int i = 0; i < 3; i++) run();
    std::vector<double> t;
    for (int i = 0; i < iterations; i++) {
        auto t0 = Clock::now();
        run();
        t.push_back(1e3 * seconds_since(t0));
    }
    return median(t);
}

int64_t file_size(const std::string &path) { return static_cast<int64_t>(fs::file_size(path)); }

class Recipe {
public:
    Recipe(Options o, ModelSpec spec, Dataset train, Dataset test)
        : o_(std::move(o)), spec_(std::move(spec)), train_(std::move(train)), test_(std::move(test)) {
        ctx_.train = &train_;
        ctx_.test = &test_;
        ctx_.eval_batch = o_.eval_batch;
        ctx_.progress_tty = ::isatty(STDOUT_FILENO);
        ctx_.resume = o_.resume;
        if (const char *k = std::getenv("QFORGE_TRAIN_KILL_AT")) {  // tests: "phase:step"
            std::string v = k;
            size_t colon = v.rfind(':');
            if (colon != std::string::npos) {
                ctx_.kill_phase = v.substr(0, colon);
                ctx_.kill_at_step = std::atoll(v.c_str() + colon + 1);
            }
        }
        fs::create_directories(models_dir());
        fs::create_directories(checkpoints_dir());
        settings_ = {{"model", spec_.text},       {"seed", o_.seed},         {"threads", o_.threads},
                     {"train_images", train_.count}, {"test_images", test_.count}, {"epochs", o_.epochs},
                     {"batch", o_.batch},         {"lr", o_.lr},             {"qat_epochs", o_.qat_epochs},
                     {"qat_lr", o_.qat_lr},       {"qat_from", o_.qat_from}, {"calib_images", o_.calib_images},
                     {"init", o_.init_file},      {"bits", o_.bits},         {"quantizer", o_.quantizer},
                     {"input_bits", o_.input_bits}, {"device", o_.device}};
        if (o_.resume) load_results();
    }

    int run();

private:
    std::string models_dir() const { return o_.report_dir + "/models"; }
    std::string checkpoints_dir() const { return o_.report_dir + "/checkpoints"; }
    std::string results_path() const { return o_.report_dir + "/results.json"; }

    void load_results() {
        if (!fs::exists(results_path())) return;
        std::ifstream f(results_path());
        json j;
        try {
            j = json::parse(f);
        } catch (const json::exception &e) {
            throw FileError(results_path() + ": not valid JSON (" + e.what() + ")");
        }
        if (j.value("settings", json()) != settings_) {
            throw InvalidArgument("--resume: " + results_path() +
                                  " was written by a run with other settings; use another --report directory "
                                  "or run without --resume");
        }
        for (const json &r : j.at("phases")) done_.push_back(phase_from_json(r));
    }

    void save_results() {
        json phases = json::array();
        for (const PhaseResult &r : done_) phases.push_back(to_json(r));
        json j = {{"settings", settings_},
                  {"cpu_variant", cpu_variant_name(cpu_variant())},
                  {"phases", phases}};
        write_file_atomic(results_path(), j.dump(2) + "\n");
    }

    const PhaseResult *finished(const std::string &key) const {
        for (const PhaseResult &r : done_) {
            if (r.key == key) return &r;
        }
        return nullptr;
    }

    TrainSchedule fp32_schedule() const {
        TrainSchedule s;
        s.epochs = o_.epochs;
        s.batch = o_.batch;
        s.lr = o_.lr;
        s.optimizer.kind = o_.optimizer == "adam" ? OptimizerKind::adam : OptimizerKind::sgd;
        s.optimizer.momentum = o_.momentum;
        s.optimizer.weight_decay = o_.weight_decay;
        s.seed = o_.seed;
        return s;
    }

    void fp32_phase();
    void calibrate(Network &net);
    void integer_results(const std::string &key, Network &net, PhaseResult &r);
    void quant_phases(const QuantRecipe &recipe);

    Options o_;
    ModelSpec spec_;
    Dataset train_, test_;
    TrainContext ctx_;
    json settings_;
    std::vector<PhaseResult> done_;
    std::string fp32_model_path_;
};

void Recipe::fp32_phase() {
    fp32_model_path_ = models_dir() + "/fp32.qfm";
    if (finished("fp32")) {
        std::printf("FP32: done in an earlier run (%s)\n", fp32_model_path_.c_str());
        return;
    }
    Network net(spec_, o_.seed);
    PhaseResult r;
    r.key = "fp32";
    r.label = "FP32";
    r.config = "float32";
    if (!o_.init_file.empty()) {
        std::printf("FP32: loading %s\n", o_.init_file.c_str());
        ModelFile f = load_model_file(o_.init_file);
        if (f.kind != "fp32-model") throw FileError(o_.init_file + ": holds a '" + f.kind + "', not an fp32-model");
        net.load(f, false);
    } else {
        std::printf("FP32: training %d epochs, batch %d, SGD lr %g cosine\n", o_.epochs, o_.batch, o_.lr);
        ctx_.checkpoint_path = checkpoints_dir() + "/fp32.qfm";
        r.history = train_phase("fp32", net, fp32_schedule(), ctx_);
        for (const EpochRecord &e : r.history) r.train_seconds += e.seconds;
    }
    ModelFile f;
    f.kind = "fp32-model";
    f.metadata_json = json({{"model_description", spec_.text}}).dump();
    net.save(f, false);
    save_model_file(fp32_model_path_, f);
    r.accuracy = evaluate(net, test_, EvalMode::fp32, o_.eval_batch);
    r.test_images = test_.count;
    r.model_bytes = file_size(fp32_model_path_);
    std::vector<float> logits(size_t(128) * spec_.num_classes());
    const float *img = test_.images.data();
    r.latency_b1_ms = latency_ms([&] { net.eval_fp32(img, 1, logits.data()); }, 200);
    if (test_.count >= 128) r.latency_b128_ms = latency_ms([&] { net.eval_fp32(img, 128, logits.data()); }, 20);
    std::printf("FP32: test accuracy %.2f%%\n", 100 * r.accuracy);
    done_.push_back(r);
    save_results();
}

void Recipe::calibrate(Network &net) {
    // One batch of the first calib_images training images: the observers see
    // their min/max (a moving-average observer's first batch sets its range).
    int n = static_cast<int>(std::min<int64_t>(o_.calib_images, train_.count));
    std::vector<float> logits(size_t(n) * spec_.num_classes());
    net.eval_fp32(train_.images.data(), n, logits.data(), /*calibrate_observers=*/true);
}

void Recipe::integer_results(const std::string &key, Network &net, PhaseResult &r) {
    DeviceScope on_cpu(Device::cpu);  // integer models run on the CPU's int8 kernels
    IntegerModel im = to_integer_model(net);
    std::string path = models_dir() + "/" + key + ".qfm";
    im.save(path);
    IntegerModel loaded = IntegerModel::load(path);  // what an app would run
    r.model_bytes = file_size(path);
    const int classes = spec_.num_classes(), batch = o_.eval_batch;
    std::vector<float> a(size_t(batch) * classes), b(size_t(batch) * classes);
    int64_t agree = 0, identical = 0, correct = 0;
    const int64_t per_image = test_.rows * test_.cols;
    const std::vector<FoldedStage> folded = net.fold_all();
    for (int64_t begin = 0; begin < test_.count; begin += batch) {
        int n = static_cast<int>(std::min<int64_t>(batch, test_.count - begin));
        const float *img = test_.images.data() + begin * per_image;
        net.eval_integer(folded, img, n, a.data());
        loaded.run(img, n, b.data());
        for (int i = 0; i < n; i++) {
            int pa = argmax_row(a.data() + size_t(i) * classes, classes);
            int pb = argmax_row(b.data() + size_t(i) * classes, classes);
            agree += pa == pb;
            correct += pb == test_.labels[begin + i];
            identical += std::memcmp(a.data() + size_t(i) * classes, b.data() + size_t(i) * classes,
                                     sizeof(float) * classes) == 0;
        }
    }
    r.test_images = test_.count;
    r.int_accuracy = test_.count ? double(correct) / test_.count : 0;
    r.agreement = test_.count ? double(agree) / test_.count : 0;
    r.logits_identical = identical;
    std::vector<float> logits(size_t(128) * classes);
    const float *img = test_.images.data();
    r.latency_b1_ms = latency_ms([&] { loaded.run(img, 1, logits.data()); }, 200);
    if (test_.count >= 128) r.latency_b128_ms = latency_ms([&] { loaded.run(img, 128, logits.data()); }, 30);
    std::printf("  %s: integer model %s (%lld bytes): accuracy %.2f%%, agrees with the QAT-eval forward on "
                "%lld/%lld predictions, bit-identical logits on %lld\n",
                r.label.c_str(), path.c_str(), static_cast<long long>(r.model_bytes), 100 * r.int_accuracy,
                static_cast<long long>(agree), static_cast<long long>(test_.count),
                static_cast<long long>(identical));
}

void Recipe::quant_phases(const QuantRecipe &recipe) {
    ModelFile fp32 = load_model_file(fp32_model_path_);
    const std::string ptq_key = "ptq-" + recipe.name, qat_key = "qat-" + recipe.name;
    if (!o_.no_ptq && !finished(ptq_key)) {
        // PTQ: min/max observers on the FP32 model, per-channel symmetric weights.
        Network net(spec_, o_.seed);
        net.load(fp32, false);
        std::vector<StageQuantConfig> cfg = recipe.stages;
        for (auto &c : cfg) c.weight_method = c.act_method = QuantMethod::minmax;
        net.quantize(cfg);
        PhaseResult r;
        r.key = ptq_key;
        r.label = "PTQ " + recipe.label;
        QuantRecipe shown = recipe;
        shown.stages = cfg;
        r.config = shown.describe(spec_) + "; calibrated on " + std::to_string(o_.calib_images) + " images";
        auto t0 = Clock::now();
        calibrate(net);
        net.set_observers(false);
        r.train_seconds = seconds_since(t0);
        r.accuracy = evaluate(net, test_, EvalMode::integer_exact, o_.eval_batch);
        std::printf("%s: test accuracy %.2f%% (calibration %.1fs)\n", r.label.c_str(), 100 * r.accuracy,
                    r.train_seconds);
        integer_results(ptq_key, net, r);
        done_.push_back(r);
        save_results();
    }
    if (finished(qat_key)) {
        std::printf("QAT %s: done in an earlier run\n", recipe.label.c_str());
        return;
    }
    Network net(spec_, o_.seed);
    net.load(fp32, false);
    net.quantize(recipe.stages);
    if (o_.qat_from == "ptq") calibrate(net);
    PhaseResult r;
    r.key = qat_key;
    r.label = "QAT " + recipe.label;
    r.config = recipe.describe(spec_) + "; " + std::to_string(o_.qat_epochs) + " epochs from " + o_.qat_from +
               ", lr " + std::to_string(o_.qat_lr);
    TrainSchedule s = fp32_schedule();
    s.epochs = o_.qat_epochs;
    s.lr = o_.qat_lr;
    s.warmup_epochs = o_.qat_warmup;
    s.freeze_epochs = o_.freeze_epochs;
    std::printf("%s: %s\n", r.label.c_str(), r.config.c_str());
    ctx_.checkpoint_path = checkpoints_dir() + "/" + qat_key + ".qfm";
    r.history = train_phase(qat_key, net, s, ctx_);
    for (const EpochRecord &e : r.history) r.train_seconds += e.seconds;
    net.set_fake_quant(true);
    net.set_observers(false);
    r.accuracy = evaluate(net, test_, EvalMode::integer_exact, o_.eval_batch);
    std::printf("%s: test accuracy %.2f%% (integer-exact QAT eval)\n", r.label.c_str(), 100 * r.accuracy);
    integer_results(qat_key, net, r);
    done_.push_back(r);
    save_results();
}

int Recipe::run() {
    auto t0 = Clock::now();
    std::map<std::string, BitsRule> mixed =
        o_.bits_file.empty() ? parse_bits_rules(o_.bits, "--bits") : load_bits_file(o_.bits_file);
    std::map<std::string, MethodRule> methods = parse_method_rules(o_.quantizer);
    std::vector<QuantRecipe> recipes;
    std::string list = o_.configs;
    for (size_t p = 0; p <= list.size();) {
        size_t c = list.find(',', p);
        std::string name = list.substr(p, c == std::string::npos ? std::string::npos : c - p);
        if (!name.empty()) recipes.push_back(make_recipe(name, spec_, mixed, methods, o_.input_bits));
        if (c == std::string::npos) break;
        p = c + 1;
    }
    // (All flags are checked before the first phase starts.)
    fp32_phase();
    for (const QuantRecipe &r : recipes) quant_phases(r);

    // The report, in the order of the recipe (FP32, then PTQ / QAT per configuration).
    std::vector<PhaseResult> ordered;
    auto add = [&](const std::string &key) {
        if (const PhaseResult *r = finished(key)) ordered.push_back(*r);
    };
    add("fp32");
    for (const QuantRecipe &r : recipes) {
        add("ptq-" + r.name);
        add("qat-" + r.name);
    }
    json table = json::array();
    for (const PhaseResult &r : ordered) table.push_back(to_json(r));
    write_file_atomic(o_.report_dir + "/summary.json",
                      json({{"settings", settings_}, {"cpu_variant", cpu_variant_name(cpu_variant())}, {"rows", table}})
                              .dump(2) +
                          "\n");
    write_file_atomic(o_.report_dir + "/summary.md", "# qforge-train results\n\n" + table_markdown(ordered));
    write_file_atomic(o_.report_dir + "/training.svg", training_plot_svg(ordered));
    std::printf("\n%s\n", table_text(ordered).c_str());
    std::printf("Report: %s/summary.md, summary.json, training.svg; models in %s (%.0f s in all, %d threads, %s)\n",
                o_.report_dir.c_str(), models_dir().c_str(), seconds_since(t0), o_.threads,
                cpu_variant_name(cpu_variant()));
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    Options o;
    CLI::App app{"qforge-train: quantization-aware training from FP32 to integer models on qforge's int8 kernels.\n"
                 "Runs FP32 training, then per bit-width configuration PTQ and QAT, converts each to an integer\n"
                 "model, and prints and writes the comparison table (docs/qforge-train.md)."};
    app.option_defaults()->always_capture_default();
    app.add_option("--data", o.data_dir, "directory of IDX files ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])");
    app.add_option("--model", o.model_file, "model description file (default: the built-in network)")->check(CLI::ExistingFile);
    app.add_option("--init", o.init_file, "start from this saved FP32 model instead of training one")->check(CLI::ExistingFile);
    app.add_option("--report", o.report_dir, "report directory (tables, plot, models, checkpoints)");
    app.add_option("--epochs", o.epochs, "FP32 training epochs")->check(CLI::Range(1, 1000));
    app.add_option("--batch", o.batch, "training batch size")->check(CLI::Range(1, 65536));
    app.add_option("--lr", o.lr, "FP32 learning rate (cosine-annealed per batch)")->check(CLI::PositiveNumber);
    app.add_option("--momentum", o.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999));
    app.add_option("--weight-decay", o.weight_decay, "L2 weight decay of conv / linear weights")->check(CLI::Range(0.0, 1.0));
    app.add_option("--optimizer", o.optimizer, "sgd (momentum) or adam")->check(CLI::IsMember({"sgd", "adam"}));
    app.add_option("--qat-epochs", o.qat_epochs, "QAT epochs per configuration")->check(CLI::Range(1, 1000));
    app.add_option("--qat-lr", o.qat_lr, "QAT learning rate (small: QAT fine-tunes)")->check(CLI::PositiveNumber);
    app.add_option("--qat-warmup-epochs", o.qat_warmup, "QAT epochs in FP32 before fake quantization switches on")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--freeze-epochs", o.freeze_epochs,
                   "last QAT epochs with observers disabled and BN statistics frozen")->check(CLI::NonNegativeNumber);
    app.add_option("--qat-from", o.qat_from, "QAT starts from the fp32 model (observers start empty) or the ptq one "
                                             "(observers calibrated)")->check(CLI::IsMember({"fp32", "ptq"}));
    app.add_option("--calib-images", o.calib_images, "training images PTQ calibrates on")->check(CLI::Range(1, 60000));
    app.add_option("--configs", o.configs, "bit-width configurations: wXaY (X, Y in 2..8) or mixed, comma-separated");
    app.add_option("--bits", o.bits, "per-layer bits of the 'mixed' configuration: layer=B or layer=wXaY, * = the rest "
                                     "(a layer's a-bits quantize its input activations)");
    app.add_option("--input-bits", o.input_bits,
                   "bits of the network input in the wXaY configurations (the pixels are 8-bit data; 0: the "
                   "configuration's activation bits, e.g. a 4-bit input for w4a4)")
        ->check(CLI::Range(0, 8));
    app.add_option("--bits-file", o.bits_file, "the same per-layer bits, one 'layer = bits' per line")->check(CLI::ExistingFile);
    app.add_option("--quantizer", o.quantizer, "QAT quantizer per layer: minmax (observer + STE), lsq (LSQ / LSQ+), "
                                               "multiplier (max-abs scale x learnable multiplier); layer=M or "
                                               "layer=Mweights/Mactivations");
    app.add_flag("--no-ptq", o.no_ptq, "skip the PTQ baselines");
    app.add_option("--threads", o.threads, "threads of the kernels")->check(CLI::Range(1, 256));
    app.add_option("--device", o.device, "where training runs: cpu, or cuda (the float32 training and fake-quant "
                                         "operators on the GPU; integer models still run on the CPU)")
        ->check(CLI::IsMember({"cpu", "cuda"}));
    app.add_option("--seed", o.seed, "seed of initialisation and shuffling");
    app.add_option("--train-limit", o.train_limit, "use only the first N training images (0: all)")->check(CLI::NonNegativeNumber);
    app.add_option("--test-limit", o.test_limit, "use only the first N test images (0: all)")->check(CLI::NonNegativeNumber);
    app.add_option("--eval-batch", o.eval_batch, "evaluation batch size")->check(CLI::Range(1, 65536));
    app.add_flag("--resume", o.resume, "continue an interrupted run in the same --report directory: finished phases "
                                       "are kept, the running one continues from its last epoch checkpoint");
    CLI11_PARSE(app, argc, argv);

    try {
        set_num_threads(o.threads);
        std::string device_line = "cpu";
        if (o.device == "cuda") {
            std::string why;
            if (!cuda_available(&why)) throw DeviceError("--device cuda: no CUDA device here: " + why);
            set_default_device(Device::cuda);
            device_line = "cuda (" + cuda_device_description() + ")";
        }
        ModelSpec spec = o.model_file.empty() ? parse_model_spec(default_model_text(), "(built-in)")
                                              : load_model_spec(o.model_file);
        std::printf("qforge-train: %zu stages, %d threads, x86 variant %s, device %s\n", spec.stages.size(),
                    o.threads, cpu_variant_name(cpu_variant()), device_line.c_str());
        Dataset train = load_split(o.data_dir, "train", kFashionMnistMean, kFashionMnistStd, o.train_limit);
        Dataset test = load_split(o.data_dir, "t10k", kFashionMnistMean, kFashionMnistStd, o.test_limit);
        if (train.rows != spec.in_h || train.cols != spec.in_w || spec.in_c != 1) {
            throw InvalidArgument("the data is " + std::to_string(train.rows) + "x" + std::to_string(train.cols) +
                                  "x1 but the model's input is " + std::to_string(spec.in_h) + "x" +
                                  std::to_string(spec.in_w) + "x" + std::to_string(spec.in_c));
        }
        std::printf("data: %lld training and %lld test images from %s\n", static_cast<long long>(train.count),
                    static_cast<long long>(test.count), o.data_dir.c_str());
        Recipe recipe(o, std::move(spec), std::move(train), std::move(test));
        return recipe.run();
    } catch (const qforge::Error &e) {
        std::fprintf(stderr, "qforge-train: %s\n", e.what());
        return 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "qforge-train: %s\n", e.what());
        return 1;
    }
}
