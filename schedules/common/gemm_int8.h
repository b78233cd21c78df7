// The int8 GEMM's loop structure (generators/gemm_int8_generators.cpp),
// shared by the x86 and AArch64 schedules, which choose its sizes
// (gemm_x86.h, gemm_arm.h).
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"

namespace qforge::schedules {

// The register tile and the parallel grain.
struct GemmTile {
    int vector_lanes;        // int32 lanes of one vector
    int panel;               // columns per tile: the packed weights' panel
    int rows;                // rows per tile
    int row_tiles_per_task;  // parallel grain along M
    int k_unroll;            // k groups per inner-loop iteration
};

// The GEMM's operands as the multiply reads them: a_operand(k, m), the
// activations, and w_operand(kk, ni, ko, no), the packed weights (pure
// Funcs of the algorithm: int16 copies where the target multiplies int16
// pairs, schedules/layout.h gemm_widens_operands, else the inputs as they
// are). Staged, they are computed once per parallel task (the task's weight
// panel) and once per row tile (its rows of A), which takes every conversion
// out of the inner loop; otherwise they are inlined into it.
struct GemmOperands {
    Halide::Func a_operand, w_operand;
    bool staged;
};

// c(n, m) is the output stage over acc(ni, no, m) (column ni of panel no);
// `per_column` are small Funcs over n (the folded bias) computed once. Rows
// run in whole tiles; the last is shifted inwards (ShiftInwards: it overlaps
// the one before and writes its rows again with the same values), so any
// M >= the tile runs in one call.
inline void schedule_gemm_int8_loops(Halide::Func c, Halide::Func acc, const std::vector<Halide::Func> &per_column,
                                     const GemmOperands &operands, const Halide::Var &n, const Halide::Var &m,
                                     const Halide::Var &ni_acc, const Halide::Var &no_acc, const Halide::RDom &r,
                                     const GemmTile &tile) {
    using namespace Halide;
    const int vec = tile.vector_lanes, tn = tile.panel, tm = tile.rows;
    for (Func f : per_column) f.compute_root();
    // Columns start at 0 (n indexes the packed weights, so every caller's c
    // does): with the min known, n % P and n / P of a vector of columns
    // simplify to a dense ramp and a scalar, so the output stage reads the
    // accumulator tile with whole-vector loads (an unknown min made it a
    // 16-lane gather per vector: 3136x64x576 about 520 -> 600 GOPS).
    c.output_buffer().dim(0).set_min(0);

    Var no("no"), mo("mo"), ni("ni"), mi("mi"), mt("mt"), task("task"), nio("nio"), niv("niv");
    const int grain = std::max(1, tile.row_tiles_per_task);
    // Column panel outer (its packed weights stay in L2), rows inner; parallel
    // tasks are (panel, block of row tiles), so a narrow N (one panel) still
    // spreads over the cores. Column tiles are whole panels (guarded stores at
    // the edge, so a tile never straddles two panels); rows are whole tiles.
    c.split(n, no, ni, tn, TailStrategy::GuardWithIf)
        .split(m, mo, mi, tm, TailStrategy::ShiftInwards)
        .split(mo, mt, mo, grain, TailStrategy::GuardWithIf)
        .reorder(ni, mi, mo, no, mt)
        .fuse(no, mt, task)
        .split(ni, nio, niv, vec)
        .vectorize(niv)
        .unroll(nio)
        .unroll(mi)
        .parallel(task);

    Var nu("nu"), nv("nv");
    RVar ryo("ryo"), ryi("ryi");
    // The accumulator: one full register tile per (mo, no), even at the right
    // edge (padded columns have zero weights).
    // (A column tile is one whole panel, so one `no` per tile: bound_extent
    // tells Halide, which cannot prove n / P is constant over the tile.)
    acc.compute_at(c, mo)
        .bound_extent(ni_acc, tn)
        .bound_extent(no_acc, 1)
        .bound_extent(m, tm)
        .vectorize(ni_acc, vec)
        .unroll(ni_acc)
        .unroll(m);
    acc.update()
        .split(ni_acc, nu, nv, vec)
        .split(r.y, ryo, ryi, std::max(1, tile.k_unroll), TailStrategy::GuardWithIf)
        .reorder(r.x, nv, nu, m, ryi, ryo)
        .atomic()
        .vectorize(r.x)  // the k group: one VectorReduce (x86: vpdpbusd / pmaddwd; ARM: sdot / smull + sadalp)
        .vectorize(nv)
        .unroll(nu)
        .unroll(m)
        .unroll(ryi);

    if (operands.staged) {
        // The task's weight panel, widened once (K x P int16: the task's rows
        // then read it from L1/L2 with plain vector loads), and each row
        // tile's activations (R x K int16: one 32-bit broadcast per row and k pair).
        const Halide::Var kk = operands.w_operand.args()[0], wni = operands.w_operand.args()[1];
        const Halide::Var k = operands.a_operand.args()[0];
        Var kn("kn");
        Func w_operand = operands.w_operand, a_operand = operands.a_operand;
        w_operand.compute_at(c, task).fuse(kk, wni, kn).vectorize(kn, 2 * vec);
        a_operand.compute_at(c, mo).vectorize(k, 2 * vec, TailStrategy::GuardWithIf);
    }
}

}  // namespace qforge::schedules
