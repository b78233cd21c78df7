// float32 training GEMM and convolution (qforge/train_gemm.h) against the
// scalar references (reference/train_gemm_ref.h), once per x86 variant
// (variant_check.cpp): every transpose combination, odd sizes, strided row
// views, bias, K long enough to be cut into chunks; conv forward and both
// gradients for 1x1, 3x3 (stride 1 and 2), 5x5 pad 2, dilation, groups,
// depthwise, batches, odd sizes, and the implicit-GEMM paths (direct conv,
// stride-1 input gradient with flipped weights, per-group weight gradient); finite-difference checks of the gradients;
// and every error path (qforge::Error subclass, output untouched).
//
// Results are not bit-exact (float summation order): each element must be
// within 1.2e-7 * (K + 2) * sum_k |a_k b_k| (+ |bias|) of the double-precision
// reference, the worst-case bound of a K-term float sum.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "error_expectations.h"
#include "qforge/qforge.h"
#include "qforge/train_gemm.h"
#include "reference/train_gemm_ref.h"

namespace {

using namespace qforge;

std::vector<float> uniform(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto &x : v) x = d(rng);
    return v;
}

std::vector<float> absolute(const std::vector<float> &v) {
    std::vector<float> r(v.size());
    for (size_t i = 0; i < v.size(); i++) r[i] = std::fabs(v[i]);
    return r;
}

// Counts elements outside the tolerance; reports the first few.
size_t count_bad(const float *got, int64_t rows, int64_t cols, int64_t ldg, const std::vector<double> &want,
                 const std::vector<double> &abs_sum, int64_t k, const std::string &what) {
    size_t bad = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            const double g = got[r * ldg + c], w = want[r * cols + c];
            const double tol = 1.2e-7 * double(k + 2) * abs_sum[r * cols + c] + 1e-30;
            if (!(std::fabs(g - w) <= tol)) {
                if (bad < 3) ADD_FAILURE() << what << " at [" << r << ", " << c << "]: got " << g << ", want " << w;
                bad++;
            }
        }
    return bad;
}

// ---- sgemm ---------------------------------------------------------------------------

struct GemmCase {
    int64_t M, N, K;
    bool ta, tb, bias;
    int64_t a_extra = 0, b_extra = 0, c_extra = 0;  // extra columns: strided row views
};

void check_gemm(const GemmCase &p, uint32_t seed) {
    const int64_t a_rows = p.ta ? p.K : p.M, a_cols = p.ta ? p.M : p.K;
    const int64_t b_rows = p.tb ? p.N : p.K, b_cols = p.tb ? p.K : p.N;
    const int64_t lda = a_cols + p.a_extra, ldb = b_cols + p.b_extra, ldc = p.N + p.c_extra;
    auto a = uniform(size_t(a_rows * lda), seed);
    auto b = uniform(size_t(b_rows * ldb), seed + 1);
    auto bias = uniform(size_t(p.N), seed + 2);
    std::vector<float> c(size_t(p.M * ldc), -123.0f);
    auto view = [](std::vector<float> &v, int64_t rows, int64_t cols, int64_t ld) {
        return ld == cols ? TensorView(v.data(), {rows, cols}) : TensorView(v.data(), {rows, cols}, {ld, 1});
    };
    sgemm(view(a, a_rows, a_cols, lda), p.ta ? Transpose::yes : Transpose::no, view(b, b_rows, b_cols, ldb),
          p.tb ? Transpose::yes : Transpose::no, view(c, p.M, p.N, ldc), p.bias ? bias.data() : nullptr);
    auto want = ref::sgemm(a.data(), lda, p.ta, b.data(), ldb, p.tb, p.M, p.N, p.K, p.bias ? bias.data() : nullptr);
    auto aa = absolute(a), ab = absolute(b), abias = absolute(bias);
    auto abs_sum = ref::sgemm(aa.data(), lda, p.ta, ab.data(), ldb, p.tb, p.M, p.N, p.K, p.bias ? abias.data() : nullptr);
    char what[160];
    std::snprintf(what, sizeof what, "sgemm %s%s M=%lld N=%lld K=%lld bias=%d lda=%lld ldb=%lld ldc=%lld",
                  p.ta ? "T" : "N", p.tb ? "T" : "N", (long long)p.M, (long long)p.N, (long long)p.K, p.bias,
                  (long long)lda, (long long)ldb, (long long)ldc);
    EXPECT_EQ(count_bad(c.data(), p.M, p.N, ldc, want, abs_sum, p.K, what), 0u) << what;
    // Columns past N of a strided C are not written.
    for (int64_t r = 0; r < p.M; r++)
        for (int64_t j = p.N; j < ldc; j++) ASSERT_EQ(c[r * ldc + j], -123.0f) << what << ": wrote past column N";
}

