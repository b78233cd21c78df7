// The float32 implicit-GEMM convolutions' loop structures
// (generators/train_gemm_generators.cpp), shared by the x86 and AArch64
// schedules, which choose their sizes (train_gemm_x86.h, train_gemm_arm.h).
#pragma once

#include <cstdlib>
#include <string>

#include "Halide.h"

namespace qforge::schedules {

struct DirectConvF32Tile {
    int vector_lanes;                     // fp32 lanes of one vector
    int panel;                            // output channels per tile
    int pixels;                           // output pixels along ox per tile
    std::string channel_specializations;  // C_in values given their own copy ("," list)
};

// Output pixels along ox x a panel of output channels per register tile; the
// padded input of one image is built per image (compute_at n), images are the
// parallel tasks.
inline void schedule_direct_conv_f32_loops(Halide::Func y, Halide::Func acc, Halide::Func x_padded,
                                           const Halide::Var &o, const Halide::Var &ox, const Halide::Var &oy,
                                           const Halide::Var &n, const Halide::Var &oi_acc,
                                           const Halide::Var &oo_acc, const Halide::RDom &r,
                                           const Halide::Expr &channels, const Halide::Expr &stride_w,
                                           const DirectConvF32Tile &tile) {
    using namespace Halide;

    const int vec = tile.vector_lanes, tn = tile.panel, tm = tile.pixels;
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);  // see common/sgemm.h
    y.output_buffer().dim(0).set_min(0);
    Var oo("oo"), oi("oi"), xo("xo"), xi("xi"), oio("oio"), oiv("oiv");
    y.split(o, oo, oi, tn, TailStrategy::GuardWithIf)
        .split(ox, xo, xi, tm, TailStrategy::GuardWithIf)
        .reorder(oi, xi, xo, oo, oy, n)
        .split(oi, oio, oiv, vec)
        .vectorize(oiv)
        .unroll(oio)
        .unroll(xi)
        .parallel(n);
    // (After the loop structure: a specialization copies the schedule so far.)
    {
        const std::string &list = tile.channel_specializations;
        for (size_t pos = 0; pos < list.size();) {
            size_t end = list.find(',', pos);
            if (end == std::string::npos) end = list.size();
            const int v = std::atoi(list.substr(pos, end - pos).c_str());
            if (v > 0) y.specialize(channels == v && stride_w == 1);
            pos = end + 1;
        }
    }
    {
        const auto a = x_padded.args();  // c, w, h, n
        x_padded.compute_at(y, n);
        x_padded.specialize(channels >= vec).vectorize(a[0], vec, TailStrategy::GuardWithIf);
        x_padded.reorder(a[1], a[0], a[2], a[3]).vectorize(a[1], vec, TailStrategy::GuardWithIf);
    }
    acc.compute_at(y, xo)
        .bound_extent(oi_acc, tn)
        .bound_extent(oo_acc, 1)
        .bound_extent(ox, tm)
        .bound_extent(oy, 1)
        .bound_extent(n, 1)
        .vectorize(oi_acc, vec)
        .unroll(oi_acc)
        .unroll(ox);
    Var nu("nu"), nv("nv");
    acc.update()
        .split(oi_acc, nu, nv, vec)
        .reorder(nv, nu, ox, r.x, r.y, r.z)
        .vectorize(nv)
        .unroll(nu)
        .unroll(ox);
}

struct ConvWgradF32Tile {
    int vector_lanes;  // fp32 lanes of one vector
    int panel;         // output channels per tile
    int kernel_cols;   // j (kernel column x input channel) values per tile
    int kernel_rows;   // kernel rows per tile
};

// The weight gradient as partial sums per group g (the parallel tasks), with
// a register tile of kernel_cols x kernel_rows x a panel of output channels.
inline void schedule_conv_wgrad_f32_loops(Halide::Func part, Halide::Func acc, Halide::Func x_padded,
                                          const Halide::Var &o, const Halide::Var &j, const Halide::Var &kh,
                                          const Halide::Var &g, const Halide::Var &oi_acc,
                                          const Halide::Var &oo_acc, const Halide::RDom &r,
                                          const ConvWgradF32Tile &tile) {
    using namespace Halide;

    const int vec = tile.vector_lanes, tn = tile.panel, tj = tile.kernel_cols, tk = tile.kernel_rows;
    setenv("HL_LLVM_ARGS", "-vectorize-slp=false", /*overwrite=*/0);
    part.output_buffer().dim(0).set_min(0);
    Var oo("oo"), oi("oi"), jo("jo"), ji("ji"), ko("ko"), ki("ki"), oio("oio"), oiv("oiv");
    part.split(o, oo, oi, tn, TailStrategy::GuardWithIf)
        .split(j, jo, ji, tj, TailStrategy::GuardWithIf)
        .split(kh, ko, ki, tk, TailStrategy::GuardWithIf)
        .reorder(oi, ji, ki, jo, ko, oo, g)
        .split(oi, oio, oiv, vec)
        .vectorize(oiv)
        .unroll(oio)
        .unroll(ji)
        .unroll(ki)
        .parallel(g);
    {
        const auto a = x_padded.args();  // f, h, n
        x_padded.compute_at(part, g).vectorize(a[0], vec, TailStrategy::GuardWithIf);
    }
    acc.compute_at(part, jo)
        .bound_extent(oi_acc, tn)
        .bound_extent(oo_acc, 1)
        .bound_extent(j, tj)
        .bound_extent(kh, tk)
        .bound_extent(g, 1)
        .vectorize(oi_acc, vec)
        .unroll(oi_acc)
        .unroll(j)
        .unroll(kh);
    Var nu("nu"), nv("nv");
    acc.update()
        .split(oi_acc, nu, nv, vec)
        .reorder(nv, nu, j, kh, r.x, r.y, r.z)
        .vectorize(nv)
        .unroll(nu)
        .unroll(j)
        .unroll(kh);
}

}  // namespace qforge::schedules
