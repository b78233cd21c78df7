#include "trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "qforge/error.h"
#include "qforge/model_file.h"

namespace qforge::train {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string format_duration(double s) {
    char buf[32];
    if (s >= 60) {
        std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%.0fs", s);
    }
    return buf;
}

// One epoch's progress: a redrawn bar on a terminal, a few plain lines otherwise.
class Progress {
public:
    Progress(bool tty, std::string label, int64_t steps) : tty_(tty), label_(std::move(label)), steps_(steps) {}

    void update(int64_t step, int64_t images, double loss, double elapsed) {
        double rate = elapsed > 0 ? images / elapsed : 0;
        double eta = step > 0 ? elapsed * double(steps_ - step) / double(step) : 0;
        if (tty_) {
            const int width = 28;
            int filled = static_cast<int>(width * step / std::max<int64_t>(steps_, 1));
            std::string bar(filled, '#');
            bar.resize(width, '.');
            std::printf("\r  %-18s [%s] %3d%%  %6.0f img/s  loss %.4f  ETA %-6s", label_.c_str(), bar.c_str(),
                        static_cast<int>(100 * step / std::max<int64_t>(steps_, 1)), rate, loss,
                        format_duration(eta).c_str());
            std::fflush(stdout);
        } else {
            // Plain output: a line at each quarter of the epoch.
            int quarter = static_cast<int>(4 * step / std::max<int64_t>(steps_, 1));
            if (quarter > last_quarter_ && step < steps_) {
                last_quarter_ = quarter;
                std::printf("  %s: %lld/%lld batches, %.0f img/s, loss %.4f, ETA %s\n", label_.c_str(),
                            static_cast<long long>(step), static_cast<long long>(steps_), rate, loss,
                            format_duration(eta).c_str());
                std::fflush(stdout);
            }
        }
    }

    void finish(const std::string &line) {
        if (tty_) std::printf("\r\033[K");
        std::printf("  %s\n", line.c_str());
        std::fflush(stdout);
    }

private:
    bool tty_;
    std::string label_;
    int64_t steps_;
    int last_quarter_ = 0;
};

json schedule_json(const std::string &name, const TrainSchedule &s, int64_t train_count) {
    return {{"phase", name},          {"epochs", s.epochs},          {"batch", s.batch},
            {"lr", s.lr},             {"seed", s.seed},              {"warmup_epochs", s.warmup_epochs},
            {"freeze_epochs", s.freeze_epochs}, {"optimizer", s.optimizer.kind == OptimizerKind::sgd ? "sgd" : "adam"},
            {"train_images", train_count}};
}

json history_json(const std::vector<EpochRecord> &h) {
    json a = json::array();
    for (const EpochRecord &r : h) {
        a.push_back({{"epoch", r.epoch},
                     {"train_loss", r.train_loss},
                     {"train_accuracy", r.train_accuracy},
                     {"test_accuracy", r.test_accuracy},
                     {"seconds", r.seconds}});
    }
    return a;
}

std::vector<EpochRecord> history_from(const json &a) {
    std::vector<EpochRecord> h;
    for (const json &r : a) {
        EpochRecord e;
        e.epoch = r.at("epoch").get<int>();
        e.train_loss = r.at("train_loss").get<double>();
        e.train_accuracy = r.at("train_accuracy").get<double>();
        e.test_accuracy = r.at("test_accuracy").get<double>();
        e.seconds = r.at("seconds").get<double>();
        h.push_back(e);
    }
    return h;
}

}  // namespace

double evaluate(Network &net, const Dataset &d, EvalMode mode, int batch, std::vector<int> *predictions) {
    const int classes = d.num_classes;
    std::vector<float> logits(size_t(batch) * classes);
    const int64_t per_image = d.rows * d.cols;
    int64_t correct = 0;
    if (predictions) predictions->assign(d.count, -1);
    // Integer-exact: fold once for the whole evaluation, not per batch.
    const std::vector<FoldedStage> folded = mode == EvalMode::integer_exact ? net.fold_all() : std::vector<FoldedStage>{};
    for (int64_t begin = 0; begin < d.count; begin += batch) {
        int n = static_cast<int>(std::min<int64_t>(batch, d.count - begin));
        const float *images = d.images.data() + begin * per_image;
        if (mode == EvalMode::fp32) {
            net.eval_fp32(images, n, logits.data());
        } else {
            net.eval_integer(folded, images, n, logits.data());
        }
        for (int b = 0; b < n; b++) {
            int p = argmax_row(logits.data() + size_t(b) * classes, classes);
            correct += p == d.labels[begin + b];
            if (predictions) (*predictions)[begin + b] = p;
        }
    }
    return d.count ? double(correct) / double(d.count) : 0.0;
}

