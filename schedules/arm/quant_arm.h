// AArch64 NEON schedules for the float32 quantization operators (fake-quant,
// STE backward, LSQ backward). No math here.
//
// These are memory-bound streams: the loop structures are the target-neutral
// ones of schedules/common/streaming.h (the same as x86's); ARM chooses only
// the vector width. A NEON register holds 4 floats; the streams take two
// registers per step (ldp/stp of q pairs, half the loop overhead per byte),
// which also keeps per-lane reduction buffers (LSQ) at 8 lanes.
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"
#include "schedules/common/streaming.h"
#include "schedules/params.h"

namespace qforge::schedules::arm {

using namespace Halide;

// fp32 (and int32) lanes of one NEON q register. AArch64 has no wider SIMD
// without SVE, which Halide 14 does not vectorize for.
inline int float_lanes(const Target &t) {
    (void)t;
    return 4;
}

// Floats per step of a memory-bound stream: two q registers.
inline int stream_lanes(const Target &t) { return 2 * float_lanes(t); }

// One flat stream: stream_lanes x vector_unroll wide.
inline void schedule_stream_1d(Func f, const Var &i, const Target &t, const StreamingParams &p) {
    common::stream_1d(f, i, stream_lanes(t) * std::max(1, (int)p.vector_unroll), p);
}

// Per-channel elementwise over x(i, c, o) (schedules/common/streaming.h).
inline void schedule_per_channel_3d(Func f, const Var &i, const Var &c, const Var &o, const Expr &inner_extent,
                                    const std::vector<Func> &per_channel, const Target &t,
                                    const StreamingParams &p) {
    common::per_channel_3d(f, i, c, o, inner_extent, per_channel, stream_lanes(t), p);
}

// Fused LSQ backward, per tensor (schedules/common/streaming.h).
inline void schedule_lsq_backward_per_tensor(Func dx, const Var &i, Func total, const RDom &r,
                                             const std::vector<Func> &scalars, const Target &t,
                                             const StreamingParams &p) {
    common::lsq_backward_per_tensor(dx, i, total, r, scalars, stream_lanes(t), p);
}

// Fused LSQ backward, per channel (schedules/common/streaming.h).
inline void schedule_lsq_backward_per_channel(Func dx, const Var &i, const Var &c, const Var &o, Func total,
                                              const RDom &r, const std::vector<Func> &per_channel,
                                              const Target &t) {
    common::lsq_backward_per_channel(dx, i, c, o, total, r, per_channel, stream_lanes(t));
}

}  // namespace qforge::schedules::arm
