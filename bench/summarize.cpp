// qforge-bench-summary: Google Benchmark JSON files -> comparison table + summary.json.
//
//   qforge-bench-summary [--out PATH] [--goal OP,SHAPE,THREADS,MIN]... FILE.json...
//
// Reads the files the benchmarks wrote with --benchmark_out_format=json, pairs
// every measurement with its baseline, prints an aligned table to stdout and
// writes PATH (default: <build>/bench/summary.json) atomically (temporary
// file + rename). Each --goal prints one line "met" / "NOT met" / "not
// measured" for the row (OP, SHAPE, THREADS): met when ratio >= MIN.
// Exit status: 0; 1 on bad usage, unreadable or invalid input, or a failed
// write; 2 when some benchmark reported an error (everything else is still
// summarised and written).
//
// ---- The label convention -------------------------------------------------
// The summary never parses benchmark names. A benchmark row takes part when
// its label (state.SetLabel) is a list of space-separated key=value pairs:
//
//   op=<name>              required; what was measured ("lsq_bwd", "copy", "gemm_s8")
//   shape=<text>           required, no spaces; with op and threads it identifies
//                          the row ("per_tensor[16777216]", "bytes:134217728",
//                          "m512n512k512")
//   threads=<int>          default: the JSON "threads" field (1)
//   unit=<unit>            default GB/s. Where the value comes from:
//                            a user counter named "value", if the row has one (any unit);
//                            else GB/s -> bytes_per_second / 1e9 (state.SetBytesProcessed),
//                                 GOPS or GFLOPS -> items_per_second / 1e9 (SetItemsProcessed
//                                 counting operations)
//   baseline=<op>          optional: the op of the row to compare with ("copy",
//                          "onednn"). Its row is (baseline, baseline_shape,
//                          baseline_threads) with the same unit; baseline_shape
//                          and baseline_threads default to this row's own.
//                          A user counter "baseline_value" (same unit) gives the
//                          baseline's value directly instead: a baseline the
//                          benchmark measured itself, interleaved with the row
//                          (bench_quant's copies), or one that is not measured
//                          at all (e.g. baseline=vnni_peak). The row above is
//                          then still looked up, for "baseline_row" only.
//   peak=<op>              optional: a second denominator, e.g. the machine's peak
//                          ("vnni_peak"): like baseline, with peak_shape and
//                          peak_threads, and a user counter "peak_value" (same unit)
//                          that gives its value directly. The row then also gets
//                          "peak_ratio" = value / peak value.
//   (counters cpu_util and baseline_cpu_util, optional: process CPU time / wall
//   time of the row's own work and of its interleaved baseline; a row with
//   threads > 1 where either is below 0.8 * threads gets a note)
//   scheme=<text>          optional, shown in the table ("per_tensor", "per_channel")
//   elements=<int>         optional, shown in the table (problem size)
//
// Rows without a baseline are reference rows (e.g. copy, memcpy): listed in
// their own table section and in summary.json with null baseline and ratio.
// Rows without a label (or without op/shape) are ignored, with a note.
//
// With repetitions, the JSON holds aggregates: the "median" aggregate is the
// value and the "cv" aggregate (if present) the noise, shown as ±%. Without
// aggregates the median of the iteration rows is used.
//
// ---- summary.json -------------------------------------------------------------
// An array, one object per measured row, in the order the benchmarks ran:
//   {"op", "shape", "threads", "value", "unit",
//    "baseline"        baseline op name or null,
//    "baseline_row"    the run name of the baseline's own row, or null if there is none,
//    "baseline_value"  the baseline's value in unit, or null,
//    "ratio"           value / baseline_value, or null,
//    "name"            the benchmark's run name,
//    "cv"              relative standard deviation over repetitions, or null,
//    "scheme", "elements"  when the label has them,
//    "peak", "peak_row", "peak_value", "peak_ratio"  when the label has peak=}
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

#ifndef QF_BENCH_DEFAULT_SUMMARY
#define QF_BENCH_DEFAULT_SUMMARY "build/bench/summary.json"
#endif

