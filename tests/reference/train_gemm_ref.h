// The float32 training GEMM / convolution contract (runtime/include/qforge/train_gemm.h)
// in plain scalar C++, accumulated in double: a naive sgemm and a naive NHWC
// conv forward, input gradient and weight gradient (OHWI weights, zero padding,
// any stride / dilation / groups). Also the sizes the tests need.
#pragma once

#include <cstdint>
#include <vector>

#include "qforge/conv.h"

namespace qforge::ref {

// C[M, N] = op(A) op(B) (+ bias). A is [M, K] (ta false) or [K, M] (ta true),
// with row stride lda; B is [K, N] (tb false) or [N, K] (tb true), row stride ldb.
inline std::vector<double> sgemm(const float *a, int64_t lda, bool ta, const float *b, int64_t ldb, bool tb,
                                 int64_t M, int64_t N, int64_t K, const float *bias) {
    std::vector<double> c(static_cast<size_t>(M * N));
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = bias ? bias[n] : 0.0;
            for (int64_t k = 0; k < K; k++) {
                const double av = ta ? a[k * lda + m] : a[m * lda + k];
                const double bv = tb ? b[n * ldb + k] : b[k * ldb + n];
                s += av * bv;
            }
            c[m * N + n] = s;
        }
    return c;
}

struct ConvShape {
    int64_t N, H, W, C, O, KH, KW;
    Conv2dGeometry g;
    int64_t OH() const { return (H + g.pad_top + g.pad_bottom - (KH - 1) * g.dilation_h - 1) / g.stride_h + 1; }
    int64_t OW() const { return (W + g.pad_left + g.pad_right - (KW - 1) * g.dilation_w - 1) / g.stride_w + 1; }
    int64_t cg() const { return C / g.groups; }
    int64_t og() const { return O / g.groups; }
    int64_t x_size() const { return N * H * W * C; }
    int64_t w_size() const { return O * KH * KW * cg(); }
    int64_t y_size() const { return N * OH() * OW() * O; }
};

// Calls f(x index, w index, y index) for every tap that reads the input
// (taps in the zero padding contribute nothing).
template<typename F> void for_each_tap(const ConvShape &s, F &&f) {
    const int64_t cg = s.cg(), og = s.og(), OH = s.OH(), OW = s.OW();
    for (int64_t n = 0; n < s.N; n++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++)
                for (int64_t o = 0; o < s.O; o++) {
                    const int64_t grp = o / og;
                    for (int64_t kh = 0; kh < s.KH; kh++)
                        for (int64_t kw = 0; kw < s.KW; kw++) {
                            const int64_t iy = oy * s.g.stride_h - s.g.pad_top + kh * s.g.dilation_h;
                            const int64_t ix = ox * s.g.stride_w - s.g.pad_left + kw * s.g.dilation_w;
                            if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                            for (int64_t ci = 0; ci < cg; ci++) {
                                f(((n * s.H + iy) * s.W + ix) * s.C + grp * cg + ci,
                                  ((o * s.KH + kh) * s.KW + kw) * cg + ci, ((n * OH + oy) * OW + ox) * s.O + o);
                            }
                        }
                }
}

inline std::vector<double> conv2d_forward(const ConvShape &s, const std::vector<float> &x, const std::vector<float> &w,
                                          const float *bias) {
    std::vector<double> y(static_cast<size_t>(s.y_size()), 0.0);
    if (bias) {
        for (size_t i = 0; i < y.size(); i++) y[i] = bias[i % s.O];
    }
    for_each_tap(s, [&](int64_t xi, int64_t wi, int64_t yi) { y[yi] += double(x[xi]) * double(w[wi]); });
    return y;
}

inline std::vector<double> conv2d_backward_input(const ConvShape &s, const std::vector<float> &dy,
                                                 const std::vector<float> &w) {
    std::vector<double> dx(static_cast<size_t>(s.x_size()), 0.0);
    for_each_tap(s, [&](int64_t xi, int64_t wi, int64_t yi) { dx[xi] += double(dy[yi]) * double(w[wi]); });
    return dx;
}

inline std::vector<double> conv2d_backward_weight(const ConvShape &s, const std::vector<float> &x,
                                                  const std::vector<float> &dy) {
    std::vector<double> dw(static_cast<size_t>(s.w_size()), 0.0);
    for_each_tap(s, [&](int64_t xi, int64_t wi, int64_t yi) { dw[wi] += double(x[xi]) * double(dy[yi]); });
    return dw;
}

}  // namespace qforge::ref
