// The data layouts an algorithm needs to know because its schedule chose them
// (the depth of a multiply-accumulate step, the width of a packed panel of
// weights, rows per register tile, whether activations enter the dot product
// as s8). Algorithms ask here; each query dispatches on the target family
// (schedules/target_family.h) to that family's schedule header, which
// defines its answers. Adding a target family means adding its branch here
// and in schedules/schedules.h, not editing algorithm files.
//
// The layout probes (gemm_layout_probe, sgemm_layout_probe,
// conv_f32_layout_probe) report these values to the runtime, which never
// restates them.
#pragma once

#include "Halide.h"
#include "schedules/arm/conv_arm.h"
#include "schedules/arm/gemm_arm.h"
#include "schedules/arm/train_gemm_arm.h"
#include "schedules/cuda/cuda_schedules.h"
#include "schedules/params.h"
#include "schedules/target_family.h"
#include "schedules/x86/conv_x86.h"
#include "schedules/x86/gemm_x86.h"
#include "schedules/x86/train_gemm_x86.h"

namespace qforge::schedules {

// Whether a CPU target is x86 (else AArch64). The queries below that a CUDA
// target answers itself ask first; for the others no CUDA schedule exists yet.
inline bool cpu_x86(const Halide::Target &t, const char *what) {
    const Family f = family(t, what);
    if (f == Family::cuda) throw no_cuda_schedule(t, what);
    return f == Family::x86;
}

// ---- int8 GEMM and convolutions ---------------------------------------------------

// k values per packed group (x86: 4 for VNNI's vpdpbusd, 2 for pmaddwd;
// ARM: 4 for sdot, 2 for smull + sadalp).
inline int k_group(const Halide::Target &t) {
    if (family(t, "int8 k group") == Family::cuda) return cuda::k_group(t);
    return cpu_x86(t, "int8 k group") ? x86::k_group(t) : arm::k_group(t);
}

// Output columns per packed weight panel (and register tile): 4 int32 vectors.
inline int panel_width(const Halide::Target &t) {
    if (family(t, "int8 panel width") == Family::cuda) return cuda::panel_width(t);
    return cpu_x86(t, "int8 panel width") ? x86::panel_width(t) : arm::panel_width(t);
}

// Rows per register tile of the int8 GEMM for the given tiling parameters.
inline int tile_rows(const Halide::Target &t, const GemmParams &p) {
    if (family(t, "int8 tile rows") == Family::cuda) return cuda::tile_rows(t, p);
    return cpu_x86(t, "int8 tile rows") ? x86::tile_rows(t, p) : arm::tile_rows(t, p);
}

// Output channels per packed weight panel of the direct conv over input rows.
inline int rows_conv_panel_width(const Halide::Target &t, const RowsConvParams &p) {
    if (family(t, "int8 rows-conv panel") == Family::cuda) return cuda::rows_conv_panel_width(t, p);
    return cpu_x86(t, "int8 rows-conv panel") ? x86::rows_conv_panel_width(t, p)
                                                              : arm::rows_conv_panel_width(t, p);
}

// Whether the int8 kernels multiply s8 activations (a ^ 0x80 = a - 128)
// with the s8 weights instead of u8 ones. True on AArch64: Halide 14 emits
// sdot/udot only for operands of the same signedness (HALIDE14_NOTES G7),
// and without dot product the same holds for smull (schedules/arm/gemm_arm.h).
// The generators then fold the shift into the bias,
//   acc = bias - (z - 128) * sum_k w + sum_k (a - 128) * w,
// which equals bias - z * sum_k w + sum_k a * w modulo 2^32, so results are
// bit-identical; the runtime interface (u8 inputs, zero point z) is unchanged.
// x86 multiplies u8 x s8 directly (vpdpbusd; pmaddwd after widening): false.
inline bool signed_activations(const Halide::Target &t) {
    // x86 and CUDA (dp4a) multiply u8 x s8 directly.
    const Family f = family(t, "int8 activations");
    return f == Family::arm ? arm::signed_activations(t) : false;
}

// Whether the int8 GEMM multiplies int16 copies of its operands that its
// schedule stages outside the inner loop (x86 without VNNI: pmaddwd takes
// int16 pairs; widening u8/s8 in the inner loop cost a shuffle per vector).
inline bool gemm_widens_operands(const Halide::Target &t) {
    return family(t, "int8 operands") == Family::x86 && x86::gemm_widens_operands(t);
}

// Input rows the depthwise conv interleaves per multiply-accumulate step:
// 4 where one instruction sums 4 products per lane (VNNI vpdpbusd, ARM
// sdot; plain NEON's smull + saddlp + addp follows the same layout), 2 where
// it sums 2 int16 products (x86 without VNNI: pmaddwd; its operands are then
// int16, gemm_widens_operands).
inline int depthwise_k_group(const Halide::Target &t) {
    return family(t, "int8 depthwise") == Family::x86 ? x86::depthwise_k_group(t) : 4;
}

// Whether the GEMMs index their accumulator by output column, acc(n, m),
// instead of by (column within panel, panel), acc(ni, no, m). CUDA: its
// register-tiled schedule gives each thread one column, and Halide bounds a
// thread's acc(n % panel, ...) by the whole panel, which puts the tile in
// local memory (docs/halide14-notes.md); indexed by n, the bound is exact.
// The sums are the same either way.
inline bool gemm_accumulates_by_column(const Halide::Target &t) {
    return family(t, "gemm accumulator") == Family::cuda;
}

// ---- float32 training GEMM and convolutions ------------------------------------------

// fp32 lanes of one vector (the unit of the direct conv's panels).
inline int float_lanes(const Halide::Target &t) {
    if (family(t, "float lanes") == Family::cuda) return 1;  // a thread per element
    return cpu_x86(t, "float lanes") ? x86::float_lanes(t) : arm::float_lanes(t);
}

// Columns per sgemm panel (the runtime pads B's columns to a multiple of this).
inline int sgemm_panel_width(const Halide::Target &t, const SgemmParams &p) {
    if (family(t, "sgemm panel") == Family::cuda) return cuda::sgemm_panel_width(t, p);
    return cpu_x86(t, "sgemm panel") ? x86::sgemm_panel_width(t, p) : arm::sgemm_panel_width(t, p);
}

// Rows per sgemm register tile.
inline int sgemm_tile_rows(const Halide::Target &t, const SgemmParams &p) {
    if (family(t, "sgemm tile rows") == Family::cuda) return cuda::sgemm_tile_rows(t, p);
    return cpu_x86(t, "sgemm tile rows") ? x86::sgemm_tile_rows(t, p) : arm::sgemm_tile_rows(t, p);
}

// Output channels per panel of the float32 direct conv.
inline int direct_conv_f32_panel_width(const Halide::Target &t, const DirectConvF32Params &p) {
    if (family(t, "direct conv f32 panel") == Family::cuda) return cuda::direct_conv_f32_panel_width(t, p);
    return cpu_x86(t, "direct conv f32 panel") ? x86::direct_conv_f32_panel_width(t, p)
                                                               : arm::direct_conv_f32_panel_width(t, p);
}

// Output pixels per register tile of the float32 direct conv with panels of
// `panel_vectors` vectors.
inline int direct_conv_f32_tile_rows(const Halide::Target &t, int panel_vectors, const DirectConvF32Params &p) {
    if (family(t, "direct conv f32 tile rows") == Family::cuda) {
        return cuda::direct_conv_f32_tile_rows(t, panel_vectors, p);
    }
    return cpu_x86(t, "direct conv f32 tile rows")
               ? x86::direct_conv_f32_tile_rows(t, panel_vectors, p)
               : arm::direct_conv_f32_tile_rows(t, panel_vectors, p);
}

// Output channels per panel of the float32 weight gradient.
inline int conv_wgrad_f32_panel_width(const Halide::Target &t, const ConvWgradF32Params &p) {
    if (family(t, "conv wgrad f32 panel") == Family::cuda) return cuda::conv_wgrad_f32_panel_width(t, p);
    return cpu_x86(t, "conv wgrad f32 panel") ? x86::conv_wgrad_f32_panel_width(t, p)
                                                              : arm::conv_wgrad_f32_panel_width(t, p);
}

}  // namespace qforge::schedules
