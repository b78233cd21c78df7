// The float32 GEMM's loop structure (generators/train_gemm_generators.cpp),
// shared by the x86 and AArch64 schedules, which choose its sizes
// (train_gemm_x86.h, train_gemm_arm.h).
#pragma once

#include <algorithm>
#include <cstdlib>

#include "Halide.h"

namespace qforge::schedules {

// The register tile, the parallel grain and the prefetch distance.
struct SgemmTile {
    int vector_lanes;        // fp32 lanes of one vector
    int panel;               // columns per tile: the packed B panel
    int rows;                // rows per tile
    int row_tiles_per_task;  // parallel grain along M
    int k_unroll;            // k steps per inner-loop iteration
    int prefetch_b;          // k steps ahead to prefetch B (0: none)
};

// c(n, m) = acc(n % P, n / P, m) (+ c_prev): column panel and row tiles.
// M is a whole number of row tiles (the runtime runs the rest with the
// tile_m = 1 kernel); columns are whole panels in acc (B and the bias are
// zero-padded by the runtime), the stores of c are guarded.
inline void schedule_sgemm_loops(Halide::Func c, Halide::Func acc, const Halide::Internal::Parameter &b,
                                 const Halide::Var &n, const Halide::Var &m, const Halide::Var &ni_acc,
                                 const Halide::Var &no_acc, const Halide::RDom &r, const Halide::Expr &accumulate,
                                 const SgemmTile &tile) {
    using namespace Halide;

    const int vec = tile.vector_lanes, tn = tile.panel, tm = tile.rows;
    // LLVM's SLP vectorizer packs the tile's row addresses into vector
    // registers and rebuilds them every k step (x86: vpmullq/vpextrq plus
    // spills of the accumulators); without it each row address is one add (as
    // in common/direct_conv.h; every library is its own generator process).
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);
    // Columns start at 0: n % P and n / P of a vector of columns become a
    // dense ramp and a scalar (whole-vector reads of the accumulator tile).
    c.output_buffer().dim(0).set_min(0);

    Var no("no"), mo("mo"), ni("ni"), mi("mi"), mt("mt"), task("task"), nio("nio"), niv("niv");
    const int grain = std::max(1, tile.row_tiles_per_task);
    c.split(n, no, ni, tn, TailStrategy::GuardWithIf)
        .split(m, mo, mi, tm, TailStrategy::RoundUp)
        .split(mo, mt, mo, grain, TailStrategy::GuardWithIf)
        .reorder(ni, mi, mo, no, mt)
        .fuse(no, mt, task)
        .split(ni, nio, niv, vec)
        .vectorize(niv)
        .unroll(nio)
        .unroll(mi)
        .parallel(task);
    // Whether c_prev is added is known per call: two versions of the loops.
    c.specialize(accumulate != 0);

    Var nu("nu"), nv("nv");
    RVar ro("ro"), ri("ri");
    acc.compute_at(c, mo)
        .bound_extent(ni_acc, tn)
        .bound_extent(no_acc, 1)
        .bound_extent(m, tm)
        .vectorize(ni_acc, vec)
        .unroll(ni_acc)
        .unroll(m);
    acc.update()
        .split(ni_acc, nu, nv, vec)
        .split(r.x, ro, ri, std::max(1, tile.k_unroll), TailStrategy::GuardWithIf)
        .reorder(nv, nu, m, ri, ro)
        .vectorize(nv)
        .unroll(nu)
        .unroll(m)
        .unroll(ri);
    if (tile.prefetch_b > 0) {
        acc.update().prefetch(b, ro, ro, tile.prefetch_b, PrefetchBoundStrategy::NonFaulting);
    }
}

}  // namespace qforge::schedules
