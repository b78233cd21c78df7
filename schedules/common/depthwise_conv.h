// The int8 depthwise conv's loop structure (generators/conv_int8_generators.cpp),
// shared by the x86 and AArch64 schedules, which choose its sizes
// (conv_x86.h, conv_arm.h).
#pragma once

#include <algorithm>
#include <cstdlib>

#include "Halide.h"

namespace qforge::schedules {

struct DepthwiseTile {
    int vector_lanes;        // int32 lanes of one vector
    int channel_vectors;     // vectors of channels per register tile
    int pixels;              // output pixels along ox per register tile
    int row_pairs_per_task;  // pairs of output rows per parallel task
    int interleave_lanes;    // channels per step of the row interleaving (xt)
    int depth;               // input rows interleaved per step (schedules/layout.h depthwise_k_group)
};

// Each output is a KHxKW dot product within one channel, so vectors run
// across channels (contiguous in NHWC). The generator interleaves the input
// rows of each pair of output rows in groups of D (xt(k, c, ix, g, p); D = 4
// for a 4-deep dot product, 2 for pmaddwd on int16), so one load holds D input
// rows of a vector of channels and one multiply-accumulate instruction does D
// taps per lane. xt is built per pair of output rows
// (row-sized: L1-resident) and read by both. The register tile is
// channel_vectors x pixels accumulators; each weight vector is loaded once per
// tile. Pairs of output rows are the parallel tasks.
inline void schedule_depthwise_conv_loops(Halide::Func y, Halide::Func acc, Halide::Func xt, Halide::Func w2,
                                          Halide::Func bias_folded, const Halide::RDom &r, const Halide::Var &c,
                                          const Halide::Var &ox, const Halide::Var &oy, const Halide::Var &n,
                                          const Halide::Var &k, const Halide::Var &ix, const Halide::Var &g,
                                          const DepthwiseTile &tile) {
    using namespace Halide;

    const int vec = tile.vector_lanes;
    const int lanes = vec * std::max(1, tile.channel_vectors);
    const int tp = std::max(1, tile.pixels);
    // As in the direct conv (common/direct_conv.h): LLVM's SLP vectorizer
    // packs the tile's pixel addresses into vector registers (x86:
    // vpaddq/vpextrq on the vpdpbusd ports).
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);
    bias_folded.compute_root();
    w2.compute_root().bound_extent(w2.args()[0], tile.depth);
    Var co("co"), ci("ci"), xo("xo"), xi("xi"), yp("yp"), yq("yq"), task("task"), to("to"), ti("ti");
    y.split(c, co, ci, lanes, TailStrategy::GuardWithIf)
        .split(ox, xo, xi, tp, TailStrategy::GuardWithIf)
        .split(oy, yp, yq, 2, TailStrategy::GuardWithIf)
        .reorder(ci, xi, co, xo, yq, yp, n)
        .fuse(yp, n, task)
        .split(task, to, ti, std::max(1, tile.row_pairs_per_task), TailStrategy::GuardWithIf)
        .parallel(to)
        .vectorize(ci, vec)
        .unroll(ci)
        .unroll(xi);
    Var xc("xc"), xv("xv");
    xt.compute_at(y, ti)
        .bound_extent(k, tile.depth)
        .split(c, xc, xv, tile.interleave_lanes, TailStrategy::GuardWithIf)
        .reorder(xv, k, xc, ix, g)
        .vectorize(xv)
        .unroll(k);
    // Whole register tiles only: the runtime pads the channels to a multiple of
    // 16 (x86: a VNNI reduction narrower than 16 lanes becomes VEX vpdpbusd
    // xmm, HALIDE14_NOTES G3), and pixels past the row's end read the padding.
    Var cu("cu"), cv("cv");
    acc.compute_at(y, co)
        .bound_extent(c, lanes)
        .bound_extent(ox, tp)
        .split(c, cu, cv, vec)
        .reorder(cv, cu, ox)
        .vectorize(cv)
        .unroll(cu)
        .unroll(ox);
    acc.update()
        .split(c, cu, cv, vec)
        .reorder(r.x, cv, cu, ox, r.y, r.z)
        .atomic()
        .vectorize(r.x)
        .vectorize(cv)
        .unroll(cu)
        .unroll(ox);
}

}  // namespace qforge::schedules
