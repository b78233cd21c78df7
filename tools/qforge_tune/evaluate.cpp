#include "evaluate.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "qforge/dispatch.h"
#include "qforge/tuning.h"

namespace qforge::tune {

std::string Candidate::label() const {
    if (kind == Kind::build_default) return "default";
    if (kind == Kind::build_tuned) return "tuned (built)";
    if (kind == Kind::autoscheduler) return autoscheduler;
    std::string s;
    for (const auto &kv : params) s += (s.empty() ? "" : " ") + kv.first + "=" + kv.second;
    return s.empty() ? "(generator defaults)" : s;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ---- in the child -----------------------------------------------------------------------

// The installed candidate, called through a counting trampoline: a candidate
// the operator never called (the shape took another path) must not be timed
// as if it ran.
KernelArgvFn g_candidate = nullptr;
long g_calls = 0;
int counting_trampoline(void **args) {
    g_calls++;
    return g_candidate(args);
}

std::string g_jit_error;
void record_jit_error(Halide::JITUserContext *, const char *msg) { g_jit_error = msg ? msg : "?"; }

// The plugin file of an autoscheduler (tools/CMakeLists.txt finds them).
std::string autoscheduler_plugin(const std::string &name) {
    const std::pair<const char *, const char *> plugins[] = {
#ifdef QF_AUTOSCHEDULER_ADAMS2019
        {"Adams2019", QF_AUTOSCHEDULER_ADAMS2019},
#endif
#ifdef QF_AUTOSCHEDULER_LI2018
        {"Li2018", QF_AUTOSCHEDULER_LI2018},
#endif
#ifdef QF_AUTOSCHEDULER_MULLAPUDI2016
        {"Mullapudi2016", QF_AUTOSCHEDULER_MULLAPUDI2016},
#endif
        {"", ""}};
    for (const auto &p : plugins) {
        if (name == p.first) return p.second;
    }
    throw std::runtime_error("no plugin for autoscheduler '" + name +
                             "' in this build (known: Adams2019, Li2018, Mullapudi2016 where Halide ships them)");
}

struct Compiled {
    KernelArgvFn fn = nullptr;  // nullptr: a library of the build (the default, or its tuned one)
    bool build_tuned = false;   // with fn == nullptr: the build's tuned library, else its default
    int tile_m = 0;
};

// The JIT modules must outlive their calls: kept for the child's lifetime.
std::vector<Halide::Internal::JITModule> g_modules;

Compiled compile(const TuneOperator &op, const Candidate &c, const EvalSettings &s,
                 const std::vector<Workload *> &workloads) {
    Compiled out;
    if (c.kind == Candidate::Kind::build_default) return out;
    if (c.kind == Candidate::Kind::build_tuned) {
        // The runtime must hold an active tuned kernel for this slot and class,
        // else "tuned" would silently time the default.
        const std::string cls = workloads.front()->shape_class, slot = op.slot(cls);
        bool found = false;
        for (const auto &k : tuned_kernels()) {
            found = found || (k.slot == slot && k.shape_class == cls && k.variant == cpu_variant());
        }
        if (!found) {
            throw std::runtime_error("this build has no tuned " + slot + " kernel for class '" + cls +
                                     "' that runs on this CPU variant (qforge::tuned_kernels())");
        }
        out.build_tuned = true;
        return out;
    }
    Halide::Target t = s.target.with_feature(Halide::Target::JIT).with_feature(Halide::Target::NoBoundsQuery);
    for (const auto &f : op.features) t = t.with_feature(Halide::Target::feature_from_name(f));
    auto gen = Halide::Internal::GeneratorRegistry::create(op.generator, Halide::GeneratorContext(t));
    Halide::Internal::GeneratorParamsMap values;
    // The build's parameters for this class (e.g. the rows conv's panel
    // width, the direct conv's tile rows), then the candidate's.
    for (const auto &kv : op.fixed) values[kv.first] = kv.second;
    for (const auto &kv : op.base_params(workloads.front()->shape_class)) values[kv.first] = kv.second;
    if (c.kind == Candidate::Kind::jit) {
        for (const auto &kv : c.params) values[kv.first] = kv.second;
    }
    if (c.kind == Candidate::Kind::autoscheduler) {
        values["auto_schedule"] = "true";
        // cores, last-level cache bytes, cost of a load relative to arithmetic (Halide's defaults but the cores)
        values["machine_params"] = std::to_string(s.threads) + ",16777216,40";
        values["autoschedule_shape"] = c.autoschedule_shape.empty() ? workloads.front()->shape : c.autoschedule_shape;
        Halide::load_plugin(autoscheduler_plugin(c.autoscheduler));
        Halide::Pipeline::set_default_autoscheduler_name(c.autoscheduler);
    }
    gen->set_generator_param_values(values);
    Halide::Module m = gen->build_module("qf_tune_candidate");
    g_modules.emplace_back(m, m.get_function_by_name("qf_tune_candidate"));
    Halide::JITHandlers h;
    h.custom_error = record_jit_error;
    // The AOT kernels' parallel loop (qforge's, or Halide's pool under
    // QFORGE_THREAD_POOL=halide), so the candidate's tasks are run the way the
    // default library's are. The JIT passes its own context type where the AOT
    // runtime passes void *: the same pointer, so the signatures agree.
    h.custom_do_par_for = reinterpret_cast<decltype(h.custom_do_par_for)>(kernel_parallel_for());
    Halide::Internal::JITSharedRuntime::set_default_handlers(h);
    out.fn = reinterpret_cast<KernelArgvFn>(g_modules.back().argv_function());
    auto it = c.params.find("tile_m");
    out.tile_m = it == c.params.end() ? 0 : std::stoi(it->second);
    return out;
}

void install(const std::string &slot, const Compiled &c) {
    set_tuned_kernels_enabled(c.build_tuned);
    g_candidate = c.fn;
    set_kernel_override(slot, c.fn ? counting_trampoline : nullptr, c.tile_m);
}

// Calls per timed sample so that a sample lasts >= 2 ms (short kernels are
// timed in batches; the clock's resolution and call overhead stay small).
int calibrate(Workload &w) {
    int batch = 1;
    for (;;) {
        auto t0 = Clock::now();
        for (int i = 0; i < batch; i++) w.run();
        if (seconds_since(t0) >= 2e-3 || batch >= (1 << 16)) return batch;
        batch *= 2;
    }
}

double sample_ms(Workload &w, int batch) {
    auto t0 = Clock::now();
    for (int i = 0; i < batch; i++) w.run();
    return seconds_since(t0) * 1e3 / batch;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void emit(int fd, const nlohmann::json &j) {
    const std::string line = j.dump() + "\n";
    size_t done = 0;
    while (done < line.size()) {
        ssize_t n = write(fd, line.data() + done, line.size() - done);
        if (n <= 0) return;
        done += size_t(n);
    }
}

[[noreturn]] void run_child(int fd, const TuneOperator &op, const std::vector<Workload *> &workloads,
                            const std::vector<Candidate> &cands, const EvalSettings &s) {
    const std::string slot_class = workloads.front()->shape_class;
    const std::string slot = op.slot(slot_class);
    try {
        setenv("HL_NUM_THREADS", std::to_string(s.threads).c_str(), 1);  // the JIT runtime's pool
        set_num_threads(s.threads);                                      // the AOT runtime's
        limit_cpu_variant(static_cast<CpuVariant>(s.variant));
        set_tuned_kernels_enabled(false);  // "default" is the build's default library
        if (static_cast<int>(cpu_variant()) != s.variant) {
            emit(fd, {{"fatal", std::string("this CPU cannot run the ") + cpu_variant_name(static_cast<CpuVariant>(s.variant)) +
                                    " variant (dispatch chose " + cpu_variant_name(cpu_variant()) + ")"}});
            _exit(3);
        }
        for (Workload *w : workloads) w->setup();
    } catch (const std::exception &e) {
        emit(fd, {{"fatal", std::string("setting up the workloads: ") + e.what()}});
        _exit(3);
    }
    // Compile and check every candidate first.
    std::vector<Compiled> compiled(cands.size());
    std::vector<bool> good(cands.size(), false);
    for (size_t i = 0; i < cands.size(); i++) {
        nlohmann::json r = {{"i", i}};
        try {
            compiled[i] = compile(op, cands[i], s, workloads);
        } catch (const std::exception &e) {
            r["status"] = "error";
            r["detail"] = std::string("compiling: ") + e.what();
            emit(fd, r);
            continue;
        }
        install(slot, compiled[i]);
        std::string wrong;
        try {
            for (Workload *w : workloads) {
                g_calls = 0;
                w->run();
                if (compiled[i].fn && g_calls == 0) {
                    throw std::runtime_error("shape " + w->shape + " did not call " + slot +
                                             " (it takes another path in the runtime)");
                }
                if (s.inject_wrong && compiled[i].fn) w->corrupt();
                wrong = w->check();
                if (!wrong.empty()) {
                    wrong = "shape " + w->shape + ": " + wrong;
                    break;
                }
            }
        } catch (const std::exception &e) {
            r["status"] = "error";
            r["detail"] = std::string(e.what()) + (g_jit_error.empty() ? "" : " (" + g_jit_error + ")");
            g_jit_error.clear();
            emit(fd, r);
            continue;
        }
        if (!wrong.empty()) {
            r["status"] = "wrong";
            r["detail"] = wrong;
            emit(fd, r);
            continue;
        }
        good[i] = true;
        r["status"] = "checked";
        emit(fd, r);
    }
    // Time them.
    const size_t nw = workloads.size();
    std::vector<std::vector<std::vector<double>>> samples(cands.size(), std::vector<std::vector<double>>(nw));
    std::vector<std::vector<int>> batch(cands.size(), std::vector<int>(nw, 1));
    for (size_t i = 0; i < cands.size(); i++) {
        if (!good[i]) continue;
        install(slot, compiled[i]);
        for (size_t w = 0; w < nw; w++) {
            workloads[w]->run();  // warm-up: caches, page faults, the thread pool
            batch[i][w] = calibrate(*workloads[w]);
            if (s.alternate_rounds == 0) {
                for (int k = 0; k < s.samples; k++) samples[i][w].push_back(sample_ms(*workloads[w], batch[i][w]));
            }
        }
    }
    // Alternating rounds: every candidate's k-th sample is taken within a
    // short window of the others', so a drift in the machine's speed (another
    // job, frequency) moves them all alike; the order rotates each round.
    for (int round = 0; round < s.alternate_rounds; round++) {
        for (size_t j = 0; j < cands.size(); j++) {
            const size_t i = (j + size_t(round)) % cands.size();
            if (!good[i]) continue;
            install(slot, compiled[i]);
            for (size_t w = 0; w < nw; w++) samples[i][w].push_back(sample_ms(*workloads[w], batch[i][w]));
        }
    }
    install(slot, Compiled{});
    for (size_t i = 0; i < cands.size(); i++) {
        if (!good[i]) continue;
        nlohmann::json r = {{"i", i}, {"status", "ok"}};
        std::vector<double> ms;
        for (size_t w = 0; w < nw; w++) ms.push_back(median(samples[i][w]));
        r["ms"] = ms;
        emit(fd, r);
    }
    _exit(0);
}

}  // namespace

std::vector<Measurement> evaluate(const TuneOperator &op, const std::vector<Workload *> &workloads,
                                  const std::vector<Candidate> &cands, const EvalSettings &settings) {
    std::vector<Measurement> out(cands.size());
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        if (!settings.log_file.empty()) {
            int log = open(settings.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (log >= 0) {
                dup2(log, 1);
                dup2(log, 2);
                close(log);
            }
        }
        run_child(fds[1], op, workloads, cands, settings);
    }
    close(fds[1]);
    // Read the child's report lines until it exits or the deadline passes.
    std::string buffer;
    const auto t0 = Clock::now();
    bool timed_out = false;
    std::string fatal;
    for (;;) {
        const double left = settings.timeout_s - seconds_since(t0);
        if (left <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int pr = poll(&p, 1, static_cast<int>(std::min(left, 1.0) * 1000) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        char chunk[4096];
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n <= 0) break;
        buffer.append(chunk, size_t(n));
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
            const auto j = nlohmann::json::parse(buffer.substr(0, nl), nullptr, false);
            buffer.erase(0, nl + 1);
            if (j.is_discarded()) continue;
            if (j.contains("fatal")) {
                fatal = j["fatal"].get<std::string>();
                continue;
            }
            const size_t i = j.value("i", size_t(0));
            if (i >= out.size()) continue;
            Measurement &m = out[i];
            m.status = j.value("status", "error");
            m.detail = j.value("detail", "");
            if (j.contains("ms")) m.ms = j["ms"].get<std::vector<double>>();
        }
    }
    close(fds[0]);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::string death;
    if (timed_out) {
        death = "timeout after " + std::to_string(int(settings.timeout_s)) + " s";
    } else if (WIFSIGNALED(wstatus)) {
        const int sig = WTERMSIG(wstatus);
        death = std::string("crashed: signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
    } else if (!fatal.empty()) {
        throw std::runtime_error(fatal);
    }
    for (auto &m : out) {
        if (m.status == "ok" || m.status == "wrong" || m.status == "error") continue;
        // "checked" but never timed, or never reported: the child died on it.
        m.status = timed_out ? "timeout" : "crashed";
        m.detail = death.empty() ? "the child exited without a result" : death;
    }
    return out;
}

}  // namespace qforge::tune
