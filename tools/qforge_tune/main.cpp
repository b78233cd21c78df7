// qforge-tune: searches the schedule parameters of one operator for a target
// and a set of shapes, and records the best in the schedule database the
// build and qforge-gen read (docs/qforge-tune.md).
//
// Unit of work: one (operator, shape class, target). The shapes given are
// grouped by shape class (qforge/tuning.h); each class gets one parameter set,
// chosen on all its shapes together (the runtime picks by class, not by exact
// shape), and never slower than the build's default on any of them.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "Halide.h"
#include "evaluate.h"
#include "schedules/layout.h"
#include "schedule_db.h"
#include "workloads.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace qforge::tune {
namespace {

using Clock = std::chrono::steady_clock;
using Params = std::map<std::string, std::string>;

// ---- targets ------------------------------------------------------------------------------

// The build's variants (cmake/QforgeTargets.cmake), by the names the runtime uses.
const std::vector<std::pair<std::string, std::string>> &variant_targets() {
    static const std::vector<std::pair<std::string, std::string>> v = {
        {"avx512_vnni", QF_X86_AVX512_VNNI}, {"avx2", QF_X86_AVX2}, {"sse41", QF_X86_SSE41},
        {"baseline", QF_X86_BASELINE}};
    return v;
}

int variant_of(const Halide::Target &t) {
    using F = Halide::Target::Feature;
    if (t.has_feature(F::ARMDotProd)) return 4;
    if (t.has_feature(F::AVX512_SapphireRapids) || t.has_feature(F::AVX512)) return 3;
    if (t.has_feature(F::AVX2)) return 2;
    if (t.has_feature(F::SSE41)) return 1;
    return 0;
}

bool host_can_run(const Halide::Target &t) {
    const Halide::Target host = Halide::get_host_target();
    if (t.arch != host.arch || t.bits != host.bits || t.os != host.os) return false;
    for (int f = 0; f < Halide::Target::FeatureEnd; f++) {
        const auto feature = static_cast<Halide::Target::Feature>(f);
        if (t.has_feature(feature) && !host.has_feature(feature)) return false;
    }
    return true;
}

// --target: a variant name, a Halide target string, or "host" (the best variant this machine runs).
Halide::Target resolve_target(const std::string &text) {
    if (text == "host") {
        for (const auto &v : variant_targets()) {
            Halide::Target t(v.second);
            if (host_can_run(t)) return t;
        }
        throw UsageError("no build variant runs on this machine");
    }
    for (const auto &v : variant_targets()) {
        if (text == v.first) return Halide::Target(v.second);
    }
    if (!Halide::Target::validate_target_string(text)) {
        throw UsageError("--target '" + text + "' is neither a variant (avx512_vnni, avx2, sse41, baseline), " +
                         "'host', nor a Halide target string");
    }
    return Halide::Target(text);
}

// ---- search state ---------------------------------------------------------------------------

struct Evaluated {
    Params params;
    Measurement m;
    double objective = INFINITY;  // geometric mean of time / default time over the class's shapes
};

double objective(const std::vector<double> &ms, const std::vector<double> &base) {
    if (ms.size() != base.size() || ms.empty()) return INFINITY;
    double log_sum = 0;
    for (size_t i = 0; i < ms.size(); i++) log_sum += std::log(ms[i] / base[i]);
    return std::exp(log_sum / double(ms.size()));
}

std::string label(const Params &p) {
    std::string s;
    for (const auto &kv : p) s += (s.empty() ? "" : " ") + kv.first + "=" + kv.second;
    return s;
}

struct Options {
    std::string op, shapes, target = "host", out;
    double budget = 300;
    std::vector<int> threads;  // thread counts every candidate is timed at (the objective spans all)
    int samples = 7, rounds = 9;
    unsigned seed = 1;
    bool resume = false, progress = true;
    int inject_wrong = 0;  // testing: the n-th searched candidate's output is corrupted (it must be rejected)
    std::string autoschedulers = "Adams2019,Li2018,Mullapudi2016";
};

// One unit's result, for the final table.
struct UnitResult {
    std::string op, shape_class;
    std::vector<Workload *> workloads;
    std::vector<int> threads;  // measurements are per (thread count, workload), thread count outermost
    // hand_ms: the search's start (the build's parameters where the class
    // allows them), JIT-compiled, timed in the final rounds.
    std::vector<double> default_ms, hand_ms, tuned_ms;
    // Per autoscheduler, one measurement per shape: each shape gets its own
    // schedule, planned for its sizes (they are shape-specialised, and a
    // schedule planned for a large shape may index out of bounds on a small one).
    std::map<std::string, std::vector<Measurement>> autoschedulers;
    Params tuned;
    bool kept_default = false;
    int evaluated = 0, rejected = 0;
};

class Progress {
public:
    Progress(bool enabled, std::string what, double budget)
        : enabled_(enabled && isatty(2)), what_(std::move(what)), budget_(budget) {}
    void update(double elapsed, int evaluated, int rejected, double best) {
        const int width = 24;
        const int filled = std::min(width, int(width * elapsed / std::max(1.0, budget_)));
        char line[256];
        std::snprintf(line, sizeof line, "\r%s [%s%s] %4.0f/%.0f s  %d candidates (%d rejected)  best %.3fx ",
                      what_.c_str(), std::string(size_t(filled), '#').c_str(),
                      std::string(size_t(width - filled), '.').c_str(), elapsed, budget_, evaluated, rejected,
                      best > 0 ? 1.0 / best : 0.0);
        if (enabled_) {
            std::fputs(line, stderr);
        } else if (evaluated % 10 == 0 && evaluated != last_) {
            std::fprintf(stderr, "%s\n", line + 1);
            last_ = evaluated;
        }
    }
    void done() {
        if (enabled_) std::fputs("\n", stderr);
    }

private:
    bool enabled_;
    std::string what_;
    double budget_;
    int last_ = -1;
};

// A unit a resumed run finds finished: its table rows from the database.
UnitResult result_from_entry(UnitResult r, const json &e) {
    for (const auto &kv : e["params"].items()) {
        r.tuned[kv.key()] = kv.value().is_string() ? kv.value().get<std::string>() : kv.value().dump();
    }
    r.kept_default = r.tuned.empty();
    for (const auto &s : e["shapes"]) {
        r.default_ms.push_back(s.value("default_ms", 0.0));
        r.tuned_ms.push_back(s.value("tuned_ms", 0.0));
        if (s.contains("start_jit_ms")) r.hand_ms.push_back(s["start_jit_ms"].get<double>());
    }
    if (r.hand_ms.size() != r.default_ms.size()) r.hand_ms.clear();
    for (const auto &sh : e["shapes"]) {
        if (!sh.contains("autoschedulers")) continue;
        for (const auto &kv : sh["autoschedulers"].items()) {
            Measurement m;
            m.status = kv.value().value("status", "error");
            m.detail = kv.value().value("detail", "");
            if (kv.value().contains("ms")) m.ms = {kv.value()["ms"].get<double>()};
            r.autoschedulers[kv.key()].push_back(m);
        }
    }
    r.evaluated = e.value("candidates_evaluated", 0);
    r.rejected = e.value("candidates_rejected", 0);
    return r;
}

class Tuner {
public:
    Tuner(const Options &o, const TuneOperator &op, Halide::Target target)
        : o_(o), op_(op), target_(std::move(target)), rng_(o.seed) {
        db_file_ = (fs::path(o.out) / (target_.to_string() + ".json")).string();
        work_dir_ = fs::path(o.out) / ".qforge-tune";
        fs::create_directories(work_dir_);
    }

