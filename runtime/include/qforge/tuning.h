// Tuned schedules: shape classes, the tuned kernels this build holds, and the
// hook qforge-tune times candidate kernels through.
//
// qforge-tune (tools/qforge_tune) measures schedule parameters per operator,
// shape class and target and writes schedules/tuned/<target>.json. The build
// (cmake/QforgeTuned.cmake) compiles one extra kernel library per entry of
// that database, for the entry's target only, and lists it in a table the
// runtime consults at each call: when the dispatched CPU variant is the
// entry's target and the call's shape falls in the entry's shape class, the
// tuned library runs instead of the default one. Shape classes are defined
// here once, for the runtime and the tuner both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "HalideRuntime.h"
#include "qforge/dispatch.h"

namespace qforge {

// ---- shape classes -------------------------------------------------------------------

namespace shape_class {

// The int8 GEMM, C[M, N] = A[M, K] W[N, K]^T (also the 1x1 conv and im2col
// paths): "gemv" (M <= 4, the one-row kernel), "small_m" (5 <= M < 64: fewer
// row tiles than threads x tasks), "default" (M >= 64).
inline constexpr int64_t kGemvMaxRows = 4;
inline constexpr int64_t kSmallMMaxRows = 63;
inline const char *gemm(int64_t m) {
    return m <= kGemvMaxRows ? "gemv" : m <= kSmallMMaxRows ? "small_m" : "default";
}
// The smallest M of a GEMM class (a tuned row tile must not exceed it).
inline int64_t gemm_min_rows(const std::string &cls) {
    return cls == "gemv" ? 1 : cls == "small_m" ? kGemvMaxRows + 1 : kSmallMMaxRows + 1;
}

// The direct (implicit-GEMM) int8 conv: "narrow" when an output row has at
// most 16 pixels (a register tile's padding is a large share of the row),
// "default" otherwise.
inline constexpr int64_t kNarrowMaxWidth = 16;
inline const char *direct_conv(int64_t out_width) { return out_width <= kNarrowMaxWidth ? "narrow" : "default"; }

// The direct int8 conv over flattened input rows: its weight panel (1, 2 or 4
// int32 vectors of output channels, from C_out) selects a separate library
// per width, and each width is tuned on its own: "pv1", "pv2", "pv4".
inline const char *rows_conv(int64_t panel_vectors) {
    return panel_vectors == 1 ? "pv1" : panel_vectors == 2 ? "pv2" : "pv4";
}

// Depthwise int8 conv: one class.
inline const char *depthwise_conv() { return "default"; }

// The elementwise quantization kernels (fake quant, STE, LSQ backward):
// "small" up to 2^21 elements (8 MB of floats: the stream stays in the last
// level cache, so per-task overhead, not DRAM bandwidth, bounds it), "default" above.
inline constexpr int64_t kSmallStreamMaxElements = int64_t(1) << 21;
inline const char *elementwise(int64_t elements) {
    return elements <= kSmallStreamMaxElements ? "small" : "default";
}

}  // namespace shape_class

// ---- the tuned kernels of this build -------------------------------------------------

struct TunedKernelInfo {
    std::string slot;         // the default library it stands in for, e.g. "qf_gemm_u8"
    std::string shape_class;  // "small_m"
    CpuVariant variant;       // the CPU variant (target) it was compiled and tuned for
    std::string params;       // its schedule parameters, "k_unroll=2 tile_m=4"
    bool active;              // used by this process (the dispatched variant is `variant`, tuning enabled)
};

// Every tuned kernel linked into this build (from schedules/tuned/*.json when it was configured).
std::vector<TunedKernelInfo> tuned_kernels();

// Tuned kernels are used unless disabled here or by QFORGE_NO_TUNED=1 in the
// environment (read once, at the first kernel call): benchmarks compare
// default and tuned schedules in one process this way.
void set_tuned_kernels_enabled(bool enabled);
bool tuned_kernels_enabled();

// ---- the tuner's hook ----------------------------------------------------------------

// A kernel called through Halide's argv convention: args[i] points at the i-th
// argument (halide_buffer_t * for buffers, a pointer to the value for scalars).
using KernelArgvFn = int (*)(void **args);

// Runs `fn` wherever the runtime would call the kernel library `slot` (e.g.
// "qf_gemm_u8"), whatever the shape class. qforge-tune installs the JIT-compiled
// candidate this way and times it through the public operators, so candidate
// and default see the same arguments. `fn` must come from the same generator
// as the slot's library (same arguments in the same order). For the GEMM
// slots, gemm_row_tile is the candidate's output rows per register tile (the
// runtime then runs the slot's tiled kernel for any M >= it; 0: the target's
// default). nullptr removes the override.
void set_kernel_override(const std::string &slot, KernelArgvFn fn, int gemm_row_tile = 0);

// The parallel loop the AOT kernels run their tasks with (Halide's
// do_par_for signature): qforge's own (docs/threading.md), or Halide's
// default pool under QFORGE_THREAD_POOL=halide. qforge-tune installs the same
// one in the JIT runtime, so candidate and default run their tasks alike.
halide_do_par_for_t kernel_parallel_for();

}  // namespace qforge
