// The training operators (qforge/train_ops.h) against the plain C++ reference
// (tests/reference/train_ops_ref.h): elementwise results bit for bit,
// reductions within a bound relative to the sum of magnitudes; gradients
// against finite differences of a double-precision loss; optimizers over
// several steps; quantize / dequantize / requantize / int8 max pool bit-exact
// with the numerics contract; every error path. Runs once per x86 variant
// (variant_check.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "error_expectations.h"
#include "qforge/qforge.h"
#include "qforge/train_ops.h"
#include "reference/gemm_ref.h"
#include "reference/numerics_ref.h"
#include "reference/train_ops_ref.h"
#include "test_data.h"

namespace {

using namespace qforge;
using qforge::testing::expect_error_untouched;
using qforge::testing::normal_values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::string shape_text(const Shape &s) { return TensorView(nullptr, DType::f32, s).describe(); }

size_t numel(const Shape &s) {
    size_t n = 1;
    for (int64_t d : s) n *= static_cast<size_t>(d);
    return n;
}

std::vector<float> uniform_values(size_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto &x : v) x = d(rng);
    return v;
}

// Shapes [..., C]: channel counts 1, 3, 16, 17, 32; rows not a multiple of
// any vector width; the default network's training shapes.
const std::vector<Shape> &channel_shapes() {
    static const std::vector<Shape> shapes = {
        {1, 1}, {7, 3}, {33, 17}, {5, 4, 4, 16}, {1000, 1}, {2049, 3}, {3, 5, 7, 17},
        {100, 32}, {4099, 16}, {128 * 28 * 28, 16}, {128 * 14 * 14, 32}, {16},
    };
    return shapes;
}

// |got - exact| <= rel * abs_sum (+ a floor for all-zero sums).
void expect_sum_close(double got, double exact, double abs_sum, double rel, const std::string &what) {
    const double bound = rel * abs_sum + 1e-30;
    EXPECT_LE(std::fabs(got - exact), bound) << what << ": got " << got << " exact " << exact;
}

// ---- column_sum / channel_affine ---------------------------------------------------

TEST(TrainOps, ColumnSumWithinSumBound) {
    uint32_t seed = 1;
    for (const Shape &shape : channel_shapes()) {
        const size_t n = numel(shape), C = static_cast<size_t>(shape.back());
        auto x = normal_values(n, seed++, 2.0f);
        for (size_t i = 0; i < n; i += 5) x[i] += 3.0f;  // a non-zero mean
        std::vector<float> out(C, kNaN);
        column_sum(TensorView(x.data(), shape), TensorView(out.data(), {static_cast<int64_t>(C)}));
        auto exact = ref::column_sum(x, C), mag = ref::column_abs_sum(x, C);
        for (size_t c = 0; c < C; c++) expect_sum_close(out[c], exact[c], mag[c], 1e-5, shape_text(shape) + " c=" + std::to_string(c));
    }
    // No rows: zero sums.
    std::vector<float> out(4, kNaN);
    column_sum(TensorView(static_cast<float *>(nullptr), {0, 4}), TensorView(out.data(), {4}));
    for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(TrainOps, ChannelAffineBitExactAndInPlace) {
    uint32_t seed = 10;
    for (const Shape &shape : channel_shapes()) {
        const size_t n = numel(shape), C = static_cast<size_t>(shape.back());
        auto x = normal_values(n, seed++);
        auto scale = normal_values(C, seed++), shift = normal_values(C, seed++);
        if (n > 3) x[1] = kNaN, x[2] = -kInf, x[3] = -0.0f;
        const Shape cs{static_cast<int64_t>(C)};
        std::vector<float> y(n), inplace = x;
        channel_affine(TensorView(x.data(), shape), TensorView(scale.data(), cs), TensorView(shift.data(), cs),
                       TensorView(y.data(), shape));
        channel_affine(TensorView(inplace.data(), shape), TensorView(scale.data(), cs), TensorView(shift.data(), cs),
                       TensorView(inplace.data(), shape));
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            const float want = ref::channel_affine(x[i], scale[i % C], shift[i % C]);
            bad += !ref::same_bits(y[i], want) || !ref::same_bits(inplace[i], want);
        }
        EXPECT_EQ(bad, 0u) << shape_text(shape);
    }
}

TEST(TrainOps, ChannelAffineBackwardMatchesReference) {
    uint32_t seed = 20;
    for (const Shape &shape : channel_shapes()) {
        const size_t n = numel(shape), C = static_cast<size_t>(shape.back());
        auto x = normal_values(n, seed++), dy = normal_values(n, seed++), scale = normal_values(C, seed++);
        const Shape cs{static_cast<int64_t>(C)};
        std::vector<float> dx(n), ds(C, kNaN), dh(C, kNaN);
        channel_affine_backward(TensorView(dy.data(), shape), TensorView(x.data(), shape), TensorView(scale.data(), cs),
                                TensorView(dx.data(), shape), TensorView(ds.data(), cs), TensorView(dh.data(), cs));
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += !ref::same_bits(dx[i], dy[i] * scale[i % C]);
        EXPECT_EQ(bad, 0u) << shape_text(shape);
        std::vector<float> prod(n);
        for (size_t i = 0; i < n; i++) prod[i] = dy[i] * x[i];
        std::vector<double> exact_s(C, 0.0), mag_s(C, 0.0);
        for (size_t i = 0; i < n; i++) {
            exact_s[i % C] += static_cast<double>(dy[i]) * x[i];
            mag_s[i % C] += std::fabs(static_cast<double>(dy[i]) * x[i]);
        }
        auto exact_h = ref::column_sum(dy, C), mag_h = ref::column_abs_sum(dy, C);
        for (size_t c = 0; c < C; c++) {
            expect_sum_close(ds[c], exact_s[c], mag_s[c], 1e-5, shape_text(shape) + " dscale");
            expect_sum_close(dh[c], exact_h[c], mag_h[c], 1e-5, shape_text(shape) + " dshift");
        }
    }
}

// Central differences of a double-precision loss L(theta) = sum_i w_i * f_i(theta).
double central_difference(const std::function<double(double)> &loss_at_offset, double h) {
    return (loss_at_offset(h) - loss_at_offset(-h)) / (2 * h);
}

void expect_gradient_close(double analytic, double numeric, const std::string &what, double rel = 2e-3,
                           double abs = 2e-4) {
    EXPECT_LE(std::fabs(analytic - numeric), abs + rel * std::fabs(numeric))
        << what << ": analytic " << analytic << " numeric " << numeric;
}

