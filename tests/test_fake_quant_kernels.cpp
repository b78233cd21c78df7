// fake_quant forward (with and without mask) and its STE backward, per tensor
// and per channel, against the scalar reference, bit for bit. Runs once per
// x86 variant (see variant_check.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "qforge/qforge.h"
#include "reference/numerics_ref.h"
#include "test_data.h"

namespace {

using namespace qforge;
using qforge::testing::GridCase;

std::string describe(const GridCase &c) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "scale=%g z=%d range=[%d,%d]", c.scale, c.zero_point, c.range.qmin,
                  c.range.qmax);
    return buf;
}

// Compares y and mask of one run against the reference for per-channel
// parameters scale[c], z[c], where element i belongs to channel (i / inner) % C.
void expect_matches_reference(const std::vector<float> &x, const std::vector<float> &y,
                              const std::vector<uint8_t> *mask, const std::vector<float> &scales,
                              const std::vector<int32_t> &zps, const QuantRange &r, size_t inner,
                              const std::string &what) {
    size_t mismatches = 0;
    for (size_t i = 0; i < x.size(); i++) {
        size_t c = (i / inner) % scales.size();
        auto want = ref::fake_quant(x[i], scales[c], zps[c], r.qmin, r.qmax);
        bool ok = ref::same_bits(y[i], want.y) && (!mask || (*mask)[i] == want.mask);
        if (!ok && mismatches++ < 5) {
            ADD_FAILURE() << what << ": element " << i << " x=" << x[i] << " (channel " << c << "): y=" << y[i]
                          << " want " << want.y
                          << (mask ? " mask=" + std::to_string((*mask)[i]) + " want " + std::to_string(want.mask)
                                   : std::string());
        }
    }
    EXPECT_EQ(mismatches, 0u) << what;
}

TEST(FakeQuantKernels, PerTensorForwardMaskAndBackwardBitExact) {
    size_t checked = 0;
    for (const auto &c : qforge::testing::grid_cases()) {
        for (size_t n : qforge::testing::kernel_sizes()) {
            auto x = qforge::testing::grid_inputs(n, c, static_cast<uint32_t>(n * 31 + c.zero_point), true);
            std::vector<float> y(n), y2(n), dx(n);
            std::vector<uint8_t> mask(n);
            auto dy = qforge::testing::normal_values(n, 7);
            QuantParams p{c.scale, c.zero_point, c.range};
            const Shape shape{static_cast<int64_t>(n)};
            fake_quant(TensorView(x.data(), shape), p, TensorView(y.data(), shape));
            fake_quant(TensorView(x.data(), shape), p, TensorView(y2.data(), shape), TensorView(mask.data(), shape));
            fake_quant_backward(TensorView(dy.data(), shape), TensorView(mask.data(), shape),
                                TensorView(dx.data(), shape));
            const std::string what = describe(c) + " n=" + std::to_string(n);
            expect_matches_reference(x, y, nullptr, {c.scale}, {c.zero_point}, c.range, n, what + " (no mask)");
            expect_matches_reference(x, y2, &mask, {c.scale}, {c.zero_point}, c.range, n, what + " (mask)");
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) bad += !ref::same_bits(dx[i], ref::ste_backward(dy[i], mask[i]));
            EXPECT_EQ(bad, 0u) << what << " (backward)";
            checked += n;
        }
    }
    std::printf("[ coverage ] per-tensor: %zu elements over %zu parameter sets x %zu sizes\n", checked,
                qforge::testing::grid_cases().size(), qforge::testing::kernel_sizes().size());
}

TEST(FakeQuantKernels, BackwardGivesNegativeZeroForNegativeGradientOutsideRange) {
    std::vector<float> dy = {-1.5f, 2.0f, -0.0f}, dx(3);
    std::vector<uint8_t> mask = {0, 0, 1};
    fake_quant_backward(TensorView(dy.data(), {3}), TensorView(mask.data(), {3}), TensorView(dx.data(), {3}));
    EXPECT_TRUE(std::signbit(dx[0]) && dx[0] == 0.0f);
    EXPECT_TRUE(!std::signbit(dx[1]) && dx[1] == 0.0f);
    EXPECT_TRUE(std::signbit(dx[2]));
}

