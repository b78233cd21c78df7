// Argument types the convolution schedules of every family share.
#pragma once

#include "Halide.h"

namespace qforge::schedules {

// The int8 direct convs' accumulator dimensions: channel within panel,
// panel, ox, oy, n (acc(oi, oo, ox, oy, n) in generators/conv_int8_generators.cpp).
struct DirectConvAccVars {
    Halide::Var oi, oo, ox, oy, n;
};

}  // namespace qforge::schedules
