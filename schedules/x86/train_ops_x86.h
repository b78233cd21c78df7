// x86 schedules for the float32 training operators (batch norm, per-channel
// affine, ReLU, 2x2 max pool, softmax cross-entropy, optimizers) and the
// integer-model helpers (quantize, dequantize, requantize, u8/s8 max pool).
// No math here: each function receives Funcs an algorithm in
// generators/train_ops_generators.cpp defined and only decides loop structure.
//
// Activations are NHWC, so "per channel" is the innermost axis: the kernels
// see x(c, m) with c the channel (stride 1) and m every other axis flattened.
// All of these kernels are memory-bound streams: full-width vectors along c,
// coarse parallel tasks of rows, and per-task partial sums for the
// per-channel reductions (rfactor over row chunks, parallel), so threads
// never share an accumulator. The loop structures are the target-neutral
// ones of schedules/common/streaming.h (shared with ARM); x86 chooses the
// vector width.
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"
#include "schedules/common/streaming.h"
#include "schedules/params.h"
#include "schedules/x86/quant_x86.h"

namespace qforge::schedules::x86 {

using namespace Halide;

// The tunable parameters live in schedules/params.h (shared by every target
// family); re-exported here for code that names them through x86::.
using qforge::schedules::ColumnReductionParams;
using common::rows_per_task;

// Elementwise f(c, m) over rows of `channels` contiguous values
// (schedules/common/streaming.h).
inline void schedule_rows_2d(Func f, const Var &c, const Var &m, const Expr &channels, const Target &t,
                             const StreamingParams &p) {
    common::rows_2d(f, c, m, channels, float_lanes(t), p);
}

// A per-channel reduction over rows, rfactored per chunk of reduce_rows rows
// (schedules/common/streaming.h).
inline void schedule_column_reduction(Func total, const Var &c, const RDom &r, const Target &t,
                                      const ColumnReductionParams &p) {
    common::column_reduction(total, c, r, float_lanes(t), p);
}

// Small per-channel Funcs (1/scale, gamma * invstd, ...): once, up front.
inline void schedule_per_channel_scalars(const std::vector<Func> &fs, const Var &c, const Target &t) {
    common::per_channel_scalars(fs, c, float_lanes(t));
}

// Per-channel outputs (column sums, parameter gradients): vectors along c.
inline void schedule_channel_outputs(const std::vector<Func> &outs, const Var &c, const Target &t) {
    common::channel_outputs(outs, c, float_lanes(t));
}

// 2x2 pooling over NHWC f(c, w, h, n) (schedules/common/streaming.h);
// lanes_override: the vector width for byte-typed pools (byte_lanes).
inline void schedule_pool_rows(Func f, const Var &c, const Var &h, const Var &n, const Expr &row_elements,
                               const Target &t, const StreamingParams &p, int lanes_override = 0) {
    const int lanes = lanes_override > 0 ? lanes_override : float_lanes(t);
    common::pool_rows(f, c, h, n, row_elements, lanes, p);
}

// Byte-typed elementwise kernels: 4x the float lanes per vector.
inline int byte_lanes(const Target &t) { return float_lanes(t) * 4; }

// Softmax cross-entropy rows (schedules/common/streaming.h).
inline void schedule_softmax_rows(Func dlogits, const Var &k, const Var &b, const std::vector<Func> &per_row,
                                  const Target &t) {
    common::softmax_rows(dlogits, k, b, per_row, float_lanes(t));
}

}  // namespace qforge::schedules::x86
