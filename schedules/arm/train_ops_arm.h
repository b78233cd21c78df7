// AArch64 NEON schedules for the float32 training operators (batch norm,
// per-channel affine, ReLU, 2x2 max pool, softmax cross-entropy, optimizers)
// and the integer-model helpers (quantize, dequantize, requantize, u8/s8 max
// pool). No math here.
//
// All memory-bound streams over NHWC x(c, m): the loop structures are the
// target-neutral ones of schedules/common/streaming.h (the same as x86's);
// ARM chooses the vector width: two q registers of floats per step
// (stream_lanes, quant_arm.h), one q register (16 lanes) for bytes.
#pragma once

#include <vector>

#include "Halide.h"
#include "schedules/arm/quant_arm.h"
#include "schedules/common/streaming.h"
#include "schedules/params.h"

namespace qforge::schedules::arm {

using namespace Halide;

// Elementwise f(c, m) over rows of `channels` contiguous values.
inline void schedule_rows_2d(Func f, const Var &c, const Var &m, const Expr &channels, const Target &t,
                             const StreamingParams &p) {
    common::rows_2d(f, c, m, channels, stream_lanes(t), p);
}

// A per-channel reduction over rows, rfactored per chunk of reduce_rows rows.
inline void schedule_column_reduction(Func total, const Var &c, const RDom &r, const Target &t,
                                      const ColumnReductionParams &p) {
    common::column_reduction(total, c, r, stream_lanes(t), p);
}

// Small per-channel Funcs (1/scale, gamma * invstd, ...): once, up front.
inline void schedule_per_channel_scalars(const std::vector<Func> &fs, const Var &c, const Target &t) {
    common::per_channel_scalars(fs, c, stream_lanes(t));
}

// Per-channel outputs (column sums, parameter gradients): vectors along c.
inline void schedule_channel_outputs(const std::vector<Func> &outs, const Var &c, const Target &t) {
    common::channel_outputs(outs, c, stream_lanes(t));
}

// 2x2 pooling over NHWC f(c, w, h, n); lanes_override: the vector width for
// byte-typed pools (byte_lanes).
inline void schedule_pool_rows(Func f, const Var &c, const Var &h, const Var &n, const Expr &row_elements,
                               const Target &t, const StreamingParams &p, int lanes_override = 0) {
    const int lanes = lanes_override > 0 ? lanes_override : stream_lanes(t);
    common::pool_rows(f, c, h, n, row_elements, lanes, p);
}

// Byte-typed elementwise kernels: one q register of bytes (umax/smax .16b).
inline int byte_lanes(const Target &t) { return 4 * float_lanes(t); }

// Softmax cross-entropy rows (schedules/common/streaming.h).
inline void schedule_softmax_rows(Func dlogits, const Var &k, const Var &b, const std::vector<Func> &per_row,
                                  const Target &t) {
    common::softmax_rows(dlogits, k, b, per_row, stream_lanes(t));
}

}  // namespace qforge::schedules::arm
