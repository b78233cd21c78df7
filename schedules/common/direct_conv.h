// The int8 direct (implicit-GEMM) conv's loop structure, shared by the x86 and
// AArch64 schedules, which choose its sizes (conv_x86.h, conv_arm.h).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "Halide.h"
#include "schedules/common/conv_vars.h"

namespace qforge::schedules {

// The register tile's sizes and the inner loop's unrolling.
struct DirectConvTile {
    int vector_lanes;     // int32 lanes of one vector
    int panel;            // output channels per tile (the packed weights' panel)
    int pixels;           // output pixels along ox per tile
    int rows;             // output rows per tile (1: one row; 2: pixels x 2 rows)
    int k_unroll;         // channel groups of one tap per inner-loop iteration
    int pad_copy_lanes;   // u8 lanes per vector of the padded-input copy
};

// The accumulator tile (panel x pixels x rows) stays in registers over the
// whole reduction (k group, channel group, kw, kh); the padded input is
// materialised once at the root. Tasks are output rows (row pairs with a
// 2-row tile), not fused with the image or panel loops: acc's bounds must stay
// one tile. A 2-row tile computes fewer padded pixels at the end of narrow
// rows (14 wide: 6 x 1 tiles compute 18 pixels per row, 3 x 2 tiles 15).
inline void schedule_direct_conv_loops(Halide::Func y, Halide::Func acc, Halide::Func x_padded,
                                       const DirectConvWeights &weights,
                                       const std::vector<Halide::Func> &per_channel, const Halide::Var &o,
                                       const Halide::Var &ox, const Halide::Var &oy, const Halide::Var &n,
                                       const DirectConvAccVars &av, const Halide::RDom &r,
                                       const DirectConvTile &tile) {
    using namespace Halide;
    const int vec = tile.vector_lanes, tn = tile.panel, tm = tile.pixels, ty = std::max(1, tile.rows);
    // LLVM's SLP vectorizer packs this kernel's pixel addresses into vector
    // registers and rebuilds them every k step (x86: vpmullq/vpextrq, on the
    // ports vpdpbusd needs): 56x56x64 3x3 ran at 411 GOPS with it, 503
    // without. Halide 14 passes HL_LLVM_ARGS to LLVM when it first initialises
    // it, which in a generator process is after schedule(); each library is
    // its own generator process, so this affects this kernel only. (The GEMM
    // keeps SLP: there it measured slightly faster.) A caller's HL_LLVM_ARGS wins.
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);
    for (Func f : per_channel) f.compute_root();
    {
        const auto a = x_padded.args();  // c, w, h, n
        Var hn("hn");
        x_padded.compute_root()
            .fuse(a[2], a[3], hn)  // rows of every image: one parallel loop, not one per image
            .parallel(hn)
            .vectorize(a[0], tile.pad_copy_lanes, TailStrategy::GuardWithIf);
    }
    stage_direct_conv_weights(weights, tile.vector_lanes);
    // Output channels start at 0 (they index the packed weights), so o % P and
    // o / P of a vector of channels simplify and the output stage reads the
    // accumulator tile with whole vectors (as in the GEMM's schedule).
    y.output_buffer().dim(0).set_min(0);
    Var oo("oo"), oi("oi"), xo("xo"), xi("xi"), yo("yo"), yi("yi"), oio("oio"), oiv("oiv");
    y.split(o, oo, oi, tn, TailStrategy::GuardWithIf).split(ox, xo, xi, tm, TailStrategy::GuardWithIf);
    if (ty > 1) {
        // Row tiles of every image form one parallel loop: 14 rows are only
        // 7 row pairs, which 2 threads split 4 : 3.
        Var task("task");
        y.split(oy, yo, yi, ty, TailStrategy::GuardWithIf)
            .reorder(oi, xi, yi, xo, oo, yo, n)
            .fuse(yo, n, task)
            .unroll(yi)
            .parallel(task);
    } else {
        y.reorder(oi, xi, xo, oo, oy, n).parallel(oy);
    }
    y.split(oi, oio, oiv, vec).vectorize(oiv).unroll(oio).unroll(xi);
    acc.compute_at(y, xo)
        .bound_extent(av.oi, tn)
        .bound_extent(av.oo, 1)
        .bound_extent(av.ox, tm)
        .bound_extent(av.oy, ty)
        .bound_extent(av.n, 1)
        .vectorize(av.oi, vec)
        .unroll(av.oi)
        .unroll(av.ox)
        .unroll(av.oy);
    Var nu("nu"), nv("nv");
    RVar cgo("cgo"), cgi("cgi");
    acc.update()
        .split(av.oi, nu, nv, vec)
        .split(r.y, cgo, cgi, std::max(1, tile.k_unroll), TailStrategy::GuardWithIf)
        .reorder(r.x, nv, nu, av.ox, av.oy, cgi, cgo, r.z, r.w)
        .atomic()
        .vectorize(r.x)
        .vectorize(nv)
        .unroll(nu)
        .unroll(av.ox)
        .unroll(av.oy)
        .unroll(cgi);
}

}  // namespace qforge::schedules
