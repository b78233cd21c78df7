// x86 schedules for the int8 convolution paths (generators/conv_int8_generators.cpp).
#pragma once

#include "Halide.h"
#include "schedules/x86/quant_x86.h"

namespace qforge::schedules::x86 {

// im2col: a gather of bytes, memory-bound. Pixels in parallel tasks; each
// pixel's channels (contiguous in NHWC) are copied a vector at a time.
inline void schedule_im2col(Func col, const Var &ci, const Var &kw, const Var &kh, const Var &p, const Target &t) {
    const int bytes = 4 * float_lanes(t);  // u8 lanes of one vector
    Var pt("pt"), pi("pi");
    col.split(p, pt, pi, 64, TailStrategy::GuardWithIf)
        .parallel(pt)
        .vectorize(ci, bytes, TailStrategy::GuardWithIf);
}

// Depthwise: each output is a KHxKW dot product within one channel, so vectors
// run across channels (contiguous in NHWC); rows of the output image are the
// parallel tasks.
inline void schedule_depthwise_conv(Func y, Func acc, const Var &c, const Var &ox, const Var &oy, const Var &n,
                                    const Target &t) {
    const int lanes = float_lanes(t);
    Var co("co"), ci("ci"), task("task");
    y.split(c, co, ci, lanes, TailStrategy::GuardWithIf)
        .reorder(ci, co, ox, oy, n)
        .fuse(oy, n, task)
        .parallel(task)
        .vectorize(ci);
    acc.compute_at(y, co).vectorize(c, lanes, TailStrategy::GuardWithIf);
    acc.update().vectorize(c, lanes, TailStrategy::GuardWithIf);
}

}  // namespace qforge::schedules::x86
