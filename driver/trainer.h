// Training phases of qforge-train: the epoch loop (seeded shuffling, cosine
// learning rate, progress display, a checkpoint after every epoch and
// --resume from it), evaluation, and the per-phase results the report shows.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataset.h"
#include "network.h"
#include "params.h"

namespace qforge::train {

struct EpochRecord {
    int epoch = 0;             // 1-based
    double train_loss = 0;     // mean over the epoch's batches
    double train_accuracy = 0;
    double test_accuracy = 0;  // FP32 eval, or the integer-exact QAT eval
    double seconds = 0;        // training time of the epoch (no evaluation)
};

struct TrainSchedule {
    int epochs = 1;
    int batch = 128;
    float lr = 0.05f;
    OptimizerOptions optimizer;
    // QAT only: epochs before fake quantization switches on, and how many
    // final epochs run with observers disabled and BN statistics frozen.
    int warmup_epochs = 0;
    int freeze_epochs = 0;
    uint64_t seed = 1;
};

struct TrainContext {
    const Dataset *train = nullptr;
    const Dataset *test = nullptr;
    int eval_batch = 500;
    bool progress_tty = false;   // redraw a progress bar, else plain lines
    std::string checkpoint_path;  // written after every epoch ("" = none)
    bool resume = false;          // continue from checkpoint_path if it exists
    // Test hook (QFORGE_TRAIN_KILL_AT=phase:step): SIGKILL self before global step
    // `kill_at_step` of phase `kill_phase`, as a crash or kill -9 would.
    std::string kill_phase;
    int64_t kill_at_step = -1;
};

// Runs the phase `name` and returns its per-epoch records (those before a
// resume come from the checkpoint).
std::vector<EpochRecord> train_phase(const std::string &name, Network &net, const TrainSchedule &schedule,
                                     const TrainContext &ctx);

enum class EvalMode { fp32, integer_exact };
// Test accuracy (0..1) of the network; predictions optional.
double evaluate(Network &net, const Dataset &d, EvalMode mode, int batch, std::vector<int> *predictions = nullptr);

}  // namespace qforge::train