TEST(Sgemm, AllTransposesOddSizes) {
    const int64_t sizes[] = {1, 3, 17, 64, 129, 255};
    uint32_t seed = 1;
    for (int t = 0; t < 4; t++)
        for (int64_t M : sizes)
            for (int64_t N : sizes)
                for (int64_t K : sizes) {
                    // The full cube for NN; the other combinations on a third of it (every size still appears).
                    if (t > 0 && (M + N + K + t) % 3 != 0) continue;
                    check_gemm({M, N, K, (t & 1) != 0, (t & 2) != 0, seed % 2 == 0}, seed);
                    seed++;
                }
}

TEST(Sgemm, StridedRowViews) {
    uint32_t seed = 100;
    for (int t = 0; t < 4; t++) {
        for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{17, 33, 29}, {64, 32, 64}, {13, 5, 7}}) {
            check_gemm({M, N, K, (t & 1) != 0, (t & 2) != 0, true, 3, 5, 7}, seed++);
            check_gemm({M, N, K, (t & 1) != 0, (t & 2) != 0, false, 16, 0, 1}, seed++);
        }
    }
    // A group's column slice of a wider matrix, as the conv paths use them.
    std::vector<float> wide = uniform(40 * 64, 7), w = uniform(16 * 24, 8), out(40 * 48, 0.0f);
    TensorView a_slice(wide.data() + 32, {40, 24}, {64, 1});  // columns 32..55
    TensorView c_slice(out.data() + 16, {40, 16}, {48, 1});  // columns 16..31
    sgemm(a_slice, Transpose::no, TensorView(w.data(), {16, 24}), Transpose::yes, c_slice);
    auto want = ref::sgemm(wide.data() + 32, 64, false, w.data(), 24, true, 40, 16, 24, nullptr);
    auto wa = absolute(wide), ww = absolute(w);
    auto abs_sum = ref::sgemm(wa.data() + 32, 64, false, ww.data(), 24, true, 40, 16, 24, nullptr);
    EXPECT_EQ(count_bad(out.data() + 16, 40, 16, 48, want, abs_sum, 24, "column slices"), 0u);
    for (int64_t r = 0; r < 40; r++)
        for (int64_t j = 0; j < 48; j++)
            if (j < 16 || j >= 32) ASSERT_EQ(out[r * 48 + j], 0.0f);
}

TEST(Sgemm, LongKIsChunked) {
    // K longer than one chunk (B blocks about 1 MB), odd M and N: tail rows,
    // padded panels and accumulation across chunks.
    uint32_t seed = 200;
    for (int t = 0; t < 4; t++) {
        check_gemm({13, 40, 3001, (t & 1) != 0, (t & 2) != 0, true}, seed++);
        check_gemm({32, 400, 2500, (t & 1) != 0, (t & 2) != 0, false}, seed++);
    }
    check_gemm({5, 1, 70000, true, false, true}, seed++);
}

TEST(Sgemm, TrainingShapes) {
    // The default network's linear layers at batch 128 (forward, both gradients).
    check_gemm({128, 128, 1568, false, true, true}, 300);   // fc1 forward: x W^T + b
    check_gemm({128, 1568, 128, false, false, false}, 301); // fc1 dx = dy W
    check_gemm({128, 1568, 128, true, false, false}, 302);  // fc1 dW = dy^T x
    check_gemm({128, 10, 128, false, true, true}, 303);     // fc2 forward
    check_gemm({10, 128, 128, true, false, false}, 304);    // fc2 dW
}

