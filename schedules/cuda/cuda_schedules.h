// CUDA schedules (targets with the `cuda` feature, e.g.
// x86-64-linux-cuda-cuda_capability_80): the loop structure of the device
// kernels. Host code around them is the x86 baseline. No math here: each
// function receives the Funcs an algorithm in generators/ defined.
//
// Every operator has one: the float32 quantization operators (elementwise
// streams and block-partial reductions), the int8 GEMM and convolutions
// (dp4a, accumulators in shared memory), im2col, and the float32 training
// kernels (sgemm, convolutions, batch norm's reductions, pooling, softmax,
// optimizers). They are straightforward thread-per-output schedules, not yet
// tuned for any GPU. Validated by ptxas on every build
// (tests/check_cuda_ptx.sh) and run against the references on a GPU by
// tests/test_cuda_kernels (docs/cuda.md).
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"
#include "schedules/common/conv_vars.h"
#include "schedules/params.h"

namespace qforge::schedules::cuda {

using namespace Halide;

// ---- float rounding inside kernels --------------------------------------------------

// Rounds every float32 product inside a kernel on its own (PTX mul.rn), so
// no multiply-add is fused: the strict_float kernels then round like the
// references (tests are built with -ffp-contract=off). Halide 14's strict_float
// does not reach the device code: its PTX back end allows fast FP fusion, and
// ptxas (and the driver's JIT) fuse any mul.f32 / add.f32 pair without a
// rounding modifier into an fma; a product with .rn is never fused (PTX ISA,
// "mul"). Seen on an H100: float(acc) * M + 1.5*2^23 as one fma moved one
// requantized GEMM output by one step.
// The intrinsic is llvm.nvvm.mul.rn.ftz.f: LLVM 14's InstCombine turns the
// non-flushing llvm.nvvm.mul.rn.f back into a plain fmul (which then fuses),
// and keeps the flushing one in a function that does not flush denormals. The
// price: a product with a subnormal operand or result is flushed to zero
// (|v| < 2^-126), where the references keep it; results that are rounded to
// integers after the product (quantize, requantize) never see the
// difference. Applied after lowering, to the loops that run on the device
// only; mul.rn has mul's throughput, only the fusion goes.
class RoundedProductsInKernels : public Internal::IRMutator {
    using Internal::IRMutator::visit;
    int kernel_depth_ = 0;

    Internal::Stmt visit(const Internal::For *op) override {
        const bool device = op->for_type == Internal::ForType::GPUBlock ||
                            op->for_type == Internal::ForType::GPUThread || op->for_type == Internal::ForType::GPULane;
        kernel_depth_ += device;
        Internal::Stmt s = Internal::IRMutator::visit(op);
        kernel_depth_ -= device;
        return s;
    }