struct InputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Measurement {
    std::string file, name;
    std::string op, shape, unit, scheme;
    int threads = 1;
    std::optional<int64_t> elements;
    std::optional<std::string> baseline, baseline_shape;
    std::optional<int> baseline_threads;
    std::optional<double> baseline_value_given;
    std::optional<std::string> peak, peak_shape;
    std::optional<int> peak_threads;
    std::optional<double> peak_value_given;
    std::optional<double> cpu_util, baseline_cpu_util;  // counters, if the row has them
    std::vector<double> samples;       // iteration rows
    std::optional<double> median_agg;  // "median" aggregate
    std::optional<double> cv;          // "cv" aggregate (fraction)

    // Resolved.
    double value = NAN;
    const Measurement *baseline_row = nullptr;
    std::optional<double> baseline_value, ratio;
    const Measurement *peak_row = nullptr;
    std::optional<double> peak_value, peak_ratio;
};

struct Goal {
    std::string op, shape, spec;
    int threads = 1;
    double min = 0;
};

std::map<std::string, std::string> parse_label(const std::string &label) {
    std::map<std::string, std::string> kv;
    std::istringstream in(label);
    std::string tok;
    while (in >> tok) {
        auto eq = tok.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        kv[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
    return kv;
}

int64_t parse_int(const std::string &s, const std::string &what) {
    try {
        size_t pos = 0;
        long long v = std::stoll(s, &pos);
        if (pos == s.size()) return v;
    } catch (const std::exception &) {
    }
    throw InputError(what + ": '" + s + "' is not an integer");
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::optional<double> number_field(const json &row, const char *key) {
    auto it = row.find(key);
    if (it == row.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

// Which field of a row holds its value in `unit`, and the factor to `unit`
// (see the convention above).
std::pair<const char *, double> value_field(const json &row, const std::string &unit) {
    if (row.contains("value")) return {"value", 1.0};
    if (unit == "GB/s") return {"bytes_per_second", 1e-9};
    if (unit == "GOPS" || unit == "GFLOPS") return {"items_per_second", 1e-9};
    return {"value", 1.0};
}

std::optional<double> value_of(const json &row, const std::string &unit) {
    auto [field, factor] = value_field(row, unit);
    if (auto v = number_field(row, field)) return *v * factor;
    return std::nullopt;
}

// A "cv" aggregate holds the relative spread itself (a fraction) in that field.
std::optional<double> cv_of(const json &row, const std::string &unit) {
    return number_field(row, value_field(row, unit).first);
}

struct Input {
    std::vector<Measurement> rows;  // in first-seen order
    std::vector<std::string> errors, notes;
    std::vector<std::string> contexts;
};

// Google Benchmark writes non-finite doubles as bare NaN / Infinity (with an
// optional minus), which is not JSON: e.g. the "cv" aggregate of a counter
// that is 0 in every repetition (0/0). Outside strings they become null
// (number_field() then skips them).
std::string null_non_finite(const std::string &text) {
    static const char *const tokens[] = {"-Infinity", "Infinity", "-NaN", "NaN"};
    std::string out;
    out.reserve(text.size());
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < text.size()) {
                out += text[++i];
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
            out += c;
            continue;
        }
        bool replaced = false;
        for (const char *t : tokens) {
            const size_t n = std::char_traits<char>::length(t);
            if (text.compare(i, n, t) == 0) {
                out += "null";
                i += n - 1;
                replaced = true;
                break;
            }
        }
        if (!replaced) out += c;
    }
    return out;
}

void read_file(const std::string &path, Input &in, std::map<std::string, size_t> &index) {
    std::ifstream f(path);
    if (!f) throw InputError(path + ": cannot open file");
    std::stringstream text;
    text << f.rdbuf();
    json doc;
    try {
        doc = json::parse(null_non_finite(text.str()));
    } catch (const json::parse_error &e) {
        throw InputError(path + ": invalid JSON: " + e.what());
    }
    if (!doc.is_object() || !doc.contains("benchmarks") || !doc["benchmarks"].is_array()) {
        throw InputError(path + ": not Google Benchmark JSON output (no \"benchmarks\" array)");
    }
    if (auto ctx = doc.find("context"); ctx != doc.end() && ctx->is_object()) {
        std::string c = std::filesystem::path(path).filename().string() + ":";
        for (const char *k : {"host_name", "num_cpus", "mhz_per_cpu", "qforge_bench_isa", "qforge_cpu_variant",
                              "onednn_version", "onednn_isa", "date"}) {
            if (auto it = ctx->find(k); it != ctx->end()) {
                c += std::string(" ") + k + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
            }
        }
        in.contexts.push_back(c);
    }
    size_t unlabelled = 0;
    for (const json &row : doc["benchmarks"]) {
        if (!row.is_object()) throw InputError(path + ": a \"benchmarks\" entry is not an object");
        const std::string name = row.value("name", std::string("?"));
        const std::string run_name = row.value("run_name", name);
        if (row.value("error_occurred", false)) {
            in.errors.push_back(run_name + ": " + row.value("error_message", std::string("(no message)")));
            continue;
        }
        auto kv = parse_label(row.value("label", std::string()));
        if (!kv.count("op") || !kv.count("shape")) {
            ++unlabelled;
            continue;
        }
        const std::string key = path + "\n" + run_name;
        auto [it, fresh] = index.emplace(key, in.rows.size());
        if (fresh) {
            Measurement m;
            m.file = path;
            m.name = run_name;
            m.op = kv["op"];
            m.shape = kv["shape"];
            m.unit = kv.count("unit") ? kv["unit"] : "GB/s";
            m.scheme = kv.count("scheme") ? kv["scheme"] : "";
            m.threads = kv.count("threads") ? static_cast<int>(parse_int(kv["threads"], run_name + " threads"))
                                            : row.value("threads", 1);
            if (kv.count("elements")) m.elements = parse_int(kv["elements"], run_name + " elements");
            if (kv.count("baseline")) m.baseline = kv["baseline"];
            if (kv.count("baseline_shape")) m.baseline_shape = kv["baseline_shape"];
            if (kv.count("baseline_threads")) {
                m.baseline_threads = static_cast<int>(parse_int(kv["baseline_threads"], run_name + " baseline_threads"));
            }
            if (kv.count("peak")) m.peak = kv["peak"];
            if (kv.count("peak_shape")) m.peak_shape = kv["peak_shape"];
            if (kv.count("peak_threads")) {
                m.peak_threads = static_cast<int>(parse_int(kv["peak_threads"], run_name + " peak_threads"));
            }
            in.rows.push_back(m);
        }
        Measurement &m = in.rows[it->second];
        const std::string run_type = row.value("run_type", std::string("iteration"));
        if (run_type == "aggregate") {
            const std::string agg = row.value("aggregate_name", std::string());
            if (agg == "median") {
                m.median_agg = value_of(row, m.unit);
                if (!m.median_agg) throw InputError(path + ": " + name + ": no value for unit " + m.unit);
                if (auto b = number_field(row, "baseline_value")) m.baseline_value_given = b;
                if (auto p = number_field(row, "peak_value")) m.peak_value_given = p;
                if (auto u = number_field(row, "cpu_util")) m.cpu_util = u;
                if (auto u = number_field(row, "baseline_cpu_util")) m.baseline_cpu_util = u;
            } else if (agg == "cv") {
                m.cv = cv_of(row, m.unit);
            }
        } else {
            auto v = value_of(row, m.unit);
            if (!v) throw InputError(path + ": " + name + ": no value for unit " + m.unit);
            m.samples.push_back(*v);
            if (auto b = number_field(row, "baseline_value")) m.baseline_value_given = b;
            if (auto p = number_field(row, "peak_value")) m.peak_value_given = p;
            if (auto u = number_field(row, "cpu_util")) m.cpu_util = u;
            if (auto u = number_field(row, "baseline_cpu_util")) m.baseline_cpu_util = u;
        }
    }
    if (unlabelled) {
        in.notes.push_back(path + ": " + std::to_string(unlabelled) +
                           " row(s) without an op=/shape= label ignored (see bench/summarize.cpp)");
    }
}

std::string fmt(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

void resolve(Input &in) {
    // Drop rows that had no usable value (e.g. only stddev aggregates).
    std::vector<Measurement> kept;
    for (Measurement &m : in.rows) {
        if (m.median_agg) {
            m.value = *m.median_agg;
        } else if (!m.samples.empty()) {
            m.value = median(m.samples);
            if (m.samples.size() >= 2 && !m.cv) {
                double mean = 0, var = 0;
                for (double s : m.samples) mean += s;
                mean /= m.samples.size();
                for (double s : m.samples) var += (s - mean) * (s - mean);
                var /= (m.samples.size() - 1);
                if (mean > 0) m.cv = std::sqrt(var) / mean;
            }
        } else {
            in.notes.push_back(m.name + ": no median or iteration rows; ignored");
            continue;
        }
        kept.push_back(std::move(m));
    }
    in.rows = std::move(kept);

    std::map<std::tuple<std::string, std::string, int, std::string>, const Measurement *> by_id;
    for (const Measurement &m : in.rows) {
        auto [it, fresh] = by_id.emplace(std::make_tuple(m.op, m.shape, m.threads, m.unit), &m);
        if (!fresh) {
            in.notes.push_back("duplicate row op=" + m.op + " shape=" + m.shape + " threads=" +
                               std::to_string(m.threads) + " (" + m.name + " in " + m.file + "); the first (" +
                               it->second->file + ") is the baseline for lookups");
        }
    }
    // A denominator (baseline or peak) of row m: its row, if measured, and its
    // value (the given counter first, else that row's value).
    auto resolve_ref = [&](const Measurement &m, const char *what, const std::string &op,
                           const std::optional<std::string> &shape, const std::optional<int> &threads,
                           const std::optional<double> &given, const Measurement *&row, std::optional<double> &value,
                           std::optional<double> &ratio) {
        auto it = by_id.find(std::make_tuple(op, shape.value_or(m.shape), threads.value_or(m.threads), m.unit));
        if (it != by_id.end()) row = it->second;
        if (given) {
            value = given;
        } else if (it != by_id.end()) {
            value = it->second->value;
        } else {
            in.notes.push_back(m.name + ": " + what + " op=" + op + " shape=" + shape.value_or(m.shape) +
                               " threads=" + std::to_string(threads.value_or(m.threads)) + " was not measured");
            return;
        }
        if (*value > 0) ratio = m.value / *value;
    };
    int low_util = 0;
    for (Measurement &m : in.rows) {
        if (m.baseline) {
            resolve_ref(m, "baseline", *m.baseline, m.baseline_shape, m.baseline_threads, m.baseline_value_given,
                        m.baseline_row, m.baseline_value, m.ratio);
        }
        if (m.peak) {
            resolve_ref(m, "peak", *m.peak, m.peak_shape, m.peak_threads, m.peak_value_given, m.peak_row,
                        m.peak_value, m.peak_ratio);
        }
        // Multi-threaded rows that kept fewer cores busy than they had threads.
        for (auto [what, util] : {std::make_pair("", m.cpu_util), std::make_pair("baseline_", m.baseline_cpu_util)}) {
            if (m.threads > 1 && util && *util < 0.8 * m.threads) {
                in.notes.push_back(m.name + ": " + what + "cpu_util " + fmt(*util, 2) + " at threads=" +
                                   std::to_string(m.threads));
                ++low_util;
            }
        }
    }
    if (low_util) {
        in.notes.push_back(std::to_string(low_util) +
                           " cpu_util value(s) above: fewer cores busy than threads (CPU time / wall time): "
                           "a busy machine, or a library that ran fewer threads");
    }
}

// ---- output -------------------------------------------------------------------

std::string cv_text(const Measurement &m) { return m.cv ? "±" + fmt(100.0 * *m.cv, 1) + "%" : ""; }

void print_table(const std::vector<std::string> &header, const std::vector<std::vector<std::string>> &rows,
                 const std::vector<bool> &right) {
    std::vector<size_t> w(header.size());
    auto width = [](const std::string &s) {  // UTF-8 aware enough for "±"
        size_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
    };
    for (size_t i = 0; i < header.size(); ++i) w[i] = width(header[i]);
    for (const auto &r : rows)
        for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], width(r[i]));
    auto line = [&](const std::vector<std::string> &r) {
        std::string out;
        for (size_t i = 0; i < r.size(); ++i) {
            std::string pad(w[i] - width(r[i]), ' ');
            out += (i ? "  " : "") + (right[i] ? pad + r[i] : r[i] + pad);
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        std::cout << "  " << out << "\n";
    };
    line(header);
    size_t total = 0;
    for (size_t x : w) total += x;
    std::cout << "  " << std::string(total + 2 * (w.size() - 1), '-') << "\n";
    for (const auto &r : rows) line(r);
}

void print(const Input &in) {
    for (const std::string &c : in.contexts) std::cout << c << "\n";
    // Sections: (unit, baseline) in first-seen order, then the reference rows.
    std::vector<std::pair<std::string, std::string>> sections;
    for (const Measurement &m : in.rows) {
        if (!m.baseline) continue;
        auto s = std::make_pair(m.unit, *m.baseline);
        if (std::find(sections.begin(), sections.end(), s) == sections.end()) sections.push_back(s);
    }
    for (const auto &[unit, base] : sections) {
        std::cout << "\n" << unit << " vs " << base << "\n";
        // Peak columns when some row of the section has a peak (its name: the first one's).
        std::string peak;
        for (const Measurement &m : in.rows) {
            if (m.baseline && m.unit == unit && *m.baseline == base && m.peak) {
                peak = *m.peak;
                break;
            }
        }
        std::vector<std::vector<std::string>> rows;
        for (const Measurement &m : in.rows) {
            if (!m.baseline || m.unit != unit || *m.baseline != base) continue;
            rows.push_back({m.op, m.scheme.empty() ? m.shape : m.scheme,
                            m.elements ? std::to_string(*m.elements) : "", std::to_string(m.threads),
                            fmt(m.value, 2), cv_text(m),
                            m.baseline_value ? fmt(*m.baseline_value, 2) : "missing",
                            m.ratio ? fmt(*m.ratio, 3) : "-"});
            if (!peak.empty()) {
                rows.back().push_back(!m.peak ? "" : m.peak_value ? fmt(*m.peak_value, 2) : "missing");
                rows.back().push_back(m.peak_ratio ? fmt(*m.peak_ratio, 3) : "-");
            }
        }
        std::vector<std::string> header = {"op", "scheme/shape", "elements", "threads", unit, "noise",
                                           base + " " + unit, "fraction"};
        std::vector<bool> right = {false, false, true, true, true, true, true, true};
        if (!peak.empty()) {
            header.insert(header.end(), {peak + " " + unit, "of peak"});
            right.insert(right.end(), {true, true});
        }
        print_table(header, rows, right);
    }
    std::vector<std::vector<std::string>> refs;
    for (const Measurement &m : in.rows) {
        if (m.baseline) continue;
        refs.push_back({m.op, m.scheme.empty() ? m.shape : m.scheme, m.elements ? std::to_string(*m.elements) : "",
                        std::to_string(m.threads), fmt(m.value, 2) + " " + m.unit, cv_text(m)});
    }
    if (!refs.empty()) {
        std::cout << "\nreference rows\n";
        print_table({"op", "scheme/shape", "elements", "threads", "value", "noise"}, refs,
                    {false, false, true, true, true, true});
    }
}

// ordered_json: the keys stay in the documented order.
nlohmann::ordered_json to_json(const Input &in) {
    using ojson = nlohmann::ordered_json;
    auto round4 = [](double v) { return std::round(v * 1e4) / 1e4; };
    ojson out = ojson::array();
    for (const Measurement &m : in.rows) {
        ojson r;
        r["op"] = m.op;
        r["shape"] = m.shape;
        r["threads"] = m.threads;
        r["value"] = round4(m.value);
        r["unit"] = m.unit;
        r["baseline"] = m.baseline ? ojson(*m.baseline) : ojson(nullptr);
        r["baseline_row"] = m.baseline_row ? ojson(m.baseline_row->name) : ojson(nullptr);
        r["baseline_value"] = m.baseline_value ? ojson(round4(*m.baseline_value)) : ojson(nullptr);
        r["ratio"] = m.ratio ? ojson(round4(*m.ratio)) : ojson(nullptr);
        r["name"] = m.name;
        r["cv"] = m.cv ? ojson(round4(*m.cv)) : ojson(nullptr);
        if (!m.scheme.empty()) r["scheme"] = m.scheme;
        if (m.elements) r["elements"] = *m.elements;
        if (m.peak) {
            r["peak"] = *m.peak;
            r["peak_row"] = m.peak_row ? ojson(m.peak_row->name) : ojson(nullptr);
            r["peak_value"] = m.peak_value ? ojson(round4(*m.peak_value)) : ojson(nullptr);
            r["peak_ratio"] = m.peak_ratio ? ojson(round4(*m.peak_ratio)) : ojson(nullptr);
        }
        out.push_back(std::move(r));
    }
    return out;
}

void write_atomically(const std::string &path, const std::string &text) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    if (target.has_parent_path()) fs::create_directories(target.parent_path());
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw std::runtime_error("cannot create " + tmp);
        f << text;
        f.flush();
        if (!f) {
            std::error_code ec;
            fs::remove(tmp, ec);
            throw std::runtime_error("cannot write " + tmp);
        }
    }
    std::error_code ec;
    fs::rename(tmp, target, ec);
    if (ec) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
    }
}

