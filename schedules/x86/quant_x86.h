// x86 schedules for the float32 quantization operators (fake-quant, STE
// backward, LSQ backward). No math here: each function receives the Funcs an
// algorithm in generators/ defined and only decides loop structure.
//
// All of these kernels are memory-bound streams, so the goals are: full-width
// vectors, coarse parallel tasks (Halide's per-task overhead shows below about
// 16K elements, HALIDE14_NOTES §6), and one pass over memory for fused
// outputs (compute_with / tuples instead of separate loops).
#pragma once

#include "Halide.h"

namespace qforge::schedules::x86 {

using namespace Halide;

// Tunable parameters, declared as GeneratorParams so qforge-tune can search
// them per target and shape class. A generator holds one of these as a member.
struct StreamingParams {
    GeneratorParam<int> task_elements{"task_elements", 1 << 14};  // elements per parallel task
    GeneratorParam<int> vector_unroll{"vector_unroll", 1};        // vectors per inner iteration
};

// fp32 lanes of the widest vector the target has. Computed from the feature
// bits, not Target::natural_vector_size (wrong for sapphirerapids-only
// targets, HALIDE14_NOTES G2).
inline int float_lanes(const Target &t) {
    if (t.has_feature(Target::AVX512) || t.has_feature(Target::AVX512_Skylake) ||
        t.has_feature(Target::AVX512_SapphireRapids)) {
        return 16;
    }
    if (t.has_feature(Target::AVX2) || t.has_feature(Target::AVX)) return 8;
    return 4;
}

// One flat stream: parallel tasks of task_elements, vectors inside. Works for
// Tuple-valued Funcs (y and mask written in the same loop).
inline void schedule_stream_1d(Func f, const Var &i, const Target &t, const StreamingParams &p) {
    const int lanes = float_lanes(t) * std::max(1, (int)p.vector_unroll);
    Var task("task"), ii("ii");
    f.split(i, task, ii, p.task_elements, TailStrategy::GuardWithIf)
        .parallel(task)
        .vectorize(ii, lanes, TailStrategy::GuardWithIf);
}

// Per-channel elementwise over x(i, c, o) (i: elements inside one channel
// slice, c: channel, o: slices outside); `per_channel` are the small Funcs
// over c (e.g. 1/scale), computed once up front. Two layouts matter:
//   channel axis not last (weights [C, K...]): i is long, vectorize over i;
//   channel axis last (NHWC activations): i has extent 1, vectorize over c.
inline void schedule_per_channel_3d(Func f, const Var &i, const Var &c, const Var &o,
                                    const Expr &inner_extent, const std::vector<Func> &per_channel,
                                    const Target &t, const StreamingParams &p) {
    for (Func f : per_channel) f.compute_root();
    const int lanes = float_lanes(t);
    const int task = p.task_elements;
    Var oo("oo"), oi("oi"), ib("ib"), ii("ii"), t1("t1"), tt("tt");
    // Channel axis last: rows of C channels, tasks of whole rows.
    f.specialize(inner_extent == 1)
        .reorder(c, i, o)
        .vectorize(c, lanes, TailStrategy::GuardWithIf)
        .split(o, oo, oi, std::max(1, task / 64), TailStrategy::GuardWithIf)
        .parallel(oo);
    // General case: tasks are blocks of one channel slice.
    f.split(i, ib, ii, task, TailStrategy::GuardWithIf)
        .fuse(ib, c, t1)
        .fuse(t1, o, tt)
        .parallel(tt)
        .vectorize(ii, lanes, TailStrategy::GuardWithIf);
}

// Fused LSQ backward, per tensor. `total` is the reduction over the RDom `r`
// (a Tuple of sums); dx is the elementwise output. The reduction is split into
// tasks (u) and vector lanes and rfactored twice: per task (parallel), then per
// lane inside the task, into a small buffer that lives on the task's stack (no
// shared accumulator array, so no false sharing between threads). dx is
// computed in the same task loop (compute_with), while the task's x and dy
// are still in L2, so memory is read once.
// `scalars` are the 0-D Funcs around the reduction (1/s, the gradient
// outputs): computed once, at the root.
inline void schedule_lsq_backward_per_tensor(Func dx, const Var &i, Func total, const RDom &r,
                                             const std::vector<Func> &scalars,
                                             const Target &t, const StreamingParams &p) {
    const int lanes = float_lanes(t);
    RVar ro("ro"), ri("ri"), rio("rio"), rii("rii");
    Var u("u"), lane("lane"), ii("ii");
    total.compute_root();
    total.update()
        .split(r.x, ro, ri, p.task_elements, TailStrategy::GuardWithIf)
        .split(ri, rio, rii, lanes, TailStrategy::GuardWithIf);
    Func per_task = total.update().rfactor(ro, u);           // per_task(u)
    per_task.compute_root().update().parallel(u);
    Func per_lane = per_task.update().rfactor(rii, lane);    // per_lane(lane, u)
    per_lane.compute_at(per_task, u).vectorize(lane);
    per_lane.update().reorder(lane, rio).vectorize(lane);
    dx.split(i, u, ii, p.task_elements, TailStrategy::GuardWithIf)
        .parallel(u)
        .vectorize(ii, lanes, TailStrategy::GuardWithIf);
    dx.compute_with(per_task.update(), u);
    for (Func f : scalars) f.compute_root();
}

// Fused LSQ backward, per channel, over x(i, c, o): one parallel task per
// channel. Inside it, the channel's sums go to a per-lane buffer on the task's
// stack, and the channel's dx is computed in the same loop over c.
inline void schedule_lsq_backward_per_channel(Func dx, const Var &i, const Var &c, const Var &o,
                                              Func total, const RDom &r,
                                              const std::vector<Func> &per_channel,
                                              const Target &t) {
    const int lanes = float_lanes(t);
    RVar rxo("rxo"), rxi("rxi");
    Var lane("lane");
    total.compute_root();
    total.update().split(r.x, rxo, rxi, lanes, TailStrategy::GuardWithIf);
    Func per_lane = total.update().rfactor(rxi, lane);       // per_lane(lane, c)
    total.update().parallel(c);
    per_lane.compute_at(total, c).vectorize(lane);
    per_lane.update().reorder(lane, rxo, r.y).vectorize(lane);
    dx.reorder(i, o, c).parallel(c).vectorize(i, lanes, TailStrategy::GuardWithIf);
    dx.compute_with(total.update(), c);
    for (Func f : per_channel) f.compute_root();
}

}  // namespace qforge::schedules::x86
