// The schedules generators call: one function per schedule, with the
// signature of the family versions, that picks the target family's version
// (schedules/target_family.h: x86 -> schedules/x86/, AArch64 -> schedules/arm/)
// and throws a CompileError naming the target for any other architecture.
//
// Generators (generators/*.cpp) include this header only and never schedule
// themselves: algorithms there, loop structure here and below. The layout
// queries algorithms need (k group, panel widths, tile rows, signed
// activations) are in schedules/layout.h, included here too.
#pragma once

#include <vector>

#include "Halide.h"
#include "schedules/arm/conv_arm.h"
#include "schedules/arm/gemm_arm.h"
#include "schedules/arm/quant_arm.h"
#include "schedules/arm/train_gemm_arm.h"
#include "schedules/arm/train_ops_arm.h"
#include "schedules/common/conv_vars.h"
#include "schedules/cuda/cuda_schedules.h"
#include "schedules/layout.h"
#include "schedules/params.h"
#include "schedules/target_family.h"
#include "schedules/x86/conv_x86.h"
#include "schedules/x86/gemm_x86.h"
#include "schedules/x86/quant_x86.h"
#include "schedules/x86/train_gemm_x86.h"
#include "schedules/x86/train_ops_x86.h"

namespace qforge::schedules {

using Halide::Expr;
using Halide::Func;
using Halide::RDom;
using Halide::Target;
using Halide::Var;

// x86 or ARM; a CUDA target gets here only for operators without a CUDA
// schedule (those that have one return before asking), which is an error.
inline bool is_x86(const Target &t, const char *schedule) {
    const Family f = family(t, schedule);
    if (f == Family::cuda) throw no_cuda_schedule(t, schedule);
    return f == Family::x86;
}

inline bool is_cuda(const Target &t, const char *schedule) { return family(t, schedule) == Family::cuda; }

// Every generator's schedule() starts here, with its pipeline: what a target
// family does to the whole pipeline rather than to one Func (CUDA: products
// rounded on their own in strict_float kernels, cuda::RoundedProductsInKernels).
inline void finish_pipeline(Halide::Pipeline p, const Target &t) {
    if (family(t, "pipeline") == Family::cuda) cuda::finish_pipeline(p, t);
}

// ---- float32 quantization operators (quant_*.h) ----------------------------------------

inline void schedule_stream_1d(Func f, const Var &i, const Target &t, const StreamingParams &p) {
    if (is_cuda(t, "stream_1d")) return cuda::schedule_stream_1d(f, i, t, p);
    if (is_x86(t, "stream_1d")) return x86::schedule_stream_1d(f, i, t, p);
    return arm::schedule_stream_1d(f, i, t, p);
}

inline void schedule_per_channel_3d(Func f, const Var &i, const Var &c, const Var &o, const Expr &inner_extent,
                                    const std::vector<Func> &per_channel, const Target &t,
                                    const StreamingParams &p) {
    if (is_cuda(t, "per_channel_3d")) return cuda::schedule_per_channel_3d(f, i, c, o, inner_extent, per_channel, t, p);
    if (is_x86(t, "per_channel_3d")) return x86::schedule_per_channel_3d(f, i, c, o, inner_extent, per_channel, t, p);
    return arm::schedule_per_channel_3d(f, i, c, o, inner_extent, per_channel, t, p);
}

inline void schedule_lsq_backward_per_tensor(Func dx, const Var &i, Func total, const RDom &r,
                                             const std::vector<Func> &scalars, const Target &t,
                                             const StreamingParams &p) {
    if (is_cuda(t, "lsq_backward_per_tensor")) {
        return cuda::schedule_lsq_backward_per_tensor(dx, i, total, r, scalars, t, p);
    }
    if (is_x86(t, "lsq_backward_per_tensor")) {
        return x86::schedule_lsq_backward_per_tensor(dx, i, total, r, scalars, t, p);
    }
    return arm::schedule_lsq_backward_per_tensor(dx, i, total, r, scalars, t, p);
}

inline void schedule_lsq_backward_per_channel(Func dx, const Var &i, const Var &c, const Var &o, Func total,
                                              const RDom &r, const std::vector<Func> &per_channel,
                                              const Target &t) {
    if (is_cuda(t, "lsq_backward_per_channel")) {
        return cuda::schedule_lsq_backward_per_channel(dx, i, c, o, total, r, per_channel, t);
    }
    if (is_x86(t, "lsq_backward_per_channel")) {
        return x86::schedule_lsq_backward_per_channel(dx, i, c, o, total, r, per_channel, t);
    }
    return arm::schedule_lsq_backward_per_channel(dx, i, c, o, total, r, per_channel, t);
}

// ---- int8 GEMM (gemm_*.h) ----------------------------------------------------------------

inline void schedule_pack_gemm_weights(Func packed, Func row_sums, const Var &kk, const Var &ni, const Var &ko,
                                       const Var &no, const Target &t) {
    if (is_cuda(t, "pack_gemm_weights")) return cuda::schedule_pack_gemm_weights(packed, row_sums, kk, ni, ko, no, t);
    if (is_x86(t, "pack_gemm_weights")) return x86::schedule_pack_gemm_weights(packed, row_sums, kk, ni, ko, no, t);
    return arm::schedule_pack_gemm_weights(packed, row_sums, kk, ni, ko, no, t);
}

inline void schedule_gemm_int8(Func c, Func acc, const std::vector<Func> &per_column,
                               const std::vector<Func> &operands, const Var &n, const Var &m,
                               const Var &ni_acc, const Var &no_acc, const RDom &r, const Target &t,
                               const GemmParams &p) {
    if (is_cuda(t, "gemm_int8")) return cuda::schedule_gemm_int8(c, acc, per_column, n, m, ni_acc, no_acc, r, t, p);
    if (is_x86(t, "gemm_int8"))
        return x86::schedule_gemm_int8(c, acc, per_column, operands, n, m, ni_acc, no_acc, r, t, p);
    return arm::schedule_gemm_int8(c, acc, per_column, operands, n, m, ni_acc, no_acc, r, t, p);
}

// ---- int8 convolutions (conv_*.h) --------------------------------------------------------

inline void schedule_im2col(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &p, const Target &t,
                            const Im2colParams &params) {
    if (is_cuda(t, "im2col_int8")) return cuda::schedule_im2col(col, ci, kw, kh, p, t, params);
    if (is_x86(t, "im2col_int8")) return x86::schedule_im2col(col, ci, kw, kh, p, t, params);
    return arm::schedule_im2col(col, ci, kw, kh, p, t, params);
}

inline void schedule_depthwise_conv(Func y, Func acc, Func xt, Func w2, Func bias_folded, const RDom &r,
                                    const Var &c, const Var &ox, const Var &oy, const Var &n, const Var &k,
                                    const Var &ix, const Var &g, const Target &t, const DepthwiseParams &params) {
    if (is_cuda(t, "depthwise_conv_int8")) {
        return cuda::schedule_depthwise_conv(y, acc, xt, w2, bias_folded, r, c, ox, oy, n, k, ix, g, t, params);
    }
    if (is_x86(t, "depthwise_conv_int8")) {
        return x86::schedule_depthwise_conv(y, acc, xt, w2, bias_folded, r, c, ox, oy, n, k, ix, g, t, params);
    }
    return arm::schedule_depthwise_conv(y, acc, xt, w2, bias_folded, r, c, ox, oy, n, k, ix, g, t, params);
}

// w_operand: the packed weights as the multiply reads them (an int16 copy
// where gemm_widens_operands; the family's schedule stages or inlines it).
inline void schedule_direct_conv(Func y, Func acc, Func x_padded, Func w_operand, const std::vector<Func> &per_channel,
                                 const Var &o, const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                                 const RDom &r, const Target &t, const GemmParams &p, const DirectConvParams &dp) {
    if (is_cuda(t, "direct_conv_int8")) {
        return cuda::schedule_direct_conv(y, acc, x_padded, per_channel, o, ox, oy, n, av, r, t, p, dp);
    }
    if (is_x86(t, "direct_conv_int8")) {
        return x86::schedule_direct_conv(y, acc, x_padded, w_operand, per_channel, o, ox, oy, n, av, r, t, p, dp);
    }
    return arm::schedule_direct_conv(y, acc, x_padded, w_operand, per_channel, o, ox, oy, n, av, r, t, p, dp);
}

inline void schedule_rows_conv(Func y, Func acc, Func x_padded, Func w_operand, const std::vector<Func> &per_channel,
                               const Var &o, const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                               const RDom &r, const Expr &channels, const Expr &stride_w, const Target &t,
                               const RowsConvParams &p) {
    if (is_cuda(t, "direct_conv_rows_int8")) {
        return cuda::schedule_rows_conv(y, acc, x_padded, per_channel, o, ox, oy, n, av, r, channels, stride_w, t, p);
    }
    if (is_x86(t, "direct_conv_rows_int8")) {
        return x86::schedule_rows_conv(y, acc, x_padded, w_operand, per_channel, o, ox, oy, n, av, r, channels,
                                       stride_w, t, p);
    }
    return arm::schedule_rows_conv(y, acc, x_padded, w_operand, per_channel, o, ox, oy, n, av, r, channels, stride_w,
                                   t, p);
}

// ---- float32 training GEMM and convolutions (train_gemm_*.h) ------------------------------

inline void schedule_sgemm(Func c, Func acc, const Halide::Internal::Parameter &b, const Var &n, const Var &m,
                           const Var &ni_acc, const Var &no_acc, const RDom &r, const Expr &accumulate,
                           const Target &t, const SgemmParams &p) {
    if (is_cuda(t, "sgemm_f32")) return cuda::schedule_sgemm(c, acc, n, m, ni_acc, no_acc, r, t, p);
    if (is_x86(t, "sgemm_f32")) return x86::schedule_sgemm(c, acc, b, n, m, ni_acc, no_acc, r, accumulate, t, p);
    return arm::schedule_sgemm(c, acc, b, n, m, ni_acc, no_acc, r, accumulate, t, p);
}

// Memory-bound gathers: one loop structure for every family
// (schedules/common/gather.h), at the family's vector width.
inline void schedule_pack_f32(Func out, const Var &i, const Var &j, bool transposed, const Target &t) {
    if (is_cuda(t, "pack_f32")) return cuda::schedule_pack_f32(out, i, j, transposed, t);
    common::pack_f32(out, i, j, transposed, float_lanes(t));
}

inline void schedule_im2col_f32(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &ox, const Var &oy,
                                const Var &n, const Expr &channels, const Target &t, const Im2colF32Params &params) {
    if (is_cuda(t, "im2col_f32")) return cuda::schedule_im2col_f32(col, ci, kw, kh, ox, oy, n, t);
    common::im2col_f32(col, ci, kw, kh, ox, oy, n, channels, float_lanes(t), params);
}

inline void schedule_col2im_f32(Func dx, const Var &c, const Var &iy, const Var &n, const Target &t,
                                const Col2imF32Params &params) {
    if (is_cuda(t, "col2im_f32")) return cuda::schedule_col2im_f32(dx, c, iy, n, t);
    common::col2im_f32(dx, c, iy, n, float_lanes(t), params);
}

inline void schedule_direct_conv_f32(Func y, Func acc, Func x_padded, const Var &o, const Var &ox, const Var &oy,
                                     const Var &n, const Var &oi_acc, const Var &oo_acc, const RDom &r,
                                     const Expr &channels, const Expr &stride_w, const Target &t,
                                     const DirectConvF32Params &p) {
    if (is_cuda(t, "direct_conv_f32")) {
        return cuda::schedule_direct_conv_f32(y, acc, o, ox, oy, n, oi_acc, oo_acc, r, t, p);
    }
    if (is_x86(t, "direct_conv_f32")) {
        return x86::schedule_direct_conv_f32(y, acc, x_padded, o, ox, oy, n, oi_acc, oo_acc, r, channels, stride_w,
                                             t, p);
    }
    return arm::schedule_direct_conv_f32(y, acc, x_padded, o, ox, oy, n, oi_acc, oo_acc, r, channels, stride_w, t,
                                         p);
}

inline void schedule_conv_wgrad_f32(Func part, Func acc, Func x_padded, const Var &o, const Var &j, const Var &kh,
                                    const Var &g, const Var &oi_acc, const Var &oo_acc, const RDom &r,
                                    const Target &t, const ConvWgradF32Params &p) {
    if (is_cuda(t, "conv_wgrad_f32")) {
        return cuda::schedule_conv_wgrad_f32(part, acc, o, j, kh, g, oi_acc, oo_acc, r, t, p);
    }
    if (is_x86(t, "conv_wgrad_f32")) {
        return x86::schedule_conv_wgrad_f32(part, acc, x_padded, o, j, kh, g, oi_acc, oo_acc, r, t, p);
    }
    return arm::schedule_conv_wgrad_f32(part, acc, x_padded, o, j, kh, g, oi_acc, oo_acc, r, t, p);
}

// ---- float32 training operators (train_ops_*.h) -------------------------------------------

inline void schedule_rows_2d(Func f, const Var &c, const Var &m, const Expr &channels, const Target &t,
                             const StreamingParams &p) {
    if (is_cuda(t, "rows_2d")) return cuda::schedule_rows_2d(f, c, m, channels, t, p);
    if (is_x86(t, "rows_2d")) return x86::schedule_rows_2d(f, c, m, channels, t, p);
    return arm::schedule_rows_2d(f, c, m, channels, t, p);
}

inline void schedule_column_reduction(Func total, const Var &c, const RDom &r, const Target &t,
                                      const ColumnReductionParams &p) {
    if (is_cuda(t, "column_reduction")) return cuda::schedule_column_reduction(total, c, r, t, p);
    if (is_x86(t, "column_reduction")) return x86::schedule_column_reduction(total, c, r, t, p);
    return arm::schedule_column_reduction(total, c, r, t, p);
}

inline void schedule_per_channel_scalars(const std::vector<Func> &fs, const Var &c, const Target &t) {
    if (is_cuda(t, "per_channel_scalars")) return cuda::schedule_per_channel_scalars(fs, c, t);
    if (is_x86(t, "per_channel_scalars")) return x86::schedule_per_channel_scalars(fs, c, t);
    return arm::schedule_per_channel_scalars(fs, c, t);
}

inline void schedule_channel_outputs(const std::vector<Func> &outs, const Var &c, const Target &t) {
    if (is_cuda(t, "channel_outputs")) return cuda::schedule_channel_outputs(outs, c, t);
    if (is_x86(t, "channel_outputs")) return x86::schedule_channel_outputs(outs, c, t);
    return arm::schedule_channel_outputs(outs, c, t);
}

// Vector width of byte-typed elementwise kernels (the u8/s8 max pool's lanes_override).
inline int byte_lanes(const Target &t) {
    if (is_cuda(t, "byte lanes")) return 1;  // unused there: a thread per element
    if (is_x86(t, "byte lanes")) return x86::byte_lanes(t);
    return arm::byte_lanes(t);
}

inline void schedule_pool_rows(Func f, const Var &c, const Var &h, const Var &n, const Expr &row_elements,
                               const Target &t, const StreamingParams &p, int lanes_override = 0) {
    if (is_cuda(t, "pool_rows")) return cuda::schedule_pool_rows(f, c, h, n, row_elements, t, p, lanes_override);
    if (is_x86(t, "pool_rows")) return x86::schedule_pool_rows(f, c, h, n, row_elements, t, p, lanes_override);
    return arm::schedule_pool_rows(f, c, h, n, row_elements, t, p, lanes_override);
}

inline void schedule_softmax_rows(Func dlogits, const Var &k, const Var &b, const std::vector<Func> &per_row,
                                  const Target &t) {
    if (is_cuda(t, "softmax_rows")) return cuda::schedule_softmax_rows(dlogits, k, b, per_row, t);
    if (is_x86(t, "softmax_rows")) return x86::schedule_softmax_rows(dlogits, k, b, per_row, t);
    return arm::schedule_softmax_rows(dlogits, k, b, per_row, t);
}

}  // namespace qforge::schedules
