// int8 GEMM against the scalar reference, bit for bit, for every output kind,
// activation type, zero point, per-tensor / per-channel multipliers, clamp
// bounds and shapes; once per x86 variant (variant_check.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>

#include "error_expectations.h"
#include "qforge/qforge.h"
#include "reference/gemm_ref.h"

namespace {

using namespace qforge;

struct Problem {
    int64_t M, N, K;
    bool signed_a;
    int32_t za;
    int a_bits = 8, w_bits = 8;  // narrower values exercise 4- and 2-bit models
    uint32_t seed = 1;
};

std::string describe(const Problem &p) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "M=%lld N=%lld K=%lld a=%s za=%d a_bits=%d w_bits=%d", (long long)p.M,
                  (long long)p.N, (long long)p.K, p.signed_a ? "s8" : "u8", p.za, p.a_bits, p.w_bits);
    return buf;
}

template<typename AT>
void check_problem(const Problem &p, size_t *elements) {
    std::mt19937 rng(p.seed);
    const int a_lo = p.signed_a ? -(1 << (p.a_bits - 1)) : 0;
    const int a_hi = p.signed_a ? (1 << (p.a_bits - 1)) - 1 : (1 << p.a_bits) - 1;
    const int w_lim = (1 << (p.w_bits - 1)) - 1;
    std::uniform_int_distribution<int> da(a_lo, a_hi), dw(-w_lim - 1, w_lim), db(-50000, 50000);
    std::vector<AT> a(p.M * p.K);
    std::vector<int8_t> w(p.N * p.K);
    std::vector<int32_t> bias(p.N);
    for (auto &v : a) v = static_cast<AT>(da(rng));
    for (auto &v : w) v = static_cast<int8_t>(dw(rng));
    for (auto &v : bias) v = db(rng);
    const std::string what = describe(p);

    PackedGemmWeights packed(TensorView(w.data(), {p.N, p.K}));
    GemmOptions opt{p.za, bias.data()};
    auto want = ref::gemm_acc(a, w, bias, p.za, p.M, p.N, p.K);
    TensorView av(a.data(), {p.M, p.K});

    // s32
    std::vector<int32_t> c32(p.M * p.N, -7);
    gemm_s32(av, packed, opt, TensorView(c32.data(), {p.M, p.N}));
    size_t bad = 0;
    for (size_t i = 0; i < want.size(); i++) bad += c32[i] != want[i];
    EXPECT_EQ(bad, 0u) << what << " s32";

    // Requantized, per tensor and per channel, u8 and s8, with ReLU-style bounds.
    std::vector<float> per_channel(p.N);
    std::uniform_real_distribution<float> dm(1e-5f, 4e-3f);
    for (auto &m : per_channel) m = dm(rng);
    for (const auto &mult : {std::vector<float>{0.0009f}, per_channel}) {
        for (bool out_signed : {false, true}) {
            Requantization rq;
            rq.multiplier = mult;
            rq.out_zero_point = out_signed ? -5 : 131;
            rq.out_min = out_signed ? -128 : 0;
            rq.out_max = out_signed ? 127 : 255;
            if (p.seed % 2) rq.out_min = rq.out_zero_point;  // fused ReLU
            if (p.seed % 3 == 0) rq.out_max = rq.out_zero_point + 40;  // fused ReLU6-like cap
            std::vector<uint8_t> c8(p.M * p.N, 0xAB);
            TensorView cv(c8.data(), out_signed ? DType::s8 : DType::u8, {p.M, p.N});
            gemm_requantized(av, packed, opt, rq, cv);
            bad = 0;
            for (int64_t m = 0; m < p.M; m++) {
                for (int64_t n = 0; n < p.N; n++) {
                    const float mu = mult.size() == 1 ? mult[0] : mult[n];
                    int32_t e = ref::requantize(want[m * p.N + n], mu, rq.out_zero_point, rq.out_min, rq.out_max);
                    int32_t got = out_signed ? int32_t(int8_t(c8[m * p.N + n])) : int32_t(c8[m * p.N + n]);
                    if (got != e && bad++ < 3) {
                        ADD_FAILURE() << what << (out_signed ? " s8" : " u8") << " at (" << m << "," << n
                                      << "): got " << got << " want " << e << " acc " << want[m * p.N + n];
                    }
                }
            }
            EXPECT_EQ(bad, 0u) << what << " requantized " << (out_signed ? "s8" : "u8")
                               << (mult.size() == 1 ? " per-tensor" : " per-channel");
        }
    }

    // Dequantized f32 (per channel).
    std::vector<float> cf(p.M * p.N, -1.0f);
    gemm_dequantized(av, packed, opt, per_channel, TensorView(cf.data(), {p.M, p.N}));
    bad = 0;
    for (int64_t m = 0; m < p.M; m++) {
        for (int64_t n = 0; n < p.N; n++) bad += cf[m * p.N + n] != ref::dequantize(want[m * p.N + n], per_channel[n]);
    }
    EXPECT_EQ(bad, 0u) << what << " f32";
    *elements += want.size();
}

