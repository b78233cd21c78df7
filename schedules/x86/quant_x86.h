// x86 schedules for the float32 quantization operators (fake-quant, STE
// backward, LSQ backward). No math here: each function receives the Funcs an
// algorithm in generators/ defined and only decides loop structure.
//
// All of these kernels are memory-bound streams: their loop structure is the
// target-neutral one of schedules/common/streaming.h (shared with ARM); x86
// only chooses the vector width (the widest float vector the variant has).
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"
#include "schedules/common/streaming.h"
#include "schedules/params.h"

namespace qforge::schedules::x86 {

using namespace Halide;

// The tunable parameters live in schedules/params.h (shared by every target
// family); re-exported here for code that names them through x86::.
using qforge::schedules::StreamingParams;

// fp32 lanes of the widest vector the target has. Computed from the feature
// bits, not Target::natural_vector_size (wrong for sapphirerapids-only
// targets, HALIDE14_NOTES G2).
inline int float_lanes(const Target &t) {
    if (t.has_feature(Target::AVX512) || t.has_feature(Target::AVX512_Skylake) ||
        t.has_feature(Target::AVX512_SapphireRapids)) {
        return 16;
    }
    if (t.has_feature(Target::AVX2) || t.has_feature(Target::AVX)) return 8;
    return 4;
}

// One flat stream (schedules/common/streaming.h), float_lanes x vector_unroll wide.
inline void schedule_stream_1d(Func f, const Var &i, const Target &t, const StreamingParams &p) {
    common::stream_1d(f, i, float_lanes(t) * std::max(1, (int)p.vector_unroll), p);
}

// Per-channel elementwise over x(i, c, o) (schedules/common/streaming.h).
inline void schedule_per_channel_3d(Func f, const Var &i, const Var &c, const Var &o,
                                    const Expr &inner_extent, const std::vector<Func> &per_channel,
                                    const Target &t, const StreamingParams &p) {
    common::per_channel_3d(f, i, c, o, inner_extent, per_channel, float_lanes(t), p);
}

// Fused LSQ backward, per tensor (schedules/common/streaming.h).
inline void schedule_lsq_backward_per_tensor(Func dx, const Var &i, Func total, const RDom &r,
                                             const std::vector<Func> &scalars,
                                             const Target &t, const StreamingParams &p) {
    common::lsq_backward_per_tensor(dx, i, total, r, scalars, float_lanes(t), p);
}

// Fused LSQ backward, per channel (schedules/common/streaming.h).
inline void schedule_lsq_backward_per_channel(Func dx, const Var &i, const Var &c, const Var &o,
                                              Func total, const RDom &r,
                                              const std::vector<Func> &per_channel,
                                              const Target &t) {
    common::lsq_backward_per_channel(dx, i, c, o, total, r, per_channel, float_lanes(t));
}

}  // namespace qforge::schedules::x86
