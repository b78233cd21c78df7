// LSQ / LSQ+ backward (fused dx, dscale, dzero_point) and forward, per tensor
// and per channel, against the scalar reference: dx bit for bit, the sums
// within the documented bound; and the gradients against finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "qforge/qforge.h"
#include "reference/numerics_ref.h"
#include "test_data.h"

namespace {

using namespace qforge;
using qforge::testing::GridCase;

// docs/numerics.md: |d - d_exact| <= 1e-5 * g * sum|terms|. The tiny absolute
// term covers an all-zero sum.
void expect_within_sum_bound(double got, double exact, double abs_sum, const std::string &what) {
    const double bound = 1e-5 * abs_sum + 1e-30;
    EXPECT_LE(std::fabs(got - exact), bound) << what << ": got " << got << " exact " << exact
                                             << " (magnitude sum " << abs_sum << ")";
}

TEST(LsqKernels, PerTensorBackwardMatchesReference) {
    size_t checked = 0;
    for (const auto &c : qforge::testing::grid_cases()) {
        for (size_t n : qforge::testing::kernel_sizes()) {
            for (float zf_offset : {0.0f, 0.5f, -0.25f}) {
                auto x = qforge::testing::grid_inputs(n, c, static_cast<uint32_t>(n + 5), /*with_nonfinite=*/false);
                auto dy = qforge::testing::normal_values(n, static_cast<uint32_t>(n + 6));
                // The learnable zero point is a float; LSQ+ moves it off integers.
                float zf = static_cast<float>(c.zero_point) + zf_offset;
                zf = std::min(zf, static_cast<float>(c.range.qmax));
                LearnableQuantParams p{c.scale, zf, c.range};
                const Shape shape{static_cast<int64_t>(n)};
                std::vector<float> dx(n);
                const float g = lsq_default_grad_scale(static_cast<int64_t>(n), c.range.qmax > 0 ? c.range.qmax : 1);
                auto grads = lsq_backward(TensorView(x.data(), shape), TensorView(dy.data(), shape), p,
                                          TensorView(dx.data(), shape), g);
                const int32_t zb = learnable_zero_point_backward_per_tensor(zf, c.range);
                ref::LearnableSums sums;
                size_t bad = 0;
                for (size_t i = 0; i < n; i++) {
                    auto t = ref::learnable_backward(x[i], dy[i], c.scale, zb, c.range.qmin, c.range.qmax);
                    ref::accumulate(sums, t, c.scale, g);
                    if (!ref::same_bits(dx[i], t.dx) && bad++ < 5) {
                        ADD_FAILURE() << "dx[" << i << "] x=" << x[i] << ": " << dx[i] << " want " << t.dx;
                    }
                }
                std::string what = "scale=" + std::to_string(c.scale) + " zf=" + std::to_string(zf) +
                                   " range=[" + std::to_string(c.range.qmin) + "," + std::to_string(c.range.qmax) +
                                   "] n=" + std::to_string(n);
                EXPECT_EQ(bad, 0u) << what;
                expect_within_sum_bound(grads.dscale, sums.ds, sums.ds_abs, what + " dscale");
                expect_within_sum_bound(grads.dzero_point, sums.dz, sums.dz_abs, what + " dzero_point");
                checked += n;
            }
        }
    }
    std::printf("[ coverage ] LSQ per-tensor backward: %zu elements\n", checked);
}

TEST(LsqKernels, ZeroPointAddedBeforeRoundingInBackward) {
    // x * inv = 0.49999997f, z = 3: the forward rounds x*inv (0) then adds z
    // (3, inside [0, 3]); the learnable backward rounds z + x*inv = 3.5f to 4,
    // outside the range, so dx = 0 and the element counts as clipped.
    const float x = 0.49999997f;
    const QuantRange r{0, 3};
    std::vector<float> xs = {x}, dys = {1.0f}, dx(1), y(1);
    std::vector<uint8_t> mask(1);
    fake_quant(TensorView(xs.data(), {1}), QuantParams{1.0f, 3, r}, TensorView(y.data(), {1}),
               TensorView(mask.data(), {1}));
    EXPECT_EQ(mask[0], 1);
    auto g = lsq_backward(TensorView(xs.data(), {1}), TensorView(dys.data(), {1}), LearnableQuantParams{1.0f, 3.0f, r},
                          TensorView(dx.data(), {1}), 1.0f);
    EXPECT_EQ(dx[0], 0.0f);
    EXPECT_EQ(g.dscale, 0.0f);  // above the range: t = qmax - z = 0
    EXPECT_EQ(g.dzero_point, -1.0f);
}

TEST(LsqKernels, InPlaceBackwardMatchesOutOfPlace) {
    // dx may alias dy (or x) exactly: each task reads its chunk of x and dy
    // for the sums before its dx loop writes that chunk (compute_with order).
    const GridCase c = qforge::testing::grid_cases()[0];
    const size_t n = 100000;
    auto x = qforge::testing::grid_inputs(n, c, 12, false);
    auto dy = qforge::testing::normal_values(n, 13);
    const Shape shape{static_cast<int64_t>(n)};
    LearnableQuantParams p{c.scale, 0.0f, c.range};
    std::vector<float> dx(n);
    auto g = lsq_backward(TensorView(x.data(), shape), TensorView(dy.data(), shape), p, TensorView(dx.data(), shape));
    auto dy_inplace = dy, x_inplace = x;
    auto g1 = lsq_backward(TensorView(x.data(), shape), TensorView(dy_inplace.data(), shape), p,
                           TensorView(dy_inplace.data(), shape));
    auto g2 = lsq_backward(TensorView(x_inplace.data(), shape), TensorView(dy.data(), shape), p,
                           TensorView(x_inplace.data(), shape));
    for (size_t i = 0; i < n; i++) {
        ASSERT_TRUE(ref::same_bits(dy_inplace[i], dx[i])) << "dx aliasing dy, i=" << i;
        ASSERT_TRUE(ref::same_bits(x_inplace[i], dx[i])) << "dx aliasing x, i=" << i;
    }
    EXPECT_EQ(g1.dscale, g.dscale);
    EXPECT_EQ(g2.dscale, g.dscale);
    EXPECT_EQ(g1.dzero_point, g.dzero_point);
}

TEST(LsqKernels, NanPoisonsTheScaleGradient) {
    std::vector<float> x = {0.1f, NAN, 0.3f}, dy = {1, 1, 1}, dx(3);
    auto g = lsq_backward(TensorView(x.data(), {3}), TensorView(dy.data(), {3}),
                          LearnableQuantParams{0.1f, 0.0f, QuantRange::from_bits(8, true)}, TensorView(dx.data(), {3}));
    EXPECT_TRUE(std::isnan(g.dscale));
    EXPECT_TRUE(std::isnan(g.dzero_point));
    EXPECT_EQ(dx[1], 0.0f);
}

TEST(LsqKernels, ForwardIsFakeQuantWithRoundedZeroPoint) {
    const GridCase c = qforge::testing::grid_cases()[5];
    auto x = qforge::testing::grid_inputs(1000, c, 4, true);
    std::vector<float> y(1000), want(1000);
    for (float zf : {3.0f, 2.5f, 3.5f, -7.0f, 100.0f}) {
        lsq_forward(TensorView(x.data(), {1000}), LearnableQuantParams{c.scale, zf, c.range}, TensorView(y.data(), {1000}));
        int32_t z = learnable_zero_point_forward(zf, c.range);
        EXPECT_EQ(z, std::min(std::max(static_cast<int32_t>(std::nearbyint(zf)), c.range.qmin), c.range.qmax));
        for (size_t i = 0; i < x.size(); i++) {
            ASSERT_TRUE(ref::same_bits(y[i], ref::fake_quant(x[i], c.scale, z, c.range.qmin, c.range.qmax).y))
                << "zf=" << zf << " i=" << i;
        }
    }
}

TEST(LsqKernels, PerChannelBackwardMatchesReference) {
    const std::vector<qforge::testing::ChannelLayout> layouts = {{{16, 75}, 0}, {{17, 1000}, 0}, {{2, 3, 50}, 1}, {{64, 17}, 1},
                                         {{5, 7}, 1},   {{1, 1}, 0},      {{256, 4096}, 0}};
    uint32_t seed = 100;
    size_t checked = 0;
    for (const auto &layout : layouts) {
        for (const auto &c : qforge::testing::grid_cases()) {
            const size_t n = layout.numel(), channels = layout.channels(), inner = layout.inner();
            LearnablePerChannelQuantParams p;
            p.axis = layout.axis;
            p.range = c.range;
            for (size_t k = 0; k < channels; k++) {
                p.scales.push_back(c.scale * (1.0f + 0.25f * static_cast<float>(k % 4)));
                p.zero_points.push_back(std::min(static_cast<float>(c.range.qmax),
                                                 static_cast<float>(c.zero_point) + 0.5f * static_cast<float>(k % 3)));
            }
            auto x = qforge::testing::grid_inputs(n, c, seed++, false);
            auto dy = qforge::testing::normal_values(n, seed++);
            std::vector<float> dx(n);
            const float g = 0.01f;
            auto grads = lsq_backward(TensorView(x.data(), layout.shape), TensorView(dy.data(), layout.shape), p,
                                      TensorView(dx.data(), layout.shape), g);
            std::vector<ref::LearnableSums> sums(channels);
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) {
                size_t ch = (i / inner) % channels;
                int32_t z = learnable_zero_point_forward(p.zero_points[ch], c.range);
                auto t = ref::learnable_backward(x[i], dy[i], p.scales[ch], z, c.range.qmin, c.range.qmax);
                ref::accumulate(sums[ch], t, p.scales[ch], g);
                bad += !ref::same_bits(dx[i], t.dx);
            }
            std::string what = TensorView(nullptr, DType::f32, layout.shape).describe() + " axis=" +
                               std::to_string(layout.axis);
            EXPECT_EQ(bad, 0u) << what << " dx";
            for (size_t ch = 0; ch < channels; ch++) {
                expect_within_sum_bound(grads.dscale[ch], sums[ch].ds, sums[ch].ds_abs,
                                        what + " dscale[" + std::to_string(ch) + "]");
                expect_within_sum_bound(grads.dzero_point[ch], sums[ch].dz, sums[ch].dz_abs,
                                        what + " dzero[" + std::to_string(ch) + "]");
            }
            checked += n;
        }
    }
    std::printf("[ coverage ] LSQ per-channel backward: %zu elements over %zu layouts\n", checked, layouts.size());
}

