// Which variant of the AOT kernels runs, and thread control. On x86-64 every
// kernel library holds an AVX-512 VNNI, an AVX2+FMA, an SSE4.1 and a plain
// x86-64 build; on AArch64 a dot-product (sdot) build and a plain NEON one.
// Halide's dispatcher picks the best the CPU supports on the first call and
// keeps that choice for the life of the process.
//
// Process-wide effects: before its first kernel runs, qforge installs Halide's
// error handler (kernel failures become qforge::KernelError instead of abort()),
// its parallel loop (halide_do_par_for: qforge's thread pool) and its
// can-use-target-features hook (for the variant cap, and on AArch64 to
// ask the kernel whether the CPU has dot product, which Halide 14 does not
// check). An app that also runs its own Halide pipelines shares all three
// (QFORGE_THREAD_POOL=halide leaves Halide's own thread pool in place).
#pragma once

#include <string_view>

namespace qforge {

// Ordered: a cap (limit_cpu_variant) allows its variant and those below it.
// baseline is the architecture's plain build (x86-64 or AArch64 NEON); the
// others exist on one architecture only.
enum class CpuVariant : int { baseline = 0, sse41 = 1, avx2 = 2, avx512_vnni = 3, arm_dot_prod = 4 };

// "avx512_vnni", "avx2", "sse41", "arm_dot_prod", "baseline"
const char *cpu_variant_name(CpuVariant v);
CpuVariant parse_cpu_variant(std::string_view name);  // throws InvalidArgument

// The variant the dispatcher chose (asks the dispatcher itself, through a
// probe kernel compiled for the same targets).
CpuVariant cpu_variant();

// Caps the variant dispatch may choose (like oneDNN's DNNL_MAX_CPU_ISA).
// Must be called before the first kernel runs: throws Error afterwards. The
// environment variable QFORGE_MAX_CPU_VARIANT=<name> does the same.
void limit_cpu_variant(CpuVariant max_variant);

// Threads the kernels use, n >= 1, counting the calling thread (initially
// HL_NUM_THREADS or the number of online CPUs). The kernels' parallel loops
// run on qforge's pool (docs/threading.md), or on Halide's with
// QFORGE_THREAD_POOL=halide in the environment. Replaces the pool, so call it
// between kernel calls, not while another thread runs a kernel.
void set_num_threads(int n);

}  // namespace qforge
