// The streaming-copy baseline of the memory-bound benchmarks (bench_quant,
// bench_train_ops): a copy of the same bytes through the Halide kernel
// qf_stream_copy, interleaved with the op so both see the same background load.
#pragma once

#include "bench_env.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

#include "HalideBuffer.h"
#include "qf_stream_copy.h"
#include "qforge/dispatch.h"


// A streaming copy of `bytes` in total (bytes/8 floats read from src, the same written to dst).
class StreamCopy {
public:
    StreamCopy(float *src, float *dst, int64_t bytes)
        : src_(src, static_cast<int>(bytes / 8)), dst_(dst, static_cast<int>(bytes / 8)) {}
    void operator()() {
        if (int rc = qf_stream_copy(src_.raw_buffer(), dst_.raw_buffer()); rc != 0) {
            throw std::runtime_error("qf_stream_copy failed with code " + std::to_string(rc));
        }
    }

private:
    Halide::Runtime::Buffer<float> src_, dst_;
};

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Times `call` (set up by the caller, outside the loop) after one untimed
// warm-up call (the thread pool, dispatch, page faults).
//
// With `copy` (the op rows, registered with UseManualTime): every iteration
// first runs the copy of the same bytes, untimed for the op, then the op,
// timed alone with a wall clock; the copy's own bandwidth goes to the counter
// "baseline_value" (GB/s). The op and its baseline thus see the same
// background load, which on a small shared machine moves both by tens of
// percent over seconds. Without `copy` (the copy rows): plain real time.
inline void timed(benchmark::State &state, int threads, int64_t bytes_per_iteration, const std::string &label,
                  const std::function<void()> &call, const std::function<void()> &copy = nullptr) {
    double copy_seconds = 0;
    try {
        qforge::set_num_threads(threads);
        call();
        if (copy) {
            copy();
            for (auto _ : state) {
                auto t0 = Clock::now();
                copy();
                benchmark::ClobberMemory();
                copy_seconds += seconds_since(t0);
                t0 = Clock::now();
                call();
                benchmark::ClobberMemory();
                state.SetIterationTime(seconds_since(t0));
            }
        } else {
            for (auto _ : state) {
                call();
                benchmark::ClobberMemory();
            }
        }
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        return;
    }
    state.SetBytesProcessed(state.iterations() * bytes_per_iteration);
    if (copy && copy_seconds > 0) {
        state.counters["baseline_value"] =
            static_cast<double>(state.iterations() * bytes_per_iteration) / copy_seconds / 1e9;
    }
    state.SetLabel(label);
}
