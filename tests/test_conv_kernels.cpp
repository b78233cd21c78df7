// int8 conv2d against the scalar reference, bit for bit: every path
// (depthwise, 1x1 on the GEMM, im2col + GEMM, grouped), output kind and
// geometry the issue lists; once per x86 variant (variant_check.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <random>
#include <string>

#include "error_expectations.h"
#include "qforge/qforge.h"
#include "reference/conv_ref.h"
#include "reference/gemm_ref.h"

namespace {

using namespace qforge;

struct Case {
    const char *name;
    int64_t N, H, W, C, O, KH, KW;
    Conv2dGeometry g;
    bool signed_x = false;
    int32_t zx = 0;
};

Conv2dGeometry geom(int stride, int pad, int dilation = 1, int groups = 1) {
    Conv2dGeometry g;
    g.stride_h = g.stride_w = stride;
    g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = pad;
    g.dilation_h = g.dilation_w = dilation;
    g.groups = groups;
    return g;
}

template<typename XT>
void check_case(const Case &c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> dx(c.signed_x ? -128 : 0, c.signed_x ? 127 : 255), dw(-128, 127), db(-3000, 3000);
    std::vector<XT> x(c.N * c.H * c.W * c.C);
    std::vector<int8_t> w(c.O * c.KH * c.KW * (c.C / c.g.groups));
    std::vector<int32_t> bias(c.O);
    for (auto &v : x) v = static_cast<XT>(dx(rng));
    for (auto &v : w) v = static_cast<int8_t>(dw(rng));
    for (auto &v : bias) v = db(rng);
    PackedConvWeights pw(TensorView(w.data(), {c.O, c.KH, c.KW, c.C / c.g.groups}), c.g.groups);
    const Shape ys = conv2d_output_shape({c.N, c.H, c.W, c.C}, pw, c.g);
    const auto want = ref::conv2d_acc(x, c.N, c.H, c.W, c.C, w, c.O, c.KH, c.KW, bias, c.zx, c.g, ys[1], ys[2]);
    const TensorView xv(x.data(), {c.N, c.H, c.W, c.C});
    const GemmOptions opt{c.zx, bias.data()};
    const std::string what = std::string(c.name) + (c.signed_x ? " (s8 x)" : " (u8 x)");

    std::vector<int32_t> y32(want.size(), -1);
    conv2d_s32(xv, pw, c.g, opt, TensorView(y32.data(), ys));
    size_t bad = 0;
    for (size_t i = 0; i < want.size(); i++) bad += y32[i] != want[i];
    EXPECT_EQ(bad, 0u) << what << " s32";

    std::vector<float> mult(c.O);
    for (int64_t o = 0; o < c.O; o++) mult[o] = 0.0005f + 0.0001f * static_cast<float>(o % 7);
    for (bool out_signed : {false, true}) {
        Requantization rq{mult, out_signed ? 3 : 120, out_signed ? -128 : 0, out_signed ? 127 : 255};
        if (seed % 2) rq.out_min = rq.out_zero_point;  // ReLU
        std::vector<uint8_t> y8(want.size(), 0xCD);
        conv2d_requantized(xv, pw, c.g, opt, rq, TensorView(y8.data(), out_signed ? DType::s8 : DType::u8, ys));
        bad = 0;
        for (size_t i = 0; i < want.size(); i++) {
            const int32_t e = ref::requantize(want[i], mult[i % c.O], rq.out_zero_point, rq.out_min, rq.out_max);
            bad += (out_signed ? int32_t(int8_t(y8[i])) : int32_t(y8[i])) != e;
        }
        EXPECT_EQ(bad, 0u) << what << (out_signed ? " s8" : " u8");
    }
    std::vector<float> yf(want.size());
    conv2d_dequantized(xv, pw, c.g, opt, {0.25f}, TensorView(yf.data(), ys));
    bad = 0;
    for (size_t i = 0; i < want.size(); i++) bad += yf[i] != ref::dequantize(want[i], 0.25f);
    EXPECT_EQ(bad, 0u) << what << " f32";
}

TEST(ConvKernels, GeometriesFromTheIssueBitExact) {
    const std::vector<Case> cases = {
        {"1x1 (GEMM on the input)", 1, 7, 9, 16, 24, 1, 1, geom(1, 0)},
        {"1x1, C_in % 4 != 0 (im2col)", 2, 5, 5, 6, 7, 1, 1, geom(1, 0), true, -3},
        {"1x1 pad 1 (border = bias)", 1, 4, 5, 8, 9, 1, 1, geom(1, 1), false, 17},
        {"3x3 pad 3 (wider than the kernel)", 1, 5, 5, 4, 8, 3, 3, geom(1, 3), false, 2},
        {"3x3 C_out 130 (three panels, direct)", 1, 7, 7, 8, 130, 3, 3, geom(1, 1), false, 3},
        {"1x1 stride 2", 1, 8, 8, 16, 8, 1, 1, geom(2, 0)},
        {"3x3 stride 1 pad 1", 1, 12, 10, 13, 17, 3, 3, geom(1, 1), false, 9},
        {"3x3 stride 2 pad 1", 2, 11, 13, 8, 64, 3, 3, geom(2, 1), true, 5},
        {"3x3 pad 0", 1, 9, 9, 5, 3, 3, 3, geom(1, 0)},
        {"5x5 pad 2", 1, 10, 10, 3, 16, 5, 5, geom(1, 2), false, 128},
        {"3x3 dilation 2 pad 2", 1, 14, 14, 8, 8, 3, 3, geom(1, 2, 2)},
        {"1x1 spatial input, 3x3 pad 1", 3, 1, 1, 20, 33, 3, 3, geom(1, 1)},
        {"grouped (2 groups)", 1, 8, 8, 12, 10, 3, 3, geom(1, 1, 1, 2), true, 0},
        {"depthwise 3x3", 2, 9, 9, 19, 19, 3, 3, geom(1, 1, 1, 19), false, 77},
        {"depthwise 3x3 stride 2", 1, 16, 16, 32, 32, 3, 3, geom(2, 1, 1, 32), true, -1},
        {"depthwise 5x5 dilation 2", 1, 12, 12, 5, 5, 5, 5, geom(1, 2, 2, 5)},
        // Small C_in and narrow C_out: the direct kernel over input rows
        // (panels of 1, 2 and 4 vectors), batches > 1, as the QAT driver's network.
        {"5x5 pad 2, C_in 1, C_out 16 (rows kernel)", 3, 12, 11, 1, 16, 5, 5, geom(1, 2), false, 7},
        {"5x5 pad 2, C_in 1, C_out 32", 2, 9, 13, 1, 32, 5, 5, geom(1, 2), true, -5},
        {"5x5 pad 2, C_in 2, C_out 16", 2, 10, 10, 2, 16, 5, 5, geom(1, 2), false, 200},
        {"5x5 pad 2, C_in 2, C_out 32", 3, 7, 9, 2, 32, 5, 5, geom(1, 2)},
        {"5x5 pad 2, C_in 3, C_out 16", 2, 8, 15, 3, 16, 5, 5, geom(1, 2), true, 11},
        {"5x5 pad 2, C_in 3, C_out 32", 2, 11, 8, 3, 32, 5, 5, geom(1, 2), false, 255},
        {"5x5 pad 2, C_in 16, C_out 32 (narrow panel)", 3, 14, 14, 16, 32, 5, 5, geom(1, 2), false, 3},
        {"5x5 pad 2, C_in 16, C_out 20 (narrow, ragged)", 2, 9, 7, 16, 20, 5, 5, geom(1, 2), true, 0},
        {"3x3 pad 1, C_in 3, C_out 70 (wide panels)", 2, 9, 10, 3, 70, 3, 3, geom(1, 1), false, 4},
        {"7x7 stride 2 pad 3, C_in 3, C_out 64", 2, 15, 16, 3, 64, 7, 7, geom(2, 3), false, 9},
        {"3x3 stride 2 dilation 2, C_in 1, C_out 8", 2, 13, 12, 1, 8, 3, 3, [] {
             Conv2dGeometry g = geom(2, 2);
             g.dilation_h = 2;  // dilation_w = 1: the rows kernel
             return g;
         }()},
        {"1x1, C_in 3, C_out 5", 2, 4, 6, 3, 5, 1, 1, geom(1, 0), true, 1},
        {"rectangular 1x3, asymmetric pad", 1, 6, 11, 4, 5, 1, 3, [] {
             Conv2dGeometry g;
             g.pad_left = 2;
             g.pad_right = 0;
             return g;
         }()},
    };
    uint32_t seed = 1;
    for (const auto &c : cases) {
        SCOPED_TRACE(c.name);
        if (c.signed_x) {
            check_case<int8_t>(c, seed++);
        } else {
            check_case<uint8_t>(c, seed++);
        }
    }
    std::printf("[ coverage ] conv2d: %zu geometries x {s32, u8, s8, f32} outputs\n", cases.size());
}

TEST(ConvKernels, BadInputIsRejectedAndNothingWritten) {
    std::vector<uint8_t> x(1 * 6 * 6 * 4, 1);
    std::vector<int8_t> w(8 * 3 * 3 * 4, 1);
    PackedConvWeights pw(TensorView(w.data(), {8, 3, 3, 4}), 1);
    std::vector<int32_t> y(1 * 6 * 6 * 8, 42);
    const TensorView xv(x.data(), {1, 6, 6, 4}), yv(y.data(), {1, 6, 6, 8});
    auto expect = [&](const std::function<void()> &f, const std::string &needle) {
        qforge::testing::expect_error_untouched(f, needle, y, 42);
    };
    expect([&] { conv2d_s32(xv, pw, geom(0, 1), {}, yv); }, "conv2d_s32: strides must be in [1, 65536], got 0x0");
    expect([&] { conv2d_s32(xv, pw, geom(1, 70000), {}, yv); }, "pad_top = 70000 is out of range");
    expect([&] { conv2d_s32(xv, pw, geom(1, 1), {}, TensorView(reinterpret_cast<int32_t *>(x.data()), {1, 6, 6, 8})); },
           "overlap");
    EXPECT_THROW(conv2d_output_shape({1, 6, 6, 4}, pw, geom(0, 1)), InvalidArgument);  // no division by zero
    EXPECT_THROW(conv2d_output_shape({1, -6, 6, 4}, pw, geom(1, 1)), ShapeError);
    expect([&] { conv2d_s32(xv, pw, geom(1, -1), {}, yv); }, "out of range");
    expect([&] { conv2d_s32(xv, pw, geom(1, 1, 0), {}, yv); }, "dilations must be in [1, 65536]");
    expect([&] { conv2d_s32(xv, pw, geom(1, 0), {}, yv); }, "y must be s32[1,4,4,8]");  // output shape wrong
    expect([&] { conv2d_s32(TensorView(x.data(), {1, 6, 3, 8}), pw, geom(1, 1), {}, yv); }, "has 8 channels");
    expect([&] { conv2d_s32(TensorView(x.data(), {6, 6, 4}), pw, geom(1, 1), {}, yv); }, "NHWC");
    expect([&] { conv2d_s32(xv, pw, geom(1, 1, 1, 2), {}, yv); }, "groups = 2");
    expect([&] { conv2d_s32(xv, pw, geom(1, 1), GemmOptions{300, nullptr}, yv); }, "the zero point of x, 300");
    std::vector<int8_t> big(8 * 7 * 7 * 4);
    PackedConvWeights pbig(TensorView(big.data(), {8, 7, 7, 4}), 1);
    expect([&] { conv2d_s32(xv, pbig, geom(1, 0), {}, yv); }, "larger than the padded input");
    expect([&] { conv2d_requantized(xv, pw, geom(1, 1), {}, Requantization{{0.0f}, 0, 0, 255},
                                    TensorView(reinterpret_cast<uint8_t *>(y.data()), {1, 6, 6, 8})); },
           "multiplier[0] must be finite and > 0");
    expect([&] { conv2d_requantized(xv, pw, geom(1, 1), {}, Requantization{{0.1f}, 0, 10, 5},
                                    TensorView(reinterpret_cast<uint8_t *>(y.data()), {1, 6, 6, 8})); },
           "clamp bounds [10, 5]");
    EXPECT_THROW(PackedConvWeights(TensorView(w.data(), {8, 3, 3, 4}), 3), InvalidArgument);  // 3 does not divide 8
    EXPECT_THROW(PackedConvWeights(TensorView(w.data(), {8, 36}), 1), ShapeError);           // not OHWI
}

}  // namespace