    UnitResult tune_class(const std::string &cls, std::vector<Workload *> workloads);

    const std::string &db_file() const { return db_file_; }

private:
    EvalSettings settings(int rounds, const std::string &cls, int threads) const {
        EvalSettings s;
        s.target = target_;
        s.variant = variant_of(target_);
        s.threads = threads;
        s.samples = o_.samples;
        s.alternate_rounds = rounds;
        s.log_file = (work_dir_ / (op_.name + "." + cls + ".log")).string();
        return s;
    }
    // Every candidate at every thread count (a child per count: a process's
    // thread pools keep their size); ms holds the counts one after the other,
    // each with every workload: index = thread count index * workloads + workload.
    std::vector<Measurement> evaluate_all(const std::vector<Workload *> &workloads, const std::vector<Candidate> &cands,
                                          int rounds, const std::string &cls, bool inject_wrong = false) const {
        std::vector<Measurement> all(cands.size());
        for (int t : o_.threads) {
            EvalSettings s = settings(rounds, cls, t);
            s.inject_wrong = inject_wrong;
            auto part = evaluate(op_, workloads, cands, s);
            for (size_t i = 0; i < cands.size(); i++) {
                if (all[i].status == "pending" || all[i].ok()) {
                    const std::vector<double> ms = all[i].ms;
                    all[i] = part[i];
                    if (part[i].ok()) all[i].ms.insert(all[i].ms.begin(), ms.begin(), ms.end());
                }
            }
        }
        return all;
    }
    std::string journal_file(const std::string &cls) const {
        return (work_dir_ / (target_.to_string() + "." + op_.name + "." + cls + ".jsonl")).string();
    }

