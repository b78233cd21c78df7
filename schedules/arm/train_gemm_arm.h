// AArch64 NEON schedules for the float32 training GEMM and its convolution
// helpers (generators/train_gemm_generators.cpp). No math here.
//
// The loop structures are x86's (train_gemm_x86.h, where the reasons are
// written down); the register tiles are sized for NEON: 32 q registers of 4
// floats, fmla (Halide 14 without strict_float lets LLVM contract the
// multiply-add). Where a tile's A (or x) values for consecutive k are
// adjacent in memory, LLVM loads 4 of them as one q register and multiplies
// by lane (fmla v.4s, v.4s, v.s[i]), so those registers count too. Every
// default below was checked in the generated assembly (arm-64-linux): no
// stack traffic in the inner loops. Larger tiles (24-28 accumulators, as on
// AVX-512) spilled there, because LLVM's scheduler keeps the loads of
// several unrolled k steps in flight.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "Halide.h"
#include "schedules/common/conv_f32.h"
#include "schedules/common/sgemm.h"
#include "schedules/arm/quant_arm.h"
#include "schedules/common/gather.h"
#include "schedules/params.h"

namespace qforge::schedules::arm {

using namespace Halide;

// Vectors per panel: 4 (16 columns): per k step 4 B vectors (2 ldp) feed
// 4 x rows fmla, and a row's 4 consecutive k values are one q load (fmla by
// lane). 16 columns also divides the training network's 16- and 32-channel
// layers.
inline int sgemm_panel_vectors(const Target &t, const SgemmParams &p) {
    (void)t;
    return p.panel_vectors > 0 ? (int)p.panel_vectors : 4;
}

// Columns per panel (the runtime pads B's columns to a multiple of this).
inline int sgemm_panel_width(const Target &t, const SgemmParams &p) {
    return float_lanes(t) * sgemm_panel_vectors(t, p);
}

// Rows per register tile: 16 accumulators (4 rows of 4 vectors, 8 of 2).
// With the default k_unroll = 4, 4 x 4 runs 64 fmla in 95 instructions per
// iteration (A not transposed; 97 transposed), 8 x 2 64 in 110; 6 x 4
// spilled (57 stack accesses per 96 fmla), as did 5 x 4 and 12 x 2.
inline int sgemm_tile_rows(const Target &t, const SgemmParams &p) {
    if (p.tile_m > 0) return p.tile_m;
    return std::max(1, std::min(8, 16 / sgemm_panel_vectors(t, p)));
}

// The loop structure is schedules/common/sgemm.h (as on x86); ARM chooses
// the tile. M is a whole number of row tiles (the runtime runs the rest with
// the 4-row and 1-row kernels).
inline void schedule_sgemm(Func c, Func acc, const Internal::Parameter &b, const Var &n, const Var &m,
                           const Var &ni_acc, const Var &no_acc, const RDom &r, const Expr &accumulate,
                           const Target &t, const SgemmParams &p) {
    schedule_sgemm_loops(c, acc, b, n, m, ni_acc, no_acc, r, accumulate,
                         {float_lanes(t), sgemm_panel_width(t, p), sgemm_tile_rows(t, p), (int)p.row_tiles_per_task,
                          (int)p.k_unroll, (int)p.prefetch_b});
}

// Copy / transpose, im2col and col2im are memory-bound gathers with one loop
// structure for every family (schedules/common/gather.h, called from
// schedules/schedules.h with the family's vector width).

// ---- implicit-GEMM convolutions (no column matrix) ---------------------------

inline int direct_conv_f32_panel_width(const Target &t, const DirectConvF32Params &p) {
    return float_lanes(t) * std::max(1, (int)p.panel_vectors);
}

// Pixels per register tile: 14 with 1-vector panels, 7 with 2 (the
// training network's 28- and 14-wide rows in whole tiles; the runtime uses
// 1- and 2-vector panels). 2 x 14 = 28 accumulators spilled a register
// every step; 2 x 7 and 1 x 14 do not.
inline int direct_conv_f32_tile_rows(const Target &t, int panel_vectors, const DirectConvF32Params &p) {
    (void)t;
    if (p.tile_rows > 0) return p.tile_rows;
    return std::max(1, 14 / std::max(1, panel_vectors));
}

// Direct conv: register tile of tile_rows output pixels along ox x one panel
// of output channels; reduction over (c, kw, kh) reading the padded input in
// place. Images are the parallel tasks; each image's zero-padded copy is made
// inside its task. As on x86 (train_gemm_x86.h).
inline void schedule_direct_conv_f32(Func y, Func acc, Func x_padded, const Var &o, const Var &ox, const Var &oy,
                                     const Var &n, const Var &oi_acc, const Var &oo_acc, const RDom &r,
                                     const Expr &channels, const Expr &stride_w, const Target &t,
                                     const DirectConvF32Params &p) {
    const int vec = float_lanes(t), pv = std::max(1, (int)p.panel_vectors);
    schedule_direct_conv_f32_loops(y, acc, x_padded, o, ox, oy, n, oi_acc, oo_acc, r, channels, stride_w,
                                   {vec, vec * pv, direct_conv_f32_tile_rows(t, pv, p), std::string(p.channel_specializations)});
}

inline int conv_wgrad_f32_panel_width(const Target &t, const ConvWgradF32Params &p) {
    return float_lanes(t) * std::max(1, (int)p.panel_vectors);
}

// {row floats, kernel rows} per register tile. The x values of a kernel row
// are consecutive floats (q loads, fmla by lane), one set per kernel row of
// the tile, so kernel rows cost registers beyond their accumulators:
// 2 vectors: 12 row floats x 1 kernel row (24 accumulators + 3 x + 2 dy);
// 1 vector: 10 x 2 (20 accumulators; 12 x 2 spilled); short rows (a
// 1-channel 5-wide kernel row): whole rows x 4 kernel rows with 1 vector
// (5 x 5 = 25 spilled), 2 with 2.
inline std::pair<int, int> conv_wgrad_f32_tile(const Target &t, const ConvWgradF32Params &p) {
    (void)t;
    const int pv = std::max(1, (int)p.panel_vectors);
    int tj, tk;
    if (p.short_rows) {
        tj = 5;
        tk = std::max(1, 20 / (5 * pv));
    } else if (pv == 1) {
        tj = 10;
        tk = 2;
    } else {
        tj = std::max(1, std::min(12, 24 / pv));
        tk = 1;
    }
    if (p.tile_j > 0) tj = p.tile_j;
    if (p.tile_kh > 0) tk = p.tile_kh;
    return {tj, tk};
}

// Weight gradient: register tile of one panel of output channels x tile_j
// row floats x tile_kh kernel rows, reduction over the output pixels of one
// image group. Image groups are the parallel tasks. As on x86.
inline void schedule_conv_wgrad_f32(Func part, Func acc, Func x_padded, const Var &o, const Var &j, const Var &kh,
                                    const Var &g, const Var &oi_acc, const Var &oo_acc, const RDom &r,
                                    const Target &t, const ConvWgradF32Params &p) {
    const auto tile = conv_wgrad_f32_tile(t, p);
    schedule_conv_wgrad_f32_loops(part, acc, x_padded, o, j, kh, g, oi_acc, oo_acc, r,
                                  {float_lanes(t), conv_wgrad_f32_panel_width(t, p), tile.first, tile.second});
}

}  // namespace qforge::schedules::arm