Goal parse_goal(const std::string &spec) {
    std::vector<std::string> parts;
    std::stringstream ss(spec);
    std::string p;
    while (std::getline(ss, p, ',')) parts.push_back(p);
    if (parts.size() != 4) throw InputError("--goal '" + spec + "': expected OP,SHAPE,THREADS,MIN");
    Goal g;
    g.spec = spec;
    g.op = parts[0];
    g.shape = parts[1];
    g.threads = static_cast<int>(parse_int(parts[2], "--goal threads"));
    char *end = nullptr;
    g.min = std::strtod(parts[3].c_str(), &end);
    if (parts[3].empty() || *end) throw InputError("--goal '" + spec + "': MIN must be a number");
    return g;
}

void print_goals(const Input &in, const std::vector<Goal> &goals) {
    if (goals.empty()) return;
    std::cout << "\ngoals\n";
    for (const Goal &g : goals) {
        const Measurement *m = nullptr;
        for (const Measurement &r : in.rows) {
            if (r.op == g.op && r.shape == g.shape && r.threads == g.threads) {
                m = &r;
                break;
            }
        }
        std::cout << "  " << g.op << " " << g.shape << " threads:" << g.threads << ": ";
        if (!m || !m->ratio) {
            std::cout << "not measured (goal >= " << fmt(g.min, 2) << ")\n";
            continue;
        }
        const bool met = *m->ratio >= g.min;
        std::cout << fmt(*m->ratio, 3) << " of " << *m->baseline << " (" << fmt(m->value, 2) << " / "
                  << fmt(*m->baseline_value, 2) << " " << m->unit << "), goal >= " << fmt(g.min, 2) << ": "
                  << (met ? "met" : "NOT met") << "\n";
    }
}