TEST(Sgemm, EmptyAndZeroK) {
    std::vector<float> a(1), b(1), c(6, -1.0f);
    float bias[3] = {1.0f, 2.0f, 3.0f};
    sgemm(TensorView(a.data(), {2, 0}), Transpose::no, TensorView(b.data(), {0, 3}), Transpose::no,
          TensorView(c.data(), {2, 3}), bias);
    EXPECT_EQ(c, (std::vector<float>{1, 2, 3, 1, 2, 3}));
    sgemm(TensorView(a.data(), {2, 0}), Transpose::no, TensorView(b.data(), {0, 3}), Transpose::no,
          TensorView(c.data(), {2, 3}));
    EXPECT_EQ(c, std::vector<float>(6, 0.0f));
    sgemm(TensorView(a.data(), {0, 4}), Transpose::no, TensorView(b.data(), {4, 0}), Transpose::no,
          TensorView(c.data(), {0, 0}));
}

// Linear layer y = x W^T + b via sgemm; its gradients dx = dy W, dW = dy^T x
// against central differences of loss = sum(y * r) in double.
TEST(Sgemm, LinearGradientsFiniteDifference) {
    const int64_t B = 5, IN = 7, OUT = 6;
    auto x = uniform(B * IN, 400), w = uniform(OUT * IN, 401), bias = uniform(OUT, 402), r = uniform(B * OUT, 403);
    auto loss = [&](const std::vector<float> &xv, const std::vector<float> &wv) {
        std::vector<float> y(B * OUT);
        sgemm(TensorView(const_cast<float *>(xv.data()), {B, IN}), Transpose::no,
              TensorView(const_cast<float *>(wv.data()), {OUT, IN}), Transpose::yes, TensorView(y.data(), {B, OUT}),
              bias.data());
        double s = 0;
        for (size_t i = 0; i < y.size(); i++) s += double(y[i]) * double(r[i]);
        return s;
    };
    std::vector<float> dx(B * IN), dw(OUT * IN);
    sgemm(TensorView(r.data(), {B, OUT}), Transpose::no, TensorView(w.data(), {OUT, IN}), Transpose::no,
          TensorView(dx.data(), {B, IN}));
    sgemm(TensorView(r.data(), {B, OUT}), Transpose::yes, TensorView(x.data(), {B, IN}), Transpose::no,
          TensorView(dw.data(), {OUT, IN}));
    const float h = 1e-2f;
    for (size_t i = 0; i < x.size(); i++) {
        auto xp = x, xm = x;
        xp[i] += h;
        xm[i] -= h;
        const double fd = (loss(xp, w) - loss(xm, w)) / (double(xp[i]) - double(xm[i]));
        EXPECT_NEAR(dx[i], fd, 2e-3) << "dx[" << i << "]";
    }
    for (size_t i = 0; i < w.size(); i++) {
        auto wp = w, wm = w;
        wp[i] += h;
        wm[i] -= h;
        const double fd = (loss(x, wp) - loss(x, wm)) / (double(wp[i]) - double(wm[i]));
        EXPECT_NEAR(dw[i], fd, 2e-3) << "dw[" << i << "]";
    }
}

// ---- convolution -----------------------------------------------------------------------

ref::ConvShape conv(int64_t N, int64_t H, int64_t W, int64_t C, int64_t O, int64_t KH, int64_t KW, int stride,
                    int pad, int dilation = 1, int groups = 1) {
    Conv2dGeometry g;
    g.stride_h = g.stride_w = stride;
    g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = pad;
    g.dilation_h = g.dilation_w = dilation;
    g.groups = groups;
    return {N, H, W, C, O, KH, KW, g};
}

std::string describe(const ref::ConvShape &s) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "x[%lld,%lld,%lld,%lld] w[%lld,%lld,%lld,%lld] stride %dx%d pad %d,%d,%d,%d dil %dx%d groups %d",
                  (long long)s.N, (long long)s.H, (long long)s.W, (long long)s.C, (long long)s.O, (long long)s.KH,
                  (long long)s.KW, (long long)s.cg(), s.g.stride_h, s.g.stride_w, s.g.pad_top, s.g.pad_bottom,
                  s.g.pad_left, s.g.pad_right, s.g.dilation_h, s.g.dilation_w, s.g.groups);
    return buf;
}

