// The int8 direct conv over flattened input rows (direct_conv_rows_int8):
// its loop structure, shared by the x86 and AArch64 schedules, which choose
// its sizes (conv_x86.h, conv_arm.h).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "Halide.h"
#include "schedules/common/conv_vars.h"

namespace qforge::schedules {

struct RowsConvTile {
    int vector_lanes;            // int32 lanes of one vector
    int panel;                   // output channels per tile (1, 2 or 4 vectors)
    int pixels;                  // output pixels along ox per tile
    int k_unroll;                // k groups of a kernel row per loop iteration
    int rows_per_task;           // output rows (all images' rows fused) per task
    int pad_copy_lanes;          // u8 lanes per vector of the padded-input copy
    std::string specialize_for;  // (C_in, stride_w) pairs given their own copy
};

// As the direct conv (common/direct_conv.h), over rows of bytes. Output rows
// of all images are fused into one parallel loop (tasks of rows_per_task
// rows): a batch of small images would otherwise start one parallel loop per
// image. acc stays one tile of one row (each fused row is one (oy, n)).
inline void schedule_rows_conv_loops(Halide::Func y, Halide::Func acc, Halide::Func x_padded,
                                     const DirectConvWeights &weights,
                                     const std::vector<Halide::Func> &per_channel, const Halide::Var &o,
                                     const Halide::Var &ox, const Halide::Var &oy, const Halide::Var &n,
                                     const DirectConvAccVars &av, const Halide::RDom &r,
                                     const Halide::Expr &channels, const Halide::Expr &stride_w,
                                     const RowsConvTile &tile) {
    using namespace Halide;

    const int vec = tile.vector_lanes, tn = tile.panel, tm = tile.pixels;
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);  // see common/direct_conv.h
    for (Func f : per_channel) f.compute_root();
    {
        // x_padded(b, h, n): rows of bytes, copied once with their padding.
        const auto a = x_padded.args();
        Var hn("hn");
        x_padded.compute_root()
            .fuse(a[1], a[2], hn)
            .parallel(hn, 16, TailStrategy::GuardWithIf)
            .vectorize(a[0], tile.pad_copy_lanes, TailStrategy::RoundUp);
    }
    stage_direct_conv_weights(weights, vec);
    y.output_buffer().dim(0).set_min(0);
    Var oo("oo"), oi("oi"), xo("xo"), xi("xi"), oio("oio"), oiv("oiv"), row("row"), task("task"), rt("rt");
    y.split(o, oo, oi, tn, TailStrategy::GuardWithIf)
        .split(ox, xo, xi, tm, TailStrategy::GuardWithIf)
        .reorder(oi, xi, xo, oo, oy, n)
        .fuse(oy, n, row)
        .split(row, task, rt, std::max(1, tile.rows_per_task), TailStrategy::GuardWithIf)
        .split(oi, oio, oiv, vec)
        .vectorize(oiv)
        .unroll(oio)
        .unroll(xi)
        .parallel(task);
    // (After the loop structure: a specialization copies the schedule so far.)
    {
        const std::string &list = tile.specialize_for;
        for (size_t pos = 0; pos < list.size();) {
            size_t end = list.find(',', pos);
            if (end == std::string::npos) end = list.size();
            const std::string item = list.substr(pos, end - pos);
            const size_t slash = item.find('/');
            const int c = std::atoi(item.c_str());
            const int s = slash == std::string::npos ? 1 : std::atoi(item.c_str() + slash + 1);
            if (c > 0 && s > 0) y.specialize(channels == c && stride_w == s);
            pos = end + 1;
        }
    }
    acc.compute_at(y, xo)
        .bound_extent(av.oi, tn)
        .bound_extent(av.oo, 1)
        .bound_extent(av.ox, tm)
        .bound_extent(av.oy, 1)
        .bound_extent(av.n, 1)
        .vectorize(av.oi, vec)
        .unroll(av.oi)
        .unroll(av.ox);
    Var nu("nu"), nv("nv");
    RVar cgo("cgo"), cgi("cgi");
    acc.update()
        .split(av.oi, nu, nv, vec)
        .split(r.y, cgo, cgi, std::max(1, tile.k_unroll), TailStrategy::GuardWithIf)
        .reorder(r.x, nv, nu, av.ox, cgi, cgo, r.z)
        .atomic()
        .vectorize(r.x)
        .vectorize(nv)
        .unroll(nu)
        .unroll(av.ox)
        .unroll(cgi);
}

}  // namespace qforge::schedules
