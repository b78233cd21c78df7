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
#include "schedules/common/rows_conv.h"
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
                                   (int)params.rows_per_task, 4 * int32_lanes(t), 4});
}

// Direct conv: the GEMM's register tile (16 channels, direct_conv_tile_rows
// pixels along ox as its rows). Tasks are output rows; the padded and
// xor-ed input is materialised once at the root, 16 bytes at a time.
inline void schedule_direct_conv(Func y, Func acc, Func x_padded, Func w_operand, const std::vector<Func> &per_channel,
                                 const Var &o, const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                                 const RDom &r, const Target &t, const GemmParams &p, const DirectConvParams &dp) {
    // tile_m pixels x tile_oy rows; the rows multiply the accumulators, so a
    // 2-row tile takes half the pixels (3 x 2 on AVX-512 instead of 6 x 1).
    const int rows = std::max(1, (int)dp.tile_oy);
    const int pixels = p.tile_m > 0 ? (int)p.tile_m : std::max(1, direct_conv_tile_rows(t, p) / rows);
    // The weights stay inline (w_operand is packed itself: NEON widens in the multiply).
    schedule_direct_conv_loops(y, acc, x_padded, {w_operand, false}, per_channel, o, ox, oy, n, av, r,
                               {int32_lanes(t), panel_width(t), pixels, rows, (int)p.k_unroll, 4 * float_lanes(t)});
}

// Direct conv over flattened input rows: as schedule_direct_conv, with the
// panel and tile of RowsConvParams (rows_conv_tile_rows). Output rows of all
// images are fused into one parallel loop (tasks of rows_per_task rows).
inline void schedule_rows_conv(Func y, Func acc, Func x_padded, Func w_operand, const std::vector<Func> &per_channel,
                               const Var &o, const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                               const RDom &r, const Expr &channels, const Expr &stride_w, const Target &t,
                               const RowsConvParams &p) {
    // The weights stay inline (NEON widens in the multiply).
    schedule_rows_conv_loops(y, acc, x_padded, {w_operand, false}, per_channel, o, ox, oy, n, av, r, channels,
                             stride_w,
                             {int32_lanes(t), rows_conv_panel_width(t, p), rows_conv_tile_rows(t, p), (int)p.k_unroll,
                              (int)p.rows_per_task, 4 * float_lanes(t), std::string(p.specialize_for)});
}

}  // namespace qforge::schedules::arm