void check_conv(const ref::ConvShape &s, uint32_t seed) {
    const std::string what = describe(s);
    SCOPED_TRACE(what);
    const Shape xs{s.N, s.H, s.W, s.C}, ws{s.O, s.KH, s.KW, s.cg()};
    const Shape ys = conv2d_f32_output_shape(xs, ws, s.g);
    ASSERT_EQ(ys, (Shape{s.N, s.OH(), s.OW(), s.O}));
    auto x = uniform(size_t(s.x_size()), seed), w = uniform(size_t(s.w_size()), seed + 1);
    auto bias = uniform(size_t(s.O), seed + 2), dy = uniform(size_t(s.y_size()), seed + 3);
    auto ax = absolute(x), aw = absolute(w), abias = absolute(bias), ady = absolute(dy);
    const int64_t taps = s.KH * s.KW * s.cg();

    std::vector<float> y(size_t(s.y_size()), -5.0f);
    conv2d_f32(TensorView(x.data(), xs), TensorView(w.data(), ws), bias.data(), s.g, TensorView(y.data(), ys));
    EXPECT_EQ(count_bad(y.data(), s.y_size() / s.O, s.O, s.O, ref::conv2d_forward(s, x, w, bias.data()),
                        ref::conv2d_forward(s, ax, aw, abias.data()), taps, "forward"),
              0u);
    std::vector<float> y2(size_t(s.y_size()), -5.0f);
    conv2d_f32(TensorView(x.data(), xs), TensorView(w.data(), ws), nullptr, s.g, TensorView(y2.data(), ys));
    EXPECT_EQ(count_bad(y2.data(), s.y_size() / s.O, s.O, s.O, ref::conv2d_forward(s, x, w, nullptr),
                        ref::conv2d_forward(s, ax, aw, nullptr), taps, "forward, no bias"),
              0u);

    std::vector<float> dx(size_t(s.x_size()), -5.0f);
    conv2d_f32_backward_input(TensorView(dy.data(), ys), TensorView(w.data(), ws), s.g, TensorView(dx.data(), xs));
    const int64_t fan_out = s.KH * s.KW * s.og();
    EXPECT_EQ(count_bad(dx.data(), s.x_size() / s.C, s.C, s.C, ref::conv2d_backward_input(s, dy, w),
                        ref::conv2d_backward_input(s, ady, aw), fan_out, "backward_input"),
              0u);

    std::vector<float> dw(size_t(s.w_size()), -5.0f);
    conv2d_f32_backward_weight(TensorView(x.data(), xs), TensorView(dy.data(), ys), s.g, TensorView(dw.data(), ws));
    EXPECT_EQ(count_bad(dw.data(), s.O, taps, taps, ref::conv2d_backward_weight(s, x, dy),
                        ref::conv2d_backward_weight(s, ax, ady), s.N * s.OH() * s.OW(), "backward_weight"),
              0u);
}

TEST(Conv2dF32, Pointwise) {
    check_conv(conv(2, 5, 7, 16, 32, 1, 1, 1, 0), 1);
    check_conv(conv(1, 3, 3, 3, 5, 1, 1, 1, 0), 2);           // C, O not multiples of 4
    check_conv(conv(2, 4, 5, 6, 4, 1, 1, 1, 0, 1, 2), 3);     // grouped 1x1
    check_conv(conv(1, 7, 7, 8, 8, 1, 1, 2, 0), 4);           // strided 1x1 (im2col path)
    check_conv(conv(1, 5, 5, 4, 4, 1, 1, 1, 1), 5);           // padded 1x1
}

