// AArch64 NEON schedules for the int8 convolution paths
// (generators/conv_int8_generators.cpp). The loop structures are x86's
// (conv_x86.h, where the reasons are written down); the tiles are NEON's:
// 32 q registers of 4 int32 lanes; the multiply step is gemm_arm.h's (sdot,
// k group 4, with arm_dot_prod; smull + sadalp, k group 2, without).
//
// The generators hand these schedules s8 activations (x ^ 0x80 = x - 128,
// layout.h signed_activations): the direct convs materialise the padded
// input once anyway, so the xor costs nothing in their inner loops; the
// depthwise conv applies it when it interleaves rows.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "Halide.h"
#include "schedules/common/depthwise_conv.h"
#include "schedules/common/direct_conv.h"
#include "schedules/arm/gemm_arm.h"
#include "schedules/arm/quant_arm.h"
#include "schedules/common/conv_vars.h"
#include "schedules/common/gather.h"
#include "schedules/params.h"

namespace qforge::schedules::arm {

using namespace Halide;

// Output channels per weight panel of the direct conv over input rows: 1, 2
// or 4 int32 vectors (4, 8 or 16 channels). The runtime derives the same
// from the GEMM panel (P / 4 per vector).
inline int rows_conv_panel_width(const Target &t, const RowsConvParams &p) {
    return std::min(4, std::max(1, (int)p.panel_vectors)) * int32_lanes(t);
}

// Pixels per register tile of the direct conv over input rows. The padded
// input is materialised (already s8), so a k step needs the accumulators,
// the panel's weight vectors, one broadcast (and, without dot product, the
// smull temporaries): 4 vectors x 6 pixels; 2 x 7; 1 x 14 (7 and 14 pixels
// cover 14-, 28-, 56-, 112-wide rows in whole tiles). Checked in the
// assembly of both ARM variants: no spills. (2 vectors x 14 pixels, 28
// accumulators + 2 weights + 1 broadcast, spilled a register every k step.)
inline int rows_conv_tile_rows(const Target &t, const RowsConvParams &p) {
    if (p.tile_m > 0) return p.tile_m;
    const int pv = rows_conv_panel_width(t, p) / int32_lanes(t);
    return pv == 1 ? 14 : pv == 2 ? 7 : 6;
}

// Pixels per register tile of the direct conv (C_in % 4 == 0): 6 x 4
// vectors on both ARM variants. Unlike the GEMM (gemm_arm.h: 5 rows without
// dot product) its inner loop has no xor, as the input is materialised
// already shifted, which leaves room for the sixth row.
inline int direct_conv_tile_rows(const Target &t, const GemmParams &p) {
    (void)t;
    return p.tile_m > 0 ? (int)p.tile_m : 6;
}

// im2col: a gather of bytes (schedules/common/gather.h), one q register of
// channels at a time.
inline void schedule_im2col(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &p, const Target &t,
                            const Im2colParams &params) {
    common::im2col_int8(col, ci, kw, kh, p, 4 * float_lanes(t), params);
}

// Depthwise (loop structure: schedules/common/depthwise_conv.h): one 16-byte
// load holds 4 interleaved input rows of 4 channels and one sdot does 4 taps
// per lane (without dot product: smull/smull2 + saddlp + addp). The
// interleaved rows are s8 (xt applies the xor), as sdot and smull want: 16
// channels x 4 rows per step, one interleaving store (st4). Default tile
// 1 x 8 (8 accumulators, one weight vector per tap group, each loaded once
// per tile; a pixel's x is used by one channel only, so wider tiles save no
// loads). channel_vectors may be 1, 2 or 4 (the runtime pads channels to 16).
inline void schedule_depthwise_conv(Func y, Func acc, Func xt, Func w2, Func bias_folded, const RDom &r,
                                    const Var &c, const Var &ox, const Var &oy, const Var &n, const Var &k,
                                    const Var &ix, const Var &g, const Target &t, const DepthwiseParams &params) {
    // xt: 16 channels (one q register of bytes) x the 4 interleaved rows per step.
    schedule_depthwise_conv_loops(y, acc, xt, w2, bias_folded, r, c, ox, oy, n, k, ix, g,
                                  {int32_lanes(t), (int)params.channel_vectors, (int)params.tile_pixels,
                                   (int)params.rows_per_task, 4 * int32_lanes(t)});
}

// Direct conv: the GEMM's register tile (16 channels, direct_conv_tile_rows
// pixels along ox as its rows). Tasks are output rows; the padded and
// xor-ed input is materialised once at the root, 16 bytes at a time.
inline void schedule_direct_conv(Func y, Func acc, Func x_padded, const std::vector<Func> &per_channel, const Var &o,
                                 const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                                 const RDom &r, const Target &t, const GemmParams &p, const DirectConvParams &dp) {
    // tile_m pixels x tile_oy rows; the rows multiply the accumulators, so a
    // 2-row tile takes half the pixels (3 x 2 on AVX-512 instead of 6 x 1).
    const int rows = std::max(1, (int)dp.tile_oy);
    const int pixels = p.tile_m > 0 ? (int)p.tile_m : std::max(1, direct_conv_tile_rows(t, p) / rows);
    schedule_direct_conv_loops(y, acc, x_padded, per_channel, o, ox, oy, n, av, r,
                               {int32_lanes(t), panel_width(t), pixels, rows, (int)p.k_unroll, 4 * float_lanes(t)});
}

// Direct conv over flattened input rows: as schedule_direct_conv, with the
// panel and tile of RowsConvParams (rows_conv_tile_rows). Output rows of all
// images are fused into one parallel loop (tasks of rows_per_task rows).
inline void schedule_rows_conv(Func y, Func acc, Func x_padded, const std::vector<Func> &per_channel, const Var &o,
                               const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                               const RDom &r, const Expr &channels, const Expr &stride_w, const Target &t,
                               const RowsConvParams &p) {
    const int vec = int32_lanes(t), tn = rows_conv_panel_width(t, p), tm = rows_conv_tile_rows(t, p);
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);  // as on x86 (conv_x86.h)
    for (Func f : per_channel) f.compute_root();
    {
        // x_padded(b, h, n): rows of bytes, copied once with their padding.
        const auto a = x_padded.args();
        Var hn("hn");
        x_padded.compute_root()
            .fuse(a[1], a[2], hn)
            .parallel(hn, 16, TailStrategy::GuardWithIf)
            .vectorize(a[0], 4 * float_lanes(t), TailStrategy::RoundUp);
    }
    y.output_buffer().dim(0).set_min(0);
    Var oo("oo"), oi("oi"), xo("xo"), xi("xi"), oio("oio"), oiv("oiv"), row("row"), task("task"), rt("rt");
    y.split(o, oo, oi, tn, TailStrategy::GuardWithIf)
        .split(ox, xo, xi, tm, TailStrategy::GuardWithIf)
        .reorder(oi, xi, xo, oo, oy, n)
        .fuse(oy, n, row)
        .split(row, task, rt, std::max(1, (int)p.rows_per_task), TailStrategy::GuardWithIf)
        .split(oi, oio, oiv, vec)
        .vectorize(oiv)
        .unroll(oio)
        .unroll(xi)
        .parallel(task);
    // (After the loop structure: a specialization copies the schedule so far.)
    // Known (C_in, stride_w): the tile's pixel windows are constant offsets
    // from one pointer (as on x86).
    {
        const std::string list = p.specialize_for;
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
        .split(r.y, cgo, cgi, std::max(1, (int)p.k_unroll), TailStrategy::GuardWithIf)
        .reorder(r.x, nv, nu, av.ox, cgi, cgo, r.z)
        .atomic()
        .vectorize(r.x)
        .vectorize(nv)
        .unroll(nu)
        .unroll(av.ox)
        .unroll(cgi);
}

}  // namespace qforge::schedules::arm