    Expr visit(const Internal::Mul *op) override {
        Expr a = mutate(op->a), b = mutate(op->b);
        if (kernel_depth_ > 0 && op->type == Float(32)) {
            return Internal::Call::make(op->type, "llvm.nvvm.mul.rn.ftz.f", {a, b}, Internal::Call::PureExtern);
        }
        return Internal::Mul::make(a, b);
    }
};

// Called by every generator's schedule() (schedules::finish_pipeline).
inline void finish_pipeline(Pipeline p, const Target &t) {
    if (t.has_feature(Target::StrictFloat)) p.add_custom_lowering_pass(new RoundedProductsInKernels);
}

// The int8 GEMM's packed layout on CUDA: 4 k values per 32-bit word, the
// operand of dp4a (4 u8 x s8 products summed into an int32), and panels of
// 64 output columns (the runtime pads N to 64; one thread block spans one
// panel). The same layout as x86 VNNI's, so packing on a VNNI host matches.
inline int k_group(const Target &) { return 4; }
inline int panel_width(const Target &) { return 64; }
// Output rows of the GEMM's thread block (the tile the runtime needs M >= of).
inline int tile_rows(const Target &, const GemmParams &);

constexpr int kThreadsPerBlock = 256;

// One flat stream: a thread per element, blocks of 256.
inline void schedule_stream_1d(Func f, const Var &i, const Target &, const StreamingParams &) {
    Var block("block"), thread("thread");
    f.gpu_tile(i, block, thread, kThreadsPerBlock, TailStrategy::GuardWithIf);
}

// Per-channel elementwise over x(i, c, o): one thread per element of the
// fused (i, c, o) space; the per-channel Funcs (1/scale) once, on the device.
inline void schedule_per_channel_3d(Func f, const Var &i, const Var &c, const Var &o, const Expr &,
                                    const std::vector<Func> &per_channel, const Target &, const StreamingParams &) {
    for (Func pc : per_channel) {
        Var v = pc.args()[0], vb("vb"), vt("vt");
        pc.compute_root().gpu_tile(v, vb, vt, 64, TailStrategy::GuardWithIf);
    }
    Var ic("ic"), all("all"), block("block"), thread("thread");
    f.fuse(i, c, ic).fuse(ic, o, all).gpu_tile(all, block, thread, kThreadsPerBlock, TailStrategy::GuardWithIf);
}

// LSQ backward, per tensor: dx elementwise; the two sums rfactored twice into
// partials, summed in a fixed order (results do not depend on scheduling
// races; they differ from the CPU's order by rounding, within
// docs/numerics.md's bound).
inline void schedule_lsq_backward_per_tensor(Func dx, const Var &i, Func total, const RDom &r,
                                             const std::vector<Func> &scalars, const Target &,
                                             const StreamingParams &) {
    // Three levels, each in a fixed order: 262144 threads each sum every
    // 262144th element (neighbouring threads read neighbouring elements:
    // coalesced; 4 iterations unrolled so each thread has 4 loads in flight),
    // 256 threads each sum 1024 of those partials, one thread the last 256.
    // (Runs of 256 summed by one thread: 79 GB/s on an H100, the single
    // thread's 262144 dependent adds for 64Mi elements; 65536 strided threads
    // without unrolling: 176 GB/s, too few loads in flight.)
    constexpr int kStrided = 262144, kSecond = 256;
    RVar ro("ro"), ri("ri"), rio("rio"), rii("rii"), roo("roo"), roi("roi");
    Var u("u"), ub("ub"), ut("ut"), v("v"), vb("vb"), vt("vt"), block("block"), thread("thread");
    total.compute_root();
    total.update().split(r.x, ro, ri, kStrided, TailStrategy::GuardWithIf);
    Func partial = total.update().rfactor(ri, u);  // partial(u): sum over ro of element ro * kStrided + u
    partial.compute_root().gpu_tile(u, ub, ut, kThreadsPerBlock, TailStrategy::GuardWithIf);
    partial.update()
        .split(ro, roo, roi, 4, TailStrategy::GuardWithIf)
        .unroll(roi)
        .gpu_tile(u, ub, ut, kThreadsPerBlock, TailStrategy::GuardWithIf);
    total.update().split(ri, rio, rii, kStrided / kSecond, TailStrategy::GuardWithIf);
    Func second = total.update().rfactor(rio, v);  // second(v): sum of partials v * 1024 ... v * 1024 + 1023
    second.compute_root().gpu_tile(v, vb, vt, 64, TailStrategy::GuardWithIf);
    second.update().gpu_tile(v, vb, vt, 64, TailStrategy::GuardWithIf);
    total.gpu_single_thread();
    total.update().gpu_single_thread();
    dx.gpu_tile(i, block, thread, kThreadsPerBlock, TailStrategy::GuardWithIf);
    for (Func f : scalars) f.compute_root().gpu_single_thread();
}

// LSQ backward, per channel, over x(i, c, o): a thread per channel sums its
// channel serially; dx one thread per element.
inline void schedule_lsq_backward_per_channel(Func dx, const Var &i, const Var &c, const Var &o, Func total,
                                              const RDom &, const std::vector<Func> &per_channel, const Target &) {
    Var cb("cb"), ct("ct"), ic("ic"), all("all"), block("block"), thread("thread");
    total.compute_root().gpu_tile(c, cb, ct, 64, TailStrategy::GuardWithIf);
    total.update().gpu_tile(c, cb, ct, 64, TailStrategy::GuardWithIf);
    for (Func pc : per_channel) {
        Var v = pc.args()[0], vb("vb"), vt("vt");
        pc.compute_root().gpu_tile(v, vb, vt, 64, TailStrategy::GuardWithIf);
    }
    dx.fuse(i, c, ic).fuse(ic, o, all).gpu_tile(all, block, thread, kThreadsPerBlock, TailStrategy::GuardWithIf);
}

// The GEMMs' register tiles: a thread block computes 64 rows x `cols`
// columns of c, a thread one column x 16 rows, its 16 accumulators in
// registers (the rows unrolled; acc indexed by column:
// layout::gemm_accumulates_by_column). Per k step a thread loads one word of
// its column of B (neighbouring threads: neighbouring words, coalesced) and
// 16 of A's rows (the same for the whole warp: broadcast), and issues 16
// multiply-adds (int8: dp4a, 4 k values each). First written with one
// accumulator per thread in shared memory, the int8 GEMM ran at 6 TOPS and
// sgemm at 4.5 TFLOP/s on an H100 at 4096^3 (two loads per multiply-add).
constexpr int kGemmTileRows = 64, kGemmRowsPerThread = 16;
inline int tile_rows(const Target &, const GemmParams &) { return kGemmTileRows; }

template<typename InnerLoops>
inline void schedule_register_tiled_gemm(Func c, Func acc, const Var &n, const Var &m, int cols,
                                         InnerLoops &&update_loops) {
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi"), yt("yt"), yr("yr");
    // Row tiles in the grid's x (up to 2^31 - 1 blocks; y and z stop at 65535).
    c.tile(n, m, xo, yo, xi, yi, cols, kGemmTileRows, TailStrategy::GuardWithIf)
        .split(yi, yt, yr, kGemmRowsPerThread, TailStrategy::GuardWithIf)
        .reorder(yr, xi, yt, yo, xo)
        .gpu_blocks(yo, xo)
        .gpu_threads(xi, yt)
        .unroll(yr);
    acc.compute_at(c, xi).store_in(MemoryType::Register).bound_extent(n, 1);
    acc.reorder(m, n).unroll(m);
    update_loops(acc.update());
}

// int8 GEMM, c(n, m) from acc(n, m): register tiles (above), 4 k values per
// dp4a (r.x vectorized with atomic(): Halide's PTX back end turns the 4-lane
// u8 x s8 dot product into dp4a.u32.s32).
inline void schedule_gemm_int8(Func c, Func acc, const std::vector<Func> &per_column, const Var &n, const Var &m,
                               const Var &, const Var &, const RDom &r, const Target &t, const GemmParams &) {
    schedule_register_tiled_gemm(c, acc, n, m, panel_width(t), [&](Stage u) {
        u.reorder(r.x, m, n, r.y).atomic().vectorize(r.x).unroll(m);
    });
    for (Func f : per_column) {
        Var v = f.args()[0], vb("vb"), vt("vt");
        f.compute_root().gpu_tile(v, vb, vt, 64, TailStrategy::GuardWithIf);
    }
}

// The conv over input rows packs its weights in panels of 1, 2 or 4 vectors
// of 16 output channels (the AVX-512 layout: a VNNI host packs them alike).
inline int rows_conv_panel_width(const Target &, const RowsConvParams &p) {
    return 16 * std::min(4, std::max(1, (int)p.panel_vectors));
}

// Per-channel vectors (the folded bias) once, on the device; pure and update
// definitions alike.
inline void schedule_channel_vectors(const std::vector<Func> &fs) {
    for (Func f : fs) {
        Var v = f.args()[0], vb("vb"), vt("vt");
        f.compute_root().gpu_tile(v, vb, vt, 64, TailStrategy::GuardWithIf);
        for (int u = 0; u < f.num_update_definitions(); u++) {
            f.update(u).gpu_tile(v, vb, vt, 64, TailStrategy::GuardWithIf);
        }
    }
}

// Weight packing: a thread per packed byte; the column sums a thread per
// column (row_sums(n) sums its K weights serially).
inline void schedule_pack_gemm_weights(Func packed, Func row_sums, const Var &kk, const Var &ni, const Var &ko,
                                       const Var &no, const Target &t) {
    Var group_cols("group_cols"), b0("b0"), t0("t0");
    // ko and no are block dimensions of their own: fused, ko * no exceeded
    // the grid's 65535 limit in y at K = N = 4096 (cuLaunchKernel failed).
    packed.bound(kk, 0, k_group(t)).bound(ni, 0, panel_width(t)).fuse(kk, ni, group_cols);
    packed.gpu_tile(group_cols, b0, t0, 256, TailStrategy::GuardWithIf).gpu_blocks(ko, no);
    schedule_channel_vectors({row_sums});
}

// The int8 direct convs (implicit GEMM and over input rows), y(o, ox, oy, n)
// from acc(oi, oo, ox, oy, n), o = panel * oo + oi: as the GEMM, a block
// computes one panel of output channels for 16 pixels of one output row, one
// accumulator per thread in shared memory, the k loop innermost with 4 k
// values per dp4a. x_padded (the zero-point border) is inlined into the loads.
inline void schedule_direct_conv_loops(Func y, Func acc, const std::vector<Func> &per_channel, const Var &o,
                                       const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                                       const RDom &r, int panel, bool dp4a = true) {
    const int pixels = 1024 / panel;  // threads per block: panel x pixels = 1024
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi"), rows("rows");
    y.tile(o, ox, xo, yo, xi, yi, panel, pixels, TailStrategy::GuardWithIf)
        .fuse(oy, n, rows)
        .gpu_blocks(xo, yo, rows)
        .gpu_threads(xi, yi);
    acc.compute_at(y, xo).reorder(av.oo, av.oy, av.n, av.oi, av.ox).gpu_threads(av.oi, av.ox);
    std::vector<RVar> inner;
    for (int d = 0; d < r.dimensions(); d++) inner.push_back(r[d]);
    std::vector<VarOrRVar> order(inner.begin(), inner.end());
    for (const Var &v : {av.oo, av.oy, av.n, av.oi, av.ox}) order.push_back(v);
    if (dp4a) {
        acc.update().reorder(order).atomic().vectorize(r[0]).gpu_threads(av.oi, av.ox);
    } else {
        acc.update().reorder(order).gpu_threads(av.oi, av.ox);
    }
    schedule_channel_vectors(per_channel);
}

inline void schedule_direct_conv(Func y, Func acc, Func, const std::vector<Func> &per_channel, const Var &o,
                                 const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                                 const RDom &r, const Target &t, const GemmParams &, const DirectConvParams &) {
    schedule_direct_conv_loops(y, acc, per_channel, o, ox, oy, n, av, r, panel_width(t));
}

inline void schedule_rows_conv(Func y, Func acc, Func, const std::vector<Func> &per_channel, const Var &o,
                               const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av, const RDom &r,
                               const Expr &, const Expr &, const Target &t, const RowsConvParams &p) {
    schedule_direct_conv_loops(y, acc, per_channel, o, ox, oy, n, av, r, rows_conv_panel_width(t, p));
}

// Depthwise: a thread per output (channel, pixel), 32 channels x 8 pixels per
// block; the interleaved input and weight rows (xt, w2) inlined, the 4-row
// groups of a tap column summed with dp4a.
inline void schedule_depthwise_conv(Func y, Func acc, Func, Func, Func bias_folded, const RDom &r, const Var &c,
                                    const Var &ox, const Var &oy, const Var &n, const Var &, const Var &, const Var &,
                                    const Target &, const DepthwiseParams &) {
    Var cb("cb"), xb("xb"), ct("ct"), xt("xt"), rows("rows");
    y.gpu_tile(c, ox, cb, xb, ct, xt, 32, 8, TailStrategy::GuardWithIf).fuse(oy, n, rows).gpu_blocks(rows);
    acc.compute_at(y, ct);
    acc.update().reorder(r.x, r.y, r.z).atomic().vectorize(r.x);
    schedule_channel_vectors({bias_folded});
}

// im2col: a gather of bytes, a thread per byte, 64 bytes of a column row by
// 4 pixels per block.
inline void schedule_im2col(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &p, const Target &,
                            const Im2colParams &) {
    Var k1("k1"), k2("k2"), kb("kb"), pb("pb"), kt("kt"), pt("pt");
    col.fuse(ci, kw, k1)
        .fuse(k1, kh, k2)
        .tile(k2, p, kb, pb, kt, pt, 64, 4, TailStrategy::GuardWithIf)
        .reorder(kt, pt, pb, kb)
        .gpu_blocks(pb, kb)  // pixels in the grid's x: y stops at 65535 blocks
        .gpu_threads(kt, pt);
}

// ---- float32 training kernels ------------------------------------------------------

// Panels of 32 output columns / channels (the runtime pads to them); the
// sgemm's row tiles are the int8 GEMM's (schedule_register_tiled_gemm), the
// convolutions' 32 pixels per block with one accumulator per thread.
inline int sgemm_panel_width(const Target &, const SgemmParams &) { return 32; }
inline int sgemm_tile_rows(const Target &, const SgemmParams &) { return kGemmTileRows; }
inline int direct_conv_f32_panel_width(const Target &, const DirectConvF32Params &) { return 32; }
inline int direct_conv_f32_tile_rows(const Target &, int, const DirectConvF32Params &) { return 32; }
inline int conv_wgrad_f32_panel_width(const Target &, const ConvWgradF32Params &) { return 32; }

// sgemm, c(n, m) from acc(n, m): the int8 GEMM's register tiles, float.
inline void schedule_sgemm(Func c, Func acc, const Var &n, const Var &m, const Var &, const Var &, const RDom &r,
                           const Target &t, const SgemmParams &p) {
    schedule_register_tiled_gemm(c, acc, n, m, sgemm_panel_width(t, p),
                                 [&](Stage u) { u.reorder(m, n, r.x).unroll(m); });
}

inline void schedule_direct_conv_f32(Func y, Func acc, const Var &o, const Var &ox, const Var &oy, const Var &n,
                                     const Var &oi_acc, const Var &oo_acc, const RDom &r, const Target &t,
                                     const DirectConvF32Params &p) {
    schedule_direct_conv_loops(y, acc, {}, o, ox, oy, n, {oi_acc, oo_acc, ox, oy, n}, r,
                               direct_conv_f32_panel_width(t, p), /*dp4a=*/false);
}

// The weight gradient part(o, j, kh, g) from acc(oi, oo, j, kh, g): a block
// per panel of output channels x 32 row floats j of one (kh, g).
inline void schedule_conv_wgrad_f32(Func part, Func acc, const Var &o, const Var &j, const Var &kh, const Var &g,
                                    const Var &oi_acc, const Var &oo_acc, const RDom &r, const Target &t,
                                    const ConvWgradF32Params &p) {
    const int panel = conv_wgrad_f32_panel_width(t, p);
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi"), rest("rest");
    part.tile(o, j, xo, yo, xi, yi, panel, 1024 / panel, TailStrategy::GuardWithIf)
        .fuse(kh, g, rest)
        .gpu_blocks(xo, yo, rest)
        .gpu_threads(xi, yi);
    acc.compute_at(part, xo).reorder(oo_acc, kh, g, oi_acc, j).gpu_threads(oi_acc, j);
    acc.update().reorder(r.x, r.y, r.z, oo_acc, kh, g, oi_acc, j).gpu_threads(oi_acc, j);
}

// Elementwise 2-D (c, m), per-channel vectors, per-channel outputs, pooling:
// a thread per element.
inline void schedule_rows_2d(Func f, const Var &c, const Var &m, const Expr &, const Target &,
                             const StreamingParams &) {
    // Rows in the grid's x: y stops at 65535 blocks, which PTQ calibration's
    // batch of 1024 images (802816 rows of the first conv) passed
    // (cuLaunchKernel: CUDA_ERROR_INVALID_VALUE).
    Var cb("cb"), mb("mb"), ct("ct"), mt("mt");
    f.tile(c, m, cb, mb, ct, mt, 32, 8, TailStrategy::GuardWithIf)
        .reorder(ct, mt, mb, cb)
        .gpu_blocks(mb, cb)
        .gpu_threads(ct, mt);
}

inline void schedule_per_channel_scalars(const std::vector<Func> &fs, const Var &, const Target &) {
    schedule_channel_vectors(fs);
}

inline void schedule_channel_outputs(const std::vector<Func> &outs, const Var &, const Target &) {
    schedule_channel_vectors(outs);
}

// A column reduction total(c) over rows r.x: partial sums per chunk of 256
// rows (a thread per (channel, chunk)), then a thread per channel sums its
// chunks in order.
inline void schedule_column_reduction(Func total, const Var &c, const RDom &r, const Target &,
                                      const ColumnReductionParams &) {
    RVar ro("ro"), ri("ri");
    Var u("u"), cb("cb"), ub("ub"), ct("ct"), ut("ut");
    total.compute_root().gpu_tile(c, cb, ct, 64, TailStrategy::GuardWithIf);
    total.update().split(r.x, ro, ri, 256, TailStrategy::GuardWithIf);
    Func partial = total.update().rfactor(ro, u);  // partial(c, u)
    for (Stage st : {Stage(partial), partial.update()}) {  // chunks in the grid's x (y stops at 65535)
        st.tile(c, u, cb, ub, ct, ut, 32, 8, TailStrategy::GuardWithIf)
            .reorder(ct, ut, ub, cb)
            .gpu_blocks(ub, cb)
            .gpu_threads(ct, ut);
    }
    partial.compute_root();
    total.update().gpu_tile(c, cb, ct, 64, TailStrategy::GuardWithIf);
}

inline void schedule_pool_rows(Func f, const Var &c, const Var &h, const Var &n, const Expr &, const Target &,
                               const StreamingParams &, int = 0) {
    Var hn("hn"), cb("cb"), hb("hb"), ct("ct"), ht("ht");
    f.fuse(h, n, hn);
    // c and w (the first two dimensions after c) as threads, rows as blocks.
    const std::vector<Var> args = f.args();
    f.gpu_tile(c, args[1], cb, hb, ct, ht, 32, 8, TailStrategy::GuardWithIf).gpu_blocks(hn);
}

// Softmax cross-entropy: the per-row statistics a thread per row, the
// gradient a thread per element; the batch total one device thread.
inline void schedule_softmax_rows(Func dlogits, const Var &k, const Var &b, const std::vector<Func> &per_row,
                                  const Target &) {
    for (size_t i = 0; i < per_row.size(); i++) {
        Func f = per_row[i];
        if (i + 1 == per_row.size()) {
            f.compute_root().gpu_single_thread();
            for (int u = 0; u < f.num_update_definitions(); u++) f.update(u).gpu_single_thread();
            continue;
        }
        Var bb("bb"), bt("bt");
        f.compute_root().gpu_tile(b, bb, bt, 64, TailStrategy::GuardWithIf);
        for (int u = 0; u < f.num_update_definitions(); u++) {
            f.update(u).gpu_tile(b, bb, bt, 64, TailStrategy::GuardWithIf);
        }
    }
    Var kb("kb"), bb("bb"), kt("kt"), bt("bt");
    dlogits.gpu_tile(k, b, kb, bb, kt, bt, 16, 16, TailStrategy::GuardWithIf);
}

// Gathers: a thread per element.
inline void schedule_pack_f32(Func out, const Var &i, const Var &j, bool, const Target &) {
    Var ib("ib"), jb("jb"), it("it"), jt("jt");
    out.gpu_tile(i, j, ib, jb, it, jt, 32, 8, TailStrategy::GuardWithIf);
}

inline void schedule_im2col_f32(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &ox, const Var &oy,
                                const Var &n, const Target &) {
    Var k1("k1"), k2("k2"), row("row"), kb("kb"), xb("xb"), kt("kt"), xt("xt");
    col.fuse(ci, kw, k1).fuse(k1, kh, k2).fuse(oy, n, row)
        .gpu_tile(k2, ox, kb, xb, kt, xt, 32, 8, TailStrategy::GuardWithIf)
        .gpu_blocks(row);
}

inline void schedule_col2im_f32(Func dx, const Var &c, const Var &iy, const Var &n, const Target &) {
    Var row("row"), cb("cb"), cbt("cbt"), ct("ct"), wt("wt"), wb("wb");
    const std::vector<Var> args = dx.args();  // (c, ix, iy, n)
    dx.fuse(iy, n, row).gpu_tile(c, args[1], cb, wb, ct, wt, 32, 8, TailStrategy::GuardWithIf).gpu_blocks(row);
}

}  // namespace qforge::schedules::cuda