TEST(TrainOps, ChannelAffineBackwardFiniteDifferences) {
    const Shape shape{6, 5, 3};
    const size_t n = numel(shape), C = 3;
    auto x = normal_values(n, 31), w = normal_values(n, 32), scale = normal_values(C, 33), shift = normal_values(C, 34);
    const Shape cs{3};
    std::vector<float> dx(n), ds(C), dh(C);
    channel_affine_backward(TensorView(w.data(), shape), TensorView(x.data(), shape), TensorView(scale.data(), cs),
                            TensorView(dx.data(), shape), TensorView(ds.data(), cs), TensorView(dh.data(), cs));
    // L = sum w * (x * scale + shift), in double.
    auto loss = [&](const std::vector<double> &xd, const std::vector<double> &sd, const std::vector<double> &hd) {
        double l = 0;
        for (size_t i = 0; i < n; i++) l += w[i] * (xd[i] * sd[i % C] + hd[i % C]);
        return l;
    };
    std::vector<double> xd(x.begin(), x.end()), sd(scale.begin(), scale.end()), hd(shift.begin(), shift.end());
    for (size_t i : {size_t(0), size_t(7), n - 1}) {
        auto f = [&](double e) { auto t = xd; t[i] += e; return loss(t, sd, hd); };
        expect_gradient_close(dx[i], central_difference(f, 1e-4), "dx[" + std::to_string(i) + "]");
    }
    for (size_t c = 0; c < C; c++) {
        auto fs = [&](double e) { auto t = sd; t[c] += e; return loss(xd, t, hd); };
        auto fh = [&](double e) { auto t = hd; t[c] += e; return loss(xd, sd, t); };
        expect_gradient_close(ds[c], central_difference(fs, 1e-4), "dscale");
        expect_gradient_close(dh[c], central_difference(fh, 1e-4), "dshift");
    }
}

// ---- batch norm ------------------------------------------------------------------------

struct BnOutputs {
    std::vector<float> y, mean, var, invstd;
};

BnOutputs run_bn_train(const std::vector<float> &x, const Shape &shape, const std::vector<float> &gamma,
                       const std::vector<float> &beta, float eps) {
    const size_t C = gamma.size();
    const Shape cs{static_cast<int64_t>(C)};
    BnOutputs o{std::vector<float>(x.size()), std::vector<float>(C), std::vector<float>(C), std::vector<float>(C)};
    batch_norm_train(TensorView(const_cast<float *>(x.data()), shape), TensorView(const_cast<float *>(gamma.data()), cs),
                     TensorView(const_cast<float *>(beta.data()), cs), eps, TensorView(o.y.data(), shape),
                     TensorView(o.mean.data(), cs), TensorView(o.var.data(), cs), TensorView(o.invstd.data(), cs));
    return o;
}

TEST(TrainOps, BatchNormTrainStatisticsAndOutput) {
    uint32_t seed = 40;
    for (const Shape &shape : channel_shapes()) {
        for (float offset : {0.0f, 1000.0f}) {  // a large mean: the variance must not cancel
            const size_t n = numel(shape), C = static_cast<size_t>(shape.back()), rows = n / C;
            auto x = normal_values(n, seed++, 1.5f);
            for (size_t i = 0; i < n; i++) x[i] += offset + 0.25f * static_cast<float>(i % C);
            auto gamma = uniform_values(C, seed++, 0.5f, 2.0f), beta = normal_values(C, seed++);
            const float eps = 1e-5f;
            auto o = run_bn_train(x, shape, gamma, beta, eps);
            auto st = ref::batch_norm_stats(x, C);
            auto mag = ref::column_abs_sum(x, C);
            const std::string what = shape_text(shape) + " offset=" + std::to_string(offset);
            size_t bad = 0;
            for (size_t c = 0; c < C; c++) {
                expect_sum_close(o.mean[c], st.mean[c], mag[c] / static_cast<double>(rows), 1e-5, what + " mean");
                // Two-pass: the variance is accurate relative to itself, whatever the mean.
                EXPECT_LE(std::fabs(o.var[c] - st.var[c]), 1e-4 * st.var[c] + 1e-12) << what << " var c=" << c;
                bad += !ref::same_bits(o.invstd[c], ref::inverse_std(o.var[c], eps));
            }
            for (size_t i = 0; i < n; i++) {
                const size_t c = i % C;
                bad += !ref::same_bits(o.y[i], ref::batch_norm_apply(x[i], o.mean[c], o.invstd[c], gamma[c], beta[c]));
            }
            EXPECT_EQ(bad, 0u) << what;
        }
    }
}

TEST(TrainOps, BatchNormTrainInPlaceAndSingleRow) {
    const Shape shape{37, 17};
    auto x = normal_values(numel(shape), 50);
    std::vector<float> gamma(17, 1.5f), beta(17, -0.5f);
    auto o = run_bn_train(x, shape, gamma, beta, 1e-3f);
    auto inplace = x;
    std::vector<float> m(17), v(17), is(17);
    const Shape cs{17};
    batch_norm_train(TensorView(inplace.data(), shape), TensorView(gamma.data(), cs), TensorView(beta.data(), cs), 1e-3f,
                     TensorView(inplace.data(), shape), TensorView(m.data(), cs), TensorView(v.data(), cs),
                     TensorView(is.data(), cs));
    for (size_t i = 0; i < x.size(); i++) ASSERT_TRUE(ref::same_bits(o.y[i], inplace[i])) << i;
    // One row: mean = x, var = 0, y = beta.
    auto one = run_bn_train(std::vector<float>(x.begin(), x.begin() + 17), {1, 17}, gamma, beta, 1e-3f);
    for (size_t c = 0; c < 17; c++) {
        EXPECT_EQ(one.mean[c], x[c]);
        EXPECT_EQ(one.var[c], 0.0f);
        EXPECT_EQ(one.y[c], beta[c]);
    }
}

TEST(TrainOps, BatchNormEvalBitExact) {
    uint32_t seed = 60;
    for (const Shape &shape : channel_shapes()) {
        const size_t n = numel(shape), C = static_cast<size_t>(shape.back());
        auto x = normal_values(n, seed++);
        auto gamma = normal_values(C, seed++), beta = normal_values(C, seed++), rm = normal_values(C, seed++);
        auto rv = uniform_values(C, seed++, 0.0f, 3.0f);
        const Shape cs{static_cast<int64_t>(C)};
        std::vector<float> y(n);
        batch_norm_eval(TensorView(x.data(), shape), TensorView(gamma.data(), cs), TensorView(beta.data(), cs),
                        TensorView(rm.data(), cs), TensorView(rv.data(), cs), 1e-5f, TensorView(y.data(), shape));
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            const size_t c = i % C;
            bad += !ref::same_bits(y[i], ref::batch_norm_apply(x[i], rm[c], ref::inverse_std(rv[c], 1e-5f), gamma[c], beta[c]));
        }
        EXPECT_EQ(bad, 0u) << shape_text(shape);
    }
}

