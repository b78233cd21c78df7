// The QAT recipe's configuration: per-layer bit widths and quantizer methods
// parsed from --bits / --bits-file / --quantizer, and the named bit-width
// configurations (w8a8, w4a4, ..., mixed) the recipe runs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "qforge/model_spec.h"
#include "network.h"

namespace qforge::train {

// "conv1=8,fc2=w8a4,*=4": per-layer weight / activation bits; "*" is the default.
struct BitsRule {
    int weight_bits = 8, act_bits = 8;
};
std::map<std::string, BitsRule> parse_bits_rules(const std::string &text, const std::string &origin);
// The same entries, one per line ("conv1 = 8", "# comments").
std::map<std::string, BitsRule> load_bits_file(const std::string &path);

// "conv1=lsq,*=minmax" or "fc1=lsq/minmax" (weights / activations).
struct MethodRule {
    QuantMethod weight = QuantMethod::minmax, act = QuantMethod::minmax;
};
std::map<std::string, MethodRule> parse_method_rules(const std::string &text);

// A named configuration: "wXaY" (every layer) or "mixed" (the --bits rules).
// input_bits (2..8, or 0: the configuration's a-bits) quantizes the network
// input of the wXaY configurations: the input is data (8-bit pixels), not an
// activation, and qforge-train keeps it at 8 bits by default
// (docs/qforge-train.md); "mixed" takes conv1's a-bits from --bits.
struct QuantRecipe {
    std::string name;   // "w4a4", "mixed"
    std::string label;  // "W4A4", "mixed"
    std::vector<StageQuantConfig> stages;
    std::string describe(const ModelSpec &spec) const;
};
QuantRecipe make_recipe(const std::string &name, const ModelSpec &spec, const std::map<std::string, BitsRule> &mixed,
                        const std::map<std::string, MethodRule> &methods, int input_bits = 0);

}  // namespace qforge::train
