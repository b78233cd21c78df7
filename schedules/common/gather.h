// Target-neutral schedules for the data-movement kernels: im2col (int8 and
// float32), the col2im gather and the float32 copy/transpose with padding.
// Memory-bound like common/streaming.h: one loop structure for every CPU
// family, the vector width passed by the family's header.
#pragma once

#include <algorithm>

#include "Halide.h"
#include "schedules/params.h"

namespace qforge::schedules::common {

using namespace Halide;

// int8 im2col: a gather of bytes. Pixels in parallel tasks; each pixel's
// channels (contiguous in NHWC) are copied `bytes` at a time.
inline void im2col_int8(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &p, int bytes,
                        const Im2colParams &params) {
    (void)kw;
    (void)kh;
    Var pt("pt"), pi("pi");
    col.split(p, pt, pi, std::max(1, (int)params.pixels_per_task), TailStrategy::GuardWithIf)
        .parallel(pt)
        .vectorize(ci, bytes, TailStrategy::GuardWithIf);
}

// Copy / transpose with zero padding: small (weights) or streaming; tiles of
// lanes x lanes elements, the inner dimension vectorized, rows of tiles parallel.
inline void pack_f32(Func out, const Var &i, const Var &j, bool transposed, int lanes) {
    Var io("io"), jo("jo"), ii("ii"), ji("ji"), jt("jt");
    if (transposed) {
        out.tile(i, j, io, jo, ii, ji, lanes, lanes, TailStrategy::GuardWithIf)
            .reorder(ii, ji, io, jo)
            .vectorize(ii)
            .unroll(ji)
            .split(jo, jt, jo, 4, TailStrategy::GuardWithIf)
            .parallel(jt);
    } else {
        out.vectorize(i, lanes, TailStrategy::GuardWithIf).split(j, jt, jo, 64, TailStrategy::GuardWithIf).parallel(jt);
    }
}

// float32 im2col: a gather, memory-bound. Output rows (oy, n) in parallel
// tasks. With at least a vector of channels per group, each tap's channels
// (contiguous in NHWC) are copied a vector at a time; with fewer (e.g. a
// 1-channel image: one float per tap) the vectors run along ox instead
// (strided stores, but no scalar loop per tap: conv1 of the QAT network's
// im2col: its forward went from 7 to about 11.6 GFLOPS on one thread, x86).
inline void im2col_f32(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &ox, const Var &oy,
                       const Var &n, const Expr &channels, int lanes, const Im2colF32Params &params) {
    Var row("row"), rt("rt"), ri("ri");
    col.fuse(oy, n, row)
        .split(row, rt, ri, std::max(1, (int)params.rows_per_task), TailStrategy::GuardWithIf)
        .parallel(rt);
    col.specialize(channels >= lanes).vectorize(ci, lanes, TailStrategy::GuardWithIf);
    col.reorder(ox, ci, kw, kh, ri, rt).vectorize(ox, lanes, TailStrategy::GuardWithIf);
}

// col2im as a gather: each dx element sums its own taps (no scatter, no
// races). Channels vectorized (the per-element tap sum, an inline
// reduction, is computed inside the vector loop); (iy, n) rows in parallel
// tasks.
inline void col2im_f32(Func dx, const Var &c, const Var &iy, const Var &n, int lanes, const Col2imF32Params &params) {
    Var row("row"), rt("rt"), ri("ri");
    dx.fuse(iy, n, row)
        .split(row, rt, ri, std::max(1, (int)params.rows_per_task), TailStrategy::GuardWithIf)
        .parallel(rt)
        .vectorize(c, lanes, TailStrategy::GuardWithIf);
}

}  // namespace qforge::schedules::common
