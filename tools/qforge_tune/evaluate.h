// Running candidate schedules: each evaluation is a forked child process that
// JIT-compiles the candidates from the generator code (or runs the build's
// default libraries), checks every output against the reference and times
// it. A candidate that crashes (SIGILL from a feature the CPU lacks, a
// segfault), hangs or returns a wrong result costs only its child.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "Halide.h"
#include "workloads.h"

namespace qforge::tune {

struct Candidate {
    // build_default: the build's default library (tuned kernels off);
    // build_tuned: the build's tuned library for the workloads' class, as the
    // runtime calls it (qforge-tune verify: AOT against AOT, no JIT).
    enum class Kind { build_default, build_tuned, jit, autoscheduler };
    Kind kind = Kind::jit;
    std::map<std::string, std::string> params;  // schedule parameters (jit)
    std::string autoscheduler;                  // Adams2019, Li2018, Mullapudi2016 (autoscheduler)
    std::string autoschedule_shape;             // the shape the autoscheduler plans for (its estimates)
    std::string label() const;                  // "default", "tile_m=4 k_unroll=2", "Adams2019"
};

struct Measurement {
    std::string status = "pending";  // ok, wrong, error, crashed, timeout
    std::string detail;          // the mismatch, error message or signal
    std::vector<double> ms;      // median per workload (ok only)
    bool ok() const { return status == "ok"; }
};

struct EvalSettings {
    Halide::Target target;        // what candidates are compiled for (the database's target)
    int variant = 0;              // qforge::CpuVariant of that target: the child caps dispatch to it
    int threads = 1;
    int samples = 7;              // timed samples per workload (median)
    int alternate_rounds = 0;     // > 0: time all candidates of one child in alternating rounds
    double timeout_s = 300;
    std::string log_file;         // the child's stdout/stderr go here
    bool inject_wrong = false;    // testing: corrupt every candidate's output before the check
};

// Evaluates `cands` in one child process (in alternating rounds when
// settings.alternate_rounds > 0, else one after the other). A child that dies
// marks every candidate it had not reported.
std::vector<Measurement> evaluate(const TuneOperator &op, const std::vector<Workload *> &workloads,
                                  const std::vector<Candidate> &cands, const EvalSettings &settings);

}  // namespace qforge::tune