    const Options &o_;
    const TuneOperator &op_;
    Halide::Target target_;
    std::mt19937 rng_;
    std::string db_file_;
    fs::path work_dir_;
    int searched_ = 0;
};

UnitResult Tuner::tune_class(const std::string &cls, std::vector<Workload *> workloads) {
    UnitResult r;
    r.op = op_.name;
    r.shape_class = cls;
    r.workloads = workloads;
    r.threads = o_.threads;
    const std::string unit = op_.name + " " + cls;
    const bool arm = target_.arch == Halide::Target::ARM;
    const std::vector<ParamDomain> space = op_.space(cls, arm);
    const Params base = op_.base_params(cls);

    // The journal: every evaluated candidate, so --resume continues a search.
    std::vector<std::string> shapes;
    for (auto *w : workloads) shapes.push_back(w->shape);
    const json header = {{"target", target_.to_string()}, {"operator", op_.generator}, {"shape_class", cls},
                         {"shapes", shapes}, {"threads", o_.threads}};
    const size_t nt = o_.threads.size(), nw = workloads.size();
    std::map<std::string, Evaluated> seen;
    double elapsed_before = 0;
    bool done = false;
    if (o_.resume && fs::exists(journal_file(cls))) {
        std::ifstream in(journal_file(cls));
        std::string line;
        bool first = true;
        while (std::getline(in, line)) {
            json j = json::parse(line, nullptr, false);
            if (j.is_discarded()) continue;  // a line cut off by the interruption
            if (first) {
                first = false;
                if (j != header) {
                    std::fprintf(stderr, "%s: the journal was for other shapes or settings; starting over\n",
                                 unit.c_str());
                    break;
                }
                continue;
            }
            if (j.contains("done")) {
                done = true;
                continue;
            }
            if (!j.contains("params") || !j.contains("status")) continue;
            Evaluated e;
            e.params = j["params"].get<Params>();
            e.m.status = j["status"];
            e.m.detail = j.value("detail", "");
            if (j.contains("ms")) e.m.ms = j["ms"].get<std::vector<double>>();
            elapsed_before = j.value("elapsed_s", elapsed_before);
            seen[label(e.params)] = e;
        }
        if (!seen.empty()) {
            std::fprintf(stderr, "%s: resuming after %zu candidates, %.0f s\n", unit.c_str(), seen.size(),
                         elapsed_before);
        }
    }
    if (done) {
        ScheduleDb db;
        if (fs::exists(db_file_)) db = read_db(db_file_, target_.to_string());
        if (const json *e = db.find(op_.generator, cls); e && e->contains("shapes") && (*e)["shapes"].size() == nt * nw) {
            std::fprintf(stderr, "%s: already tuned (journal and %s); skipped\n", unit.c_str(), db_file_.c_str());
            return result_from_entry(r, *e);
        }
    }
    // A new journal (also when the old one was for other settings) starts with its header.
    if (seen.empty()) std::ofstream(journal_file(cls)) << header.dump() << "\n";
    std::ofstream journal(journal_file(cls), std::ios::app);

    std::fprintf(stderr, "%s: computing the reference outputs of %zu shape(s)\n", unit.c_str(), workloads.size());
    for (auto *w : workloads) w->prepare();

    // The build's default library, the baseline every candidate is measured against.
    auto base_m = evaluate_all(workloads, {Candidate{Candidate::Kind::build_default, {}, ""}}, 0, cls);
    if (!base_m[0].ok()) {
        throw std::runtime_error(unit + ": the default library failed: " + base_m[0].status + ": " + base_m[0].detail);
    }
    const std::vector<double> base_ms = base_m[0].ms;
    for (auto &kv : seen) kv.second.objective = kv.second.m.ok() ? objective(kv.second.m.ms, base_ms) : INFINITY;

    // Search: start from the build's parameters (as the domains spell them),
    // then alternate local moves around the best so far (one parameter to a
    // neighbouring value) with random samples (a quarter of the steps, and
    // whenever the neighbourhood is exhausted) so a ridge does not trap it.
    auto to_params = [&](const std::vector<size_t> &idx) {
        Params p;
        for (size_t d = 0; d < space.size(); d++) p[space[d].name] = space[d].values[idx[d]];
        return p;
    };
    std::vector<size_t> start(space.size(), 0);
    for (size_t d = 0; d < space.size(); d++) {
        auto it = base.find(space[d].name);
        auto pos = it == base.end() ? space[d].values.end()
                                    : std::find(space[d].values.begin(), space[d].values.end(), it->second);
        // A default outside the domain (tile_m = 0: the target's choice) starts from the middle.
        start[d] = pos != space[d].values.end() ? size_t(pos - space[d].values.begin()) : space[d].values.size() / 2;
    }
    size_t space_size = 1;
    for (const auto &d : space) space_size *= d.values.size();

    auto t0 = Clock::now();
    auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(Clock::now() - t0).count(); };
    Progress progress(o_.progress, unit, o_.budget);
    auto best = [&]() -> const Evaluated * {
        const Evaluated *b = nullptr;
        for (const auto &kv : seen) {
            if (kv.second.m.ok() && (!b || kv.second.objective < b->objective)) b = &kv.second;
        }
        return b;
    };
    auto best_index = [&]() {
        const Evaluated *b = best();
        std::vector<size_t> idx = start;
        if (!b) return idx;
        for (size_t d = 0; d < space.size(); d++) {
            auto pos = std::find(space[d].values.begin(), space[d].values.end(), b->params.at(space[d].name));
            idx[d] = size_t(pos - space[d].values.begin());
        }
        return idx;
    };
    auto run_one = [&](const Params &p) {
        Evaluated e;
        e.params = p;
        e.m = evaluate_all(workloads, {Candidate{Candidate::Kind::jit, p, ""}}, 0, cls, ++searched_ == o_.inject_wrong)[0];
        e.objective = e.m.ok() ? objective(e.m.ms, base_ms) : INFINITY;
        json line = {{"params", p}, {"status", e.m.status}, {"elapsed_s", elapsed()}};
        if (!e.m.detail.empty()) line["detail"] = e.m.detail;
        if (e.m.ok()) line["ms"] = e.m.ms;
        journal << line.dump() << std::endl;
        if (!e.m.ok()) {
            std::ofstream(settings(0, cls, 1).log_file, std::ios::app)
                << "rejected [" << label(p) << "]: " << e.m.status << ": " << e.m.detail << "\n";
        }
        seen[label(p)] = e;
    };
    auto rejected = [&] {
        int n = 0;
        for (const auto &kv : seen) n += !kv.second.m.ok();
        return n;
    };
    if (!seen.count(label(to_params(start)))) run_one(to_params(start));
    const double search_budget = 0.85 * o_.budget;  // the rest: autoschedulers and the final re-measurement
    while (elapsed() < search_budget && seen.size() < space_size) {
        const Evaluated *b = best();
        progress.update(elapsed(), int(seen.size()), rejected(), b ? b->objective : 0);
        std::vector<Params> moves;
        std::uniform_real_distribution<double> coin(0, 1);
        if (coin(rng_) >= 0.25) {
            const auto idx = best_index();
            for (size_t d = 0; d < space.size(); d++) {
                for (int step : {-1, 1}) {
                    const long v = long(idx[d]) + step;
                    if (v < 0 || v >= long(space[d].values.size())) continue;
                    auto n = idx;
                    n[d] = size_t(v);
                    if (!seen.count(label(to_params(n)))) moves.push_back(to_params(n));
                }
            }
        }
        if (moves.empty()) {
            for (int tries = 0; tries < 1000 && moves.empty(); tries++) {
                std::vector<size_t> n(space.size());
                for (size_t d = 0; d < space.size(); d++) {
                    n[d] = std::uniform_int_distribution<size_t>(0, space[d].values.size() - 1)(rng_);
                }
                if (!seen.count(label(to_params(n)))) moves.push_back(to_params(n));
            }
        }
        if (moves.empty()) break;
        run_one(moves[std::uniform_int_distribution<size_t>(0, moves.size() - 1)(rng_)]);
    }
    {
        const Evaluated *b = best();
        progress.update(elapsed(), int(seen.size()), rejected(), b ? b->objective : 0);
        progress.done();
    }
    r.evaluated = int(seen.size());
    r.rejected = rejected();

