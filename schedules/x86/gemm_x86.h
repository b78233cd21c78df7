// x86 schedules for the int8 GEMM (generators/gemm_int8_generators.cpp).
//
// The accumulator tile is register-resident: one panel of columns (vectors of
// int32 lanes) x tile_m rows, with the k group (4 deep on VNNI, 2 elsewhere)
// reduced inside each vector lane. On AVX-512 VNNI that reduction is one zmm vpdpbusd (u8 x s8,
// 4 products per int32 lane, HALIDE14_NOTES §2); on AVX2/SSE Halide lowers
// the same reduction to 16-bit widening multiplies and pmaddwd, which cannot
// saturate (|255 * -128| * 2 < 2^31). Every reduction is a full vector
// (bound_extent on the tile), so no narrower VNNI form (a VEX-encoded
// {vex} vpdpbusd, SIGILL on Zen 4, G3) is ever generated.
#pragma once

#include "Halide.h"
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

// c(n, m) is the output stage over acc(ni, no, m) (column ni of panel no);
// `per_column` are small Funcs over n (the folded bias) computed once. Rows
// run in whole tiles; the last is shifted inwards (ShiftInwards: it overlaps
// the one before and writes its rows again with the same values), so any
// M >= the tile runs in one call.
inline void schedule_gemm_int8(Func c, Func acc, const std::vector<Func> &per_column, const Var &n,
                               const Var &m, const Var &ni_acc, const Var &no_acc, const RDom &r,
                               const Target &t, const GemmParams &p) {
    const int vec = int32_lanes(t);
    const int tn = panel_width(t);
    const int tm = tile_rows(t, p);
    for (Func f : per_column) f.compute_root();
    // Columns start at 0 (n indexes the packed weights, so every caller's c
    // does): with the min known, n % P and n / P of a vector of columns
    // simplify to a dense ramp and a scalar, so the output stage reads the
    // accumulator tile with whole-vector loads (an unknown min made it a
    // 16-lane gather per vector: 3136x64x576 about 520 -> 600 GOPS).
    c.output_buffer().dim(0).set_min(0);

    Var no("no"), mo("mo"), ni("ni"), mi("mi"), mt("mt"), task("task"), nio("nio"), niv("niv");
    const int grain = std::max(1, (int)p.row_tiles_per_task);
    // Column panel outer (its packed weights stay in L2), rows inner; parallel
    // tasks are (panel, block of row tiles), so a narrow N (one panel) still
    // spreads over the cores. Column tiles are whole panels (guarded stores at
    // the edge, so a tile never straddles two panels); rows are whole tiles.
    c.split(n, no, ni, tn, TailStrategy::GuardWithIf)
        .split(m, mo, mi, tm, TailStrategy::ShiftInwards)
        .split(mo, mt, mo, grain, TailStrategy::GuardWithIf)
        .reorder(ni, mi, mo, no, mt)
        .fuse(no, mt, task)
        .split(ni, nio, niv, vec)
        .vectorize(niv)
        .unroll(nio)
        .unroll(mi)
        .parallel(task);

    Var nu("nu"), nv("nv");
    RVar ryo("ryo"), ryi("ryi");
    // The accumulator: one full register tile per (mo, no), even at the right
    // edge (padded columns have zero weights).
    // (A column tile is one whole panel, so one `no` per tile: bound_extent
    // tells Halide, which cannot prove n / P is constant over the tile.)
    acc.compute_at(c, mo)
        .bound_extent(ni_acc, tn)
        .bound_extent(no_acc, 1)
        .bound_extent(m, tm)
        .vectorize(ni_acc, vec)
        .unroll(ni_acc)
        .unroll(m);
    acc.update()
        .split(ni_acc, nu, nv, vec)
        .split(r.y, ryo, ryi, std::max(1, (int)p.k_unroll), TailStrategy::GuardWithIf)
        .reorder(r.x, nv, nu, m, ryi, ryo)
        .atomic()
        .vectorize(r.x)  // the k group: VectorReduce -> vpdpbusd (4 deep) / pmaddwd (2 deep)
        .vectorize(nv)
        .unroll(nu)
        .unroll(m)
        .unroll(ryi);
}

}  // namespace qforge::schedules::x86
