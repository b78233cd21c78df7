// x86 schedules for the float32 training GEMM and its convolution helpers
// (generators/train_gemm_generators.cpp). No math here.
//
// The GEMM's register tile is `tile_m` rows x one panel of `panel_vectors`
// float vectors: each k step loads the panel's vectors of B once (a row of
// op(B), contiguous), broadcasts one A value per row and does
// tile_m x panel_vectors FMAs (Halide 14 without strict_float lets LLVM
// contract the multiply-add into vfmadd231ps). On AVX-512 the default
// 12 x 32 tile holds 24 zmm accumulators + 2 B vectors + 1 broadcast.
#pragma once

#include <cstdlib>

#include "Halide.h"
#include "schedules/x86/quant_x86.h"

namespace qforge::schedules::x86 {

using namespace Halide;

// Tunable parameters (0 = the target's default), searched by qforge-tune.
struct SgemmParams {
    GeneratorParam<int> tile_m{"tile_m", 0};                // output rows per register tile
    GeneratorParam<int> panel_vectors{"panel_vectors", 0};  // float vectors per register tile row
    GeneratorParam<int> row_tiles_per_task{"row_tiles_per_task", 16};  // parallel grain along M
    GeneratorParam<int> k_unroll{"k_unroll", 4};            // k steps per inner-loop iteration
    // Software prefetch of B's panel rows this many inner-loop iterations
    // ahead (0: none). B rows are strided (the row stride of op(B)), which the
    // hardware prefetchers follow poorly across 4 KB pages.
    GeneratorParam<int> prefetch_b{"prefetch_b", 0};
};

// Vectors per panel: 2 everywhere (a 32-wide panel on AVX-512 matches the
// training network's 32-channel convs; 48 would waste a third there).
inline int sgemm_panel_vectors(const Target &t, const SgemmParams &p) {
    (void)t;
    return p.panel_vectors > 0 ? (int)p.panel_vectors : 2;
}

// Columns per panel (the runtime pads B's columns to a multiple of this).
inline int sgemm_panel_width(const Target &t, const SgemmParams &p) {
    return float_lanes(t) * sgemm_panel_vectors(t, p);
}

// Rows per register tile: 12 with 32 zmm (24 accumulators); 6 with 16 ymm
// (12 accumulators + 2 B vectors + 1 broadcast); 4 on SSE / baseline, which
// have no FMA and need a product register per multiply-add.
inline int sgemm_tile_rows(const Target &t, const SgemmParams &p) {
    if (p.tile_m > 0) return p.tile_m;
    const int lanes = float_lanes(t);
    if (lanes == 16) return 12;
    if (t.has_feature(Target::FMA)) return 6;
    return 4;
}

// c(n, m) = acc(n % P, n / P, m) (+ c_prev): column panel and row tiles.
// M is a whole number of row tiles (the runtime runs the rest with the
// tile_m = 1 kernel); columns are whole panels in acc (B and the bias are
// zero-padded by the runtime), the stores of c are guarded.
inline void schedule_sgemm(Func c, Func acc, const Internal::Parameter &b, const Var &n, const Var &m,
                           const Var &ni_acc, const Var &no_acc, const RDom &r, const Expr &accumulate,
                           const Target &t, const SgemmParams &p) {
    const int vec = float_lanes(t);
    const int tn = sgemm_panel_width(t, p);
    const int tm = sgemm_tile_rows(t, p);
    // LLVM's SLP vectorizer packs the tile's row addresses into vector
    // registers and rebuilds them every k step (vpmullq/vpextrq plus spills of
    // the accumulators); without it each row address is one add (as in
    // conv_x86.h; every library is its own generator process).
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);
    // Columns start at 0: n % P and n / P of a vector of columns become a
    // dense ramp and a scalar (whole-vector reads of the accumulator tile).
    c.output_buffer().dim(0).set_min(0);

    Var no("no"), mo("mo"), ni("ni"), mi("mi"), mt("mt"), task("task"), nio("nio"), niv("niv");
    const int grain = std::max(1, (int)p.row_tiles_per_task);
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
        .split(r.x, ro, ri, std::max(1, (int)p.k_unroll), TailStrategy::GuardWithIf)
        .reorder(nv, nu, m, ri, ro)
        .vectorize(nv)
        .unroll(nu)
        .unroll(m)
        .unroll(ri);
    if (p.prefetch_b > 0) {
        acc.update().prefetch(b, ro, ro, (int)p.prefetch_b, PrefetchBoundStrategy::NonFaulting);
    }
}

// Copy / transpose with zero padding: small (weights) or streaming; tiles of
// vec x vec elements, the inner dimension vectorized, rows of tiles parallel.
inline void schedule_pack_f32(Func out, const Var &i, const Var &j, bool transposed, const Target &t) {
    const int vec = float_lanes(t);
    Var io("io"), jo("jo"), ii("ii"), ji("ji"), jt("jt");
    if (transposed) {
        out.tile(i, j, io, jo, ii, ji, vec, vec, TailStrategy::GuardWithIf)
            .reorder(ii, ji, io, jo)
            .vectorize(ii)
            .unroll(ji)
            .split(jo, jt, jo, 4, TailStrategy::GuardWithIf)
            .parallel(jt);
    } else {
        out.vectorize(i, vec, TailStrategy::GuardWithIf).split(j, jt, jo, 64, TailStrategy::GuardWithIf).parallel(jt);
    }
}

struct Im2colF32Params {
    GeneratorParam<int> rows_per_task{"rows_per_task", 2};  // output rows (oy, n) per parallel task
};

// im2col: a gather, memory-bound. Output rows (oy, n) in parallel tasks.
// With at least a vector of channels per group, each tap's channels
// (contiguous in NHWC) are copied a vector at a time; with fewer (e.g. a
// 1-channel image: one float per tap) the vectors run along ox instead
// (strided stores, but no scalar loop per tap: conv1 of the QAT network's
// im2col: its forward went from 7 to about 11.6 GFLOPS on one thread).
inline void schedule_im2col_f32(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &ox, const Var &oy,
                                const Var &n, const Expr &channels, const Target &t, const Im2colF32Params &params) {
    const int vec = float_lanes(t);
    Var row("row"), rt("rt"), ri("ri");
    col.fuse(oy, n, row)
        .split(row, rt, ri, std::max(1, (int)params.rows_per_task), TailStrategy::GuardWithIf)
        .parallel(rt);
    col.specialize(channels >= vec).vectorize(ci, vec, TailStrategy::GuardWithIf);
    col.reorder(ox, ci, kw, kh, ri, rt).vectorize(ox, vec, TailStrategy::GuardWithIf);
}

struct Col2imF32Params {
    GeneratorParam<int> rows_per_task{"rows_per_task", 4};  // input rows (iy) per parallel task
};

// col2im as a gather: each dx element sums its own taps (no scatter, no
// races). Channels vectorized (the per-element tap sum, an inline
// reduction, is computed inside the vector loop); (iy, n) rows in parallel
// tasks.
inline void schedule_col2im_f32(Func dx, const Var &c, const Var &iy, const Var &n, const Target &t,
                                const Col2imF32Params &params) {
    const int vec = float_lanes(t);
    Var row("row"), rt("rt"), ri("ri");
    dx.fuse(iy, n, row)
        .split(row, rt, ri, std::max(1, (int)params.rows_per_task), TailStrategy::GuardWithIf)
        .parallel(rt)
        .vectorize(c, vec, TailStrategy::GuardWithIf);
}

}  // namespace qforge::schedules::x86