    // Halide's autoschedulers, each in its own child (Li2018's code has died
    // of SIGILL on Zen 4: HALIDE14_NOTES G3).
    std::stringstream as_list(o_.autoschedulers);
    std::string name;
    while (std::getline(as_list, name, ',')) {
        if (name.empty() || name == "none") continue;
        std::fprintf(stderr, "%s: running the %s autoscheduler\n", unit.c_str(), name.c_str());
        for (int t : o_.threads) {
            EvalSettings s = settings(0, cls, t);  // machine_params name the thread count
            s.timeout_s = 600;
            for (Workload *w : workloads) {
                Candidate c{Candidate::Kind::autoscheduler, {}, name, w->shape};
                r.autoschedulers[name].push_back(evaluate(op_, {w}, {c}, s)[0]);
            }
        }
    }

    // Re-measure the leaders against the default in alternating rounds (one
    // child, so drift hits all alike) and keep the best only if it is faster
    // on the class as a whole and not slower on any shape.
    std::vector<const Evaluated *> ranked;
    for (const auto &kv : seen) {
        if (kv.second.m.ok()) ranked.push_back(&kv.second);
    }
    std::sort(ranked.begin(), ranked.end(), [](auto *a, auto *b) { return a->objective < b->objective; });
    std::vector<Candidate> final_cands = {Candidate{Candidate::Kind::build_default, {}, ""},
                                          Candidate{Candidate::Kind::jit, to_params(start), ""}};
    for (size_t i = 0; i < ranked.size() && final_cands.size() < 5; i++) {
        if (ranked[i]->params != to_params(start)) final_cands.push_back({Candidate::Kind::jit, ranked[i]->params, ""});
    }
    std::fprintf(stderr, "%s: re-measuring %zu leaders against the default (%d alternating rounds)\n", unit.c_str(),
                 final_cands.size() - 2, o_.rounds);
    auto final_m = evaluate_all(workloads, final_cands, o_.rounds, cls);
    if (!final_m[0].ok()) throw std::runtime_error(unit + ": the default library failed in the final round");
    r.default_ms = final_m[0].ms;
    r.hand_ms = final_m[1].ok() ? final_m[1].ms : std::vector<double>();
    // Noise allowance: 1% on the class, 2% on any one shape (against `bar`).
    size_t winner = 0;
    double winner_obj = 1.0;
    // A candidate with the build's own parameters is the default schedule: a
    // difference between its JIT and AOT code is noise, not a tuning gain.
    auto is_build_default = [&](const Params &p) {
        for (const auto &kv : p) {
            auto it = base.find(kv.first);
            if (it == base.end() || it->second != kv.second) return false;
        }
        return true;
    };
    // The bar per shape: the faster of the default library and the search's
    // start JIT-compiled. Where the start has the build's parameters the two
    // are the same schedule, so a gap between them is measurement error
    // (seen: the AOT default timed 1.6x slower than its own JIT copy in one
    // child while a build ran beside the tuner), and a candidate must beat both.
    std::vector<double> bar = r.default_ms;
    if (final_m[1].ok()) {
        for (size_t w = 0; w < nt * nw; w++) bar[w] = std::min(bar[w], final_m[1].ms[w]);
    }
    for (size_t i = 1; i < final_cands.size(); i++) {
        if (!final_m[i].ok() || is_build_default(final_cands[i].params)) continue;
        const double obj = objective(final_m[i].ms, bar);
        bool no_shape_slower = true;
        for (size_t w = 0; w < nt * nw; w++) no_shape_slower &= final_m[i].ms[w] <= 1.02 * bar[w];
        if (no_shape_slower && obj < 0.99 && obj < winner_obj) {
            winner = i;
            winner_obj = obj;
        }
    }
    r.kept_default = winner == 0;
    r.tuned = winner == 0 ? Params{} : final_cands[winner].params;
    r.tuned_ms = final_m[winner].ms;