TEST(TrainOps, BatchNormBackwardMatchesDoubleReference) {
    uint32_t seed = 70;
    for (const Shape &shape : channel_shapes()) {
        const size_t n = numel(shape), C = static_cast<size_t>(shape.back());
        if (n / C < 2) continue;
        auto x = normal_values(n, seed++, 2.0f), dy = normal_values(n, seed++);
        auto gamma = uniform_values(C, seed++, 0.5f, 2.0f), beta = normal_values(C, seed++);
        auto o = run_bn_train(x, shape, gamma, beta, 1e-5f);
        const Shape cs{static_cast<int64_t>(C)};
        std::vector<float> dx(n), dg(C, kNaN), db(C, kNaN);
        batch_norm_backward(TensorView(dy.data(), shape), TensorView(x.data(), shape), TensorView(gamma.data(), cs),
                            TensorView(o.mean.data(), cs), TensorView(o.invstd.data(), cs), TensorView(dx.data(), shape),
                            TensorView(dg.data(), cs), TensorView(db.data(), cs));
        auto g = ref::batch_norm_backward(dy, x, gamma, o.mean, o.invstd);
        auto mag_dy = ref::column_abs_sum(dy, C);
        std::vector<double> mag_dot(C, 0.0);
        for (size_t i = 0; i < n; i++) mag_dot[i % C] += std::fabs(dy[i] * (static_cast<double>(x[i]) - o.mean[i % C]));
        const std::string what = shape_text(shape);
        for (size_t c = 0; c < C; c++) {
            expect_sum_close(db[c], g.dbeta[c], mag_dy[c], 1e-5, what + " dbeta");
            expect_sum_close(dg[c], g.dgamma[c], mag_dot[c] * o.invstd[c], 1e-5, what + " dgamma");
        }
        // dx: the error of each term's factor (sums) relative to the terms' magnitudes.
        size_t bad = 0;
        const double rows = static_cast<double>(n / C);
        for (size_t i = 0; i < n; i++) {
            const size_t c = i % C;
            const double is = o.invstd[c];
            const double scale = (std::fabs(dy[i]) + mag_dy[c] / rows +
                                  std::fabs(x[i] - o.mean[c]) * mag_dot[c] * is * is / rows) * is * gamma[c];
            if (std::fabs(dx[i] - g.dx[i]) > 1e-5 * scale + 1e-30 && bad++ < 5) {
                ADD_FAILURE() << what << " dx[" << i << "] = " << dx[i] << " want " << g.dx[i];
            }
        }
        EXPECT_EQ(bad, 0u) << what;
        // In place on dy gives the same dx.
        auto dy2 = dy;
        batch_norm_backward(TensorView(dy2.data(), shape), TensorView(x.data(), shape), TensorView(gamma.data(), cs),
                            TensorView(o.mean.data(), cs), TensorView(o.invstd.data(), cs), TensorView(dy2.data(), shape),
                            TensorView(dg.data(), cs), TensorView(db.data(), cs));
        for (size_t i = 0; i < n; i++) ASSERT_TRUE(ref::same_bits(dx[i], dy2[i])) << what << " in place, " << i;
    }
}

TEST(TrainOps, BatchNormBackwardFiniteDifferences) {
    for (const Shape &shape : {Shape{6, 3}, Shape{2, 3, 3, 5}, Shape{9, 1}}) {
        const size_t n = numel(shape), C = static_cast<size_t>(shape.back()), rows = n / C;
        auto x = normal_values(n, 80 + static_cast<uint32_t>(n), 1.5f), w = normal_values(n, 81);
        auto gamma = uniform_values(C, 82, 0.5f, 2.0f), beta = normal_values(C, 83);
        const double eps = 1e-3;
        auto o = run_bn_train(x, shape, gamma, beta, static_cast<float>(eps));
        const Shape cs{static_cast<int64_t>(C)};
        std::vector<float> dx(n), dg(C), db(C);
        batch_norm_backward(TensorView(w.data(), shape), TensorView(x.data(), shape), TensorView(gamma.data(), cs),
                            TensorView(o.mean.data(), cs), TensorView(o.invstd.data(), cs), TensorView(dx.data(), shape),
                            TensorView(dg.data(), cs), TensorView(db.data(), cs));
        // L = sum w * BN(x) with batch statistics, all in double.
        auto loss = [&](const std::vector<double> &xd, const std::vector<double> &gd, const std::vector<double> &bd) {
            std::vector<double> mean(C, 0.0), var(C, 0.0);
            for (size_t i = 0; i < n; i++) mean[i % C] += xd[i] / rows;
            for (size_t i = 0; i < n; i++) var[i % C] += (xd[i] - mean[i % C]) * (xd[i] - mean[i % C]) / rows;
            double l = 0;
            for (size_t i = 0; i < n; i++) {
                const size_t c = i % C;
                l += w[i] * ref::batch_norm_exact(xd[i], mean[c], var[c], eps, gd[c], bd[c]);
            }
            return l;
        };
        std::vector<double> xd(x.begin(), x.end()), gd(gamma.begin(), gamma.end()), bd(beta.begin(), beta.end());
        const std::string what = shape_text(shape);
        for (size_t i = 0; i < n; i++) {
            auto f = [&](double e) { auto t = xd; t[i] += e; return loss(t, gd, bd); };
            expect_gradient_close(dx[i], central_difference(f, 1e-5), what + " dx[" + std::to_string(i) + "]");
        }
        for (size_t c = 0; c < C; c++) {
            auto fg = [&](double e) { auto t = gd; t[c] += e; return loss(xd, t, bd); };
            auto fb = [&](double e) { auto t = bd; t[c] += e; return loss(xd, gd, t); };
            expect_gradient_close(dg[c], central_difference(fg, 1e-5), what + " dgamma");
            expect_gradient_close(db[c], central_difference(fb, 1e-5), what + " dbeta");
        }
    }
}

// ---- ReLU ------------------------------------------------------------------------------

std::vector<float> special_values(size_t n, uint32_t seed) {
    auto v = normal_values(n, seed);
    const float specials[] = {0.0f, -0.0f, kNaN, kInf, -kInf, 1e-40f, -1e-40f, std::numeric_limits<float>::max(),
                              std::numeric_limits<float>::lowest()};
    for (size_t i = 0; i < n; i += 3) v[i] = specials[(i / 3) % 9];
    return v;
}