void check(const Problem &p, size_t *elements) {
    if (p.signed_a) {
        check_problem<int8_t>(p, elements);
    } else {
        check_problem<uint8_t>(p, elements);
    }
}

TEST(GemmKernels, ShapesFromTheIssueBitExact) {
    const int64_t dims[] = {1, 3, 4, 17, 64, 129, 255};
    size_t elements = 0, problems = 0;
    uint32_t seed = 1;
    for (int64_t M : dims) {
        for (int64_t N : dims) {
            for (int64_t K : {int64_t(1), int64_t(3), int64_t(17), int64_t(64), int64_t(255)}) {
                if ((M * 7 + N * 3 + K) % 3 != 0 && M * N * K > 4096) continue;  // a third of the large mixes
                const bool s = (seed % 2) == 0;
                check({M, N, K, s, s ? int32_t(seed % 7) - 3 : int32_t(seed % 5) * 31, 8, 8, seed++}, &elements);
                problems++;
            }
        }
    }
    // 1024 in each position.
    for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1024, 17, 64}, {3, 1024, 129}, {17, 64, 1024},
                           {1, 1024, 1024}, {129, 255, 1024},
                           // long K with row, column and K tails
                           {70, 129, 2051}, {6, 64, 1028}, {255, 17, 1536}}) {
        check({M, N, K, seed % 2 == 1, 7, 8, 8, seed++}, &elements);
        problems++;
    }
    std::printf("[ coverage ] GEMM: %zu problems, %zu outputs per output kind (s32, u8/s8 per-tensor and "
                "per-channel, f32)\n", problems, elements);
}

TEST(GemmKernels, NarrowBitWidthsRunOnTheSameKernels) {
    size_t elements = 0;
    check({17, 129, 64, false, 7, 4, 4, 3}, &elements);   // W4A4, unsigned activations, z = 7
    check({64, 65, 33, true, -1, 4, 4, 4}, &elements);    // W4A4 signed
    check({5, 64, 255, false, 1, 2, 2, 5}, &elements);    // W2A2
    check({129, 17, 100, false, 0, 8, 4, 6}, &elements);  // W4A8
}

TEST(GemmKernels, WorstCaseAccumulatorDoesNotOverflowOrSaturate) {
    // |a - z| * |w| = 255 * 128 in every product over K = 65536: the sums are
    // -+2139095040, just inside int32. Any int16 saturation (pmaddubsw) or
    // int32 overflow shows up here. M = 13 runs the register-tiled kernel
    // (two 6-row tiles on VNNI, six 2-row tiles elsewhere) and the one-row
    // kernel on the rest.
    for (int64_t K : {int64_t(4096), int64_t(65536)}) {
        const int64_t M = 13, N = 70;
        const int32_t extreme = int32_t(255 * 128 * K);
        std::vector<int8_t> w(N * K, -128);
        PackedGemmWeights packed(TensorView(w.data(), {N, K}));
        std::vector<int32_t> c(M * N);
        // a = 255, z = 0: sum = -extreme.
        std::vector<uint8_t> a(M * K, 255);
        gemm_s32(TensorView(a.data(), {M, K}), packed, GemmOptions{}, TensorView(c.data(), {M, N}));
        for (int32_t v : c) ASSERT_EQ(v, -extreme) << "K=" << K << " a=255 z=0";
        // a = 0, z = 255: sum = +extreme (the zero point folded into the bias).
        std::fill(a.begin(), a.end(), 0);
        gemm_s32(TensorView(a.data(), {M, K}), packed, GemmOptions{255, nullptr}, TensorView(c.data(), {M, N}));
        for (int32_t v : c) ASSERT_EQ(v, extreme) << "K=" << K << " a=0 z=255";
        // s8 activations at -128 (z = 0): the +128 shift must not overflow either.
        std::vector<int8_t> as(M * K, -128);
        gemm_s32(TensorView(as.data(), {M, K}), packed, GemmOptions{}, TensorView(c.data(), {M, N}));
        for (int32_t v : c) ASSERT_EQ(v, int32_t(128 * 128 * K)) << "K=" << K << " s8";
    }
}

TEST(GemmKernels, RequantizeRoundsTiesToEvenAndSaturatesHugeValues) {
    // multiplier 0.5 puts odd accumulators exactly on .5 ties; 37.0 and 3e4
    // push |acc * M| past 2^22 and 2^23, where only the clamp decides.
    const int64_t M = 13, N = 70, K = 9;
    std::mt19937 rng(8);
    std::uniform_int_distribution<int> da(0, 255), dw(-128, 127), db(-8000000, 8000000);
    std::vector<uint8_t> a(M * K);
    std::vector<int8_t> w(N * K);
    std::vector<int32_t> bias(N);
    for (auto &v : a) v = uint8_t(da(rng));
    for (auto &v : w) v = int8_t(dw(rng));
    for (auto &v : bias) v = db(rng);
    PackedGemmWeights packed(TensorView(w.data(), {N, K}));
    const auto want = ref::gemm_acc(a, w, bias, 5, M, N, K);
    for (float mult : {0.5f, 1.0f / 3.0f, 37.0f, 3e4f, 1.0f}) {
        std::vector<int8_t> c(M * N);
        Requantization rq{{mult}, -3, -128, 127};
        gemm_requantized(TensorView(a.data(), {M, K}), packed, GemmOptions{5, bias.data()}, rq,
                         TensorView(c.data(), {M, N}));
        for (size_t i = 0; i < want.size(); i++) {
            ASSERT_EQ(int32_t(c[i]), ref::requantize(want[i], mult, -3, -128, 127))
                << "multiplier " << mult << " acc " << want[i];
        }
    }
}