    // The database entry.
    json entry;
    entry["operator"] = op_.generator;
    entry["shape_class"] = cls;
    json params = json::object();
    for (const auto &kv : r.tuned) {
        // Integers as JSON integers (the build's and qforge-gen's readers take both).
        char *end = nullptr;
        const long v = std::strtol(kv.second.c_str(), &end, 10);
        params[kv.first] = (*end == '\0' && !kv.second.empty()) ? json(v) : json(kv.second);
    }
    entry["params"] = params;
    double dsum = 0, tsum = 0;
    json shapes_j = json::array();
    for (size_t w = 0; w < nt * nw; w++) {
        const Workload &wl = *workloads[w % nw];
        dsum += r.default_ms[w];
        tsum += r.tuned_ms[w];
        json sj = {{"shape", wl.shape}, {"threads", o_.threads[w / nw]}, {"default_ms", r.default_ms[w]},
                   {"tuned_ms", r.tuned_ms[w]}};
        if (!r.hand_ms.empty()) sj["start_jit_ms"] = r.hand_ms[w];
        sj[std::string("tuned_") + (std::string(wl.work_unit) == "GOPS" ? "gops" : "gbps")] =
            wl.work / (r.tuned_ms[w] * 1e6);
        json as = json::object();
        for (const auto &kv : r.autoschedulers) {
            const Measurement &m = kv.second[w];
            as[kv.first] = m.ok() ? json{{"status", "ok"}, {"ms", m.ms[0]}} : json{{"status", m.status}, {"detail", m.detail}};
        }
        sj["autoschedulers"] = as;
        shapes_j.push_back(sj);
    }
    entry["default_ms"] = dsum;
    entry["tuned_ms"] = tsum;
    entry["shapes"] = shapes_j;
    if (r.kept_default) entry["note"] = "no candidate beat the default by 1% on the class without losing 2% on a shape";
    entry["threads"] = o_.threads;
    entry["candidates_evaluated"] = r.evaluated;
    entry["candidates_rejected"] = r.rejected;
    entry["search_seconds"] = std::round(elapsed());
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    entry["tuned_at"] = date;

