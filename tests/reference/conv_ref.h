// The int8 convolution contract (runtime/include/qforge/conv.h) in plain
// scalar C++: NHWC input, OHWI weights, padding that reads the zero point.
#pragma once

#include <stdexcept>
#include <cstdint>
#include <vector>

#include "qforge/conv.h"

namespace qforge::ref {

// acc in NHWC order [N, OH, OW, O].
template<typename XT>
std::vector<int32_t> conv2d_acc(const std::vector<XT> &x, int64_t N, int64_t H, int64_t W, int64_t C,
                                const std::vector<int8_t> &w, int64_t O, int64_t KH, int64_t KW,
                                const std::vector<int32_t> &bias, int32_t zx, const Conv2dGeometry &g, int64_t OH,
                                int64_t OW) {
    const int64_t cg = C / g.groups, og = O / g.groups;
    std::vector<int32_t> acc(static_cast<size_t>(N * OH * OW * O));
    for (int64_t n = 0; n < N; n++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++)
                for (int64_t o = 0; o < O; o++) {
                    const int64_t grp = o / og;
                    int64_t s = bias.empty() ? 0 : bias[o];
                    for (int64_t kh = 0; kh < KH; kh++)
                        for (int64_t kw = 0; kw < KW; kw++)
                            for (int64_t ci = 0; ci < cg; ci++) {
                                const int64_t iy = oy * g.stride_h - g.pad_top + kh * g.dilation_h;
                                const int64_t ix = ox * g.stride_w - g.pad_left + kw * g.dilation_w;
                                const bool inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
                                const int64_t xv = inside ? int64_t(x[((n * H + iy) * W + ix) * C + grp * cg + ci]) : zx;
                                s += (xv - zx) * int64_t(w[((o * KH + kh) * KW + kw) * cg + ci]);
                            }
                    if (s < INT32_MIN || s > INT32_MAX) throw std::overflow_error("reference: the true sum does not fit int32");
                    acc[((n * OH + oy) * OW + ox) * O + o] = static_cast<int32_t>(s);
                }
    return acc;
}

}  // namespace qforge::ref
