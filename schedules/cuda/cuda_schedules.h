// CUDA schedules (targets with the `cuda` feature, e.g.
// x86-64-linux-cuda-cuda_capability_80): the loop structure of the device
// kernels. Host code around them is the x86 baseline. No math here: each
// function receives the Funcs an algorithm in generators/ defined.
//
// Covered so far: the float32 quantization operators (fake quant, STE, LSQ
// backward: elementwise streams and block-partial reductions), the int8 GEMM
// and the int8 convolutions (direct, over input rows, depthwise; dp4a) and
// im2col. The other operators report "no CUDA schedule" at generation
// time (schedules/schedules.h). Validated here by ptxas on every build
// (tests/check_cuda_ptx.sh); no GPU has run these kernels yet (issue 6).
#pragma once

#include <algorithm>
#include <vector>

#include "Halide.h"
#include "schedules/common/conv_vars.h"
#include "schedules/params.h"

namespace qforge::schedules::cuda {

using namespace Halide;

// The int8 GEMM's packed layout on CUDA: 4 k values per 32-bit word, the
// operand of dp4a (4 u8 x s8 products summed into an int32), and panels of
// 64 output columns (the runtime pads N to 64; one thread block spans one
// panel). The same layout as x86 VNNI's, so packing on a VNNI host matches.
inline int k_group(const Target &) { return 4; }
inline int panel_width(const Target &) { return 64; }
// Output rows of the GEMM's thread block (the tile the runtime needs M >= of).
inline int tile_rows(const Target &, const GemmParams &) { return 16; }

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

// LSQ backward, per tensor: dx elementwise; the two sums rfactored into one
// partial per thread (a run of 256 elements each, summed serially), then the
// partials summed by one device thread in a fixed order (results do not
// depend on scheduling races; they differ from the CPU's order by rounding,
// within docs/numerics.md's bound).
inline void schedule_lsq_backward_per_tensor(Func dx, const Var &i, Func total, const RDom &r,
                                             const std::vector<Func> &scalars, const Target &,
                                             const StreamingParams &) {
    RVar ro("ro"), ri("ri");
    Var u("u"), ub("ub"), ut("ut"), block("block"), thread("thread");
    total.compute_root().gpu_single_thread();
    total.update().split(r.x, ro, ri, 256, TailStrategy::GuardWithIf);
    Func partial = total.update().rfactor(ro, u);  // partial(u)
    partial.compute_root().gpu_tile(u, ub, ut, 64, TailStrategy::GuardWithIf);
    partial.update().gpu_tile(u, ub, ut, 64, TailStrategy::GuardWithIf);
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

// int8 GEMM, c(n, m) from acc(ni, no, m) (ni: column within the 64-column
// panel no). A thread block computes a 64 x 16 tile of c; its accumulators
// live in shared memory, one thread each (64 x 16 = 1024 threads): the
// thread runs the whole K loop, 4 k values per dp4a (r.x vectorized with
// atomic(): Halide's PTX backend turns the 4-lane u8 x s8 dot product into
// dp4a.u32.s32). Neighbouring threads read neighbouring 4-byte words of the
// packed panel (coalesced) and share their row of a (broadcast).
inline void schedule_gemm_int8(Func c, Func acc, const std::vector<Func> &per_column, const Var &n, const Var &m,
                               const Var &ni_acc, const Var &no_acc, const RDom &r, const Target &t,
                               const GemmParams &p) {
    const int rows = tile_rows(t, p), cols = panel_width(t);
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi");
    c.tile(n, m, xo, yo, xi, yi, cols, rows, TailStrategy::GuardWithIf).gpu_blocks(xo, yo).gpu_threads(xi, yi);
    acc.compute_at(c, xo).reorder(no_acc, ni_acc, m).gpu_threads(ni_acc, m);  // no: one panel per block
    acc.update().reorder(r.x, r.y, no_acc, ni_acc, m).atomic().vectorize(r.x).gpu_threads(ni_acc, m);
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

// The int8 direct convs (implicit GEMM and over input rows), y(o, ox, oy, n)
// from acc(oi, oo, ox, oy, n), o = panel * oo + oi: as the GEMM, a block
// computes one panel of output channels for 16 pixels of one output row, one
// accumulator per thread in shared memory, the k loop innermost with 4 k
// values per dp4a. x_padded (the zero-point border) is inlined into the loads.
inline void schedule_direct_conv_loops(Func y, Func acc, const std::vector<Func> &per_channel, const Var &o,
                                       const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                                       const RDom &r, int panel) {
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
    acc.update().reorder(order).atomic().vectorize(r[0]).gpu_threads(av.oi, av.ox);
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
    col.fuse(ci, kw, k1).fuse(k1, kh, k2).gpu_tile(k2, p, kb, pb, kt, pt, 64, 4, TailStrategy::GuardWithIf);
}

}  // namespace qforge::schedules::cuda