TEST(FakeQuantKernels, InPlaceForwardMatchesOutOfPlace) {
    const GridCase c = qforge::testing::grid_cases()[2];
    auto x = qforge::testing::grid_inputs(1000, c, 3, true);
    std::vector<float> y(x.size()), inplace = x;
    QuantParams p{c.scale, c.zero_point, c.range};
    const Shape shape{static_cast<int64_t>(x.size())};
    fake_quant(TensorView(x.data(), shape), p, TensorView(y.data(), shape));
    fake_quant(TensorView(inplace.data(), shape), p, TensorView(inplace.data(), shape));
    for (size_t i = 0; i < x.size(); i++) ASSERT_TRUE(ref::same_bits(y[i], inplace[i])) << i;
}

using qforge::testing::ChannelLayout;

TEST(FakeQuantKernels, PerChannelForwardMaskAndBackwardBitExact) {
    // Channel axis first (weights), in the middle, and last (NHWC activations,
    // the inner-extent-1 schedule); channel counts 1, 3, 16, 17.
    const std::vector<ChannelLayout> layouts = {
        {{16, 75}, 0}, {{3, 5, 5, 7}, 0}, {{17, 1000}, 0}, {{1, 64}, 1}, {{2, 17, 9, 9}, 1},
        {{4, 7, 7, 16}, 3}, {{1000, 17}, 1}, {{3, 1, 4}, 1}, {{64, 3}, 1}, {{256, 4096}, 0},
    };
    size_t checked = 0;
    uint32_t seed = 11;
    for (const auto &layout : layouts) {
        for (const auto &c : qforge::testing::grid_cases()) {
            const size_t n = layout.numel(), channels = layout.channels(), inner = layout.inner();
            PerChannelQuantParams p;
            p.axis = layout.axis;
            p.range = c.range;
            for (size_t k = 0; k < channels; k++) {
                p.scales.push_back(c.scale * (1.0f + 0.37f * static_cast<float>(k % 5)));
                p.zero_points.push_back(std::min(c.range.qmax, c.zero_point + static_cast<int32_t>(k % 3)));
            }
            auto x = qforge::testing::grid_inputs(n, c, seed++, true);
            auto dy = qforge::testing::normal_values(n, seed++);
            std::vector<float> y(n), y2(n), dx(n);
            std::vector<uint8_t> mask(n);
            fake_quant(TensorView(x.data(), layout.shape), p, TensorView(y.data(), layout.shape));
            fake_quant(TensorView(x.data(), layout.shape), p, TensorView(y2.data(), layout.shape),
                       TensorView(mask.data(), layout.shape));
            fake_quant_backward(TensorView(dy.data(), layout.shape), TensorView(mask.data(), layout.shape),
                                TensorView(dx.data(), layout.shape));
            std::string what = describe(c) + " shape=" + TensorView(nullptr, DType::f32, layout.shape).describe() +
                               " axis=" + std::to_string(layout.axis);
            expect_matches_reference(x, y, nullptr, p.scales, p.zero_points, c.range, inner, what);
            expect_matches_reference(x, y2, &mask, p.scales, p.zero_points, c.range, inner, what + " (mask)");
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) bad += !ref::same_bits(dx[i], ref::ste_backward(dy[i], mask[i]));
            EXPECT_EQ(bad, 0u) << what << " (backward)";
            checked += n;
        }
    }
    std::printf("[ coverage ] per-channel: %zu elements over %zu layouts x %zu parameter sets\n", checked,
                layouts.size(), qforge::testing::grid_cases().size());
}

TEST(FakeQuantKernels, PerChannelOnOneChannelEqualsPerTensor) {
    const GridCase c = qforge::testing::grid_cases()[3];
    const Shape shape{5, 333};
    auto x = qforge::testing::grid_inputs(5 * 333, c, 99, true);
    PerChannelQuantParams pc{{0.1f, 0.02f, c.scale, 0.3f, 1.0f}, {0, 5, c.zero_point, 200, 255}, 0, c.range};
    std::vector<float> y(x.size());
    fake_quant(TensorView(x.data(), shape), pc, TensorView(y.data(), shape));
    std::vector<float> slice(x.begin() + 2 * 333, x.begin() + 3 * 333), ys(333);
    fake_quant(TensorView(slice.data(), {333}), QuantParams{c.scale, c.zero_point, c.range}, TensorView(ys.data(), {333}));
    for (size_t i = 0; i < 333; i++) ASSERT_TRUE(ref::same_bits(y[2 * 333 + i], ys[i])) << i;
}

}  // namespace
