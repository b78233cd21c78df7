// x86 schedules for the int8 convolution paths (generators/conv_int8_generators.cpp).
#pragma once

#include "Halide.h"
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

}  // namespace qforge::schedules::x86