    ScheduleDb db;
    db.target = target_.to_string();
    if (fs::exists(db_file_)) db = read_db(db_file_, db.target);
    db.put(entry);
    write_db(db_file_, db);
    journal << json{{"done", true}}.dump() << std::endl;
    return r;
}

// ---- the final table -------------------------------------------------------------------

std::string ratio_cell(const std::vector<Measurement> &per_shape, const std::vector<double> &base, size_t w) {
    if (w >= per_shape.size()) return "-";
    const Measurement &m = per_shape[w];
    if (!m.ok()) return m.status;
    char s[32];
    std::snprintf(s, sizeof s, "%.2fx", base[w] / m.ms[0]);
    return s;
}

void print_table(const std::vector<UnitResult> &units, const std::vector<std::string> &autoschedulers) {
    std::printf("\n%-20s %-8s %-28s %3s %11s %11s %8s %8s", "operator", "class", "shape", "thr", "default ms",
                "tuned ms", "tuned", "start");
    for (const auto &a : autoschedulers) std::printf(" %14s", a.c_str());
    std::printf("\n");
    for (const auto &u : units) {
        for (size_t w = 0; w < u.default_ms.size(); w++) {
            const size_t nw = u.workloads.size();
            std::printf("%-20s %-8s %-28s %3d %11.4f %11.4f %7.2fx", u.op.c_str(), u.shape_class.c_str(),
                        u.workloads[w % nw]->shape.c_str(), u.threads[w / nw], u.default_ms[w], u.tuned_ms[w],
                        u.default_ms[w] / u.tuned_ms[w]);
            if (u.hand_ms.empty()) {
                std::printf(" %8s", "-");
            } else {
                std::printf(" %7.2fx", u.default_ms[w] / u.hand_ms[w]);
            }
            for (const auto &a : autoschedulers) {
                auto it = u.autoschedulers.find(a);
                std::printf(" %14s", it == u.autoschedulers.end() ? "-" : ratio_cell(it->second, u.default_ms, w).c_str());
            }
            std::printf("\n");
        }
        std::printf("%-20s %-8s params: %s%s  (%d candidates, %d rejected)\n", "", "",
                    u.kept_default ? "the default's" : label(u.tuned).c_str(), u.kept_default ? " (kept)" : "",
                    u.evaluated, u.rejected);
    }
    std::printf("(speedups are default time / time: > 1 is faster than the build's default library)\n");
}

// qforge-tune verify: the tuned libraries this build compiled from a database
// against the build's default libraries: AOT code against AOT code, called
// through the runtime as an app calls it, in alternating rounds (one child per
// thread count), on every shape and thread count the entry was tuned on. This
// is the check a database gets before it is committed: the tuner times JIT
// copies, and its margin (1%) is near the noise of one 2-thread benchmark run.
struct VerifyOptions {
    std::string db;
    std::vector<int> threads;  // empty: each entry's own
    int rounds = 15;  // one sample per candidate and round (evaluate's alternating rounds)
    double tolerance = 0.02;  // a tuned kernel more than this slower than the default fails
};

