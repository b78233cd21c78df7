// Internal: the parallel loop the AOT kernels run their parallel tasks with
// (installed as Halide's do_par_for by ensure_kernel_runtime).
#pragma once

#include "HalideRuntime.h"

namespace qforge::detail {

// Halide's do_par_for signature: run task(user_context, i, closure) for i in
// [min, min + size); 0, or the non-zero status of a task that failed (the
// loop then stops early). Tasks are called directly, not through
// halide_do_task (qforge installs no custom do_task).
int parallel_for(void *user_context, halide_task_t task, int min, int size, uint8_t *closure) noexcept;

// Threads parallel_for uses, 1 to 256 (qforge::set_num_threads; initially
// HL_NUM_THREADS or the number of online CPUs).
void set_parallel_threads(int n);
int parallel_threads();

}  // namespace qforge::detail
