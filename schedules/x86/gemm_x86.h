// x86 schedules for the int8 GEMM (generators/gemm_int8_generators.cpp).
//
// The accumulator tile is register-resident: one panel of columns (vectors of
// int32 lanes) x tile_m rows, with the k group (4 deep on VNNI, 2 elsewhere)
// reduced inside each vector lane. On AVX-512 VNNI that reduction is one zmm vpdpbusd (u8 x s8,
// 4 products per int32 lane, HALIDE14_NOTES §2); on AVX2/SSE Halide lowers
// the same reduction to 16-bit widening multiplies and pmaddwd, which cannot
// saturate (|255 * -128| * 2 < 2^31). Without VNNI the widened int16 copies
// are staged outside the inner loop (gemm_widens_operands), so each step is
// a plain load, a 32-bit broadcast and vpmaddwd + vpaddd. Every reduction is a full vector
// (bound_extent on the tile), so no narrower VNNI form (a VEX-encoded
// {vex} vpdpbusd, SIGILL on Zen 4, G3) is ever generated.
#pragma once

#include "Halide.h"
#include "schedules/common/gemm_int8.h"
#include "schedules/params.h"
#include "schedules/x86/quant_x86.h"

namespace qforge::schedules::x86 {

// The tunable parameters (GemmParams: tile_m, row_tiles_per_task, k_unroll)
// live in schedules/params.h, shared by every target family; re-exported here.
// The register tile is panel_width(target) columns wide (the packed layout's
// panel, so not a free parameter) by tile_m rows.
using qforge::schedules::GemmParams;

inline int int32_lanes(const Target &t) { return float_lanes(t); }

// k values per packed group: the depth of one multiply-accumulate step.
// VNNI's vpdpbusd sums 4 u8 x s8 products per int32 lane; without VNNI the
// step is pmaddwd, which sums 2 int16 x int16 products (the u8 and s8 values
// widened first: exact, never saturating, unlike pmaddubsw). The packed
// weight layout follows the step, so the GEMM and its packer both ask here.
inline int k_group(const Target &t) { return t.has_feature(Target::AVX512_SapphireRapids) ? 4 : 2; }

// Columns per packed panel and register tile: 4 vectors. (The runtime pads N
// to a multiple of 64, a whole number of panels on every target.)
inline int panel_width(const Target &t) { return 4 * int32_lanes(t); }

// Register tiles per ISA: one panel wide; rows so that tile + broadcast +
// loaded weights fit the register file: 6 rows with 32 zmm; 2 rows with 16
// ymm/xmm (the pmaddwd step needs a widened copy of each weight vector too;
// measured on AVX2 at 1024^3, 1 thread: 2x4 99.7 GOPS, 3x4 89.4 (spills),
// 4x2 82.9).
inline int default_tile_m(const Target &t) { return int32_lanes(t) == 16 ? 6 : 2; }

inline void schedule_pack_gemm_weights(Func packed, Func row_sums, const Var &kk, const Var &ni, const Var &ko,
                                       const Var &no, const Target &t) {
    packed.bound(kk, 0, k_group(t))
        .bound(ni, 0, panel_width(t))
        .reorder(kk, ni, ko, no)
        .vectorize(kk)
        .parallel(no);
    (void)row_sums;  // runs once per weight tensor: the default (serial) schedule
}

// Rows per register tile: the tile_m parameter, or the target's default.
inline int tile_rows(const Target &t, const GemmParams &p) {
    return p.tile_m > 0 ? (int)p.tile_m : default_tile_m(t);
}

// The loop structure is schedules/common/gemm_int8.h; this family chooses
// the register tile (panel_width x tile_rows) and the grain.
// Without VNNI the GEMM multiplies int16 copies of its operands (pmaddwd).
// Widened in the inner loop they cost a vpmovsxbw per weight vector and a
// vpbroadcastw + vpmovzxbw per row and k pair, as many shuffles as
// multiplies; staged once per task (weights) and per row tile (activations)
// they become plain loads: 1024^3 on 1 thread, AVX2, 125 -> 150 GOPS against
// the 175 GOPS vpmaddwd + vpaddd peak of bench_gemm's avx2_maddwd_peak.
inline bool gemm_widens_operands(const Target &t) { return !t.has_feature(Target::AVX512_SapphireRapids); }

// `operands` = {a_operand, w_operand} (schedules/common/gemm_int8.h, GemmOperands).
// The one-row GEMV tiling keeps them inline: a staged panel would be read by
// a single row, so staging would only add a store and a load per weight.
inline void schedule_gemm_int8(Func c, Func acc, const std::vector<Func> &per_column,
                               const std::vector<Func> &operands, const Var &n, const Var &m, const Var &ni_acc,
                               const Var &no_acc, const RDom &r, const Target &t, const GemmParams &p) {
    const bool staged = gemm_widens_operands(t) && tile_rows(t, p) > 1;
    schedule_gemm_int8_loops(c, acc, per_column, {operands.at(0), operands.at(1), staged}, n, m, ni_acc, no_acc, r,
                             {int32_lanes(t), panel_width(t), tile_rows(t, p), (int)p.row_tiles_per_task,
                              (int)p.k_unroll});
}

}  // namespace qforge::schedules::x86