TEST(Conv2dF32, ThreeByThree) {
    check_conv(conv(1, 8, 8, 16, 32, 3, 3, 1, 1), 10);
    check_conv(conv(2, 9, 7, 3, 5, 3, 3, 1, 1), 11);          // odd sizes, C = 3
    check_conv(conv(2, 9, 11, 5, 7, 3, 3, 2, 1), 12);         // stride 2
    check_conv(conv(3, 6, 6, 4, 6, 3, 3, 2, 0), 13);          // stride 2, no padding
    check_conv(conv(1, 10, 9, 6, 10, 3, 3, 1, 2, 2), 14);     // dilation 2
    Conv2dGeometry g;                                         // asymmetric everything
    g.stride_h = 2, g.stride_w = 1, g.pad_top = 0, g.pad_bottom = 2, g.pad_left = 1, g.pad_right = 0;
    g.dilation_h = 1, g.dilation_w = 3;
    check_conv({2, 9, 12, 3, 4, 3, 2, g}, 15);
}

TEST(Conv2dF32, FiveByFivePad2) {
    check_conv(conv(2, 28, 28, 1, 16, 5, 5, 1, 2), 20);       // the default network's conv1 (batch 2)
    check_conv(conv(2, 14, 14, 16, 32, 5, 5, 1, 2), 21);      // conv2
    check_conv(conv(1, 11, 13, 7, 9, 5, 5, 2, 2), 22);
}

// Ungrouped convs with output rows wide enough for the direct conv's row
// tiles (at most half of a row's tiles wasted: widths 11-14 and >= 19 on
// AVX-512, >= 11 on every variant) run the implicit-GEMM kernels: the
// forward direct conv, the stride-1 input gradient as a direct conv of dy with
// the flipped weights, and the weight gradient per image group (dilation_w = 1,
// C_out a whole number of vectors). Narrower rows take the im2col paths above.
TEST(Conv2dF32, ImplicitGemmNetworkConvs) {
    check_conv(conv(3, 28, 28, 1, 16, 5, 5, 1, 2), 70);       // conv1, odd batch (3 image groups)
    check_conv(conv(5, 14, 14, 16, 32, 5, 5, 1, 2), 71);      // conv2, batch 5
    check_conv(conv(1, 14, 14, 16, 64, 5, 5, 1, 2), 72);      // two output-channel panels
    check_conv(conv(2, 12, 15, 8, 40, 3, 3, 1, 1), 73);       // O not a whole number of panels
}

TEST(Conv2dF32, ImplicitGemmStrideOneInputGradient) {
    int seed = 80;
    for (int64_t c : {1, 3}) {
        for (int pad = 0; pad <= 2; pad++) {
            check_conv(conv(2, 13, 12, c, 16, 3, 3, 1, pad), seed++);
            check_conv(conv(1, 12, 24, c, 5, 5, 5, 1, pad), seed++);
            check_conv(conv(2, 11, 11, c, 8, 3, 5, 1, pad), seed++);  // one partial row tile
        }
    }
    check_conv(conv(2, 12, 12, 16, 32, 5, 5, 1, 2), seed++);   // C = 16 (one vector of dx channels on AVX-512)
    check_conv(conv(1, 14, 24, 4, 16, 3, 3, 1, 2, 2), seed++);  // dilation 2
    Conv2dGeometry g;                                           // asymmetric padding and dilation
    g.stride_h = g.stride_w = 1, g.pad_top = 2, g.pad_bottom = 0, g.pad_left = 0, g.pad_right = 1;
    g.dilation_h = 2, g.dilation_w = 1;
    check_conv({2, 10, 23, 3, 16, 3, 4, g}, seed++);
    g.dilation_h = 1, g.dilation_w = 2;                         // dilation_w: im2col weight gradient
    check_conv({1, 9, 24, 2, 16, 2, 3, g}, seed++);
}

TEST(Conv2dF32, ImplicitGemmStrided) {
    check_conv(conv(2, 30, 31, 1, 16, 5, 5, 2, 2), 100);       // direct forward, col2im input gradient
    check_conv(conv(1, 29, 28, 6, 32, 3, 3, 2, 1), 101);
    Conv2dGeometry g;
    g.stride_h = 1, g.stride_w = 2, g.pad_top = g.pad_bottom = 1, g.pad_left = g.pad_right = 2;
    check_conv({2, 7, 33, 3, 16, 3, 5, g}, 102);
}