TEST(TrainOps, ReluForwardBackwardBitExact) {
    for (size_t n : {size_t(1), size_t(7), size_t(64), size_t(1000), size_t(128 * 28 * 28 * 16 + 5)}) {
        auto x = special_values(n, static_cast<uint32_t>(n));
        auto dy = special_values(n, static_cast<uint32_t>(n + 1));
        const Shape shape{static_cast<int64_t>(n)};
        std::vector<float> y(n), dx(n), inplace = x;
        relu(TensorView(x.data(), shape), TensorView(y.data(), shape));
        relu(TensorView(inplace.data(), shape), TensorView(inplace.data(), shape));
        relu_backward(TensorView(dy.data(), shape), TensorView(x.data(), shape), TensorView(dx.data(), shape));
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            bad += !ref::same_bits(y[i], ref::relu(x[i])) || !ref::same_bits(inplace[i], y[i]);
            bad += !ref::same_bits(dx[i], ref::relu_backward(dy[i], x[i]));
        }
        EXPECT_EQ(bad, 0u) << n;
    }
    // The documented edge cases.
    std::vector<float> x = {-0.0f, kNaN, -1.0f, 2.0f, 0.0f}, y(5), dx(5), dy = {1, 2, 3, 4, 5};
    relu(TensorView(x.data(), {5}), TensorView(y.data(), {5}));
    EXPECT_TRUE(std::signbit(y[0]) && y[0] == 0.0f);
    EXPECT_TRUE(std::isnan(y[1]));
    EXPECT_TRUE(!std::signbit(y[2]) && y[2] == 0.0f);
    relu_backward(TensorView(dy.data(), {5}), TensorView(x.data(), {5}), TensorView(dx.data(), {5}));
    EXPECT_EQ(dx[0], 0.0f);
    EXPECT_EQ(dx[1], 2.0f);  // NaN y passes dy
    EXPECT_EQ(dx[2], 0.0f);
    EXPECT_EQ(dx[3], 4.0f);
    EXPECT_EQ(dx[4], 0.0f);
}

TEST(TrainOps, ReluBackwardFiniteDifferences) {
    auto x = normal_values(50, 90), w = normal_values(50, 91);
    for (auto &v : x) if (std::fabs(v) < 1e-2f) v = 0.5f;  // away from the kink
    std::vector<float> y(50), dx(50);
    relu(TensorView(x.data(), {50}), TensorView(y.data(), {50}));
    relu_backward(TensorView(w.data(), {50}), TensorView(y.data(), {50}), TensorView(dx.data(), {50}));
    for (size_t i = 0; i < 50; i++) {
        auto f = [&](double e) {
            double l = 0;
            for (size_t j = 0; j < 50; j++) l += w[j] * std::max(0.0, static_cast<double>(x[j]) + (j == i ? e : 0.0));
            return l;
        };
        expect_gradient_close(dx[i], central_difference(f, 1e-4), "relu dx[" + std::to_string(i) + "]");
    }
}

// ---- max pool ----------------------------------------------------------------------------

const std::vector<ref::PoolShape> &pool_shapes() {
    static const std::vector<ref::PoolShape> shapes = {
        {2, 5, 7, 3}, {1, 4, 4, 16}, {3, 6, 6, 17}, {2, 3, 3, 1}, {1, 1, 5, 4}, {1, 2, 2, 32},
        {4, 9, 11, 16}, {128, 28, 28, 16}, {128, 14, 14, 32},
    };
    return shapes;
}

Shape in_shape(const ref::PoolShape &s) { return {s.n, s.h, s.w, s.c}; }
Shape out_shape(const ref::PoolShape &s) { return {s.n, s.oh(), s.ow(), s.c}; }

TEST(TrainOps, MaxPoolForwardBackwardBitExact) {
    uint32_t seed = 100;
    for (const auto &s : pool_shapes()) {
        // Small integers: ties in most windows; NaN and -Inf sprinkled in.
        std::mt19937 rng(seed++);
        std::vector<float> x(s.in_size());
        for (auto &v : x) v = static_cast<float>(static_cast<int>(rng() % 5) - 2);
        for (size_t i = 0; i < x.size(); i += 37) x[i] = kNaN;
        for (size_t i = 5; i < x.size(); i += 41) x[i] = -kInf;
        for (size_t i = 9; i < x.size(); i += 43) x[i] = -0.0f;
        std::vector<float> y(s.out_size(), 7.0f), want_y;
        std::vector<uint8_t> am(s.out_size(), 9), want_am;
        max_pool2x2(TensorView(x.data(), in_shape(s)), TensorView(y.data(), out_shape(s)),
                    TensorView(am.data(), out_shape(s)));
        ref::max_pool2x2(x, s, want_y, &want_am);
        size_t bad = 0;
        for (size_t i = 0; i < y.size(); i++) bad += !ref::same_bits(y[i], want_y[i]) || am[i] != want_am[i];
        EXPECT_EQ(bad, 0u) << "forward " << shape_text(in_shape(s));
        auto dy = normal_values(s.out_size(), seed++);
        std::vector<float> dx(s.in_size(), 7.0f);
        max_pool2x2_backward(TensorView(dy.data(), out_shape(s)), TensorView(am.data(), out_shape(s)),
                             TensorView(dx.data(), in_shape(s)));
        auto want_dx = ref::max_pool2x2_backward(dy, am, s);
        bad = 0;
        for (size_t i = 0; i < dx.size(); i++) bad += !ref::same_bits(dx[i], want_dx[i]);
        EXPECT_EQ(bad, 0u) << "backward " << shape_text(in_shape(s));
    }
}

TEST(TrainOps, MaxPoolBackwardFiniteDifferences) {
    const ref::PoolShape s{2, 5, 5, 3};
    std::vector<float> x(s.in_size());
    std::iota(x.begin(), x.end(), 0.0f);
    std::shuffle(x.begin(), x.end(), std::mt19937(5));  // distinct values: the max is unique
    auto w = normal_values(s.out_size(), 6);
    std::vector<float> y(s.out_size()), dx(s.in_size());
    std::vector<uint8_t> am(s.out_size());
    max_pool2x2(TensorView(x.data(), in_shape(s)), TensorView(y.data(), out_shape(s)), TensorView(am.data(), out_shape(s)));
    max_pool2x2_backward(TensorView(w.data(), out_shape(s)), TensorView(am.data(), out_shape(s)),
                         TensorView(dx.data(), in_shape(s)));
    for (size_t i = 0; i < x.size(); i++) {
        auto f = [&](double e) {
            auto t = x;
            std::vector<double> xd(t.begin(), t.end());
            xd[i] += e;
            double l = 0;
            for (int64_t b = 0; b < s.n; b++)
                for (int64_t oy = 0; oy < s.oh(); oy++)
                    for (int64_t ox = 0; ox < s.ow(); ox++)
                        for (int64_t c = 0; c < s.c; c++) {
                            double m = -1e300;
                            for (int p = 0; p < 4; p++) m = std::max(m, xd[s.in_index(b, 2 * oy + p / 2, 2 * ox + p % 2, c)]);
                            l += w[s.out_index(b, oy, ox, c)] * m;
                        }
            return l;
        };
        expect_gradient_close(dx[i], central_difference(f, 1e-3), "pool dx[" + std::to_string(i) + "]");
    }
}

