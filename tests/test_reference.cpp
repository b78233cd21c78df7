// The reference itself, on hand-computed cases: if these fail, the reference
// (and so every kernel test) is wrong. Values worked out from
// docs/numerics.md by hand; comments give the arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "reference/numerics_ref.h"

namespace {

using qforge::ref::fake_quant;
using qforge::ref::learnable_backward;
using qforge::ref::same_bits;

TEST(Reference, TiesRoundHalfToEven) {
    // s = 0.5, z = 0, [-128, 127]: x * inv = x * 2.
    EXPECT_EQ(fake_quant(0.25f, 0.5f, 0, -128, 127).y, 0.0f);   // 0.5 -> 0
    EXPECT_EQ(fake_quant(0.75f, 0.5f, 0, -128, 127).y, 1.0f);   // 1.5 -> 2 -> 1.0
    EXPECT_EQ(fake_quant(1.25f, 0.5f, 0, -128, 127).y, 1.0f);   // 2.5 -> 2
    EXPECT_EQ(fake_quant(-0.75f, 0.5f, 0, -128, 127).y, -1.0f); // -1.5 -> -2
    EXPECT_EQ(fake_quant(-1.25f, 0.5f, 0, -128, 127).y, -1.0f); // -2.5 -> -2
    // -0.5 rounds to -0.0; -0.0 + 0.0 = +0.0, so y is +0.0.
    EXPECT_TRUE(same_bits(fake_quant(-0.25f, 0.5f, 0, -128, 127).y, 0.0f));
}

TEST(Reference, ClipBoundariesAndMask) {
    // s = 0.5, [-128, 127]: 63.25 -> 126.5 -> 126 inside; 63.75 -> 127.5 -> 128 clipped to 127.
    auto a = fake_quant(63.25f, 0.5f, 0, -128, 127);
    EXPECT_EQ(a.y, 63.0f);
    EXPECT_EQ(a.mask, 1);
    auto b = fake_quant(63.75f, 0.5f, 0, -128, 127);
    EXPECT_EQ(b.y, 63.5f);
    EXPECT_EQ(b.mask, 0);
    auto c = fake_quant(63.5f, 0.5f, 0, -128, 127);  // exactly qmax
    EXPECT_EQ(c.y, 63.5f);
    EXPECT_EQ(c.mask, 1);
    auto d = fake_quant(-64.25f, 0.5f, 0, -128, 127);  // -128.5 -> -128: on qmin
    EXPECT_EQ(d.y, -64.0f);
    EXPECT_EQ(d.mask, 1);
    auto e = fake_quant(-64.75f, 0.5f, 0, -128, 127);  // -129.5 -> -130: below
    EXPECT_EQ(e.y, -64.0f);
    EXPECT_EQ(e.mask, 0);
}

TEST(Reference, ZeroPoint) {
    // s = 1, z = 3, [0, 15]: representable x in [-3, 12].
    EXPECT_EQ(fake_quant(12.0f, 1.0f, 3, 0, 15).y, 12.0f);
    EXPECT_EQ(fake_quant(12.5f, 1.0f, 3, 0, 15).mask, 1);   // 12 + 3 = 15
    EXPECT_EQ(fake_quant(13.0f, 1.0f, 3, 0, 15).mask, 0);   // 16
    EXPECT_EQ(fake_quant(13.0f, 1.0f, 3, 0, 15).y, 12.0f);
    EXPECT_EQ(fake_quant(-3.5f, 1.0f, 3, 0, 15).y, -3.0f);  // -4 + 3 = -1 -> 0 -> -3
    EXPECT_EQ(fake_quant(-3.5f, 1.0f, 3, 0, 15).mask, 0);
}

TEST(Reference, NonFiniteHugeAndDenormal) {
    auto inf = fake_quant(INFINITY, 0.1f, 2, -8, 7);
    EXPECT_EQ(inf.y, (7 - 2) * 0.1f);
    EXPECT_EQ(inf.mask, 0);
    auto ninf = fake_quant(-INFINITY, 0.1f, 2, -8, 7);
    EXPECT_EQ(ninf.y, (-8 - 2) * 0.1f);
    auto nan = fake_quant(NAN, 0.1f, 0, -8, 7);
    EXPECT_TRUE(std::isnan(nan.y));
    EXPECT_EQ(nan.mask, 0);
    EXPECT_EQ(fake_quant(1e30f, 0.1f, 0, -8, 7).y, 7 * 0.1f);
    EXPECT_EQ(fake_quant(-3e38f, 0.1f, 0, -8, 7).mask, 0);
    // Denormal input, min-normal scale 2^-126: x = 3 * 2^-128 -> x * 2^126 = 0.75 -> 1 -> 2^-126.
    const float x = std::ldexp(3.0f, -128), s = std::ldexp(1.0f, -126);
    EXPECT_EQ(fake_quant(x, s, 0, -128, 127).y, s);
    EXPECT_EQ(fake_quant(1e-40f, 1e-3f, 0, -128, 127).y, 0.0f);
}

TEST(Reference, SteBackwardKeepsTheSignOfZero) {
    EXPECT_TRUE(same_bits(qforge::ref::ste_backward(-2.0f, 0), -0.0f));
    EXPECT_TRUE(same_bits(qforge::ref::ste_backward(2.0f, 0), 0.0f));
    EXPECT_EQ(qforge::ref::ste_backward(-2.0f, 1), -2.0f);
}

TEST(Reference, LearnableBackwardTerms) {
    // s = 1, z = 0, [-4, 3].
    auto in = learnable_backward(1.25f, 2.0f, 1.0f, 0, -4, 3);  // xq = 1, t = 1 - 1.25
    EXPECT_EQ(in.dx, 2.0f);
    EXPECT_EQ(in.ds_term, 2.0f * -0.25f);
    EXPECT_EQ(in.dz_term, 0.0f);
    auto above = learnable_backward(5.0f, 2.0f, 1.0f, 0, -4, 3);  // t = qmax - z = 3
    EXPECT_EQ(above.dx, 0.0f);
    EXPECT_EQ(above.ds_term, 6.0f);
    EXPECT_EQ(above.dz_term, 2.0f);
    auto below = learnable_backward(-6.0f, -1.0f, 1.0f, 1, -4, 3);  // t = qmin - z = -5
    EXPECT_EQ(below.ds_term, 5.0f);
    EXPECT_TRUE(same_bits(below.dx, -0.0f));
    // z added before rounding: 0.49999997 + 3 rounds to 3.5 in fp32, then to 4 > qmax 3.
    auto tie = learnable_backward(0.49999997f, 1.0f, 1.0f, 3, 0, 3);
    EXPECT_EQ(tie.dx, 0.0f);
    EXPECT_EQ(fake_quant(0.49999997f, 1.0f, 3, 0, 3).mask, 1);  // while the forward's mask is 1
}

}  // namespace