int run_verify(const VerifyOptions &v) {
    const ScheduleDb db = read_db(v.db, "");
    const Halide::Target target(db.target);
    if (!host_can_run(target)) {
        throw UsageError("this machine cannot run the database's target " + db.target);
    }
    // The children's logs; removed however run_verify ends.
    struct TempDir {
        fs::path path;
        ~TempDir() {
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    } work{fs::temp_directory_path() / ("qforge-tune-verify." + std::to_string(getpid()))};
    const fs::path &work_dir = work.path;
    fs::create_directories(work_dir);
    std::printf("%-20s %-8s %-28s %3s %11s %11s %8s  %s\n", "operator", "class", "shape", "thr", "default ms",
                "tuned ms", "speedup", "verdict");
    int slower = 0, failed = 0;
    for (const json &e : db.entries) {
        const std::string gen = e["operator"].get<std::string>(), cls = e["shape_class"].get<std::string>();
        const TuneOperator *op = nullptr;
        for (const auto &candidate : operators()) {
            if (candidate.generator == gen) op = &candidate;
        }
        if (op == nullptr) {
            std::printf("%-20s %-8s no qforge-tune operator runs this generator: not checked\n", gen.c_str(), cls.c_str());
            continue;
        }
        if (e["params"].empty()) {
            std::printf("%-20s %-8s keeps the default schedule: nothing to check\n", op->name.c_str(), cls.c_str());
            continue;
        }
        std::vector<std::unique_ptr<Workload>> owned;
        std::vector<Workload *> workloads;
        std::vector<int> threads = v.threads;
        for (const json &s : e.value("shapes", json::array())) {
            const std::string shape = s.value("shape", "");
            const int t = s.value("threads", 0);
            if (v.threads.empty() && t > 0 && std::find(threads.begin(), threads.end(), t) == threads.end()) {
                threads.push_back(t);
            }
            bool seen = false;
            for (auto *w : workloads) seen = seen || w->shape == shape;
            if (seen || shape.empty()) continue;
            owned.push_back(op->parse(shape, qforge::schedules::panel_width(target) / 4));
            if (owned.back()->shape_class != cls) {
                throw DbError(v.db + ": " + gen + " " + cls + ": shape " + shape + " is of class " +
                              owned.back()->shape_class);
            }
            owned.back()->prepare();
            workloads.push_back(owned.back().get());
        }
        if (workloads.empty()) throw DbError(v.db + ": " + gen + " " + cls + " lists no shapes to check");
        if (threads.empty()) threads = {1};
        std::sort(threads.begin(), threads.end());
        for (int t : threads) {
            EvalSettings s;
            s.target = target;
            s.variant = variant_of(target);
            s.threads = t;
            s.alternate_rounds = v.rounds;
            s.log_file = (work_dir / (op->name + "." + cls + ".log")).string();
            const auto m = evaluate(*op, workloads,
                                    {Candidate{Candidate::Kind::build_default, {}, ""},
                                     Candidate{Candidate::Kind::build_tuned, {}, ""}},
                                    s);
            if (!m[0].ok() || !m[1].ok()) {
                const Measurement &bad = m[0].ok() ? m[1] : m[0];
                std::printf("%-20s %-8s %-28s %3d %s: %s\n", op->name.c_str(), cls.c_str(), "", t,
                            bad.status.c_str(), bad.detail.c_str());
                failed++;
                continue;
            }
            for (size_t w = 0; w < workloads.size(); w++) {
                const double speedup = m[0].ms[w] / m[1].ms[w];
                const bool ok = speedup >= 1.0 - v.tolerance;
                slower += ok ? 0 : 1;
                std::printf("%-20s %-8s %-28s %3d %11.4f %11.4f %7.3fx  %s\n", op->name.c_str(), cls.c_str(),
                            workloads[w]->shape.c_str(), t, m[0].ms[w], m[1].ms[w], speedup, ok ? "ok" : "SLOWER");
            }
        }
    }
    std::printf("(speedup: default time / tuned time, medians of %d alternating rounds; SLOWER: below %.2fx)\n",
                v.rounds, 1.0 - v.tolerance);
    if (failed > 0) return 1;
    return slower > 0 ? 3 : 0;
}

int run_tune(const Options &o) {
    const TuneOperator &op = find_operator(o.op);
    const Halide::Target target = resolve_target(o.target);
    if (!host_can_run(target)) {
        throw UsageError("this machine cannot run target " + target.to_string() +
                         " (candidates are timed here; tune on a machine that has it)");
    }
    if (o.budget <= 0) throw UsageError("--budget must be > 0 seconds");
    // Shapes, grouped by class in the order given.
    std::vector<std::unique_ptr<Workload>> all;
    std::vector<std::string> classes;
    std::stringstream ss(o.shapes);
    std::string shape;
    while (std::getline(ss, shape, ',')) {
        if (shape.empty()) continue;
        all.push_back(op.parse(shape, qforge::schedules::panel_width(target) / 4));
        if (std::find(classes.begin(), classes.end(), all.back()->shape_class) == classes.end()) {
            classes.push_back(all.back()->shape_class);
        }
    }
    if (all.empty()) throw UsageError("--shapes is empty (" + op.name + " shapes: " + op.shape_syntax + ")");

    Tuner tuner(o, op, target);
    std::string threads;
    for (int t : o.threads) threads += (threads.empty() ? "" : ",") + std::to_string(t);
    std::fprintf(stderr, "qforge-tune: %s on %s, threads %s, %zu shape class(es), budget %.0f s each\n",
                 op.name.c_str(), target.to_string().c_str(), threads.c_str(), classes.size(), o.budget);
    std::vector<UnitResult> results;
    for (const auto &cls : classes) {
        std::vector<Workload *> ws;
        for (auto &w : all) {
            if (w->shape_class == cls) ws.push_back(w.get());
        }
        results.push_back(tuner.tune_class(cls, ws));
    }
    std::vector<std::string> as;
    std::stringstream al(o.autoschedulers);
    std::string a;
    while (std::getline(al, a, ',')) {
        if (!a.empty() && a != "none") as.push_back(a);
    }
    print_table(results, as);
    std::printf("database: %s\n", tuner.db_file().c_str());
    return 0;
}

}  // namespace
}  // namespace qforge::tune

