// x86 schedules for the int8 convolution paths (generators/conv_int8_generators.cpp).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>

#include "Halide.h"
#include "schedules/common/rows_conv.h"
#include "schedules/common/depthwise_conv.h"
#include "schedules/common/direct_conv.h"
#include "schedules/common/conv_vars.h"
#include "schedules/common/gather.h"
#include "schedules/params.h"
#include "schedules/x86/gemm_x86.h"
#include "schedules/x86/quant_x86.h"

namespace qforge::schedules::x86 {

// The tunable parameters (Im2colParams, DepthwiseParams, RowsConvParams) live
// in schedules/params.h, shared by every target family; re-exported here.
using qforge::schedules::DepthwiseParams;
using qforge::schedules::Im2colParams;
using qforge::schedules::RowsConvParams;
using qforge::schedules::DirectConvParams;

// The direct conv over flattened input rows: its weight panel (1, 2 or 4
// int32 vectors: panel_vectors) is part of the packed layout the runtime writes.
inline int rows_conv_panel_width(const Target &t, const RowsConvParams &p) {
    return std::min(4, std::max(1, (int)p.panel_vectors)) * int32_lanes(t);
}

// Rows per register tile: the accumulators (vectors x rows) plus the loaded
// weight vectors (and their widened copies without VNNI) and one broadcast
// fit the register file: 32 zmm on AVX-512; 16 ymm/xmm elsewhere.
inline int rows_conv_tile_rows(const Target &t, const RowsConvParams &p) {
    if (p.tile_m > 0) return p.tile_m;
    const int pv = rows_conv_panel_width(t, p) / int32_lanes(t);
    if (int32_lanes(t) == 16) return pv == 1 ? 14 : pv == 2 ? 14 : 6;
    return pv == 1 ? 8 : pv == 2 ? 4 : 2;
}

// im2col: a gather of bytes (schedules/common/gather.h), a vector at a time.
inline void schedule_im2col(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &p, const Target &t,
                            const Im2colParams &params) {
    common::im2col_int8(col, ci, kw, kh, p, 4 * float_lanes(t), params);
}

// Input rows the depthwise conv interleaves per step: 4 for vpdpbusd; 2 for
// pmaddwd without VNNI, whose operands are int16 (gemm_widens_operands). A
// 4-deep interleave on pmaddwd needed a shuffle tree per step (the AVX2
// kernel: 16 vpmovzxbw + 16 vshufps + 16 vpermpd per 16 vpmaddwd).
inline int depthwise_k_group(const Target &t) { return gemm_widens_operands(t) ? 2 : 4; }

// Depthwise (loop structure: schedules/common/depthwise_conv.h): one 64-byte
// load holds 4 interleaved input rows of 16 channels and one vpdpbusd does 4
// taps per lane; the rows are interleaved 32 channels per step.
inline void schedule_depthwise_conv(Func y, Func acc, Func xt, Func w2, Func bias_folded, const RDom &r,
                                    const Var &c, const Var &ox, const Var &oy, const Var &n, const Var &k,
                                    const Var &ix, const Var &g, const Target &t, const DepthwiseParams &params) {
    schedule_depthwise_conv_loops(y, acc, xt, w2, bias_folded, r, c, ox, oy, n, k, ix, g,
                                  {int32_lanes(t), (int)params.channel_vectors, (int)params.tile_pixels,
                                   (int)params.rows_per_task, 2 * int32_lanes(t), depthwise_k_group(t)});
}

// The direct conv's accumulator dimensions (schedules/common/conv_vars.h).
using qforge::schedules::DirectConvAccVars;

// Direct conv: the GEMM's register tile with output pixels along ox as its
// rows (tile_rows of them) and output channels as its panel columns. Tasks are
// output rows (not fused with the image or panel loops: acc's bounds must stay
// one row); the padded input is materialised once at the root.
// Without VNNI (gemm_widens_operands) the padded input is materialised as
// int16 and the weights are widened once per call (w_operand at the root), so
// the inner loop has no conversions, as in the GEMM.
inline void schedule_direct_conv(Func y, Func acc, Func x_padded, Func w_operand, const std::vector<Func> &per_channel,
                                 const Var &o, const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                                 const RDom &r, const Target &t, const GemmParams &p, const DirectConvParams &dp) {
    // tile_m pixels x tile_oy rows; the rows multiply the accumulators, so a
    // 2-row tile takes half the pixels (3 x 2 on AVX-512 instead of 6 x 1).
    const int rows = std::max(1, (int)dp.tile_oy);
    const int pixels = p.tile_m > 0 ? (int)p.tile_m : std::max(1, tile_rows(t, p) / rows);
    schedule_direct_conv_loops(y, acc, x_padded, {w_operand, gemm_widens_operands(t)}, per_channel, o, ox, oy, n, av, r,
                               {int32_lanes(t), panel_width(t), pixels, rows, (int)p.k_unroll, 4 * float_lanes(t)});
}

// Direct conv over flattened input rows: as schedule_direct_conv, with the
// panel and tile of RowsConvParams. Output rows of all images are fused into
// one parallel loop (tasks of rows_per_task rows): a batch of small images
// would otherwise start one parallel loop per image. acc stays one tile of
// one row (each fused row is one (oy, n)).
inline void schedule_rows_conv(Func y, Func acc, Func x_padded, Func w_operand, const std::vector<Func> &per_channel,
                               const Var &o, const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                               const RDom &r, const Expr &channels, const Expr &stride_w, const Target &t,
                               const RowsConvParams &p) {
    // Without VNNI: int16 input rows and weights, as in schedule_direct_conv.
    schedule_rows_conv_loops(y, acc, x_padded, {w_operand, gemm_widens_operands(t)}, per_channel, o, ox, oy, n, av, r,
                             channels, stride_w,
                             {int32_lanes(t), rows_conv_panel_width(t, p), rows_conv_tile_rows(t, p), (int)p.k_unroll,
                              (int)p.rows_per_task, std::min(32, 4 * float_lanes(t)), std::string(p.specialize_for)});
}

}  // namespace qforge::schedules::x86