TEST(LsqKernels, PerChannelOnOneChannelEqualsPerTensor) {
    // Integer zero points: per tensor and per channel round a learnable zero
    // point differently in the backward (numerics.md), integers agree.
    const QuantRange r = QuantRange::from_bits(8, false);
    const int64_t channels = 5, k = 4099;
    LearnablePerChannelQuantParams pc{{0.02f, 0.05f, 0.011f, 0.3f, 0.07f}, {0, 3, 128, 255, 17}, 0, r};
    auto x = qforge::testing::normal_values(channels * k, 21);
    auto dy = qforge::testing::normal_values(channels * k, 22);
    std::vector<float> dx(x.size());
    const float g = 0.003f;
    auto grads = lsq_backward(TensorView(x.data(), {channels, k}), TensorView(dy.data(), {channels, k}), pc,
                              TensorView(dx.data(), {channels, k}), g);
    for (int64_t c = 0; c < channels; c++) {
        std::vector<float> xs(x.begin() + c * k, x.begin() + (c + 1) * k);
        std::vector<float> dys(dy.begin() + c * k, dy.begin() + (c + 1) * k), dxs(k);
        auto one = lsq_backward(TensorView(xs.data(), {k}), TensorView(dys.data(), {k}),
                                LearnableQuantParams{pc.scales[c], pc.zero_points[c], r}, TensorView(dxs.data(), {k}), g);
        for (int64_t i = 0; i < k; i++) ASSERT_TRUE(ref::same_bits(dx[c * k + i], dxs[i])) << "channel " << c << " i " << i;
        ref::LearnableSums sums;
        for (int64_t i = 0; i < k; i++) {
            ref::accumulate(sums, ref::learnable_backward(xs[i], dys[i], pc.scales[c], int32_t(pc.zero_points[c]), r.qmin, r.qmax),
                            pc.scales[c], g);
        }
        // Both within the bound of the exact sum, so within twice it of each other.
        expect_within_sum_bound(grads.dscale[c], one.dscale, 2 * sums.ds_abs, "dscale channel " + std::to_string(c));
        expect_within_sum_bound(grads.dzero_point[c], one.dzero_point, 2 * sums.dz_abs, "dzero channel " + std::to_string(c));
    }
}

