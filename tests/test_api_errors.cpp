// Every error path of the runtime API: the right qforge::Error subclass, a
// message naming the argument and the problem, and no output written.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "error_expectations.h"
#include "qforge/qforge.h"
#include "qf_fake_quant_pt.h"          // the raw AOT kernel, to provoke a Halide error
#include "../runtime/src/kernel_call.h"  // detail::check_kernel

namespace {

using namespace qforge;

constexpr float kSentinel = 12345.0f;

template<typename E>
void expect_error(const std::function<void()> &call, const std::string &needle, const std::vector<float> &out) {
    qforge::testing::expect_error_untouched<E>(call, needle, out, kSentinel);
}

struct Fixture : ::testing::Test {
    std::vector<float> x = std::vector<float>(12, 0.5f), dy = std::vector<float>(12, 1.0f);
    std::vector<float> y = std::vector<float>(12, kSentinel);
    std::vector<uint8_t> mask = std::vector<uint8_t>(12, 1);
    QuantParams good{0.1f, 0, QuantRange::from_bits(8, true)};
    TensorView xv{x.data(), {3, 4}}, yv{y.data(), {3, 4}}, dyv{dy.data(), {3, 4}}, mv{mask.data(), {3, 4}};
};

TEST_F(Fixture, BadScale) {
    for (float s : {0.0f, -1.0f, NAN, INFINITY}) {
        QuantParams p = good;
        p.scale = s;
        expect_error<InvalidArgument>([&] { fake_quant(xv, p, yv); }, "scale must be finite and > 0", y);
    }
    LearnableQuantParams lp{-0.5f, 0.0f, good.range};
    expect_error<InvalidArgument>([&] { lsq_forward(xv, lp, yv); }, "scale", y);
    expect_error<InvalidArgument>([&] { lsq_backward(xv, dyv, lp, yv); }, "scale", y);
    PerChannelQuantParams pc{{0.1f, 0.0f, 0.1f}, {0, 0, 0}, 0, good.range};
    expect_error<InvalidArgument>([&] { fake_quant(xv, pc, yv); }, "scales[1]", y);
}

TEST_F(Fixture, BadRangeAndBits) {
    QuantParams p = good;
    p.range = {5, 5};
    expect_error<InvalidArgument>([&] { fake_quant(xv, p, yv); }, "qmin (5) must be < qmax (5)", y);
    p.range = {-300, 10};
    expect_error<InvalidArgument>([&] { fake_quant(xv, p, yv); }, "does not fit in 8 bits", y);
    EXPECT_THROW(QuantRange::from_bits(1, true), InvalidArgument);
    EXPECT_THROW(QuantRange::from_bits(9, false), InvalidArgument);
    try {
        QuantRange::from_bits(16, true);
        ADD_FAILURE() << "from_bits(16) did not throw";
    } catch (const InvalidArgument &e) {
        EXPECT_NE(std::string(e.what()).find("bits must be in 2..8, got 16"), std::string::npos);
    }
    p = good;
    p.zero_point = 200;
    expect_error<InvalidArgument>([&] { fake_quant(xv, p, yv); }, "zero_point 200 is outside", y);
}

TEST_F(Fixture, ShapeAndDtypeMismatch) {
    std::vector<float> small(11, kSentinel);
    expect_error<ShapeError>([&] { fake_quant(xv, good, TensorView(small.data(), {11})); }, "does not match x", small);
    expect_error<ShapeError>([&] { fake_quant(xv, good, TensorView(y.data(), {4, 3})); }, "y f32[4,3] does not match",
                             y);
    std::vector<int32_t> ints(12);
    expect_error<ShapeError>([&] { fake_quant(TensorView(ints.data(), {3, 4}), good, yv); }, "x must be f32", y);
    std::vector<float> fmask(12);
    expect_error<ShapeError>([&] { fake_quant(xv, good, yv, TensorView(fmask.data(), {3, 4})); }, "mask must be u8",
                             y);
    expect_error<ShapeError>([&] { fake_quant_backward(dyv, TensorView(mask.data(), {12}), yv); }, "mask", y);
    expect_error<ShapeError>([&] { lsq_backward(xv, TensorView(dy.data(), {12}), LearnableQuantParams{}, yv); },
                             "dy", y);
}

TEST_F(Fixture, NullMisalignedAndStrided) {
    expect_error<ShapeError>([&] { fake_quant(TensorView(static_cast<float *>(nullptr), {3, 4}), good, yv); },
                             "x has null data", y);
    std::vector<uint8_t> bytes(64);
    float *odd = reinterpret_cast<float *>(bytes.data() + 1);
    expect_error<ShapeError>([&] { fake_quant(TensorView(odd, {4}), good, TensorView(y.data(), {4})); },
                             "misaligned", y);
    // A transposed view: strides (1, 3) for shape [3, 4] is not row-major.
    expect_error<ShapeError>([&] { fake_quant(TensorView(x.data(), {3, 4}, {1, 3}), good, yv); }, "unsupported strides",
                             y);
    EXPECT_THROW(TensorView(x.data(), {3, -4}), ShapeError);
    EXPECT_THROW(TensorView(x.data(), {3, 4}, {4}), ShapeError);
}

TEST_F(Fixture, PartialOverlapIsRejectedButExactAliasIsAllowed) {
    std::vector<float> buf(13, kSentinel);
    std::vector<float> guard(buf);
    expect_error<ShapeError>(
        [&] { fake_quant(TensorView(buf.data(), {12}), good, TensorView(buf.data() + 1, {12})); }, "overlap partially",
        std::vector<float>(buf.begin() + 1, buf.end()));
    EXPECT_EQ(buf, guard);
    EXPECT_NO_THROW(fake_quant(xv, good, xv));
}

TEST_F(Fixture, PerChannelAxisAndCounts) {
    PerChannelQuantParams pc{{0.1f, 0.1f, 0.1f}, {0, 0, 0}, 2, good.range};
    expect_error<InvalidArgument>([&] { fake_quant(xv, pc, yv); }, "axis 2 is out of range", y);
    pc.axis = -1;
    expect_error<InvalidArgument>([&] { fake_quant(xv, pc, yv); }, "axis must be >= 0", y);
    pc.axis = 1;  // 4 channels along axis 1, 3 scales
    expect_error<ShapeError>([&] { fake_quant(xv, pc, yv); }, "has 4 channels along axis 1 but 3 scales", y);
    pc.axis = 0;
    pc.zero_points = {0, 0};
    expect_error<InvalidArgument>([&] { fake_quant(xv, pc, yv); }, "3 scales but 2 zero points", y);
    LearnablePerChannelQuantParams lp{{0.1f, 0.1f, 0.1f}, {0, NAN, 0}, 0, good.range};
    expect_error<InvalidArgument>([&] { lsq_backward(xv, dyv, lp, yv); }, "zero_points[1] must be finite", y);
}

TEST_F(Fixture, GradScale) {
    LearnableQuantParams lp{0.1f, 0.0f, good.range};
    expect_error<InvalidArgument>([&] { lsq_backward(xv, dyv, lp, yv, NAN); }, "grad_scale must be finite", y);
    lp.range = {-128, 0};  // qmax 0: the default 1/sqrt(n*qmax) does not exist
    expect_error<InvalidArgument>([&] { lsq_backward(xv, dyv, lp, yv); }, "pass grad_scale explicitly", y);
}

TEST(RuntimeControls, VariantAndThreads) {
    EXPECT_THROW(parse_cpu_variant("avx9000"), InvalidArgument);
    EXPECT_EQ(parse_cpu_variant("avx2"), CpuVariant::avx2);
    EXPECT_THROW(set_num_threads(0), InvalidArgument);
    (void)cpu_variant();  // the first kernel call fixes dispatch...
    EXPECT_THROW(limit_cpu_variant(CpuVariant::sse41), Error);  // ...so a later cap is refused
}

TEST(RuntimeControls, HalideErrorIsReturnedNotAborted) {
    // Halide's default handler abort()s (HALIDE14_NOTES G9). Call a raw kernel
    // with an input smaller than its output: the bounds check fails, our
    // handler records the message, the call returns non-zero, and
    // check_kernel turns it into a KernelError carrying Halide's message.
    (void)cpu_variant();  // installs the handler
    std::vector<float> x(50, 0.0f), y(100, kSentinel);
    Halide::Runtime::Buffer<float> xb(x.data(), 50), yb(y.data(), 100);
    const int rc = qf_fake_quant_pt(xb, 0.1f, 0, -128, 127, yb);
    EXPECT_NE(rc, 0);
    try {
        detail::check_kernel(rc, "test", "qf_fake_quant_pt");
        ADD_FAILURE() << "no KernelError";
    } catch (const KernelError &e) {
        EXPECT_NE(std::string(e.what()).find("Input buffer x"), std::string::npos) << e.what();
    }
    for (float v : y) ASSERT_EQ(v, kSentinel);  // the check runs before any element is written
}

TEST(RuntimeControls, TooManyElementsForOneCall) {
    // 2^31 elements do not fit a Halide buffer: rejected before any kernel runs.
    TensorView huge(reinterpret_cast<float *>(64), DType::f32, {int64_t(1) << 31});
    EXPECT_THROW(fake_quant(huge, QuantParams{}, huge), ShapeError);
}

}  // namespace

