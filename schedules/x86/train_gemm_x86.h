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

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "Halide.h"
#include "schedules/common/conv_f32.h"
#include "schedules/common/sgemm.h"
#include "schedules/common/gather.h"
#include "schedules/params.h"
#include "schedules/x86/quant_x86.h"

namespace qforge::schedules::x86 {

using namespace Halide;

// The tunable parameters (SgemmParams, Im2colF32Params, Col2imF32Params,
// DirectConvF32Params, ConvWgradF32Params) live in schedules/params.h, shared
// by every target family; re-exported here.
using qforge::schedules::Col2imF32Params;
using qforge::schedules::ConvWgradF32Params;
using qforge::schedules::DirectConvF32Params;
using qforge::schedules::Im2colF32Params;
using qforge::schedules::SgemmParams;

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

// The loop structure is schedules/common/sgemm.h; x86 chooses the tile.
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

// Pixels per register tile: 14 on AVX-512 (a 28- or 14-wide row in whole
// tiles; 14 x 2 zmm accumulators + 2 weight vectors, the x broadcasts are
// memory operands of vfmadd231ps); 16 ymm on AVX2 (no embedded broadcast:
// one register for it); SSE / baseline need a product register per FMA.
inline int direct_conv_f32_tile_rows(const Target &t, int panel_vectors, const DirectConvF32Params &p) {
    if (p.tile_rows > 0) return p.tile_rows;
    if (float_lanes(t) == 16) return 14;
    if (t.has_feature(Target::FMA)) return panel_vectors == 1 ? 12 : 6;
    return panel_vectors == 1 ? 6 : 3;
}

// Direct conv: register tile of tile_rows output pixels along ox x one panel
// of output channels; reduction over (c, kw, kh) reading the padded input in
// place. Images are the parallel tasks; each image's zero-padded copy is made
// inside its task (it stays in L1/L2 while its rows are computed).
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

// {row floats, kernel rows} per register tile: about 24 accumulators on
// AVX-512, 12 on AVX2, 6 on SSE; short rows (a 1-channel 5-wide kernel row)
// take whole rows and several kernel rows instead.
inline std::pair<int, int> conv_wgrad_f32_tile(const Target &t, const ConvWgradF32Params &p) {
    const int pv = std::max(1, (int)p.panel_vectors);
    const int accs = float_lanes(t) == 16 ? 25 : t.has_feature(Target::FMA) ? 12 : 6;
    int tj, tk;
    if (p.short_rows) {
        tj = 5;
        tk = std::max(1, accs / (5 * pv));
    } else {
        tj = std::max(1, std::min(12, accs / pv));
        tk = 1;
        if (float_lanes(t) == 16 && pv == 1) tk = 2;
    }
    if (p.tile_j > 0) tj = p.tile_j;
    if (p.tile_kh > 0) tk = p.tile_kh;
    return {tj, tk};
}

// Weight gradient: register tile of one panel of output channels x tile_j
// row floats x tile_kh kernel rows, reduction over the output pixels of one
// image group (dy vectors along o, x broadcasts at constant offsets). Image
// groups are the parallel tasks; each group's partial sums are added up by
// the runtime.
inline void schedule_conv_wgrad_f32(Func part, Func acc, Func x_padded, const Var &o, const Var &j, const Var &kh,
                                    const Var &g, const Var &oi_acc, const Var &oo_acc, const RDom &r,
                                    const Target &t, const ConvWgradF32Params &p) {
    const auto tile = conv_wgrad_f32_tile(t, p);
    schedule_conv_wgrad_f32_loops(part, acc, x_padded, o, j, kh, g, oi_acc, oo_acc, r,
                                  {float_lanes(t), conv_wgrad_f32_panel_width(t, p), tile.first, tile.second});
}

}  // namespace qforge::schedules::x86
