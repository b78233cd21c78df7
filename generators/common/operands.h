// The values the int8 kernels' multiply-accumulate reads, in the form the
// target's instruction takes them.
#pragma once

#include <string>
#include <vector>

#include "Halide.h"
#include "schedules/layout.h"

namespace qforge::generators {

// `f` as the multiply reads it: an int16 copy named `name` where the target
// multiplies int16 pairs (schedules/layout.h gemm_widens_operands: pmaddwd
// without VNNI), so that the schedule can widen once, outside the inner loop;
// elsewhere `f` itself. The copy is a pure Func of the algorithm: the
// schedule decides where it is computed, or inlines it.
inline Halide::Func multiply_operand(const Halide::Func &f, const Halide::Target &t, const std::string &name) {
    if (!qforge::schedules::gemm_widens_operands(t)) return f;
    std::vector<Halide::Var> v;
    for (int i = 0; i < f.dimensions(); i++) v.emplace_back(name + "_" + std::to_string(i));
    Halide::Func widened(name);
    widened(v) = Halide::cast<int16_t>(f(v));
    return widened;
}

}  // namespace qforge::generators
