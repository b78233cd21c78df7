// Internal: how an operator calls a kernel library. Three sources, in order:
// the tuner's override for the slot (qforge/tuning.h), the build's tuned
// kernel for the slot and the call's shape class (compiled from
// schedules/tuned/<target>.json, used only when the dispatcher chose that
// entry's CPU variant), and the slot's default library.
#pragma once

#include <type_traits>

#include "HalideRuntime.h"
#include "qforge/tuning.h"

namespace qforge::detail {

// One row of the table cmake/QforgeTuned.cmake generates (tuned_kernel_table.cpp).
struct TunedKernel {
    const char *slot;         // the default library's name, "qf_gemm_u8"
    const char *shape_class;  // qforge/tuning.h's classes
    int variant;              // CpuVariant the library was compiled (and tuned) for
    void *fn;                 // the library's function: the slot's signature
    int tile_m;               // GEMM row tile of the tuned schedule (0: not a GEMM, or the target's default)
    const char *params;       // "k_unroll=2 tile_m=4"
};
extern const TunedKernel kTunedKernels[];  // ends with a row whose slot is nullptr

// The kernel a call runs.
struct KernelChoice {
    KernelArgvFn argv = nullptr;          // the tuner's override (called through argv)
    const TunedKernel *tuned = nullptr;   // else a tuned library
    int tile_m = 0;                       // the override's or tuned kernel's GEMM row tile (0: default)
};
KernelChoice choose_kernel(const char *slot, const char *shape_class);

// Halide's argv convention: a buffer argument is its halide_buffer_t *, a
// scalar a pointer to its value (which outlives the call: arguments are
// lvalues or temporaries of the calling expression).
template<typename T>
void *argv_slot(const T &v) {
    if constexpr (std::is_arithmetic_v<T>) {
        return const_cast<void *>(static_cast<const void *>(&v));
    } else {
        return static_cast<void *>(static_cast<halide_buffer_t *>(const_cast<T &>(v)));
    }
}

// Calls the chosen kernel with the default library's arguments.
template<typename Fn, typename... Args>
int call_kernel(const KernelChoice &k, Fn default_fn, Args &&...args) {
    if (k.argv) {
        void *argv[] = {argv_slot(args)...};
        return k.argv(argv);
    }
    if (k.tuned) return reinterpret_cast<Fn>(k.tuned->fn)(args...);
    return default_fn(args...);
}

}  // namespace qforge::detail
