// AArch64 NEON schedules for the int8 GEMM (generators/gemm_int8_generators.cpp).
//
// Same loop structure as x86 (gemm_x86.h): a register-resident accumulator
// tile of one panel of columns x tile_m rows, the k group reduced inside
// each int32 lane, column panel outer, parallel tasks of (panel, rows). What
// differs is the register file and the multiply step:
//
// * NEON has 32 q registers of 4 int32 lanes. A panel is 4 vectors = 16
//   columns (so one 64-column pad of the runtime is 4 whole panels).
// * Activations enter the products as s8 (a ^ 0x80 = a - 128, the
//   difference folded into the bias: layout.h, signed_activations) on every
//   AArch64 target, because NEON's integer multiplies want operands of one
//   signedness: Halide 14 emits sdot/udot only for s8 x s8 / u8 x u8
//   (HALIDE14_NOTES G7), and smull/umull are same-signedness too (u8 x s8
//   became ushll + sshll + mul.8h + saddlp + addp).
// * With arm_dot_prod, one `sdot v.4s, v.16b, v.16b` sums 4 s8 x s8 products
//   per int32 lane: the k group is 4. Tile: 6 rows x 4 vectors = 24
//   accumulators + 4 weight vectors + the row's broadcast and its xor-ed
//   copy = 30 registers, no spills (8 rows would need 32 accumulators alone).
//   Per k group: 6 ld1r + 6 eor + 2 ldp + 24 sdot.
// * Without dot product the step is 2 deep: `smull v.8h, a.8b, w.8b` (8 s8 x s8
//   products: 4 columns x 2 k) then `sadalp v.4s, v.8h` adds each column's
//   pair into its int32 lane. 2 vector instructions per 8 products, against
//   about 6 for the 4-deep u8 x s8 form (ushll/sshll/mul/saddlp/addp/add,
//   checked in the generated assembly of gemm_int8_s32). Tile: 5 rows x 4
//   vectors (6 rows spill: each product needs a temporary register).
//
// Every reduction is a full-width VectorReduce (bound_extent on the tile, the
// k group vectorized whole): a GuardWithIf tail would shrink it to a
// partial vector, which Halide then cannot map to sdot.
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"
#include "schedules/common/gemm_int8.h"
#include "schedules/arm/quant_arm.h"
#include "schedules/params.h"

namespace qforge::schedules::arm {

using namespace Halide;

inline int int32_lanes(const Target &t) { return float_lanes(t); }

inline bool has_dot_product(const Target &t) { return t.has_feature(Target::ARMDotProd); }

// k values per packed group: sdot's depth (4), or the smull + sadalp pair (2).
// The runtime pads K to 4 and reads G from gemm_layout_probe, which is
// dispatched to the same variant as the kernels.
inline int k_group(const Target &t) { return has_dot_product(t) ? 4 : 2; }

// Columns per packed panel and register tile: 4 int32 vectors = 16 columns.
inline int panel_width(const Target &t) { return 4 * int32_lanes(t); }

// Whether the int8 kernels multiply s8 activations (a ^ 0x80) instead of u8:
// on every AArch64 target (sdot with dot product, smull without; see above).
inline bool signed_activations(const Target &t) {
    (void)t;
    return true;
}

// Rows per register tile within 32 q registers (see the header comment).
inline int default_tile_m(const Target &t) { return has_dot_product(t) ? 6 : 5; }

inline int tile_rows(const Target &t, const GemmParams &p) {
    return p.tile_m > 0 ? (int)p.tile_m : default_tile_m(t);
}

// The weight packer runs once per weight tensor: each column's k group is
// one small vector, panels in parallel (as on x86).
inline void schedule_pack_gemm_weights(Func packed, Func row_sums, const Var &kk, const Var &ni, const Var &ko,
                                       const Var &no, const Target &t) {
    packed.bound(kk, 0, k_group(t))
        .bound(ni, 0, panel_width(t))
        .reorder(kk, ni, ko, no)
        .vectorize(kk)
        .parallel(no);
    (void)row_sums;  // one pass over the weights: the default (serial) schedule
}

// The loop structure is schedules/common/gemm_int8.h; this family chooses
// the register tile (panel_width x tile_rows) and the grain.
inline void schedule_gemm_int8(Func c, Func acc, const std::vector<Func> &per_column,
                               const std::vector<Func> &operands, const Var &n, const Var &m,
                               const Var &ni_acc, const Var &no_acc, const RDom &r, const Target &t,
                               const GemmParams &p) {
    // Per k group and row: one broadcast of the row's G bytes (ld1r), xor-ed,
    // against the panel's weights (2 ldp q per k group with dot product, 1
    // without): 4 sdot, or 4 smull + 4 sadalp.
    // The operands stay inline: NEON widens inside the multiply (sdot, smull).
    schedule_gemm_int8_loops(c, acc, per_column, {operands.at(0), operands.at(1), false}, n, m, ni_acc, no_acc, r,
                             {int32_lanes(t), panel_width(t), tile_rows(t, p), (int)p.row_tiles_per_task,
                              (int)p.k_unroll});
}

}  // namespace qforge::schedules::arm