int main(int argc, char **argv) {
    using namespace qforge::tune;
    CLI::App app{"qforge-tune: autotune qforge's schedules per target and shape class (docs/qforge-tune.md)"};
    Options o;
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    o.threads = cores > 1 ? std::vector<int>{1, cores} : std::vector<int>{1};
    std::string ops_help;
    for (const auto &op : operators()) ops_help += "\n  " + op.name + "  shapes " + op.shape_syntax + ", e.g. " + op.example_shapes;
    app.add_option("--op", o.op, "Operator to tune:" + ops_help);
    app.add_option("--shapes", o.shapes, "Comma-separated shapes (grouped by shape class; one entry per class)");
    app.add_option("--target", o.target,
                   "avx512_vnni, avx2, sse41, baseline, a Halide target string, or host (the best variant here)")
        ->capture_default_str();
    app.add_option("--budget", o.budget, "Seconds of search per shape class")->capture_default_str();
    app.add_option("--out", o.out, "Database directory: writes <out>/<target>.json (merging into it)");
    app.add_flag("--resume", o.resume, "Continue an interrupted run from <out>/.qforge-tune/ journals");
    app.add_option("--threads", o.threads,
                   "Thread counts every candidate is timed at, comma-separated (the choice must hold at all)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--samples", o.samples, "Timed samples per shape and candidate (median)")->capture_default_str();
    app.add_option("--rounds", o.rounds, "Alternating rounds of the final re-measurement")->capture_default_str();
    app.add_option("--seed", o.seed, "Random seed of the search")->capture_default_str();
    app.add_option("--autoschedulers", o.autoschedulers,
                   "Halide autoschedulers to run as extra candidates (comma-separated, or none)")->capture_default_str();
    app.add_option("--inject-wrong-candidate", o.inject_wrong,
                   "Testing: corrupt the output of the n-th searched candidate (the tuner must reject it)")
        ->group("Testing");
    bool no_progress = false;
    app.add_flag("--no-progress", no_progress, "No progress bar");

    auto *merge = app.add_subcommand("merge", "Combine databases of one target (e.g. from several machines or jobs)");
    std::string merge_out;
    std::vector<std::string> merge_in;
    merge->add_option("--out", merge_out, "The merged database file")->required();
    merge->add_option("inputs", merge_in, "Databases to merge")->required()->check(CLI::ExistingFile);

    auto *verify = app.add_subcommand(
        "verify", "Time this build's tuned libraries against its defaults (AOT, alternating rounds): exit 3 if one is slower");
    VerifyOptions vo;
    verify->add_option("database", vo.db, "The database this build was compiled with (schedules/tuned/<target>.json)")
        ->required()
        ->check(CLI::ExistingFile);
    verify->add_option("--threads", vo.threads, "Thread counts (default: each entry's own)")->delimiter(',');
    verify->add_option("--rounds", vo.rounds, "Alternating rounds")->capture_default_str();
    verify->add_option("--tolerance", vo.tolerance, "A tuned kernel slower than (1 - this) x the default fails")
        ->capture_default_str();

    CLI11_PARSE(app, argc, argv);
    o.progress = !no_progress;
    try {
        if (*verify) {
            if (vo.rounds < 1 || vo.tolerance < 0 || vo.tolerance >= 1 ||
                std::any_of(vo.threads.begin(), vo.threads.end(), [](int t) { return t < 1; })) {
                throw UsageError("verify: --rounds and --threads must be >= 1 and --tolerance in [0, 1)");
            }
            return run_verify(vo);
        }
        if (*merge) {
            std::vector<ScheduleDb> dbs;
            for (const auto &f : merge_in) dbs.push_back(read_db(f, ""));
            std::vector<std::string> log;
            ScheduleDb merged = merge_dbs(dbs, log);
            for (const auto &l : log) std::printf("%s\n", l.c_str());
            write_db(merge_out, merged);
            std::printf("merged %zu database(s): %zu entries -> %s\n", dbs.size(), merged.entries.size(),
                        merge_out.c_str());
            return 0;
        }
        if (o.op.empty() || o.shapes.empty() || o.out.empty()) {
            throw UsageError("--op, --shapes and --out are required (see --help)");
        }
        if (o.threads.empty() || *std::min_element(o.threads.begin(), o.threads.end()) < 1 || o.samples < 1 ||
            o.rounds < 1) {
            throw UsageError("--threads, --samples, --rounds must be >= 1");
        }
        return run_tune(o);
    } catch (const UsageError &e) {
        std::fprintf(stderr, "qforge-tune: %s\n", e.what());
        return 2;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "qforge-tune: error: %s\n", e.what());
        return 1;
    }
}
