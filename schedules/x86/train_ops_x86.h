// x86 schedules for the float32 training operators (batch norm, per-channel
// affine, ReLU, 2x2 max pool, softmax cross-entropy, optimizers) and the
// integer-model helpers (quantize, dequantize, requantize, u8/s8 max pool).
// No math here: each function receives Funcs an algorithm in
// generators/train_ops_generators.cpp defined and only decides loop structure.
//
// Activations are NHWC, so "per channel" is the innermost axis: the kernels
// see x(c, m) with c the channel (stride 1) and m every other axis flattened.
// All of these kernels are memory-bound streams; the goals are full-width
// vectors along c, coarse parallel tasks of rows, and per-task partial sums
// for the per-channel reductions (rfactor over row chunks, parallel), so
// threads never share an accumulator.
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"
#include "schedules/x86/quant_x86.h"

namespace qforge::schedules::x86 {

using namespace Halide;

// Tunables of the per-channel reductions over rows (column sums, batch-norm
// statistics and gradients), as GeneratorParams (qforge-tune searches them).
struct ColumnReductionParams {
    // Rows one parallel task sums into its own partial [C] vector. The
    // partials are then added in task order (fixed, so results do not depend
    // on the thread count).
    GeneratorParam<int> reduce_rows{"reduce_rows", 2048};
};

// Rows of one parallel task of an elementwise [C, M] kernel: about
// `task_elements` elements, at least one row.
inline Expr rows_per_task(const Expr &channels, const StreamingParams &p) {
    return max(1, Expr((int)p.task_elements) / max(1, channels));
}

// Elementwise f(c, m) over rows of `channels` contiguous values: parallel
// tasks of whole rows, vectors along c (GuardWithIf: any C, including C <
// lanes). Works for Tuple-valued Funcs.
inline void schedule_rows_2d(Func f, const Var &c, const Var &m, const Expr &channels, const Target &t,
                             const StreamingParams &p) {
    const int lanes = float_lanes(t);
    Var mo("mo"), mi("mi");
    f.split(m, mo, mi, rows_per_task(channels, p), TailStrategy::GuardWithIf)
        .parallel(mo)
        .vectorize(c, lanes, TailStrategy::GuardWithIf);
}

// A reduction total(c) (+)= term(c, r.x) over the rows r.x of an RDom: split
// into chunks of reduce_rows rows and rfactored per chunk (parallel tasks,
// each writing its own row of partial(c, u)), then the partials are summed in
// chunk order. Vectors along c everywhere. Tuple reductions work too.
inline void schedule_column_reduction(Func total, const Var &c, const RDom &r, const Target &t,
                                      const ColumnReductionParams &p) {
    const int lanes = float_lanes(t);
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
inline void schedule_per_channel_scalars(const std::vector<Func> &fs, const Var &c, const Target &t) {
    for (Func f : fs) f.compute_root().vectorize(c, float_lanes(t), TailStrategy::GuardWithIf);
}

// Per-channel outputs (column sums, parameter gradients): vectors along c.
inline void schedule_channel_outputs(const std::vector<Func> &outs, const Var &c, const Target &t) {
    for (Func f : outs) f.vectorize(c, float_lanes(t), TailStrategy::GuardWithIf);
}

// 2x2 pooling over NHWC f(c, w, h, n): vectors along c, parallel tasks of
// whole rows (h, n fused) of about task_elements elements; `row_elements` is
// the elements of one row of f (W * C).
inline void schedule_pool_rows(Func f, const Var &c, const Var &h, const Var &n, const Expr &row_elements,
                               const Target &t, const StreamingParams &p, int lanes_override = 0) {
    const int lanes = lanes_override > 0 ? lanes_override : float_lanes(t);
    Var hn("hn"), task("task"), hi("hi");
    f.fuse(h, n, hn)
        .split(hn, task, hi, max(1, Expr((int)p.task_elements) / max(1, row_elements)), TailStrategy::GuardWithIf)
        .parallel(task)
        .vectorize(c, lanes, TailStrategy::GuardWithIf);
}

// Byte-typed elementwise kernels: 4x the float lanes per vector.
inline int byte_lanes(const Target &t) { return float_lanes(t) * 4; }

// Softmax cross-entropy over logits(k, b): tiny (batch x classes); the row
// statistics are computed once per row, the gradient rows in parallel.
inline void schedule_softmax_rows(Func dlogits, const Var &k, const Var &b, const std::vector<Func> &per_row,
                                  const Target &t) {
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
        .vectorize(k, float_lanes(t), TailStrategy::GuardWithIf);
}

}  // namespace qforge::schedules::x86