TEST(GemmKernels, BiasThatCouldOverflowIsRejected) {
    const int64_t K = 65536;
    std::vector<int8_t> w(2 * K, 1);
    PackedGemmWeights packed(TensorView(w.data(), {2, K}));
    std::vector<uint8_t> a(K, 1);
    std::vector<int32_t> c(2, 42), bias = {0, 9000000};
    qforge::testing::expect_error_untouched<InvalidArgument>(
        [&] { gemm_s32(TensorView(a.data(), {1, K}), packed, GemmOptions{0, bias.data()}, TensorView(c.data(), {1, 2})); },
        "bias[1] = 9000000", c, 42);
}

}  // namespace

namespace {

using namespace qforge;

TEST(GemmErrors, BadInputIsRejectedAndNothingWritten) {
    std::vector<uint8_t> a(4 * 8, 1);
    std::vector<int8_t> w(5 * 8, 1);
    PackedGemmWeights packed(TensorView(w.data(), {5, 8}));
    std::vector<int32_t> c(4 * 5, 42);
    const TensorView av(a.data(), {4, 8}), cv(c.data(), {4, 5});
    auto expect = [&](const std::function<void()> &f, const std::string &needle) {
        qforge::testing::expect_error_untouched(f, needle, c, 42);
    };
    expect([&] { gemm_s32(TensorView(a.data(), {8, 4}), packed, {}, cv); }, "has K = 4 but the weights have K = 8");
    expect([&] { gemm_s32(TensorView(reinterpret_cast<uint8_t *>(c.data()), {4, 8}), packed, {}, cv); },
           "overlap");
    expect([&] { gemm_s32(TensorView(a.data(), {32}), packed, {}, cv); }, "a must be [M, K]");
    std::vector<float> fa(32);
    expect([&] { gemm_s32(TensorView(fa.data(), {4, 8}), packed, {}, cv); }, "a must be u8 or s8");
    expect([&] { gemm_s32(av, packed, {}, TensorView(c.data(), {4, 4})); }, "c must be [M, N] = [4, 5]");
    expect([&] { gemm_s32(av, packed, {}, TensorView(c.data(), {2, 5})); }, "c must be [M, N]");
    expect([&] { gemm_s32(av, packed, GemmOptions{256, nullptr}, cv); }, "the zero point of a, 256, is outside");
    expect([&] { gemm_s32(TensorView(reinterpret_cast<int8_t *>(a.data()), {4, 8}), packed, GemmOptions{-129, nullptr}, cv); },
           "the zero point of a, -129");
    auto c8 = TensorView(reinterpret_cast<uint8_t *>(c.data()), {4, 5});
    expect([&] { gemm_requantized(av, packed, {}, Requantization{{-1.0f}, 0, 0, 255}, c8); }, "multiplier[0] must be finite");
    expect([&] { gemm_requantized(av, packed, {}, Requantization{{NAN}, 0, 0, 255}, c8); }, "multiplier[0]");
    expect([&] { gemm_requantized(av, packed, {}, Requantization{{0.1f, 0.2f}, 0, 0, 255}, c8); },
           "has 2 entries; expected 1 or N = 5");
    expect([&] { gemm_requantized(av, packed, {}, Requantization{{0.1f}, 0, 0, 300}, c8); }, "clamp bounds [0, 300]");
    expect([&] { gemm_requantized(av, packed, {}, Requantization{{0.1f}, -1, 0, 255}, c8); }, "out_zero_point -1");
    expect([&] { gemm_requantized(av, packed, {}, Requantization{{0.1f}, 0, 0, 255}, cv); }, "must be u8 or s8");
    auto cf = TensorView(reinterpret_cast<float *>(c.data()), {4, 5});
    expect([&] { gemm_dequantized(av, packed, {}, {INFINITY}, cf); }, "out_scale[0] must be finite");
    expect([&] { gemm_s32(av, PackedGemmWeights{}, {}, cv); }, "packed weights are empty");
    EXPECT_THROW(PackedGemmWeights(TensorView(w.data(), {40})), ShapeError);
    EXPECT_THROW(PackedGemmWeights(TensorView(reinterpret_cast<uint8_t *>(w.data()), {5, 8})), ShapeError);
    std::vector<int8_t> huge_k(65537);
    EXPECT_THROW(PackedGemmWeights(TensorView(huge_k.data(), {1, 65537})), ShapeError);
}

}  // namespace