TEST(Conv2dF32, Groups) {
    check_conv(conv(2, 7, 7, 8, 12, 3, 3, 1, 1, 1, 2), 30);
    check_conv(conv(1, 6, 5, 6, 9, 3, 3, 2, 1, 1, 3), 31);
    check_conv(conv(1, 8, 8, 64, 64, 3, 3, 1, 1, 1, 2), 32);
}

TEST(Conv2dF32, Depthwise) {
    check_conv(conv(2, 9, 9, 8, 8, 3, 3, 1, 1, 1, 8), 40);
    check_conv(conv(1, 10, 7, 5, 5, 3, 3, 2, 1, 1, 5), 41);
    check_conv(conv(1, 8, 8, 3, 6, 5, 5, 1, 2, 1, 3), 42);    // channel multiplier 2
    check_conv(conv(1, 9, 9, 4, 4, 3, 3, 1, 2, 2, 4), 43);    // dilated
}

TEST(Conv2dF32, KernelCoversInput) {
    check_conv(conv(2, 3, 3, 2, 3, 3, 3, 1, 0), 50);          // 1x1 output
    check_conv(conv(1, 1, 1, 4, 4, 3, 3, 1, 1), 51);          // every tap but the centre in padding
    check_conv(conv(1, 4, 4, 2, 2, 1, 1, 3, 0), 52);          // stride larger than the kernel: inputs no tap reads
}

// Central differences of loss = sum(y * r) (y is linear in x and w, so the
// difference is exact up to rounding).
TEST(Conv2dF32, GradientsFiniteDifference) {
    for (const auto &s : {conv(2, 5, 6, 3, 4, 3, 3, 2, 1), conv(1, 6, 6, 4, 4, 3, 3, 1, 2, 2, 2),
                          conv(1, 5, 5, 3, 3, 3, 3, 1, 1, 1, 3)}) {
        SCOPED_TRACE(describe(s));
        const Shape xs{s.N, s.H, s.W, s.C}, ws{s.O, s.KH, s.KW, s.cg()}, ys{s.N, s.OH(), s.OW(), s.O};
        auto x = uniform(size_t(s.x_size()), 60), w = uniform(size_t(s.w_size()), 61);
        auto r = uniform(size_t(s.y_size()), 62), bias = uniform(size_t(s.O), 63);
        auto loss = [&](std::vector<float> xv, std::vector<float> wv) {
            std::vector<float> y(size_t(s.y_size()));
            conv2d_f32(TensorView(xv.data(), xs), TensorView(wv.data(), ws), bias.data(), s.g, TensorView(y.data(), ys));
            double l = 0;
            for (size_t i = 0; i < y.size(); i++) l += double(y[i]) * double(r[i]);
            return l;
        };
        std::vector<float> dx(x.size()), dw(w.size());
        conv2d_f32_backward_input(TensorView(r.data(), ys), TensorView(w.data(), ws), s.g, TensorView(dx.data(), xs));
        conv2d_f32_backward_weight(TensorView(x.data(), xs), TensorView(r.data(), ys), s.g, TensorView(dw.data(), ws));
        const float h = 1e-2f;
        for (size_t i = 0; i < x.size(); i++) {
            auto xp = x, xm = x;
            xp[i] += h;
            xm[i] -= h;
            const double fd = (loss(xp, w) - loss(xm, w)) / (double(xp[i]) - double(xm[i]));
            EXPECT_NEAR(dx[i], fd, 2e-3) << "dx[" << i << "]";
        }
        for (size_t i = 0; i < w.size(); i++) {
            auto wp = w, wm = w;
            wp[i] += h;
            wm[i] -= h;
            const double fd = (loss(x, wp) - loss(x, wm)) / (double(wp[i]) - double(wm[i]));
            EXPECT_NEAR(dw[i], fd, 2e-3) << "dw[" << i << "]";
        }
    }
}

// ---- errors -------------------------------------------------------------------------------

using qforge::testing::expect_error_untouched;
constexpr float kSentinel = -77.0f;