template<typename T> void check_int8_pool(uint32_t seed) {
    for (const auto &s : pool_shapes()) {
        std::mt19937 rng(seed++);
        std::vector<T> x(s.in_size());
        for (auto &v : x) v = static_cast<T>(rng() % 256);
        std::vector<T> y(s.out_size(), T(3)), want;
        max_pool2x2_int8(TensorView(x.data(), in_shape(s)), TensorView(y.data(), out_shape(s)));
        ref::max_pool2x2(x, s, want, nullptr);
        EXPECT_EQ(y, want) << dtype_name(dtype_of<T>()) << " " << shape_text(in_shape(s));
    }
}

TEST(TrainOps, MaxPoolInt8BitExact) {
    check_int8_pool<uint8_t>(200);
    check_int8_pool<int8_t>(300);
}

// ---- softmax cross-entropy ---------------------------------------------------------------------

TEST(TrainOps, SoftmaxCrossEntropyMatchesDoubleReference) {
    uint32_t seed = 400;
    for (auto [B, K] : {std::pair<int64_t, int64_t>{1, 1}, {1, 10}, {7, 3}, {128, 10}, {33, 17}, {5, 100}}) {
        for (float offset : {0.0f, 1000.0f, -500.0f}) {  // large logits: exp must not overflow
            const size_t n = static_cast<size_t>(B * K);
            auto logits = normal_values(n, seed++, 3.0f);
            for (auto &v : logits) v += offset;
            std::vector<int32_t> labels(static_cast<size_t>(B));
            std::mt19937 rng(seed++);
            for (auto &l : labels) l = static_cast<int32_t>(rng() % K);
            std::vector<float> d(n, kNaN);
            const float loss = softmax_cross_entropy(TensorView(logits.data(), {B, K}), TensorView(labels.data(), {B}),
                                                     TensorView(d.data(), {B, K}));
            const float loss_only = softmax_cross_entropy(TensorView(logits.data(), {B, K}), TensorView(labels.data(), {B}));
            const float loss_empty =
                softmax_cross_entropy(TensorView(logits.data(), {B, K}), TensorView(labels.data(), {B}), TensorView());
            auto want = ref::softmax_cross_entropy(logits, labels, static_cast<size_t>(K));
            const std::string what = "B=" + std::to_string(B) + " K=" + std::to_string(K) + " offset=" + std::to_string(offset);
            // The fp32 logit differences lose up to ulp(offset) each.
            const double tol = 1e-5 * (std::fabs(want.loss) + 1.0) + 4e-7 * (std::fabs(offset) + 10.0);
            EXPECT_NEAR(loss, want.loss, tol) << what;
            EXPECT_TRUE(ref::same_bits(loss, loss_only) && ref::same_bits(loss, loss_empty)) << what;
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) {
                if (!(std::fabs(d[i] - want.dlogits[i]) <= 2e-6 / B + 1e-5 * std::fabs(want.dlogits[i]) +
                                                             4e-7 * (std::fabs(offset) + 10.0) / B) &&
                    bad++ < 5) {
                    ADD_FAILURE() << what << " dlogits[" << i << "] = " << d[i] << " want " << want.dlogits[i];
                }
            }
            EXPECT_EQ(bad, 0u) << what;
        }
    }
}

TEST(TrainOps, SoftmaxCrossEntropyFiniteDifferences) {
    const int64_t B = 4, K = 6;
    auto logits = normal_values(B * K, 410, 2.0f);
    std::vector<int32_t> labels = {0, 5, 2, 2};
    std::vector<float> d(B * K);
    softmax_cross_entropy(TensorView(logits.data(), {B, K}), TensorView(labels.data(), {B}), TensorView(d.data(), {B, K}));
    for (size_t i = 0; i < d.size(); i++) {
        auto f = [&](double e) {
            // The loss in double, from scratch.
            double l = 0;
            for (int64_t b = 0; b < B; b++) {
                std::vector<double> row(logits.begin() + b * K, logits.begin() + (b + 1) * K);
                if (static_cast<size_t>(b) == i / K) row[i % K] += e;
                double mx = *std::max_element(row.begin(), row.end()), se = 0;
                for (double v : row) se += std::exp(v - mx);
                l += mx + std::log(se) - row[labels[b]];
            }
            return l / B;
        };
        expect_gradient_close(d[i], central_difference(f, 1e-4), "dlogits[" + std::to_string(i) + "]", 1e-3, 1e-5);
    }
}

// ---- optimizers ----------------------------------------------------------------------------------

TEST(TrainOps, SgdMomentumMatchesPyTorchFormulaOverSteps) {
    for (size_t n : {size_t(1), size_t(17), size_t(1000), size_t(100003)}) {
        for (float wd : {0.0f, 5e-4f}) {
            for (float mom : {0.0f, 0.9f}) {
                auto param = normal_values(n, 500), want_p = param;
                std::vector<float> buf(n, 0.0f), want_b = buf;
                const float lr = 0.05f;
                for (int step = 0; step < 5; step++) {
                    auto grad = normal_values(n, 510 + step);
                    if (n > 3) grad[2] = -0.0f;
                    const Shape shape{static_cast<int64_t>(n)};
                    sgd_momentum_update(TensorView(param.data(), shape), TensorView(grad.data(), shape),
                                        TensorView(buf.data(), shape), lr, mom, wd, step == 0);
                    size_t bad = 0;
                    for (size_t i = 0; i < n; i++) {
                        auto s = ref::sgd_step(want_p[i], grad[i], want_b[i], lr, mom, wd, step == 0);
                        want_p[i] = s.param;
                        want_b[i] = s.buf;
                        bad += !ref::same_bits(param[i], s.param) || !ref::same_bits(buf[i], s.buf);
                    }
                    ASSERT_EQ(bad, 0u) << "n=" << n << " wd=" << wd << " momentum=" << mom << " step " << step;
                }
            }
        }
    }
}

TEST(TrainOps, SgdHandComputedStep) {
    // param 1, grad 0.5, wd 0.1 -> g = 0.6; first step buf = 0.6; param = 1 - 0.1 * 0.6.
    std::vector<float> p = {1.0f}, g = {0.5f}, b = {123.0f};
    sgd_momentum_update(TensorView(p.data(), {1}), TensorView(g.data(), {1}), TensorView(b.data(), {1}), 0.1f, 0.9f,
                        0.1f, true);
    EXPECT_FLOAT_EQ(b[0], 0.6f);
    EXPECT_FLOAT_EQ(p[0], 0.94f);
    // Second step: buf = 0.9 * 0.6 + (0.5 + 0.1 * 0.94) = 1.134; param = 0.94 - 0.1134.
    sgd_momentum_update(TensorView(p.data(), {1}), TensorView(g.data(), {1}), TensorView(b.data(), {1}), 0.1f, 0.9f,
                        0.1f, false);
    EXPECT_NEAR(b[0], 1.134f, 1e-6);
    EXPECT_NEAR(p[0], 0.8266f, 1e-6);
}

