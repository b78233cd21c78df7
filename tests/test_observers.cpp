// Observers against PyTorch 1.13.1: the expected (scale, zero point) below
// were printed by torch.ao.quantization's MinMaxObserver,
// MovingAverageMinMaxObserver(averaging_constant=0.25) and
// PerChannelMinMaxObserver on the same two batches (exact fp32 values, hex).
#include <gtest/gtest.h>

#include <cmath>

#include "qforge/qforge.h"

namespace {

using namespace qforge;

std::vector<float> batch_a = {-1.7f, 0.3f, 2.9f, 0.05f};
std::vector<float> batch_b = {-0.2f, 4.1f, 1.0f, -3.3f};

struct Expected {
    QScheme scheme;
    QuantRange range;
    float minmax_scale;
    int32_t minmax_zp;
    float movavg_scale;
    int32_t movavg_zp;
};

TEST(Observers, PerTensorMatchPyTorch) {
    const std::vector<Expected> cases = {
        {QScheme::affine, {0, 255}, 0x1.db750ep-6f, 114, 0x1.5487bcp-6f, 101},
        {QScheme::affine, {-128, 127}, 0x1.db750ep-6f, -14, 0x1.5487bcp-6f, -27},
        {QScheme::affine, {0, 15}, 0x1.f92c5ep-2f, 7, 0x1.69d038p-2f, 6},
        {QScheme::affine, {-8, 7}, 0x1.f92c5ep-2f, -1, 0x1.69d038p-2f, -2},
        {QScheme::symmetric, {0, 255}, 0x1.076dd4p-5f, 128, 0x1.9b34cep-6f, 128},
        {QScheme::symmetric, {-128, 127}, 0x1.076dd4p-5f, 0, 0x1.9b34cep-6f, 0},
        {QScheme::symmetric, {0, 15}, 0x1.17e4b2p-1f, 7, 0x1.b4e81cp-2f, 7},
        {QScheme::symmetric, {-8, 7}, 0x1.17e4b2p-1f, 0, 0x1.b4e81cp-2f, 0},
    };
    for (const auto &c : cases) {
        Observer minmax(ObserverOptions::min_max(c.range, c.scheme));
        Observer movavg(ObserverOptions::moving_average(c.range, c.scheme, 0.25f));
        for (auto *o : {&minmax, &movavg}) {
            o->observe(TensorView(batch_a.data(), {4}));
            o->observe(TensorView(batch_b.data(), {4}));
        }
        auto p = minmax.qparams(), q = movavg.qparams();
        std::string what = std::string(c.scheme == QScheme::affine ? "affine" : "symmetric") + " [" +
                           std::to_string(c.range.qmin) + "," + std::to_string(c.range.qmax) + "]";
        EXPECT_EQ(p.scale, c.minmax_scale) << what;
        EXPECT_EQ(p.zero_point, c.minmax_zp) << what;
        EXPECT_EQ(q.scale, c.movavg_scale) << what << " moving average";
        EXPECT_EQ(q.zero_point, c.movavg_zp) << what << " moving average";
    }
}

TEST(Observers, PerChannelMatchPyTorch) {
    std::vector<float> w = {0.5f, -0.25f, 1.0f, -3.0f, 2.0f, 0.1f};  // [2, 3]
    Observer sym(ObserverOptions::per_channel(QuantRange::from_bits(8, true), QScheme::symmetric, 0));
    sym.observe(TensorView(w.data(), {2, 3}));
    auto p = sym.channel_qparams();
    ASSERT_EQ(p.scales.size(), 2u);
    EXPECT_EQ(p.scales[0], 0x1.010102p-7f);
    EXPECT_EQ(p.scales[1], 0x1.818182p-6f);
    EXPECT_EQ(p.zero_points, (std::vector<int32_t>{0, 0}));
    EXPECT_EQ(p.axis, 0);

    Observer aff(ObserverOptions::per_channel(QuantRange::from_bits(8, false), QScheme::affine, 1));
    aff.observe(TensorView(w.data(), {2, 3}));
    auto q = aff.channel_qparams();
    ASSERT_EQ(q.scales.size(), 3u);
    EXPECT_EQ(q.scales[0], 0x1.c1c1c2p-7f);
    EXPECT_EQ(q.scales[1], 0x1.212122p-7f);
    EXPECT_EQ(q.scales[2], 0x1.010102p-8f);
    EXPECT_EQ(q.zero_points, (std::vector<int32_t>{219, 28, 0}));
}

TEST(Observers, RangeAlwaysIncludesZeroAndScaleHasEpsFloor) {
    std::vector<float> pos = {0.5f, 2.0f}, zeros = {0, 0, 0, 0};
    Observer o(ObserverOptions::min_max(QuantRange::from_bits(8, false), QScheme::affine));
    o.observe(TensorView(pos.data(), {2}));
    EXPECT_EQ(o.qparams().scale, 0x1.010102p-7f);  // (2 - 0) / 255: min clamped up to 0
    EXPECT_EQ(o.qparams().zero_point, 0);
    Observer z(ObserverOptions::min_max(QuantRange::from_bits(8, false), QScheme::affine));
    z.observe(TensorView(zeros.data(), {4}));
    EXPECT_EQ(z.qparams().scale, 0x1p-23f);  // torch.finfo(float32).eps
    EXPECT_EQ(z.qparams().zero_point, 0);
}

TEST(Observers, NothingObservedGivesUnitScale) {
    Observer o(ObserverOptions::min_max(QuantRange::from_bits(8, true), QScheme::symmetric));
    EXPECT_FALSE(o.has_observations());
    EXPECT_EQ(o.qparams().scale, 1.0f);
    EXPECT_EQ(o.qparams().zero_point, 0);
}

TEST(Observers, ResetForgetsTheRange) {
    Observer o(ObserverOptions::min_max(QuantRange::from_bits(8, true), QScheme::symmetric));
    o.observe(TensorView(batch_b.data(), {4}));
    o.reset();
    o.observe(TensorView(batch_a.data(), {4}));
    EXPECT_EQ(o.min()[0], -1.7f);
    EXPECT_EQ(o.max()[0], 2.9f);
}

TEST(Observers, BadInputIsRejected) {
    std::vector<float> nan = {1.0f, NAN};
    Observer o(ObserverOptions::min_max(QuantRange::from_bits(8, true), QScheme::symmetric));
    EXPECT_THROW(o.observe(TensorView(nan.data(), {2})), InvalidArgument);
    std::vector<float> inf = {1.0f, -INFINITY};
    EXPECT_THROW(o.observe(TensorView(inf.data(), {2})), InvalidArgument);
    EXPECT_FALSE(o.has_observations());
    EXPECT_THROW(o.channel_qparams(), InvalidArgument);
    std::vector<int32_t> ints = {1, 2};
    EXPECT_THROW(o.observe(TensorView(ints.data(), {2})), ShapeError);

    Observer pc(ObserverOptions::per_channel(QuantRange::from_bits(8, true), QScheme::symmetric, 2));
    std::vector<float> w(6, 1.0f);
    EXPECT_THROW(pc.observe(TensorView(w.data(), {2, 3})), InvalidArgument);  // axis 2 of a rank-2 tensor
    Observer pc1(ObserverOptions::per_channel(QuantRange::from_bits(8, true), QScheme::symmetric, 1));
    pc1.observe(TensorView(w.data(), {2, 3}));
    EXPECT_THROW(pc1.observe(TensorView(w.data(), {3, 2})), ShapeError);  // channel count changed
    EXPECT_THROW(pc1.qparams(), InvalidArgument);
    EXPECT_THROW(Observer(ObserverOptions::moving_average(QuantRange::from_bits(8, true), QScheme::affine, 0.0f)),
                 InvalidArgument);
    EXPECT_THROW(Observer(ObserverOptions::min_max(QuantRange{5, 5}, QScheme::affine)), InvalidArgument);
}

}  // namespace
