#include "recipe.h"

#include <fstream>
#include <regex>
#include <sstream>

#include "qforge/error.h"
#include "qforge/model_file.h"

namespace qforge::train {

namespace {

std::vector<std::string> split(const std::string &s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep)) out.push_back(cur);
    return out;
}

std::string trim(const std::string &s) {
    size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

int parse_bits(const std::string &v, const std::string &where) {
    if (v.size() != 1 || v[0] < '2' || v[0] > '8') {
        throw InvalidArgument(where + ": bit width '" + v + "' must be 2..8");
    }
    return v[0] - '0';
}

BitsRule parse_bits_value(const std::string &v, const std::string &where) {
    static const std::regex wa("w([0-9]+)a([0-9]+)");
    std::smatch m;
    if (std::regex_match(v, m, wa)) return {parse_bits(m[1], where), parse_bits(m[2], where)};
    int b = parse_bits(v, where);
    return {b, b};
}

}  // namespace

std::map<std::string, BitsRule> parse_bits_rules(const std::string &text, const std::string &origin) {
    std::map<std::string, BitsRule> rules;
    for (const std::string &raw : split(text, ',')) {
        std::string entry = trim(raw);
        if (entry.empty()) continue;
        size_t eq = entry.find('=');
        if (eq == std::string::npos) {
            throw InvalidArgument(origin + ": '" + entry + "' is not layer=bits (e.g. conv1=8, fc1=w4a8, *=4)");
        }
        std::string layer = trim(entry.substr(0, eq));
        if (layer.empty()) throw InvalidArgument(origin + ": '" + entry + "' has no layer name");
        if (rules.count(layer)) throw InvalidArgument(origin + ": layer '" + layer + "' is given twice");
        rules[layer] = parse_bits_value(trim(entry.substr(eq + 1)), origin + " (" + layer + ")");
    }
    return rules;
}

std::map<std::string, BitsRule> load_bits_file(const std::string &path) {
    std::ifstream f(path);
    if (!f) throw FileError("bits file " + path + ": cannot open it");
    std::string line, joined;
    while (std::getline(f, line)) {
        line = trim(line.substr(0, line.find('#')));
        if (!line.empty()) joined += line + ",";
    }
    return parse_bits_rules(joined, "bits file " + path);
}

std::map<std::string, MethodRule> parse_method_rules(const std::string &text) {
    std::map<std::string, MethodRule> rules;
    for (const std::string &raw : split(text, ',')) {
        std::string entry = trim(raw);
        if (entry.empty()) continue;
        size_t eq = entry.find('=');
        if (eq == std::string::npos) {
            throw InvalidArgument("--quantizer: '" + entry + "' is not layer=method (e.g. *=lsq, conv1=minmax/lsq)");
        }
        std::string layer = trim(entry.substr(0, eq)), v = trim(entry.substr(eq + 1));
        if (rules.count(layer)) throw InvalidArgument("--quantizer: layer '" + layer + "' is given twice");
        size_t slash = v.find('/');
        MethodRule r;
        r.weight = parse_quant_method(v.substr(0, slash));
        r.act = slash == std::string::npos ? r.weight : parse_quant_method(v.substr(slash + 1));
        rules[layer] = r;
    }
    return rules;
}

namespace {

template<typename Rule>
Rule rule_for(const std::map<std::string, Rule> &rules, const std::string &layer, const Rule &fallback) {
    auto it = rules.find(layer);
    if (it != rules.end()) return it->second;
    it = rules.find("*");
    return it != rules.end() ? it->second : fallback;
}

template<typename Rule> void check_layers(const std::map<std::string, Rule> &rules, const ModelSpec &spec, const char *what) {
    for (const auto &[layer, rule] : rules) {
        if (layer == "*") continue;
        bool found = false;
        for (const StageSpec &s : spec.stages) found |= s.name == layer;
        if (!found) {
            std::string names;
            for (const StageSpec &s : spec.stages) names += (names.empty() ? "" : ", ") + s.name;
            throw InvalidArgument(std::string(what) + ": the model has no layer '" + layer + "' (layers: " + names + ")");
        }
    }
}

}  // namespace

QuantRecipe make_recipe(const std::string &name, const ModelSpec &spec, const std::map<std::string, BitsRule> &mixed,
                        const std::map<std::string, MethodRule> &methods, int input_bits) {
    if (input_bits != 0 && (input_bits < 2 || input_bits > 8)) {
        throw InvalidArgument("--input-bits must be 2..8 (or 0: the configuration's activation bits), got " +
                              std::to_string(input_bits));
    }
    check_layers(methods, spec, "--quantizer");
    QuantRecipe r;
    r.name = name;
    std::map<std::string, BitsRule> bits;
    static const std::regex wa("w([2-8])a([2-8])");
    std::smatch m;
    if (name == "mixed") {
        check_layers(mixed, spec, "--bits");
        bits = mixed;
        r.label = "mixed";
    } else if (std::regex_match(name, m, wa)) {
        bits["*"] = {std::stoi(m[1]), std::stoi(m[2])};
        r.label = "W" + std::string(m[1]) + "A" + std::string(m[2]);
    } else {
        throw InvalidArgument("--configs: '" + name + "' is not wXaY (X, Y in 2..8) or 'mixed'");
    }
    for (const StageSpec &s : spec.stages) {
        BitsRule b = rule_for(bits, s.name, BitsRule{8, 8});
        MethodRule mr = rule_for(methods, s.name, MethodRule{});
        r.stages.push_back({b.weight_bits, b.act_bits, mr.weight, mr.act});
    }
    // The first stage's a-bits quantize the network input.
    if (name != "mixed" && input_bits != 0 && !r.stages.empty()) r.stages[0].act_bits = input_bits;
    return r;
}

std::string QuantRecipe::describe(const ModelSpec &spec) const {
    std::string out;
    for (size_t i = 0; i < stages.size(); i++) {
        const StageQuantConfig &c = stages[i];
        out += (i ? ", " : "") + spec.stages[i].name + " w" + std::to_string(c.weight_bits) + "a" +
               std::to_string(c.act_bits);
        if (c.weight_method != QuantMethod::minmax || c.act_method != QuantMethod::minmax) {
            out += std::string(" (") + quant_method_name(c.weight_method) + "/" + quant_method_name(c.act_method) + ")";
        }
    }
    return out;
}

}  // namespace qforge::train
