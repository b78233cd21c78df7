// The tuned kernels the build compiled from schedules/tuned/*.json
// (cmake/QforgeTuned.cmake): the table is consistent, and on the variant they
// were tuned for each operator gives the same bits with tuned kernels on and
// off, on shapes of every shape class (and the GEMM matches the reference).
// Once per x86 variant: only the tuned variant's run has active kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "qforge/qforge.h"
#include "qforge/tuning.h"
#include "reference/gemm_ref.h"
#include "test_data.h"

namespace {

using namespace qforge;

using qforge::testing::uniform_ints;

// Runs f with tuned kernels enabled and disabled; returns both results.
template<typename F>
auto tuned_and_default(F f) {
    set_tuned_kernels_enabled(true);
    auto tuned = f();
    set_tuned_kernels_enabled(false);
    auto plain = f();
    set_tuned_kernels_enabled(true);
    return std::make_pair(tuned, plain);
}

TEST(TunedKernels, TableIsConsistent) {
    const CpuVariant v = cpu_variant();
    for (const auto &k : tuned_kernels()) {
        std::printf("[ tuned    ] %s %s %s [%s]%s\n", k.slot.c_str(), k.shape_class.c_str(), cpu_variant_name(k.variant),
                    k.params.c_str(), k.active ? " active" : "");
        EXPECT_EQ(k.active, k.variant == v && tuned_kernels_enabled()) << k.slot;
        EXPECT_FALSE(k.params.empty()) << k.slot;
        // The classes qforge/tuning.h defines.
        const std::set<std::string> classes = {"gemv", "small_m", "default", "narrow", "pv1", "pv2", "pv4", "small"};
        EXPECT_TRUE(classes.count(k.shape_class)) << k.slot << " " << k.shape_class;
    }
}

TEST(TunedKernels, GemmEveryClassMatchesDefaultAndReference) {
    const int64_t N = 100, K = 77;  // K not a multiple of 4; N not of the panel
    const auto w = uniform_ints<int8_t>(size_t(N * K), -128, 127, 2);
    const auto bias = uniform_ints<int32_t>(size_t(N), -3000, 3000, 3);
    PackedGemmWeights packed(TensorView(const_cast<int8_t *>(w.data()), {N, K}));
    Requantization rq{{0.0021f}, 3, 0, 255};
    for (int64_t M : {1, 3, 4, 5, 17, 63, 64, 130}) {
        const auto a = uniform_ints<uint8_t>(size_t(M * K), 0, 255, uint32_t(M));
        GemmOptions opt{11, bias.data()};
        auto [tuned, plain] = tuned_and_default([&] {
            std::vector<uint8_t> c(size_t(M * N));
            gemm_requantized(TensorView(const_cast<uint8_t *>(a.data()), {M, K}), packed, opt, rq,
                             TensorView(c.data(), {M, N}));
            return c;
        });
        EXPECT_EQ(tuned, plain) << "M=" << M << " (" << shape_class::gemm(M) << ")";
        const auto acc = ref::gemm_acc(a, w, bias, 11, M, N, K);
        size_t bad = 0;
        for (size_t i = 0; i < acc.size(); i++) {
            bad += tuned[i] != uint8_t(ref::requantize(acc[i], 0.0021f, 3, 0, 255));
        }
        EXPECT_EQ(bad, 0u) << "M=" << M;
        auto [t32, p32] = tuned_and_default([&] {
            std::vector<int32_t> c(size_t(M * N));
            gemm_s32(TensorView(const_cast<uint8_t *>(a.data()), {M, K}), packed, opt, TensorView(c.data(), {M, N}));
            return c;
        });
        EXPECT_EQ(t32, acc) << "M=" << M << " s32";
        EXPECT_EQ(p32, acc) << "M=" << M << " s32";
    }
}

TEST(TunedKernels, ConvsMatchDefault) {
    struct Case {
        int64_t n, h, w, c, o, k;
        int stride, pad, groups;
    };
    // direct conv: narrow (output width <= 16) and default; the conv over
    // input rows with 1-, 2- and 4-vector panels (C_in = 1, 3; C_out 16, 32, 64); depthwise.
    for (const Case &cs : {Case{2, 14, 14, 32, 64, 3, 1, 1, 1}, Case{1, 30, 30, 16, 64, 3, 1, 1, 1},
                           Case{1, 20, 20, 64, 64, 3, 2, 1, 1}, Case{3, 19, 19, 1, 16, 5, 1, 2, 1},
                           Case{2, 14, 14, 16, 32, 5, 1, 2, 1}, Case{1, 23, 23, 3, 64, 3, 2, 1, 1},
                           Case{2, 17, 17, 32, 32, 3, 1, 1, 32}}) {
        const int64_t cg = cs.c / cs.groups;
        const auto x = uniform_ints<uint8_t>(size_t(cs.n * cs.h * cs.w * cs.c), 0, 255, 5);
        const auto w = uniform_ints<int8_t>(size_t(cs.o * cs.k * cs.k * cg), -128, 127, 6);
        const auto bias = uniform_ints<int32_t>(size_t(cs.o), -3000, 3000, 7);
        PackedConvWeights packed(TensorView(const_cast<int8_t *>(w.data()), {cs.o, cs.k, cs.k, cg}), cs.groups);
        Conv2dGeometry g;
        g.stride_h = g.stride_w = cs.stride;
        g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = cs.pad;
        g.groups = cs.groups;
        const Shape out = conv2d_output_shape({cs.n, cs.h, cs.w, cs.c}, packed, g);
        GemmOptions opt{9, bias.data()};
        auto [tuned, plain] = tuned_and_default([&] {
            std::vector<uint8_t> y(size_t(out[0] * out[1] * out[2] * out[3]));
            conv2d_requantized(TensorView(const_cast<uint8_t *>(x.data()), {cs.n, cs.h, cs.w, cs.c}), packed, g, opt,
                               Requantization{{0.0013f}, 4, 0, 255}, TensorView(y.data(), out));
            return y;
        });
        EXPECT_EQ(tuned, plain) << "conv " << cs.h << "x" << cs.w << "x" << cs.c << " -> " << cs.o
                                << " groups " << cs.groups;
    }
}

TEST(TunedKernels, FakeQuantAndLsqMatchDefault) {
    // Both shape classes: "small" (<= 2^21 elements) and "default".
    for (const int64_t n : {int64_t(100003), int64_t(3000017)}) {
        std::vector<float> x(static_cast<size_t>(n)), dy(static_cast<size_t>(n));
        std::mt19937 rng(9);
        std::normal_distribution<float> d(0.0f, 2.0f);
        for (auto &v : x) v = d(rng);
        for (auto &v : dy) v = d(rng);
        auto [tuned, plain] = tuned_and_default([&] {
            std::vector<float> y(static_cast<size_t>(n));
            fake_quant(TensorView(x.data(), {n}), QuantParams{0.05f, 3, QuantRange{0, 255}}, TensorView(y.data(), {n}));
            return y;
        });
        EXPECT_EQ(0, std::memcmp(tuned.data(), plain.data(), tuned.size() * sizeof(float))) << "fake_quant";
        auto [tdx, pdx] = tuned_and_default([&] {
            std::vector<float> dx(static_cast<size_t>(n));
            lsq_backward(TensorView(x.data(), {n}), TensorView(dy.data(), {n}),
                         LearnableQuantParams{0.05f, 2.0f, QuantRange{-128, 127}}, TensorView(dx.data(), {n}));
            return dx;
        });
        EXPECT_EQ(0, std::memcmp(tdx.data(), pdx.data(), tdx.size() * sizeof(float))) << "lsq_backward dx, n=" << n;
    }
}

}  // namespace