// A loss L = sum(w * y(x; s, z)) whose gradient LSQ claims to compute. With
// round() treated as the identity (the straight-through estimator) and each
// element's region frozen at the expansion point, y is
//   inside the range:  s * (x/s + z - z + c),  c = round(v) - v, v = x/s + z
//   below / above:     s * (qmin - z)  /  s * (qmax - z)
// a smooth function of (x, s, z), so central finite differences in double
// must match LSQ's dx, ds and dz.
struct SteSurrogate {
    std::vector<float> x, w;
    std::vector<double> c;
    std::vector<int> region;  // -1 below, 0 inside, +1 above
    double qmin, qmax;

    double loss(double s, double z, size_t bump_index = SIZE_MAX, double bump = 0) const {
        double total = 0;
        for (size_t i = 0; i < x.size(); i++) {
            double xi = x[i] + (i == bump_index ? bump : 0.0);
            double y = region[i] < 0 ? s * (qmin - z) : region[i] > 0 ? s * (qmax - z) : s * (xi / s + c[i]);
            total += w[i] * y;
        }
        return total;
    }
};

TEST(LsqKernels, GradientsMatchFiniteDifferencesWhereDifferentiable) {
    const QuantRange r = QuantRange::from_bits(4, false);  // [0, 15]
    const float s = 0.2f, zf = 5.0f;
    const size_t n = 2000;
    SteSurrogate f;
    f.qmin = r.qmin;
    f.qmax = r.qmax;
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-2.0f, 3.5f), w(-1.0f, 1.0f);
    while (f.x.size() < n) {
        float x = u(rng);
        double v = double(x) / s + zf;
        // Stay away from rounding ties, where float and double may round differently.
        if (std::fabs(v - std::nearbyint(v)) > 0.49) continue;
        double rv = std::nearbyint(v);
        f.x.push_back(x);
        f.w.push_back(w(rng));
        f.region.push_back(rv < r.qmin ? -1 : rv > r.qmax ? 1 : 0);
        f.c.push_back(rv - v);
    }
    std::vector<float> dx(n);
    auto grads = lsq_backward(TensorView(f.x.data(), {int64_t(n)}), TensorView(f.w.data(), {int64_t(n)}),
                              LearnableQuantParams{s, zf, r}, TensorView(dx.data(), {int64_t(n)}), 1.0f);
    const double h = 1e-6;
    double fd_s = (f.loss(s + h, zf) - f.loss(s - h, zf)) / (2 * h);
    double fd_z = (f.loss(s, zf + h) - f.loss(s, zf - h)) / (2 * h);
    EXPECT_NEAR(grads.dscale, fd_s, 1e-4 * std::fabs(fd_s) + 1e-3);
    EXPECT_NEAR(grads.dzero_point, fd_z, 1e-4 * std::fabs(fd_z) + 1e-3);
    for (size_t i = 0; i < n; i += 97) {
        double fd_x = (f.loss(s, zf, i, h) - f.loss(s, zf, i, -h)) / (2 * h);
        EXPECT_NEAR(dx[i], fd_x, 1e-5) << "dx[" << i << "] x=" << f.x[i];
    }
}

