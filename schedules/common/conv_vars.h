// Argument types the convolution schedules of every family share.
#pragma once

#include "Halide.h"

namespace qforge::schedules {

// The int8 direct convs' accumulator dimensions: channel within panel,
// panel, ox, oy, n (acc(oi, oo, ox, oy, n) in generators/conv_int8_generators.cpp).
struct DirectConvAccVars {
    Halide::Var oi, oo, ox, oy, n;
};

// The direct convs' packed weights as the multiply reads them (w_operand:
// an int16 copy where schedules/layout.h gemm_widens_operands, else the
// packed s8 weights), and whether to stage them. Staged, the copy is computed
// once per call (the weights are small next to the work: each is used once
// per output pixel) instead of widening each weight vector in the inner
// loop; unstaged, w_operand is inlined.
struct DirectConvWeights {
    Halide::Func w_operand;
    bool staged;
};

// Staged: w_operand(kk, oi, ko, oo) at the root, a k group of two int32
// vectors' columns per store, panels in parallel.
inline void stage_direct_conv_weights(const DirectConvWeights &weights, int vector_lanes) {
    if (!weights.staged) return;
    const auto a = weights.w_operand.args();  // kk, oi, ko, oo
    Halide::Func w_operand = weights.w_operand;
    Halide::Var kn("kn");
    w_operand.compute_root().fuse(a[0], a[1], kn).vectorize(kn, 2 * vector_lanes).parallel(a[3]);
}

}  // namespace qforge::schedules