// Device choice (qforge/device.h). Where there is no usable CUDA device (the
// usual case in CI) asking for one fails at once with the reason; where there
// is, the choice sticks per thread and per process.
TEST(DeviceChoice, NamesAndDefault) {
    EXPECT_EQ(qforge::parse_device("cpu"), qforge::Device::cpu);
    EXPECT_EQ(qforge::parse_device("cuda"), qforge::Device::cuda);
    EXPECT_THROW(qforge::parse_device("gpu"), qforge::InvalidArgument);
    EXPECT_STREQ(qforge::device_name(qforge::Device::cuda), "cuda");
    EXPECT_EQ(qforge::default_device(), qforge::Device::cpu);
    EXPECT_EQ(qforge::current_device(), qforge::Device::cpu);
}

TEST(DeviceChoice, CudaWithoutDeviceSaysWhy) {
    std::string why;
    if (qforge::cuda_available(&why)) {
        qforge::DeviceScope on_gpu(qforge::Device::cuda);
        EXPECT_EQ(qforge::current_device(), qforge::Device::cuda);
        {
            qforge::DeviceScope on_cpu(qforge::Device::cpu);
            EXPECT_EQ(qforge::current_device(), qforge::Device::cpu);
        }
        EXPECT_EQ(qforge::current_device(), qforge::Device::cuda);
        GTEST_SKIP() << "a CUDA device is present: " << qforge::cuda_device_description();
    }
    EXPECT_FALSE(why.empty());
    const std::vector<int> untouched;  // nothing to write
    qforge::testing::expect_error_untouched<qforge::DeviceError>(
        [] { qforge::set_default_device(qforge::Device::cuda); }, "no CUDA device: " + why, untouched, 0);
    qforge::testing::expect_error_untouched<qforge::DeviceError>(
        [] { qforge::DeviceScope scope(qforge::Device::cuda); }, "no CUDA device", untouched, 0);
    EXPECT_EQ(qforge::default_device(), qforge::Device::cpu);
    EXPECT_EQ(qforge::current_device(), qforge::Device::cpu);
}
