// Target-neutral schedules for the memory-bound operators: elementwise
// streams, per-channel reductions, pooling, softmax rows and the LSQ
// backward. No math here: each function receives Funcs an algorithm in
// generators/ defined and only decides loop structure.
//
// These kernels are limited by memory, not by the vector unit, so one loop
// structure serves every CPU family; what differs per family is only the
// vector width, which the caller passes as `lanes` (schedules/x86/*.h passes
// the widest float vector it has, schedules/arm/*.h two NEON q registers).
// The goals: full-width vectors, coarse parallel tasks (Halide's per-task
// overhead shows below about 16K elements, HALIDE14_NOTES §6), one pass over
// memory for fused outputs (compute_with / tuples instead of separate
// loops), and per-task partial sums for reductions (rfactor), so threads
// never share an accumulator.
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"
#include "schedules/params.h"

namespace qforge::schedules::common {

using namespace Halide;

// One flat stream: parallel tasks of task_elements, vectors of `lanes` inside.
// Works for Tuple-valued Funcs (y and mask written in the same loop).
inline void stream_1d(Func f, const Var &i, int lanes, const StreamingParams &p) {
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
inline void per_channel_3d(Func f, const Var &i, const Var &c, const Var &o, const Expr &inner_extent,
                           const std::vector<Func> &per_channel, int lanes, const StreamingParams &p) {
    for (Func f : per_channel) f.compute_root();
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
inline void lsq_backward_per_tensor(Func dx, const Var &i, Func total, const RDom &r, const std::vector<Func> &scalars,
                                    int lanes, const StreamingParams &p) {
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
inline void lsq_backward_per_channel(Func dx, const Var &i, const Var &c, const Var &o, Func total, const RDom &r,
                                     const std::vector<Func> &per_channel, int lanes) {
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

// ---- [C, M] operators: x(c, m), c the channel (stride 1), m every other axis --------

// Rows of one parallel task of an elementwise [C, M] kernel: about
// `task_elements` elements, at least one row.
inline Expr rows_per_task(const Expr &channels, const StreamingParams &p) {
    return max(1, Expr((int)p.task_elements) / max(1, channels));
}

// Elementwise f(c, m) over rows of `channels` contiguous values: parallel
// tasks of whole rows, vectors along c (GuardWithIf: any C, including C <
// lanes). Works for Tuple-valued Funcs.
inline void rows_2d(Func f, const Var &c, const Var &m, const Expr &channels, int lanes, const StreamingParams &p) {
    Var mo("mo"), mi("mi");
    f.split(m, mo, mi, rows_per_task(channels, p), TailStrategy::GuardWithIf)
        .parallel(mo)
        .vectorize(c, lanes, TailStrategy::GuardWithIf);
}

// A reduction total(c) (+)= term(c, r.x) over the rows r.x of an RDom: split
// into chunks of reduce_rows rows and rfactored per chunk (parallel tasks,
// each writing its own row of partial(c, u)), then the partials are summed in
// chunk order. Vectors along c everywhere. Tuple reductions work too.
inline void column_reduction(Func total, const Var &c, const RDom &r, int lanes, const ColumnReductionParams &p) {
    RVar ro("ro"), ri("ri");
    Var u("u");
    total.compute_root().vectorize(c, lanes, TailStrategy::GuardWithIf);
    total.update().split(r.x, ro, ri, p.reduce_rows, TailStrategy::GuardWithIf);
    Func partial = total.update().rfactor(ro, u);  // partial(c, u)
    partial.compute_root().vectorize(c, lanes, TailStrategy::GuardWithIf).parallel(u);
    partial.update().reorder(c, ri, u).vectorize(c, lanes, TailStrategy::GuardWithIf).parallel(u);
    total.update().vectorize(c, lanes, TailStrategy::GuardWithIf);
}

// Small per-channel Funcs (1/scale, gamma * invstd, ...): once, up front.
inline void per_channel_scalars(const std::vector<Func> &fs, const Var &c, int lanes) {
    for (Func f : fs) f.compute_root().vectorize(c, lanes, TailStrategy::GuardWithIf);
}

// Per-channel outputs (column sums, parameter gradients): vectors along c.
inline void channel_outputs(const std::vector<Func> &outs, const Var &c, int lanes) {
    for (Func f : outs) f.vectorize(c, lanes, TailStrategy::GuardWithIf);
}

// 2x2 pooling over NHWC f(c, w, h, n): vectors along c, parallel tasks of
// whole rows (h, n fused) of about task_elements elements; `row_elements` is
// the elements of one row of f (W * C).
inline void pool_rows(Func f, const Var &c, const Var &h, const Var &n, const Expr &row_elements, int lanes,
                      const StreamingParams &p) {
    Var hn("hn"), task("task"), hi("hi");
    f.fuse(h, n, hn)
        .split(hn, task, hi, max(1, Expr((int)p.task_elements) / max(1, row_elements)), TailStrategy::GuardWithIf)
        .parallel(task)
        .vectorize(c, lanes, TailStrategy::GuardWithIf);
}

// Softmax cross-entropy over logits(k, b): tiny (batch x classes); the row
// statistics are computed once per row, the gradient rows in parallel.
inline void softmax_rows(Func dlogits, const Var &k, const Var &b, const std::vector<Func> &per_row, int lanes) {
    // Per-row reductions (max, sum of exp, loss): rows in parallel tasks of 16
    // (the class loop of a row stays sequential, the reference's order). The
    // last Func (the batch total) is a scalar.
    for (size_t i = 0; i < per_row.size(); i++) {
        Func f = per_row[i];
        f.compute_root();
        if (i + 1 == per_row.size()) continue;
        Var ro("ro"), ri("ri");
        f.split(b, ro, ri, 16, TailStrategy::GuardWithIf).parallel(ro);
        for (int u = 0; u < f.num_update_definitions(); u++) {
            f.update(u).split(b, ro, ri, 16, TailStrategy::GuardWithIf).parallel(ro);
        }
    }
    Var bo("bo"), bi("bi");
    dlogits.split(b, bo, bi, 64, TailStrategy::GuardWithIf)
        .parallel(bo)
        .vectorize(k, lanes, TailStrategy::GuardWithIf);
}

}  // namespace qforge::schedules::common
