// The tunable parameters of every schedule, shared by all target families.
//
// Each struct is a group of GeneratorParams a generator holds as a member
// (`qs::GemmParams tiling;`): their names and defaults are the interface that
// cmake/kernels*.cmake (PARAMS k=v), qforge-gen --param and qforge-tune use,
// so they must not change per family. What a value means on a family (e.g.
// how many columns one "int32 vector" is, or which tile a 0 default picks)
// is the family's schedule's business: schedules/x86/*.h and
// schedules/arm/*.h read the same fields. A value of 0 means "the target's
// default" where noted.
//
// The x86 headers re-export these names (qforge::schedules::x86::GemmParams
// ...) so older code that names them through x86:: still compiles.
#pragma once

#include <string>

#include "Halide.h"

namespace qforge::schedules {

using Halide::GeneratorParam;

// ---- float32 quantization operators and other memory-bound streams ------------------

struct StreamingParams {
    GeneratorParam<int> task_elements{"task_elements", 1 << 14};  // elements per parallel task
    GeneratorParam<int> vector_unroll{"vector_unroll", 1};        // vectors per inner iteration
};

// ---- int8 GEMM and direct convolutions ----------------------------------------------

// The register tile is panel_width(target) columns wide (the packed layout's
// panel, so not a free parameter) by tile_m rows.
struct GemmParams {
    GeneratorParam<int> tile_m{"tile_m", 0};  // output rows per register tile (0: by target)
    GeneratorParam<int> row_tiles_per_task{"row_tiles_per_task", 32};  // parallel grain along M
    // k groups per inner-loop iteration: more independent work between loop
    // branches (x86 VNNI, 1024^3 on 1 thread: 1 -> 585, 2 -> 656, 4 -> 650-665 GOPS).
    GeneratorParam<int> k_unroll{"k_unroll", 4};
};

// The direct (implicit-GEMM) conv's register tile is tile_m output pixels
// along ox (GemmParams) by tile_oy output rows: a 2-row tile keeps the tile's
// pixel count while wasting less of it at the end of a narrow row (14 wide,
// 6 x 1 tiles compute 18 pixels; 3 x 2 tiles compute 15 per row).
struct DirectConvParams {
    GeneratorParam<int> tile_oy{"tile_oy", 1};  // output rows per register tile
};

struct Im2colParams {
    GeneratorParam<int> pixels_per_task{"pixels_per_task", 64};  // output pixels per parallel task
};

struct DepthwiseParams {
    // int32 vectors of channels per register tile. Keep 1 on x86: the runtime
    // pads channels to 16 only (2 zmm with C = 48 would read past the padding;
    // measured no faster at C = 32). On ARM a vector is 4 channels, so 1, 2
    // or 4 stay within the padding.
    GeneratorParam<int> channel_vectors{"channel_vectors", 1};
    GeneratorParam<int> tile_pixels{"tile_pixels", 8};          // output pixels along ox per register tile
    GeneratorParam<int> rows_per_task{"rows_per_task", 2};      // pairs of output rows per parallel task
};

// The direct conv over flattened input rows (direct_conv_rows_int8): its
// weight panel is part of the packed layout the runtime writes.
struct RowsConvParams {
    // Output channels per weight panel and register tile, in int32 vectors:
    // 1 or 2 for narrow convs (C_out 16 or 32 on AVX-512 computes only its
    // own columns), 4 as the GEMM.
    GeneratorParam<int> panel_vectors{"panel_vectors", 4};
    GeneratorParam<int> tile_m{"tile_m", 0};              // output pixels along ox per tile (0: by target)
    GeneratorParam<int> k_unroll{"k_unroll", 1};          // k groups of a kernel row per loop iteration
    GeneratorParam<int> rows_per_task{"rows_per_task", 4};  // output rows (all images' rows fused) per task
    // (C_in, stride_w) pairs given their own copy of the kernel ("C" for
    // stride 1, "C/s" otherwise; ","-separated): with both known, the byte
    // distance between neighbouring pixels' windows is a constant, and the
    // tile's pixel rows are constant offsets from one pointer; otherwise each
    // row needs a register of its own (14 rows spill).
    GeneratorParam<std::string> specialize_for{"specialize_for", "1,2,3,4,8,16,3/2"};
};

// ---- float32 training GEMM and convolutions -----------------------------------------

struct SgemmParams {
    GeneratorParam<int> tile_m{"tile_m", 0};                // output rows per register tile (0: by target)
    GeneratorParam<int> panel_vectors{"panel_vectors", 0};  // float vectors per register tile row (0: by target)
    GeneratorParam<int> row_tiles_per_task{"row_tiles_per_task", 16};  // parallel grain along M
    GeneratorParam<int> k_unroll{"k_unroll", 4};            // k steps per inner-loop iteration
    // Software prefetch of B's panel rows this many inner-loop iterations
    // ahead (0: none). B rows are strided (the row stride of op(B)), which the
    // hardware prefetchers follow poorly across 4 KB pages.
    GeneratorParam<int> prefetch_b{"prefetch_b", 0};
};

struct Im2colF32Params {
    GeneratorParam<int> rows_per_task{"rows_per_task", 2};  // output rows (oy, n) per parallel task
};

struct Col2imF32Params {
    GeneratorParam<int> rows_per_task{"rows_per_task", 4};  // input rows (iy) per parallel task
};

struct DirectConvF32Params {
    GeneratorParam<int> panel_vectors{"panel_vectors", 2};  // float vectors of output channels per tile
    GeneratorParam<int> tile_rows{"tile_rows", 0};          // output pixels (along ox) per tile; 0: target default
    // Input channel counts compiled as special cases with stride_w = 1: the
    // tile's x rows are then constant offsets from one address (otherwise
    // each of the tile's rows keeps its own address, reloaded from the stack).
    GeneratorParam<std::string> channel_specializations{"channel_specializations", "1,3,16,32,64"};
};

struct ConvWgradF32Params {
    GeneratorParam<int> panel_vectors{"panel_vectors", 2};  // float vectors of output channels per tile
    GeneratorParam<bool> short_rows{"short_rows", false};   // tiles for kernel rows of <= 5 floats (C = 1)
    GeneratorParam<int> tile_j{"tile_j", 0};                // row floats (kw, c) per tile; 0: default
    GeneratorParam<int> tile_kh{"tile_kh", 0};              // kernel rows per tile; 0: default
};

// ---- float32 training operators -----------------------------------------------------

// Tunables of the per-channel reductions over rows (column sums, batch-norm
// statistics and gradients).
struct ColumnReductionParams {
    // Rows one parallel task sums into its own partial [C] vector. The
    // partials are then added in task order (fixed, so results do not depend
    // on the thread count).
    GeneratorParam<int> reduce_rows{"reduce_rows", 2048};
};

}  // namespace qforge::schedules