TEST(TrainOps, AdamMatchesPyTorchFormulaOverSteps) {
    for (size_t n : {size_t(1), size_t(17), size_t(1000), size_t(100003)}) {
        for (float wd : {0.0f, 1e-2f}) {
            auto param = normal_values(n, 600), want_p = param;
            std::vector<float> m(n, 0.0f), v(n, 0.0f), want_m = m, want_v = v;
            for (int64_t step = 1; step <= 6; step++) {
                auto grad = normal_values(n, 610 + static_cast<uint32_t>(step), 0.1f);
                if (n > 3) grad[1] = 0.0f;
                const Shape shape{static_cast<int64_t>(n)};
                adam_update(TensorView(param.data(), shape), TensorView(grad.data(), shape), TensorView(m.data(), shape),
                            TensorView(v.data(), shape), step, 1e-3f, 0.9f, 0.999f, 1e-8f, wd);
                size_t bad = 0;
                for (size_t i = 0; i < n; i++) {
                    auto s = ref::adam_step(want_p[i], grad[i], want_m[i], want_v[i], step, 1e-3f, 0.9f, 0.999f, 1e-8f, wd);
                    want_p[i] = s.param;
                    want_m[i] = s.m;
                    want_v[i] = s.v;
                    bad += !ref::same_bits(param[i], s.param) || !ref::same_bits(m[i], s.m) || !ref::same_bits(v[i], s.v);
                }
                ASSERT_EQ(bad, 0u) << "n=" << n << " wd=" << wd << " step " << step;
            }
        }
    }
}

TEST(TrainOps, AdamFirstStepMovesByLearningRate) {
    // At step 1 the bias-corrected update is lr * g / (|g| + eps'): about lr * sign(g).
    std::vector<float> p = {1.0f, -2.0f}, g = {0.3f, -4.0f}, m(2, 0.0f), v(2, 0.0f);
    adam_update(TensorView(p.data(), {2}), TensorView(g.data(), {2}), TensorView(m.data(), {2}), TensorView(v.data(), {2}),
                1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f);
    EXPECT_NEAR(p[0], 0.99f, 1e-6);
    EXPECT_NEAR(p[1], -1.99f, 1e-6);
}

// ---- integer-model helpers -----------------------------------------------------------------

TEST(TrainOps, QuantizeDequantizeBitExact) {
    size_t checked = 0;
    for (const auto &c : qforge::testing::grid_cases()) {
        const bool is_signed = c.range.qmin < 0;
        for (size_t n : qforge::testing::kernel_sizes()) {
            auto x = qforge::testing::grid_inputs(n, c, static_cast<uint32_t>(n * 7 + c.zero_point), true);
            const Shape shape{static_cast<int64_t>(n)};
            QuantParams p{c.scale, c.zero_point, c.range};
            std::vector<int32_t> got(n);
            std::vector<float> back(n);
            if (is_signed) {
                std::vector<int8_t> q(n);
                quantize(TensorView(x.data(), shape), p, TensorView(q.data(), shape));
                dequantize(TensorView(q.data(), shape), p, TensorView(back.data(), shape));
                for (size_t i = 0; i < n; i++) got[i] = q[i];
            } else {
                std::vector<uint8_t> q(n);
                quantize(TensorView(x.data(), shape), p, TensorView(q.data(), shape));
                dequantize(TensorView(q.data(), shape), p, TensorView(back.data(), shape));
                for (size_t i = 0; i < n; i++) got[i] = q[i];
            }
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) {
                const int32_t want = ref::quantize(x[i], c.scale, c.zero_point, c.range.qmin, c.range.qmax);
                bad += got[i] != want || !ref::same_bits(back[i], ref::dequantize(want, c.scale, c.zero_point));
                // Consistent with fake-quant: dequantize(quantize(x)) == fake_quant(x) for non-NaN x.
                if (!std::isnan(x[i])) {
                    bad += !ref::same_bits(back[i], ref::fake_quant(x[i], c.scale, c.zero_point, c.range.qmin, c.range.qmax).y);
                }
            }
            EXPECT_EQ(bad, 0u) << "scale=" << c.scale << " z=" << c.zero_point << " n=" << n;
            checked += n;
        }
    }
    // Ties at .5 round to even.
    std::vector<float> x = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, kNaN, kInf, -kInf};
    std::vector<int8_t> q(x.size());
    quantize(TensorView(x.data(), {9}), QuantParams{1.0f, 0, QuantRange::from_bits(8, true)}, TensorView(q.data(), {9}));
    EXPECT_EQ(q, (std::vector<int8_t>{0, 2, 2, 0, -2, -2, -128, 127, -128}));
    std::printf("[ coverage ] quantize: %zu elements\n", checked);
}

TEST(TrainOps, RequantizeBitExact) {
    // Per-tensor and per-channel multipliers; ties (acc * M = k + 0.5), clip
    // boundaries, fused ReLU bounds, saturating accumulators.
    std::mt19937 rng(700);
    for (const Shape &shape : {Shape{1, 1}, Shape{7, 3}, Shape{33, 17}, Shape{100, 16}, Shape{4, 5, 5, 32}, Shape{9}}) {
        const size_t n = numel(shape), C = static_cast<size_t>(shape.back());
        std::vector<int32_t> acc(n);
        const int32_t edges[] = {0, 1, -1, 3, -3, 5, -5, 255, 256, 257, -256, -257, 511, INT32_MAX, INT32_MIN, 1 << 24,
                                 (1 << 24) + 1, -(1 << 22) - 1};
        for (size_t i = 0; i < n; i++) {
            acc[i] = (i % 3 == 0) ? edges[(i / 3) % 18] : static_cast<int32_t>(rng() % 2001) - 1000;
        }
        for (bool per_channel : {false, true}) {
            std::vector<float> mult;
            if (per_channel) {
                for (size_t c = 0; c < C; c++) mult.push_back(c % 3 == 0 ? 0.5f : c % 3 == 1 ? 0.25f : 0.0123f);
            } else {
                mult = {0.5f};  // odd accumulators are ties
            }
            struct Out {
                bool u8;
                int32_t z, lo, hi;
            };
            for (const Out &o : {Out{true, 128, 0, 255}, Out{true, 3, 3, 255}, Out{true, 0, 0, 15}, Out{false, 0, -128, 127},
                                 Out{false, -5, -5, 100}, Out{false, 10, -128, 127}}) {
                std::vector<int32_t> got(n);
                const TensorView mv(mult.data(), {static_cast<int64_t>(mult.size())});
                if (o.u8) {
                    std::vector<uint8_t> y(n);
                    requantize(TensorView(acc.data(), shape), mv, o.z, o.lo, o.hi, TensorView(y.data(), shape));
                    for (size_t i = 0; i < n; i++) got[i] = y[i];
                } else {
                    std::vector<int8_t> y(n);
                    requantize(TensorView(acc.data(), shape), mv, o.z, o.lo, o.hi, TensorView(y.data(), shape));
                    for (size_t i = 0; i < n; i++) got[i] = y[i];
                }
                size_t bad = 0;
                for (size_t i = 0; i < n; i++) {
                    const float m = per_channel ? mult[i % C] : mult[0];
                    bad += got[i] != ref::requantize(acc[i], m, o.z, o.lo, o.hi);
                }
                EXPECT_EQ(bad, 0u) << shape_text(shape) << " per_channel=" << per_channel << " z=" << o.z;
            }
        }
    }
    // Ties: acc * 0.5 = k + 0.5 rounds to even.
    std::vector<int32_t> acc = {1, 3, 5, -1, -3, -5};
    std::vector<int8_t> y(6);
    std::vector<float> m = {0.5f};
    requantize(TensorView(acc.data(), {6}), TensorView(m.data(), {1}), 0, -128, 127, TensorView(y.data(), {6}));
    EXPECT_EQ(y, (std::vector<int8_t>{0, 2, 2, 0, -2, -2}));
}