TEST(TrainGemmErrors, Sgemm) {
    std::vector<float> a(12, 1.0f), b(12, 1.0f), c(16, kSentinel);
    std::vector<int32_t> ai(12);
    TensorView a34(a.data(), {3, 4}), b43(b.data(), {4, 3}), c33(c.data(), {3, 3});
    auto call = [&](TensorView av, Transpose ta, TensorView bv, Transpose tb, TensorView cv, const float *bias = nullptr) {
        return [=] { sgemm(av, ta, bv, tb, cv, bias); };
    };
    expect_error_untouched<ShapeError>(call(a34, Transpose::no, a34, Transpose::no, c33), "K", c, kSentinel);
    expect_error_untouched<ShapeError>(call(a34, Transpose::yes, b43, Transpose::no, c33), "K", c, kSentinel);
    expect_error_untouched<ShapeError>(call(a34, Transpose::no, b43, Transpose::no, TensorView(c.data(), {3, 4})),
                                       "c must be [M, N] = [3, 3]", c, kSentinel);
    expect_error_untouched<ShapeError>(call(TensorView(ai.data(), {3, 4}), Transpose::no, b43, Transpose::no, c33),
                                       "a must be f32", c, kSentinel);
    expect_error_untouched<ShapeError>(call(a34, Transpose::no, b43, Transpose::no, TensorView(c.data(), {9})),
                                       "c must be a 2-D matrix", c, kSentinel);
    expect_error_untouched<ShapeError>(
        call(TensorView(static_cast<float *>(nullptr), {3, 4}), Transpose::no, b43, Transpose::no, c33),
        "a has null data", c, kSentinel);
    expect_error_untouched<ShapeError>(
        call(TensorView(a.data(), {3, 4}, {2, 1}), Transpose::no, b43, Transpose::no, c33), "row stride", c,
        kSentinel);
    expect_error_untouched<ShapeError>(
        call(a34, Transpose::no, TensorView(b.data(), {4, 3}, {1, 4}), Transpose::no, c33), "unit column stride", c,
        kSentinel);
    expect_error_untouched<ShapeError>(
        call(a34, Transpose::no, b43, Transpose::no, TensorView(reinterpret_cast<float *>(
                                                                    reinterpret_cast<char *>(c.data()) + 1),
                                                                {3, 3})),
        "misaligned", c, kSentinel);
    expect_error_untouched<InvalidArgument>(call(a34, static_cast<Transpose>(7), b43, Transpose::no, c33),
                                            "ta", c, kSentinel);
    // c must not share memory with a, b or the bias.
    std::vector<float> shared(32, kSentinel);
    expect_error_untouched<ShapeError>(call(TensorView(shared.data(), {3, 4}), Transpose::no, b43, Transpose::no,
                                            TensorView(shared.data() + 8, {3, 3})),
                                       "overlap", shared, kSentinel);
    expect_error_untouched<ShapeError>(call(a34, Transpose::no, b43, Transpose::no, c33, c.data() + 2), "overlap", c,
                                       kSentinel);
}