std::vector<EpochRecord> train_phase(const std::string &name, Network &net, const TrainSchedule &schedule,
                                     const TrainContext &ctx) {
    const Dataset &data = *ctx.train;
    const int batch = schedule.batch;
    const int64_t steps_per_epoch = (data.count + batch - 1) / batch;
    const int64_t total_steps = steps_per_epoch * schedule.epochs;
    const json expected = schedule_json(name, schedule, data.count);

    std::vector<EpochRecord> history;
    int start_epoch = 0;
    if (ctx.resume && !ctx.checkpoint_path.empty() && std::filesystem::exists(ctx.checkpoint_path)) {
        ModelFile f = load_model_file(ctx.checkpoint_path);
        json meta = json::parse(f.metadata_json);
        if (f.kind != "checkpoint" || meta.value("schedule", json()) != expected) {
            throw InvalidArgument("checkpoint " + ctx.checkpoint_path + " was written by a run with other settings (" +
                                  meta.value("schedule", json()).dump() + ", this run: " + expected.dump() +
                                  "): remove it or run without --resume");
        }
        net.load(f, true);
        history = history_from(meta.at("history"));
        start_epoch = meta.at("epochs_done").get<int>();
        std::printf("  %s: resumed after epoch %d from %s\n", name.c_str(), start_epoch, ctx.checkpoint_path.c_str());
    }

    std::vector<float> images(size_t(batch) * data.rows * data.cols);
    std::vector<int32_t> labels(batch);
    std::vector<Param *> params = net.parameters();
    for (int epoch = start_epoch; epoch < schedule.epochs; epoch++) {
        if (net.quantized()) {
            bool frozen = epoch >= schedule.epochs - schedule.freeze_epochs;
            net.set_fake_quant(epoch >= schedule.warmup_epochs);
            net.set_observers(!frozen);
            net.set_bn_frozen(frozen);
        }
        std::vector<int64_t> order = epoch_order(data.count, schedule.seed, epoch);
        char label[64];
        std::snprintf(label, sizeof label, "%s %d/%d", name.c_str(), epoch + 1, schedule.epochs);
        Progress progress(ctx.progress_tty, label, steps_per_epoch);
        auto t0 = Clock::now();
        double loss_sum = 0;
        int64_t correct_sum = 0, seen = 0;
        for (int64_t step = 0; step < steps_per_epoch; step++) {
            const int64_t global_step = int64_t(epoch) * steps_per_epoch + step;
            if (global_step == ctx.kill_at_step && name == ctx.kill_phase) std::raise(SIGKILL);
            int n = static_cast<int>(std::min<int64_t>(batch, data.count - step * batch));
            gather_batch(data, order, step * batch, n, images.data(), labels.data());
            int correct = 0;
            float loss = net.train_step(images.data(), labels.data(), n, &correct);
            if (!std::isfinite(loss)) {
                throw Error(name + ": the loss became " + std::to_string(loss) + " at epoch " +
                            std::to_string(epoch + 1) + ", batch " + std::to_string(step + 1) +
                            " (learning rate too high?)");
            }
            optimizer_step(params, schedule.optimizer, cosine_lr(schedule.lr, global_step, total_steps), global_step);
            net.after_optimizer_step();
            loss_sum += double(loss) * n;
            correct_sum += correct;
            seen += n;
            progress.update(step + 1, seen, loss_sum / seen, seconds_since(t0));
        }
        EpochRecord r;
        r.epoch = epoch + 1;
        r.seconds = seconds_since(t0);
        r.train_loss = loss_sum / std::max<int64_t>(seen, 1);
        r.train_accuracy = double(correct_sum) / std::max<int64_t>(seen, 1);
        r.test_accuracy = evaluate(net, *ctx.test, net.quantized() && net.fake_quant() ? EvalMode::integer_exact
                                                                                       : EvalMode::fp32,
                                   ctx.eval_batch);
        history.push_back(r);
        char line[200];
        std::snprintf(line, sizeof line, "%s: loss %.4f, train %.2f%%, test %.2f%%, %.1fs (%.0f img/s)", label,
                      r.train_loss, 100 * r.train_accuracy, 100 * r.test_accuracy, r.seconds, seen / r.seconds);
        progress.finish(line);
        if (!ctx.checkpoint_path.empty()) {
            ModelFile f;
            f.kind = "checkpoint";
            net.save(f, true);
            json meta = {{"schedule", expected}, {"epochs_done", epoch + 1}, {"history", history_json(history)}};
            f.metadata_json = meta.dump();
            save_model_file(ctx.checkpoint_path, f);
        }
    }
    return history;
}

}  // namespace qforge::train
