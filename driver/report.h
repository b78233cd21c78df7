// qforge-train's results: one record per phase (FP32, PTQ and QAT per
// bit-width configuration), persisted in <report>/results.json after every
// phase (so --resume can skip finished phases), and rendered as the final
// table (terminal, markdown, JSON) and a loss / accuracy plot (SVG).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer.h"

namespace qforge::train {

struct PhaseResult {
    std::string key;     // "fp32", "ptq-w4a4", "qat-mixed"
    std::string label;   // "QAT W4A4"
    std::string config;  // the per-layer bits and methods, readable
    double accuracy = 0;          // FP32 eval, or the integer-exact QAT / PTQ eval
    double int_accuracy = -1;     // the converted integer model (-1: none)
    double agreement = -1;        // fraction of test predictions equal between the two
    int64_t logits_identical = -1;  // test images whose logits are bit-identical
    int64_t test_images = 0;
    int64_t model_bytes = 0;      // the model file (integer model: weights at their bit width)
    double latency_b1_ms = -1, latency_b128_ms = -1;  // median inference latency
    double train_seconds = 0;     // training (FP32, QAT) or calibration (PTQ)
    std::vector<EpochRecord> history;
};

nlohmann::json to_json(const PhaseResult &r);
PhaseResult phase_from_json(const nlohmann::json &j);

// Writes text to path atomically (temp file in the same directory + rename).
void write_file_atomic(const std::string &path, const std::string &text);

std::string table_text(const std::vector<PhaseResult> &results);       // for the terminal
std::string table_markdown(const std::vector<PhaseResult> &results);
std::string training_plot_svg(const std::vector<PhaseResult> &results);  // loss and test accuracy per epoch

}  // namespace qforge::train