TEST(LsqKernels, ClippedElementsMatchFiniteDifferencesOfTheTrueLoss) {
    // Outside the range y = (qmax - z) * s or (qmin - z) * s exactly, so there
    // the true loss is differentiable and LSQ's gradient is its gradient.
    const QuantRange r = QuantRange::from_bits(8, true);
    const float s = 0.01f;
    std::vector<float> x, w;
    for (int i = 0; i < 500; i++) {
        x.push_back((i % 2 ? 1.0f : -1.0f) * (2.0f + 0.01f * i));
        w.push_back(std::sin(0.1f * i));
    }
    auto true_loss = [&](double sc) {
        double total = 0;
        for (size_t i = 0; i < x.size(); i++) {
            double q = std::min(std::max(std::nearbyint(x[i] / sc), double(r.qmin)), double(r.qmax));
            total += w[i] * q * sc;
        }
        return total;
    };
    std::vector<float> dx(x.size());
    auto grads = lsq_backward(TensorView(x.data(), {500}), TensorView(w.data(), {500}), LearnableQuantParams{s, 0.0f, r},
                              TensorView(dx.data(), {500}), 1.0f);
    const double h = 1e-7;
    EXPECT_NEAR(grads.dscale, (true_loss(s + h) - true_loss(s - h)) / (2 * h), 1e-3);
    for (float d : dx) EXPECT_EQ(d, 0.0f);
}

}  // namespace