int usage(const char *argv0) {
    std::cerr << "usage: " << argv0 << " [--out PATH] [--goal OP,SHAPE,THREADS,MIN]... FILE.json...\n"
              << "  Summarises Google Benchmark JSON files (see the convention in bench/summarize.cpp).\n"
              << "  --out   where summary.json goes (default " << QF_BENCH_DEFAULT_SUMMARY << ")\n";
    return 1;
}

}  // namespace

int main(int argc, char **argv) {
    std::string out = QF_BENCH_DEFAULT_SUMMARY;
    std::vector<std::string> files;
    std::vector<Goal> goals;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "-h" || a == "--help") return usage(argv[0]), 0;
            if (a == "--out" || a == "--goal") {
                if (i + 1 >= argc) throw InputError(a + " needs a value");
                std::string v = argv[++i];
                if (a == "--out") {
                    out = v;
                } else {
                    goals.push_back(parse_goal(v));
                }
            } else if (a.rfind("--", 0) == 0) {
                throw InputError("unknown option " + a);
            } else {
                files.push_back(a);
            }
        }
        if (files.empty()) return usage(argv[0]);

        Input in;
        std::map<std::string, size_t> index;
        for (const std::string &f : files) {
            try {
                read_file(f, in, index);
            } catch (const json::exception &e) {  // a field of the wrong type
                throw InputError(f + ": unexpected content: " + e.what());
            }
        }
        resolve(in);
        if (in.rows.empty() && in.errors.empty()) {
            throw InputError("no labelled benchmark rows in the input (see the convention in bench/summarize.cpp)");
        }
        print(in);
        print_goals(in, goals);
        for (const std::string &n : in.notes) std::cout << "note: " << n << "\n";
        for (const std::string &e : in.errors) std::cout << "ERROR: benchmark failed: " << e << "\n";
        write_atomically(out, to_json(in).dump(2) + "\n");
        std::cout << "\nwrote " << out << " (" << in.rows.size() << " rows)\n";
        return in.errors.empty() ? 0 : 2;
    } catch (const InputError &e) {
        std::cerr << "qforge-bench-summary: " << e.what() << "\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "qforge-bench-summary: " << e.what() << "\n";
        return 1;
    }
}