// ---- errors -----------------------------------------------------------------------------------

TEST(TrainOps, ErrorsThrowAndWriteNothing) {
    using qforge::testing::expect_error_untouched;
    const float S = 42.0f;
    std::vector<float> x(24, 1.0f), y(24, S), c4(4, 1.0f), c4b(4, S), c4c(4, S), c4d(4, S), c3(3, S);
    const Shape sh{6, 4};
    const TensorView X(x.data(), sh), Y(y.data(), sh), C4(c4.data(), {4}), OUT4(c4b.data(), {4});
    std::vector<int32_t> xi(24, 0);

    // column_sum
    expect_error_untouched<ShapeError>([&] { column_sum(X, TensorView(c3.data(), {3})); }, "out", c3, S);
    expect_error_untouched<ShapeError>([&] { column_sum(TensorView(xi.data(), sh), OUT4); }, "x must be f32", c4b, S);
    // channel_affine: shape mismatch, wrong dtype, partial overlap
    expect_error_untouched<ShapeError>([&] { channel_affine(X, C4, C4, TensorView(y.data(), {4, 6})); }, "y", y, S);
    expect_error_untouched<ShapeError>([&] { channel_affine(X, TensorView(c3.data(), {3}), C4, Y); }, "scale", y, S);
    expect_error_untouched<ShapeError>([&] { channel_affine(X, C4, C4, TensorView(x.data() + 1, {5, 4})); }, "does not match", y, S);
    expect_error_untouched<ShapeError>(
        [&] { channel_affine(TensorView(y.data(), {5, 4}), C4, C4, TensorView(y.data() + 4, {5, 4})); }, "overlap", c4b, S);
    // channel_affine_backward: dx aliasing dy is refused
    expect_error_untouched<ShapeError>([&] { channel_affine_backward(Y, X, C4, Y, OUT4, TensorView(c4c.data(), {4})); },
                                       "overlap", c4b, S);
    // batch norm
    expect_error_untouched<InvalidArgument>(
        [&] { batch_norm_train(X, C4, C4, 0.0f, Y, OUT4, TensorView(c4c.data(), {4}), TensorView(c4d.data(), {4})); },
        "eps", y, S);
    expect_error_untouched<InvalidArgument>(
        [&] { batch_norm_train(X, C4, C4, kNaN, Y, OUT4, TensorView(c4c.data(), {4}), TensorView(c4d.data(), {4})); },
        "eps", c4b, S);
    expect_error_untouched<ShapeError>(
        [&] { batch_norm_train(TensorView(x.data(), {0, 4}), C4, C4, 1e-5f, TensorView(y.data(), {0, 4}), OUT4,
                               TensorView(c4c.data(), {4}), TensorView(c4d.data(), {4})); },
        "no rows", c4b, S);
    expect_error_untouched<ShapeError>(
        [&] { batch_norm_train(X, C4, C4, 1e-5f, Y, OUT4, OUT4, TensorView(c4d.data(), {4})); }, "overlap", y, S);
    expect_error_untouched<ShapeError>(
        [&] { batch_norm_train(X, C4, TensorView(c3.data(), {3}), 1e-5f, Y, OUT4, TensorView(c4c.data(), {4}),
                               TensorView(c4d.data(), {4})); },
        "beta", y, S);
    expect_error_untouched<ShapeError>(
        [&] { batch_norm_backward(X, X, C4, C4, C4, TensorView(y.data(), {4, 6}), OUT4, TensorView(c4c.data(), {4})); },
        "dx", y, S);
    std::vector<float> negvar = {1.0f, -1.0f, 1.0f, 1.0f};
    expect_error_untouched<InvalidArgument>(
        [&] { batch_norm_eval(X, C4, C4, C4, TensorView(negvar.data(), {4}), 1e-5f, Y); }, "running_var[1]", y, S);
    expect_error_untouched<InvalidArgument>([&] { batch_norm_eval(X, C4, C4, C4, C4, -1.0f, Y); }, "eps", y, S);
    // relu
    expect_error_untouched<ShapeError>([&] { relu(X, TensorView(y.data(), {24})); }, "does not match", y, S);
    expect_error_untouched<ShapeError>([&] { relu_backward(X, X, TensorView(xi.data(), sh)); }, "dx must be f32", y, S);
    expect_error_untouched<ShapeError>([&] { relu(TensorView(static_cast<float *>(nullptr), sh), Y); }, "null", y, S);
    // max pool
    std::vector<uint8_t> am(6, 9);
    expect_error_untouched<ShapeError>(
        [&] { max_pool2x2(TensorView(x.data(), {1, 4, 3, 2}), TensorView(y.data(), {1, 2, 2, 2}),
                          TensorView(am.data(), {1, 2, 1, 2})); },
        "y must be", y, S);
    expect_error_untouched<ShapeError>(
        [&] { max_pool2x2(TensorView(x.data(), {4, 3, 2}), TensorView(y.data(), {2, 1, 2}), TensorView(am.data(), {2, 1, 2})); },
        "rank 4", am, uint8_t(9));
    expect_error_untouched<ShapeError>(
        [&] { max_pool2x2_backward(TensorView(x.data(), {1, 2, 1, 2}), TensorView(am.data(), {1, 2, 1, 2}),
                                   TensorView(y.data(), {1, 6, 2, 2})); },
        "dy must be", y, S);
    expect_error_untouched<ShapeError>(
        [&] { max_pool2x2_int8(TensorView(x.data(), {1, 4, 2, 3}), TensorView(am.data(), {1, 2, 1, 3})); }, "u8 or s8", am,
        uint8_t(9));
    std::vector<int8_t> s8(6, 9);
    std::vector<uint8_t> u8in(24, 1);
    expect_error_untouched<ShapeError>(
        [&] { max_pool2x2_int8(TensorView(u8in.data(), {1, 4, 2, 3}), TensorView(s8.data(), {1, 2, 1, 3})); }, "y must be u8",
        s8, int8_t(9));
    // softmax cross-entropy
    std::vector<int32_t> labels = {0, 1, 2, 3, 4, 1};
    expect_error_untouched<InvalidArgument>(
        [&] { softmax_cross_entropy(X, TensorView(labels.data(), {6}), Y); }, "labels[4] = 4", y, S);
    labels[4] = -1;
    expect_error_untouched<InvalidArgument>(
        [&] { softmax_cross_entropy(X, TensorView(labels.data(), {6}), Y); }, "labels[4] = -1", y, S);
    labels[4] = 0;
    expect_error_untouched<ShapeError>([&] { softmax_cross_entropy(X, TensorView(labels.data(), {5}), Y); }, "labels", y, S);
    expect_error_untouched<ShapeError>(
        [&] { softmax_cross_entropy(X, TensorView(x.data(), {6}), Y); }, "labels must be s32", y, S);
    expect_error_untouched<ShapeError>(
        [&] { softmax_cross_entropy(X, TensorView(labels.data(), {6}), TensorView(y.data(), {4, 6})); }, "dlogits", y, S);
    // optimizers
    std::vector<float> g(24, 1.0f), b(24, S);
    const TensorView P(y.data(), sh), G(g.data(), sh), B(b.data(), sh);
    expect_error_untouched<InvalidArgument>([&] { sgd_momentum_update(P, G, B, kInf, 0.9f, 0.0f, false); }, "lr", y, S);
    expect_error_untouched<InvalidArgument>([&] { sgd_momentum_update(P, G, B, kNaN, 0.9f, 0.0f, false); }, "lr", b, S);
    expect_error_untouched<InvalidArgument>([&] { sgd_momentum_update(P, G, B, 0.1f, -0.9f, 0.0f, false); }, "momentum", y, S);
    expect_error_untouched<InvalidArgument>([&] { sgd_momentum_update(P, G, B, 0.1f, 0.9f, -1.0f, false); }, "weight_decay",
                                            y, S);
    expect_error_untouched<ShapeError>([&] { sgd_momentum_update(P, G, TensorView(b.data(), {24}), 0.1f, 0.9f, 0.0f, false); },
                                       "momentum_buf", y, S);
    expect_error_untouched<ShapeError>([&] { sgd_momentum_update(P, G, P, 0.1f, 0.9f, 0.0f, false); }, "overlap", y, S);
    std::vector<float> v(24, S);
    const TensorView V(v.data(), sh);
    expect_error_untouched<InvalidArgument>([&] { adam_update(P, G, B, V, 0, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f); }, "step", y, S);
    expect_error_untouched<InvalidArgument>([&] { adam_update(P, G, B, V, 1, kNaN, 0.9f, 0.999f, 1e-8f, 0.0f); }, "lr", v, S);
    expect_error_untouched<InvalidArgument>([&] { adam_update(P, G, B, V, 1, 1e-3f, 1.0f, 0.999f, 1e-8f, 0.0f); }, "beta1", b, S);
    expect_error_untouched<InvalidArgument>([&] { adam_update(P, G, B, V, 1, 1e-3f, 0.9f, -0.1f, 1e-8f, 0.0f); }, "beta2", y, S);
    expect_error_untouched<InvalidArgument>([&] { adam_update(P, G, B, V, 1, 1e-3f, 0.9f, 0.999f, -1.0f, 0.0f); }, "eps", y, S);
    expect_error_untouched<ShapeError>([&] { adam_update(P, G, B, TensorView(xi.data(), sh), 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f); },
                                       "exp_avg_sq must be f32", y, S);
    // quantize / dequantize / requantize
    std::vector<uint8_t> q(24, 9);
    const TensorView Q(q.data(), sh);
    expect_error_untouched<InvalidArgument>([&] { quantize(X, QuantParams{0.0f, 0, QuantRange::from_bits(8, false)}, Q); },
                                            "scale", q, uint8_t(9));
    expect_error_untouched<InvalidArgument>([&] { quantize(X, QuantParams{1.0f, 0, QuantRange::from_bits(8, true)}, Q); },
                                            "does not fit", q, uint8_t(9));
    expect_error_untouched<ShapeError>([&] { quantize(X, QuantParams{}, TensorView(q.data(), {24})); }, "does not match", q,
                                       uint8_t(9));
    expect_error_untouched<ShapeError>([&] { quantize(X, QuantParams{}, Y); }, "u8 or s8", y, S);
    expect_error_untouched<ShapeError>([&] { dequantize(X, QuantParams{}, Y); }, "u8 or s8", y, S);
    expect_error_untouched<ShapeError>([&] { dequantize(Q, QuantParams{1.0f, 0, QuantRange::from_bits(8, false)}, TensorView(xi.data(), sh)); },
                                       "y must be f32", xi, 0);
    std::vector<float> m2 = {0.5f, 0.5f}, mneg = {-0.5f};
    expect_error_untouched<ShapeError>(
        [&] { requantize(TensorView(xi.data(), sh), TensorView(m2.data(), {2}), 0, 0, 255, Q); }, "multiplier", q, uint8_t(9));
    expect_error_untouched<InvalidArgument>(
        [&] { requantize(TensorView(xi.data(), sh), TensorView(mneg.data(), {1}), 0, 0, 255, Q); }, "multiplier[0]", q,
        uint8_t(9));
    expect_error_untouched<InvalidArgument>(
        [&] { requantize(TensorView(xi.data(), sh), TensorView(m2.data(), {1}), 0, 10, 5, Q); }, "out_min", q, uint8_t(9));
    expect_error_untouched<InvalidArgument>(
        [&] { requantize(TensorView(xi.data(), sh), TensorView(m2.data(), {1}), 0, -128, 127, Q); }, "within u8", q,
        uint8_t(9));
    expect_error_untouched<InvalidArgument>(
        [&] { requantize(TensorView(xi.data(), sh), TensorView(m2.data(), {1}), 300, 0, 255, Q); }, "out_zero_point", q,
        uint8_t(9));
    expect_error_untouched<ShapeError>(
        [&] { requantize(X, TensorView(m2.data(), {1}), 0, 0, 255, Q); }, "acc must be s32", q, uint8_t(9));
}

}  // namespace
