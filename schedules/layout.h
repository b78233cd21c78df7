// The data layouts an algorithm needs to know because its schedule chose them
// (the depth of a multiply-accumulate step, the width of a packed panel of
// weights, rows per register tile). Algorithms ask here, by target family;
// each family's schedule header defines its answers. Adding a target family
// (ARM, CUDA) means adding its branch here and its schedules, not editing
// algorithm files.
#pragma once

#include "Halide.h"
#include "schedules/x86/conv_x86.h"
#include "schedules/x86/gemm_x86.h"

namespace qforge::schedules {

inline Halide::CompileError no_schedule(const Halide::Target &t) {
    return Halide::CompileError("qforge: no int8 schedule for target " + t.to_string());
}

// k values per packed group (4: VNNI's vpdpbusd; 2: pmaddwd).
inline int k_group(const Halide::Target &t) {
    if (t.arch == Halide::Target::X86) return x86::k_group(t);
    throw no_schedule(t);
}

// Output columns per packed weight panel (and register tile).
inline int panel_width(const Halide::Target &t) {
    if (t.arch == Halide::Target::X86) return x86::panel_width(t);
    throw no_schedule(t);
}

// Rows per register tile for the given tiling parameters.
inline int tile_rows(const Halide::Target &t, const x86::GemmParams &p) {
    if (t.arch == Halide::Target::X86) return x86::tile_rows(t, p);
    throw no_schedule(t);
}

// Output channels per packed weight panel of the direct conv over input rows.
inline int rows_conv_panel_width(const Halide::Target &t, const x86::RowsConvParams &p) {
    if (t.arch == Halide::Target::X86) return x86::rows_conv_panel_width(t, p);
    throw no_schedule(t);
}

}  // namespace qforge::schedules
