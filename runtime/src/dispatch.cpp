// CPU-variant control and the Halide runtime hooks (error handler, feature
// check). Both hooks are process-wide; they are installed once, before the
// first kernel call, because Halide's dispatcher caches its choice then.
#include "qforge/dispatch.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "HalideRuntime.h"
#include "kernel_call.h"
#include "parallel_for.h"
#include "qf_cpu_variant_probe.h"
#include "qforge/error.h"
#include "qforge/tuning.h"

namespace qforge {

namespace {

std::atomic<int> g_max_variant{static_cast<int>(CpuVariant::arm_dot_prod)};  // the highest: no cap
std::atomic<bool> g_kernels_started{false};
std::once_flag g_init_once;
std::mutex g_cap_mutex;  // orders limit_cpu_variant against the first kernel call
// The parallel loop the kernels run with (set once, by ensure_kernel_runtime).
std::atomic<halide_do_par_for_t> g_parallel_for{nullptr};

// The last Halide error message of this thread (Halide reports errors on the
// calling thread for the checks that can fail here: bounds, requirements).
thread_local std::string t_last_error;

// Called by Halide from C: must not throw. (Messages from Halide's worker
// threads land in that worker's slot; the checks that can fail here, bounds and
// requirements, run on the calling thread before any parallel work.)
void record_halide_error(void *, const char *msg) noexcept {
    try {
        t_last_error = msg ? msg : "(no message)";
    } catch (...) {
        // Out of memory while recording the message: the error code still reaches the caller.
    }
}

bool has_feature(const uint64_t *features, int count, int bit) {
    return bit / 64 < count && ((features[bit / 64] >> (bit % 64)) & 1);
}

// Which variant a target's feature list describes (the inverse of cmake/QforgeTargets.cmake).
int variant_of_features(int count, const uint64_t *f) {
    if (has_feature(f, count, halide_target_feature_arm_dot_prod)) return static_cast<int>(CpuVariant::arm_dot_prod);
    if (has_feature(f, count, halide_target_feature_avx512_sapphirerapids) ||
        has_feature(f, count, halide_target_feature_avx512)) {
        return static_cast<int>(CpuVariant::avx512_vnni);
    }
    if (has_feature(f, count, halide_target_feature_avx2)) return static_cast<int>(CpuVariant::avx2);
    if (has_feature(f, count, halide_target_feature_sse41)) return static_cast<int>(CpuVariant::sse41);
    return static_cast<int>(CpuVariant::baseline);
}

int capped_can_use_target_features(int count, const uint64_t *features) {
    if (variant_of_features(count, features) > g_max_variant.load()) return 0;
#if defined(__aarch64__)
    // Halide 14 leaves arm_dot_prod "unknown" on Linux and treats unknown
    // features as present, so a CPU without sdot/udot (Cortex-A53, A72) would
    // run the dot-product build and die of SIGILL (HALIDE14_NOTES G8). The
    // kernel knows: HWCAP_ASIMDDP.
    if (has_feature(features, count, halide_target_feature_arm_dot_prod) && !(getauxval(AT_HWCAP) & HWCAP_ASIMDDP)) {
        return 0;
    }
#endif
    return halide_default_can_use_target_features(count, features);
}

}  // namespace

const char *cpu_variant_name(CpuVariant v) {
    switch (v) {
    case CpuVariant::baseline: return "baseline";
    case CpuVariant::sse41: return "sse41";
    case CpuVariant::avx2: return "avx2";
    case CpuVariant::avx512_vnni: return "avx512_vnni";
    case CpuVariant::arm_dot_prod: return "arm_dot_prod";
    }
    return "?";
}

CpuVariant parse_cpu_variant(std::string_view name) {
    for (CpuVariant v : {CpuVariant::baseline, CpuVariant::sse41, CpuVariant::avx2, CpuVariant::avx512_vnni,
                         CpuVariant::arm_dot_prod}) {
        if (name == cpu_variant_name(v)) return v;
    }
    throw InvalidArgument("unknown CPU variant '" + std::string(name) +
                          "' (expected avx512_vnni, avx2, sse41, arm_dot_prod or baseline)");
}

void limit_cpu_variant(CpuVariant max_variant) {
    std::lock_guard<std::mutex> lock(g_cap_mutex);
    if (g_kernels_started.load()) {
        throw Error("limit_cpu_variant: kernels have already run; the dispatcher's choice is fixed "
                    "for this process (call it before the first operator)");
    }
    g_max_variant.store(static_cast<int>(max_variant));
}

void set_num_threads(int n) {
    if (n < 1) throw InvalidArgument("set_num_threads: n must be >= 1, got " + std::to_string(n));
    // Halide 14 does not shrink a pool whose workers already started:
    // halide_set_num_threads(1) after a 2-thread run still runs on 2 threads
    // (measured, docs/halide14-notes.md). Shutting the pool down makes the
    // next kernel start exactly n threads.
    halide_shutdown_thread_pool();
    halide_set_num_threads(n);
    detail::set_parallel_threads(n);
}

halide_do_par_for_t kernel_parallel_for() {
    detail::ensure_kernel_runtime();
    return g_parallel_for.load();
}

CpuVariant cpu_variant() {
    detail::ensure_kernel_runtime();
    int32_t id = -1;
    auto out = Halide::Runtime::Buffer<int32_t>::make_scalar(&id);
    detail::check_kernel(qf_cpu_variant_probe(out), "cpu_variant", "qf_cpu_variant_probe");
    return static_cast<CpuVariant>(id);
}

namespace detail {

void ensure_kernel_runtime() {
    std::call_once(g_init_once, [] {
        std::lock_guard<std::mutex> lock(g_cap_mutex);
        if (const char *env = std::getenv("QFORGE_MAX_CPU_VARIANT"); env && *env) {
            int cap;
            try {
                cap = static_cast<int>(parse_cpu_variant(env));
            } catch (const InvalidArgument &e) {
                throw InvalidArgument(std::string("environment variable QFORGE_MAX_CPU_VARIANT: ") + e.what());
            }
            // The lower of the environment's cap and limit_cpu_variant()'s.
            g_max_variant.store(std::min(g_max_variant.load(), cap));
        }
        // The kernels' parallel loops: qforge's (runtime/src/parallel_for.cpp)
        // unless QFORGE_THREAD_POOL=halide asks for Halide's own thread pool.
        halide_do_par_for_t par_for = detail::parallel_for;
        if (const char *env = std::getenv("QFORGE_THREAD_POOL"); env && *env) {
            const std::string pool = env;
            if (pool == "halide") {
                par_for = halide_default_do_par_for;
            } else if (pool != "qforge") {
                throw InvalidArgument("environment variable QFORGE_THREAD_POOL: unknown thread pool '" + pool +
                                      "' (expected qforge or halide)");
            }
        }
        halide_set_custom_do_par_for(par_for);
        g_parallel_for.store(par_for);
        halide_set_error_handler(record_halide_error);
        halide_set_custom_can_use_target_features(capped_can_use_target_features);
        g_kernels_started.store(true);
    });
}

std::string take_last_kernel_error() {
    std::string msg;
    msg.swap(t_last_error);
    return msg;
}

void check_kernel(int rc, const char *op, const char *kernel) {
    if (rc == 0) return;
    std::string msg = std::string(op) + ": kernel " + kernel + " failed (code " + std::to_string(rc) + ")";
    if (!t_last_error.empty()) msg += ": " + t_last_error;
    t_last_error.clear();
    throw KernelError(msg);
}

void require_tensor(const char *op, const char *name, const TensorView &t, DType dtype) {
    std::string where = std::string(op) + ": " + name;
    if (t.dtype() != dtype) {
        throw ShapeError(where + " must be " + dtype_name(dtype) + ", got " + t.describe());
    }
    if (t.data() == nullptr && t.numel() > 0) throw ShapeError(where + " has null data");
    if (!t.is_contiguous()) {
        throw ShapeError(where + " has unsupported strides: it must be contiguous (row-major)");
    }
    if (reinterpret_cast<uintptr_t>(t.data()) % dtype_size(dtype) != 0) {
        throw ShapeError(where + " is misaligned for " + dtype_name(dtype));
    }
    if (t.numel() > INT32_MAX) {
        throw ShapeError(where + " has " + std::to_string(t.numel()) +
                         " elements; one call takes at most 2^31-1");
    }
}

void require_same_shape(const char *op, const char *name_a, const TensorView &a, const char *name_b,
                        const TensorView &b) {
    if (a.shape() != b.shape()) {
        throw ShapeError(std::string(op) + ": " + name_b + " " + b.describe() + " does not match " +
                         name_a + " " + a.describe());
    }
}

void require_no_partial_overlap(const char *op, const char *name_a, const TensorView &a,
                                const char *name_b, const TensorView &b) {
    auto lo_a = reinterpret_cast<uintptr_t>(a.data()), lo_b = reinterpret_cast<uintptr_t>(b.data());
    auto hi_a = lo_a + a.nbytes(), hi_b = lo_b + b.nbytes();
    bool overlap = lo_a < hi_b && lo_b < hi_a;
    bool exact_alias = lo_a == lo_b && a.dtype() == b.dtype() && a.nbytes() == b.nbytes();
    if (overlap && !exact_alias) {
        throw ShapeError(std::string(op) + ": " + name_a + " and " + name_b +
                         " overlap partially (in-place use must alias exactly)");
    }
}

void require_disjoint(const char *op, const char *name_a, const TensorView &a, const char *name_b,
                      const TensorView &b) {
    auto lo_a = reinterpret_cast<uintptr_t>(a.data()), lo_b = reinterpret_cast<uintptr_t>(b.data());
    if (lo_a < lo_b + b.nbytes() && lo_b < lo_a + a.nbytes()) {
        throw ShapeError(std::string(op) + ": " + name_a + " and " + name_b + " overlap (they must not share memory)");
    }
}

ChannelSplit split_at_axis(const char *op, const TensorView &t, int axis, size_t channels_given) {
    if (axis < 0 || axis >= t.rank()) {
        throw InvalidArgument(std::string(op) + ": axis " + std::to_string(axis) +
                              " is out of range for x " + t.describe());
    }
    if (static_cast<size_t>(t.dim(axis)) != channels_given) {
        throw ShapeError(std::string(op) + ": x " + t.describe() + " has " + std::to_string(t.dim(axis)) +
                         " channels along axis " + std::to_string(axis) + " but " +
                         std::to_string(channels_given) + " scales were given");
    }
    int64_t inner = 1, outer = 1;
    for (int d = 0; d < axis; d++) outer *= t.dim(d);
    for (int d = axis + 1; d < t.rank(); d++) inner *= t.dim(d);
    return {static_cast<int>(inner), static_cast<int>(t.dim(axis)), static_cast<int>(outer)};
}

}  // namespace detail
}  // namespace qforge