TEST(TrainGemmErrors, Conv) {
    const auto s = conv(1, 6, 6, 4, 8, 3, 3, 1, 1);
    const Shape xs{1, 6, 6, 4}, ws{8, 3, 3, 4}, ys{1, 6, 6, 8};
    std::vector<float> x(144, 1.0f), w(288, 1.0f), y(288, kSentinel), dx(144, kSentinel), dw(288, kSentinel);
    std::vector<int32_t> xi(144);
    TensorView xv(x.data(), xs), wv(w.data(), ws), yv(y.data(), ys);
    auto fwd = [&](TensorView a, TensorView b, Conv2dGeometry g, TensorView out) {
        return [=] { conv2d_f32(a, b, nullptr, g, out); };
    };
    expect_error_untouched<ShapeError>(fwd(xv, wv, s.g, TensorView(y.data(), {1, 6, 6, 7})), "y must be [1,6,6,8]", y,
                                       kSentinel);
    expect_error_untouched<ShapeError>(fwd(TensorView(xi.data(), xs), wv, s.g, yv), "x must be f32", y, kSentinel);
    expect_error_untouched<ShapeError>(fwd(TensorView(static_cast<float *>(nullptr), xs), wv, s.g, yv), "null", y,
                                       kSentinel);
    expect_error_untouched<ShapeError>(fwd(TensorView(x.data(), {36, 4}), wv, s.g, yv), "NHWC", y, kSentinel);
    expect_error_untouched<ShapeError>(fwd(xv, TensorView(w.data(), {8, 3, 3, 3}), s.g, yv), "input channels per group",
                                       y, kSentinel);
    Conv2dGeometry bad = s.g;
    bad.stride_h = 0;
    expect_error_untouched<InvalidArgument>(fwd(xv, wv, bad, yv), "strides", y, kSentinel);
    bad = s.g;
    bad.dilation_w = 0;
    expect_error_untouched<InvalidArgument>(fwd(xv, wv, bad, yv), "dilations", y, kSentinel);
    bad = s.g;
    bad.pad_left = -1;
    expect_error_untouched<InvalidArgument>(fwd(xv, wv, bad, yv), "padding", y, kSentinel);
    bad = s.g;
    bad.groups = 3;
    expect_error_untouched<InvalidArgument>(fwd(xv, wv, bad, yv), "groups", y, kSentinel);
    bad = s.g;
    bad.groups = 0;
    expect_error_untouched<InvalidArgument>(fwd(xv, wv, bad, yv), "groups", y, kSentinel);
    bad = s.g;
    bad.pad_top = bad.pad_bottom = bad.pad_left = bad.pad_right = 0;
    bad.dilation_h = 4;  // 9 rows of kernel on 6 rows of input
    expect_error_untouched<InvalidArgument>(fwd(xv, wv, bad, yv), "does not fit", y, kSentinel);
    EXPECT_THROW(conv2d_f32_output_shape({1, 6, 6, 4}, {8, 3, 3, 4}, bad), InvalidArgument);
    expect_error_untouched<ShapeError>(fwd(xv, wv, s.g, TensorView(x.data(), xs)), "y must be", y, kSentinel);
    // In place on the input: rejected (x and y overlap).
    std::vector<float> big(288, kSentinel);
    expect_error_untouched<ShapeError>(fwd(TensorView(big.data(), xs), wv, s.g, TensorView(big.data(), ys)), "overlap", big,
                                       kSentinel);

    auto bwd_in = [&](TensorView d, TensorView b, Conv2dGeometry g, TensorView out) {
        return [=] { conv2d_f32_backward_input(d, b, g, out); };
    };
    expect_error_untouched<ShapeError>(bwd_in(TensorView(y.data(), {1, 5, 6, 8}), wv, s.g, TensorView(dx.data(), xs)),
                                       "dy must be [1,6,6,8]", dx, kSentinel);
    expect_error_untouched<ShapeError>(bwd_in(yv, TensorView(xi.data(), ws), s.g, TensorView(dx.data(), xs)),
                                       "w must be f32", dx, kSentinel);
    expect_error_untouched<InvalidArgument>(bwd_in(yv, wv, bad, TensorView(dx.data(), xs)), "does not fit", dx,
                                            kSentinel);
    auto bwd_w = [&](TensorView a, TensorView d, Conv2dGeometry g, TensorView out) {
        return [=] { conv2d_f32_backward_weight(a, d, g, out); };
    };
    expect_error_untouched<ShapeError>(bwd_w(xv, TensorView(y.data(), {1, 6, 6, 9}), s.g, TensorView(dw.data(), ws)),
                                       "dy must be", dw, kSentinel);
    expect_error_untouched<ShapeError>(bwd_w(xv, yv, s.g, TensorView(dw.data(), {8, 3, 3, 2})),
                                       "input channels per group", dw, kSentinel);
    expect_error_untouched<ShapeError>(bwd_w(xv, yv, s.g, TensorView(reinterpret_cast<int32_t *>(dw.data()), ws)),
                                       "dw must be f32", dw, kSentinel);
    expect_error_untouched<ShapeError>(
        bwd_w(xv, yv, s.g, TensorView(dw.data(), ws, {1, 1, 1, 1})), "contiguous", dw, kSentinel);
}

}  // namespace
