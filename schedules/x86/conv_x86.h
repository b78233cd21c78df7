// x86 schedules for the int8 convolution paths (generators/conv_int8_generators.cpp).
#pragma once

#include <cstdlib>

#include "Halide.h"
#include "schedules/x86/gemm_x86.h"
#include "schedules/x86/quant_x86.h"

namespace qforge::schedules::x86 {

// Tunable parameters (GeneratorParams, searched by qforge-tune).
struct Im2colParams {
    GeneratorParam<int> pixels_per_task{"pixels_per_task", 64};  // output pixels per parallel task
};
struct DepthwiseParams {
    GeneratorParam<int> channel_vectors{"channel_vectors", 2};  // int32 vectors of channels per inner step
                                                                // (2: the int16 products fill a vector)
    GeneratorParam<int> rows_per_task{"rows_per_task", 1};      // output rows per parallel task
};

// im2col: a gather of bytes, memory-bound. Pixels in parallel tasks; each
// pixel's channels (contiguous in NHWC) are copied a vector at a time.
inline void schedule_im2col(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &p, const Target &t,
                            const Im2colParams &params) {
    const int bytes = 4 * float_lanes(t);  // u8 lanes of one vector
    Var pt("pt"), pi("pi");
    col.split(p, pt, pi, std::max(1, (int)params.pixels_per_task), TailStrategy::GuardWithIf)
        .parallel(pt)
        .vectorize(ci, bytes, TailStrategy::GuardWithIf);
}

// Depthwise: each output is a KHxKW dot product within one channel, so vectors
// run across channels (contiguous in NHWC); rows of the output image are the
// parallel tasks. The zero-point border is materialised once (x_padded at the
// root), so the taps load without bounds selects, and 3x3 filters (the common
// case) get their taps unrolled.
inline void schedule_depthwise_conv(Func y, Func acc, Func x_padded, const RDom &r, const Expr &kernel_w,
                                    const Expr &kernel_h, const Var &c, const Var &ox, const Var &oy, const Var &n,
                                    const Target &t, const DepthwiseParams &params) {
    const int lanes = float_lanes(t) * std::max(1, (int)params.channel_vectors);
    Var co("co"), ci("ci"), task("task");
    y.split(c, co, ci, lanes, TailStrategy::GuardWithIf)
        .reorder(ci, co, ox, oy, n)
        .fuse(oy, n, task)
        .parallel(task, std::max(1, (int)params.rows_per_task))
        .vectorize(ci);
    {
        const auto a = x_padded.args();  // c, w, h, n
        x_padded.compute_root().parallel(a[2]).vectorize(a[0], 4 * float_lanes(t), TailStrategy::GuardWithIf);
    }
    acc.compute_at(y, co).vectorize(c, lanes, TailStrategy::GuardWithIf);
    acc.update().vectorize(c, lanes, TailStrategy::GuardWithIf);
    acc.update().specialize(kernel_w == 3 && kernel_h == 3).unroll(r.x).unroll(r.y);
}

// The direct conv's accumulator dimensions: channel within panel, panel, ox, oy, n.
struct DirectConvAccVars {
    Var oi, oo, ox, oy, n;
};

// Direct conv: the GEMM's register tile with output pixels along ox as its
// rows (tile_rows of them) and output channels as its panel columns. Tasks are
// output rows (not fused with the image or panel loops: acc's bounds must stay
// one row); the padded input is materialised once at the root.
inline void schedule_direct_conv(Func y, Func acc, Func x_padded, const std::vector<Func> &per_channel, const Var &o,
                                 const Var &ox, const Var &oy, const Var &n, const DirectConvAccVars &av,
                                 const RDom &r, const Target &t, const GemmParams &p) {
    const int vec = int32_lanes(t), tn = panel_width(t), tm = tile_rows(t, p);
    // LLVM's SLP vectorizer packs this kernel's six row addresses into ymm
    // registers and rebuilds them every k step (vpmullq/vpextrq, on the ports
    // vpdpbusd needs): 56x56x64 3x3 ran at 411 GOPS with it, 503 without.
    // Halide 14 passes HL_LLVM_ARGS to LLVM when it first initialises it,
    // which in a generator process is after schedule(); each library is its
    // own generator process, so this affects this kernel only. (The GEMM keeps
    // SLP: there it measured slightly faster.) A caller's HL_LLVM_ARGS wins.
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);
    for (Func f : per_channel) f.compute_root();
    {
        const auto a = x_padded.args();  // c, w, h, n
        x_padded.compute_root().parallel(a[2]).vectorize(a[0], 4 * float_lanes(t), TailStrategy::GuardWithIf);
    }
    Var oo("oo"), oi("oi"), xo("xo"), xi("xi");
    y.split(o, oo, oi, tn, TailStrategy::GuardWithIf)
        .split(ox, xo, xi, tm, TailStrategy::GuardWithIf)
        .reorder(oi, xi, xo, oo, oy, n)
        .vectorize(oi, vec)
        .unroll(xi)
        .parallel(oy);
    acc.compute_at(y, xo)
        .bound_extent(av.oi, tn)
        .bound_extent(av.oo, 1)
        .bound_extent(av.ox, tm)
        .bound_extent(av.oy, 1)
        .bound_extent(av.n, 1)
        .vectorize(av.oi, vec)
        .unroll(av.oi)
        .unroll(av.ox);
    Var nu("nu"), nv("nv");
    acc.update()
        .split(av.oi, nu, nv, vec)
        .reorder(r.x, nv, nu, av.ox, r.y, r.z, r.w)
        .atomic()
        .vectorize(r.x)
        .vectorize(nv)
        .unroll(nu)
        .unroll(av.ox);
}

}  // namespace qforge::schedules::x86
