#include "qforge/model_spec.h"

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "qforge/error.h"
#include "qforge/model_file.h"

namespace qforge {

int StageSpec::pooled_h() const { return out_h >> pools; }
int StageSpec::pooled_w() const { return out_w >> pools; }

const char *default_model_text() {
    return "# qforge-train's default network (Fashion-MNIST, 28x28x1)\n"
           "input 28 28 1\n"
           "conv conv1 out=16 kernel=5 pad=2\n"
           "bn\n"
           "relu\n"
           "maxpool\n"
           "conv conv2 out=32 kernel=5 pad=2\n"
           "bn\n"
           "relu\n"
           "maxpool\n"
           "flatten\n"
           "linear fc1 out=128\n"
           "relu\n"
           "linear fc2 out=10\n";
}

namespace {

struct LineError {
    std::string origin;
    int line;
    [[noreturn]] void fail(const std::string &what) const {
        throw InvalidArgument("model description " + origin + ", line " + std::to_string(line) + ": " + what);
    }
};

int parse_int(const LineError &where, const std::string &key, const std::string &value, int lo, int hi) {
    size_t used = 0;
    long v = 0;
    try {
        v = std::stol(value, &used);
    } catch (const std::exception &) {
        used = 0;
    }
    if (used != value.size() || value.empty()) where.fail(key + "=" + value + " is not an integer");
    if (v < lo || v > hi) {
        where.fail(key + "=" + value + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return static_cast<int>(v);
}

}  // namespace

ModelSpec parse_model_spec(const std::string &text, const std::string &origin) {
    ModelSpec spec;
    spec.text = text;
    std::istringstream in(text);
    std::string raw;
    int line_no = 0;
    bool have_input = false, flattened = false;
    int h = 0, w = 0, c = 0;  // current activation shape
    std::map<std::string, int> names;
    auto current = [&]() -> StageSpec * { return spec.stages.empty() ? nullptr : &spec.stages.back(); };
    // What may follow the last layer: 0 weight layer, 1 after bn, 2 after relu, 3 after maxpool/flatten.
    int position = 3;
    while (std::getline(in, raw)) {
        line_no++;
        LineError where{origin, line_no};
        std::string line = raw.substr(0, raw.find('#'));
        std::istringstream words(line);
        std::string op;
        if (!(words >> op)) continue;
        std::vector<std::string> args;
        for (std::string a; words >> a;) args.push_back(a);
        if (op == "input") {
            if (have_input) where.fail("a second 'input' line");
            if (!spec.stages.empty()) where.fail("'input' must come before the layers");
            if (args.size() != 3) where.fail("'input' takes H W C");
            h = spec.in_h = parse_int(where, "H", args[0], 1, 4096);
            w = spec.in_w = parse_int(where, "W", args[1], 1, 4096);
            c = spec.in_c = parse_int(where, "C", args[2], 1, 4096);
            have_input = true;
            continue;
        }
        if (!have_input) where.fail("the description must start with 'input H W C'");
        if (op == "conv" || op == "dwconv" || op == "linear") {
            if (args.empty() || args[0].find('=') != std::string::npos) where.fail("'" + op + "' needs a name first");
            StageSpec s;
            s.name = args[0];
            if (names.count(s.name)) where.fail("layer name '" + s.name + "' is used twice");
            for (char ch : s.name) {
                if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) {
                    where.fail("layer name '" + s.name + "' must be letters, digits and _");
                }
            }
            names[s.name] = line_no;
            std::map<std::string, std::string> kv;
            for (size_t i = 1; i < args.size(); i++) {
                size_t eq = args[i].find('=');
                if (eq == std::string::npos || eq == 0) where.fail("expected key=value, got '" + args[i] + "'");
                std::string key = args[i].substr(0, eq);
                if (kv.count(key)) where.fail("'" + key + "' given twice");
                kv[key] = args[i].substr(eq + 1);
            }
            auto take = [&](const std::string &key, int def, int lo, int hi) {
                auto it = kv.find(key);
                if (it == kv.end()) return def;
                int v = parse_int(where, key, it->second, lo, hi);
                kv.erase(it);
                return v;
            };
            s.in_h = h;
            s.in_w = w;
            s.in_c = c;
            if (op == "linear") {
                if (!flattened && (h != 1 || w != 1)) where.fail("'linear' needs 'flatten' before it");
                s.kind = LayerKind::linear;
                s.in_h = s.in_w = 1;
                s.in_c = h * w * c;
                s.out_c = take("out", -1, 1, 1 << 20);
                if (s.out_c < 0) where.fail("'linear' needs out=N");
                s.out_h = s.out_w = 1;
            } else {
                if (flattened) where.fail("'" + op + "' after 'flatten'");
                s.kind = LayerKind::conv;
                int k = take("kernel", -1, 1, 64);
                if (k < 0) where.fail("'" + op + "' needs kernel=K");
                s.kernel_h = s.kernel_w = k;
                int pad = take("pad", 0, 0, 64), stride = take("stride", 1, 1, 64), dil = take("dilation", 1, 1, 64);
                auto &g = s.geometry;
                g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = pad;
                g.stride_h = g.stride_w = stride;
                g.dilation_h = g.dilation_w = dil;
                if (op == "dwconv") {
                    g.groups = c;
                    s.out_c = take("out", c, c, c);
                } else {
                    g.groups = take("groups", 1, 1, 1 << 16);
                    s.out_c = take("out", -1, 1, 1 << 16);
                    if (s.out_c < 0) where.fail("'conv' needs out=N");
                    if (c % g.groups || s.out_c % g.groups) {
                        where.fail("groups=" + std::to_string(g.groups) + " must divide the input (" +
                                   std::to_string(c) + ") and output (" + std::to_string(s.out_c) + ") channels");
                    }
                }
                int eff = dil * (k - 1) + 1;
                if (h + 2 * pad < eff || w + 2 * pad < eff) {
                    where.fail("kernel " + std::to_string(k) + " (dilation " + std::to_string(dil) +
                               ") does not fit the " + std::to_string(h) + "x" + std::to_string(w) +
                               " input with pad " + std::to_string(pad));
                }
                s.out_h = (h + 2 * pad - eff) / stride + 1;
                s.out_w = (w + 2 * pad - eff) / stride + 1;
            }
            if (!kv.empty()) where.fail("unknown option '" + kv.begin()->first + "' for '" + op + "'");
            spec.stages.push_back(s);
            h = s.out_h;
            w = s.out_w;
            c = s.out_c;
            position = 0;
            continue;
        }
        if (!args.empty()) where.fail("'" + op + "' takes no arguments");
        StageSpec *s = current();
        if (op == "bn") {
            if (!s || position != 0 || s->kind != LayerKind::conv) where.fail("'bn' must directly follow a conv");
            s->batch_norm = true;
            position = 1;
        } else if (op == "relu") {
            if (!s || position > 1) where.fail("'relu' must follow a conv, linear or bn");
            s->relu = true;
            position = 2;
        } else if (op == "maxpool") {
            if (!s || flattened) where.fail("'maxpool' must follow a conv stage");
            if (h < 2 || w < 2) where.fail("'maxpool' needs at least a 2x2 input");
            s->pools++;
            h /= 2;
            w /= 2;
            position = 3;
        } else if (op == "flatten") {
            if (flattened) where.fail("a second 'flatten'");
            flattened = true;
            c = h * w * c;
            h = w = 1;
            position = 3;
        } else {
            where.fail("unknown layer '" + op + "' (conv, dwconv, bn, relu, maxpool, flatten, linear)");
        }
    }
    LineError end{origin, line_no};
    if (!have_input) end.fail("no 'input H W C' line");
    if (spec.stages.empty() || spec.stages.back().kind != LayerKind::linear) {
        end.fail("the last layer must be a linear (its outputs are the logits)");
    }
    const StageSpec &last = spec.stages.back();
    if (last.relu || last.pools) end.fail("the last linear gives the logits: no relu or maxpool after it");
    if (last.out_c < 2) end.fail("the last linear needs at least 2 outputs (classes)");
    return spec;
}

ModelSpec load_model_spec(const std::string &path) {
    std::ifstream f(path);
    if (!f) throw FileError("model description " + path + ": cannot open it");
    std::stringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw FileError("model description " + path + ": read error");
    return parse_model_spec(ss.str(), path);
}

}  // namespace qforge
