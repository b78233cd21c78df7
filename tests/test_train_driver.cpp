// qforge-train's core: model descriptions, bit-width rules, weight bit
// packing, the network's gradients (finite differences), and the central
// promise of docs/qforge-train.md: the QAT model in eval mode (the
// integer-exact forward) and the converted integer model, saved and loaded
// back, produce identical integer activations at every layer and identical
// logits, at 8 and 4 bits and with every quantizer method.
#include <gtest/gtest.h>

#include "temp_dir.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <unistd.h>

#include "dataset.h"
#include "convert.h"
#include "network.h"
#include "params.h"
#include "qforge/error.h"
#include "recipe.h"
#include "trainer.h"

using namespace qforge;
using qforge::testing::TempDir;
using namespace qforge::train;

namespace {

// A small network with every layer kind: conv+bn+relu+pool, depthwise conv,
// conv with bias and no BN, flatten, linear+relu, linear.
const char *kSmallNet =
    "input 12 12 1\n"
    "conv c1 out=6 kernel=3 pad=1\n"
    "bn\n"
    "relu\n"
    "maxpool\n"
    "dwconv d1 kernel=3 pad=1\n"
    "bn\n"
    "relu\n"
    "conv c2 out=8 kernel=3 stride=2 pad=1\n"
    "relu\n"
    "flatten\n"
    "linear f1 out=16\n"
    "relu\n"
    "linear f2 out=5\n";

// Images with some structure (a per-class blob) so training moves.
Dataset synthetic(int64_t count, int size, int classes, uint32_t seed) {
    Dataset d;
    d.count = count;
    d.rows = d.cols = size;
    d.num_classes = classes;
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.2f);
    d.images.resize(count * size * size);
    d.labels.resize(count);
    for (int64_t i = 0; i < count; i++) {
        int label = static_cast<int>(rng() % classes);
        d.labels[i] = label;
        int cy = (label * 5) % size, cx = (label * 3 + 2) % size;
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                float blob = std::exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / 8.0f);
                d.images[(i * size + y) * size + x] = 2.0f * blob + noise(rng);
            }
        }
    }
    return d;
}

std::vector<StageQuantConfig> uniform_config(size_t stages, int bits, QuantMethod w, QuantMethod a) {
    return std::vector<StageQuantConfig>(stages, StageQuantConfig{bits, bits, w, a});
}


}  // namespace

// ---- model descriptions -----------------------------------------------------------

TEST(ModelSpec, DefaultNetworkShapes) {
    ModelSpec s = parse_model_spec(default_model_text(), "default");
    ASSERT_EQ(s.stages.size(), 4u);
    EXPECT_EQ(s.stages[0].out_h, 28);
    EXPECT_EQ(s.stages[0].pooled_h(), 14);
    EXPECT_TRUE(s.stages[0].batch_norm && s.stages[0].relu);
    EXPECT_EQ(s.stages[1].pooled_w(), 7);
    EXPECT_EQ(s.stages[2].in_c, 1568);  // flatten of 7x7x32
    EXPECT_EQ(s.stages[3].out_c, 10);
    EXPECT_EQ(s.num_classes(), 10);
}

TEST(ModelSpec, RejectsBadDescriptionsWithTheLine) {
    auto fails_with = [](const std::string &text, const std::string &fragment) {
        try {
            parse_model_spec(text, "t");
            ADD_FAILURE() << "accepted: " << text;
        } catch (const InvalidArgument &e) {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
        }
    };
    fails_with("conv c out=4 kernel=3\n", "must start with 'input");
    fails_with("input 8 8 1\nconv c out=4 kernel=3\nlinear f out=2\n", "'linear' needs 'flatten'");
    fails_with("input 8 8 1\nbn\n", "line 2: 'bn' must directly follow a conv");
    fails_with("input 8 8 1\nconv c out=4 kernel=9\nflatten\nlinear f out=2\n", "does not fit");
    fails_with("input 8 8 1\nconv c out=4 kernel=3 colour=red\nflatten\nlinear f out=2\n", "unknown option 'colour'");
    fails_with("input 8 8 1\nconv c out=4 kernel=x\n", "not an integer");
    fails_with("input 8 8 1\nconv c out=4 kernel=3\nflatten\nlinear c out=2\n", "used twice");
    fails_with("input 8 8 1\nconv c out=4 kernel=3\n", "last layer must be a linear");
    fails_with("input 8 8 1\nconv c out=4 kernel=3\nflatten\nlinear f out=2\nrelu\n", "no relu or maxpool");
    fails_with("input 8 8 1\nsoftmax\n", "unknown layer 'softmax'");
    fails_with("input 8 8 3\nconv c out=4 kernel=3 groups=2\n", "must divide");
}

TEST(Recipe, BitsAndMethodRules) {
    ModelSpec s = parse_model_spec(default_model_text(), "default");
    auto bits = parse_bits_rules("conv1=8, fc2=w8a4, *=4", "--bits");
    auto methods = parse_method_rules("*=minmax,fc1=lsq/multiplier");
    QuantRecipe r = make_recipe("mixed", s, bits, methods);
    ASSERT_EQ(r.stages.size(), 4u);
    EXPECT_EQ(r.stages[0].weight_bits, 8);
    EXPECT_EQ(r.stages[1].weight_bits, 4);
    EXPECT_EQ(r.stages[3].weight_bits, 8);
    EXPECT_EQ(r.stages[3].act_bits, 4);
    EXPECT_EQ(r.stages[2].weight_method, QuantMethod::lsq);
    EXPECT_EQ(r.stages[2].act_method, QuantMethod::multiplier);
    QuantRecipe w4 = make_recipe("w4a4", s, bits, methods, /*input_bits=*/8);
    EXPECT_EQ(w4.stages[0].act_bits, 8);  // the network input
    EXPECT_EQ(w4.stages[0].weight_bits, 4);
    EXPECT_EQ(w4.stages[1].act_bits, 4);
    EXPECT_EQ(make_recipe("w4a4", s, bits, methods, 0).stages[0].act_bits, 4);
    EXPECT_EQ(make_recipe("mixed", s, bits, methods, 4).stages[0].act_bits, 8);  // mixed: --bits decides
    EXPECT_THROW(make_recipe("w4a4", s, bits, methods, 9), InvalidArgument);
    QuantRecipe w3 = make_recipe("w3a2", s, bits, methods);
    EXPECT_EQ(w3.stages[1].weight_bits, 3);
    EXPECT_EQ(w3.stages[1].act_bits, 2);
    EXPECT_THROW(parse_bits_rules("conv1=9", "--bits"), InvalidArgument);
    EXPECT_THROW(parse_bits_rules("conv1", "--bits"), InvalidArgument);
    EXPECT_THROW(parse_bits_rules("conv1=8,conv1=4", "--bits"), InvalidArgument);
    EXPECT_THROW(make_recipe("mixed", s, parse_bits_rules("conv9=8", "--bits"), methods), InvalidArgument);
    EXPECT_THROW(make_recipe("w9a9", s, bits, methods), InvalidArgument);
    EXPECT_THROW(parse_method_rules("*=magic"), InvalidArgument);
}

TEST(IntModel, BitPackingRoundTripsEveryWidth) {
    std::mt19937 rng(3);
    for (int bits = 2; bits <= 8; bits++) {
        const int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
        std::vector<int8_t> v(1001);
        for (auto &x : v) x = static_cast<int8_t>(lo + static_cast<int>(rng() % (hi - lo + 1)));
        v[0] = static_cast<int8_t>(lo);
        v[1] = static_cast<int8_t>(hi);
        std::vector<uint8_t> packed = pack_bits(v.data(), v.size(), bits);
        EXPECT_EQ(packed.size(), (v.size() * bits + 7) / 8);
        std::vector<int8_t> back(v.size());
        unpack_bits(packed.data(), packed.size(), v.size(), bits, back.data());
        EXPECT_EQ(back, v) << bits << " bits";
        EXPECT_THROW(unpack_bits(packed.data(), packed.size() - 1, v.size(), bits, back.data()), FileError);
    }
}

// ---- gradients ---------------------------------------------------------------------

// The FP32 training step's gradients against central differences of the loss.
// `smooth` leaves out ReLU and max-pool, whose kinks finite differences trip on.
void check_gradients(const char *description, uint32_t seed) {
    ModelSpec spec = parse_model_spec(description, "fd");
    Network net(spec, seed);
    Dataset d = synthetic(6, 12, 5, 11);
    int correct = 0;
    net.train_step(d.images.data(), d.labels.data(), 6, &correct);
    std::mt19937 rng(seed);
    int checked = 0;
    for (Param *p : net.parameters()) {
        std::vector<float> grad(p->grad_data(), p->grad_data() + p->numel());
        for (int t = 0; t < 6; t++) {
            int64_t i = rng() % p->numel();
            float saved = p->data()[i];
            const float h = 1e-3f;
            p->data()[i] = saved + h;
            double lp = net.train_step(d.images.data(), d.labels.data(), 6, &correct);
            p->data()[i] = saved - h;
            double lm = net.train_step(d.images.data(), d.labels.data(), 6, &correct);
            p->data()[i] = saved;
            double fd = (lp - lm) / (2 * h);
            EXPECT_NEAR(grad[i], fd, 2e-4 + 0.02 * std::fabs(fd)) << p->name << "[" << i << "]";
            checked++;
        }
    }
    EXPECT_GT(checked, 30);
}

TEST(Network, Fp32GradientsMatchFiniteDifferences) {
    check_gradients(
        "input 12 12 1\n"
        "conv c1 out=6 kernel=3 pad=1\n"
        "bn\n"
        "dwconv d1 kernel=3 pad=1\n"
        "bn\n"
        "conv c2 out=8 kernel=3 stride=2 pad=1\n"
        "flatten\n"
        "linear f1 out=16\n"
        "linear f2 out=5\n",
        7);
}

// QAT's BN folding (conv(x, fq(w * s)) / s, then BN) is the identity
// reparametrisation of conv(x, w) when quantization is fine enough: at 8 bits
// its gradients (STE through the quantizers, plus the folding's own terms
// through s = gamma / sqrt(var + eps)) must match the FP32 network's. A
// missing or wrong folding term shows up as a gamma or weight gradient far off.
// (No ReLU: at initialisation the gradients cancel heavily, and the few ReLUs
// that 8-bit rounding flips move them by tens of percent.)
class FoldedQat : public ::testing::TestWithParam<bool> {};

// With BN in training mode its output ignores the scale of its input, so the
// folding's s-terms vanish; with frozen BN they carry gamma's gradient.
TEST_P(FoldedQat, GradientsMatchFp32At8Bits) {
    const bool frozen = GetParam();
    const char *desc =
        "input 12 12 1\n"
        "conv c1 out=6 kernel=3 pad=1\n"
        "bn\n"
        "conv c2 out=8 kernel=3 stride=2 pad=1\n"
        "bn\n"
        "flatten\n"
        "linear f1 out=5\n";
    ModelSpec spec = parse_model_spec(desc, "fold");
    Dataset d = synthetic(64, 12, 5, 21);
    Network fp32(spec, 9), qat(spec, 9);
    // Running statistics near the batch's (so the observers calibrated in eval
    // mode fit the train-mode activations) but not equal (s is not trivial).
    int correct = 0;
    for (int i = 0; i < 30; i++) {
        fp32.train_step(d.images.data(), d.labels.data(), 64, &correct);
        qat.train_step(d.images.data(), d.labels.data(), 64, &correct);
    }
    qat.quantize(uniform_config(spec.stages.size(), 8, QuantMethod::minmax, QuantMethod::minmax));
    std::vector<float> logits(64 * 5);
    qat.eval_fp32(d.images.data(), 64, logits.data(), true);
    qat.set_fake_quant(true);
    fp32.set_bn_frozen(frozen);
    qat.set_bn_frozen(frozen);
    float la = fp32.train_step(d.images.data(), d.labels.data(), 64, &correct);
    float lb = qat.train_step(d.images.data(), d.labels.data(), 64, &correct);
    EXPECT_NEAR(la, lb, 0.02 * la) << "the 8-bit QAT forward should be close to the FP32 one";
    std::vector<Param *> a = fp32.parameters(), b = qat.parameters();
    ASSERT_LE(a.size(), b.size());
    for (size_t i = 0; i < a.size(); i++) {
        ASSERT_EQ(a[i]->name, b[i]->name);
        double diff = 0, norm = 0;
        for (int64_t j = 0; j < a[i]->numel(); j++) {
            double g = a[i]->grad_data()[j], h = b[i]->grad_data()[j];
            diff += (g - h) * (g - h);
            norm += g * g;
        }
        // Frozen, gamma's gradient is the small residual of two large s-terms
        // that cancel exactly without quantization, so 8-bit rounding moves it
        // by ~20% (dropping either term moves it by ~100%, checked).
        const double tolerance = frozen ? 0.3 : 0.1;
        EXPECT_LT(std::sqrt(diff), tolerance * std::sqrt(norm) + 1e-6) << a[i]->name;
    }
}

INSTANTIATE_TEST_SUITE_P(BatchNorm, FoldedQat, ::testing::Values(false, true),
                         [](const auto &info) { return info.param ? std::string("frozen") : std::string("training"); });

// ---- the QAT-eval / integer-model agreement ------------------------------------------

struct AgreementCase {
    int bits;
    QuantMethod weights, acts;
};

class Agreement : public ::testing::TestWithParam<AgreementCase> {};

TEST_P(Agreement, QatEvalAndIntegerModelAgreeBitForBit) {
    const AgreementCase c = GetParam();
    ModelSpec spec = parse_model_spec(kSmallNet, "small");
    Network net(spec, 3);
    Dataset train = synthetic(256, 12, 5, 1), test = synthetic(300, 12, 5, 2);
    // A little FP32 training, calibration, then QAT with the last epoch frozen.
    TrainContext ctx;
    ctx.train = &train;
    ctx.test = &test;
    TrainSchedule fp32;
    fp32.epochs = 6;
    fp32.batch = 32;
    fp32.lr = 0.1f;
    train_phase("fp32", net, fp32, ctx);
    net.quantize(uniform_config(spec.stages.size(), c.bits, c.weights, c.acts));
    std::vector<float> logits(256 * 5);
    net.eval_fp32(train.images.data(), 256, logits.data(), true);
    TrainSchedule qat = fp32;
    qat.epochs = 2;
    qat.lr = 0.01f;
    qat.freeze_epochs = 1;
    train_phase("qat", net, qat, ctx);
    net.set_fake_quant(true);
    net.set_observers(false);

    TempDir dir;
    const std::string path = dir.file("int.qfm");
    to_integer_model(net).save(path);
    IntegerModel im = IntegerModel::load(path);

    std::vector<float> a(300 * 5), b(300 * 5);
    std::vector<Tensor> acts_a, acts_b;
    net.eval_integer(test.images.data(), 300, a.data(), &acts_a);
    im.run(test.images.data(), 300, b.data(), &acts_b);
    ASSERT_EQ(acts_a.size(), spec.stages.size() - 1);
    ASSERT_EQ(acts_a.size(), acts_b.size());
    for (size_t l = 0; l < acts_a.size(); l++) {
        ASSERT_EQ(acts_a[l].shape(), acts_b[l].shape());
        int64_t differ = 0;
        for (int64_t i = 0; i < acts_a[l].numel(); i++) {
            differ += acts_a[l].data_as<uint8_t>()[i] != acts_b[l].data_as<uint8_t>()[i];
        }
        EXPECT_EQ(differ, 0) << "stage " << spec.stages[l].name << " activations";
        // Not degenerate: the activations use more than one level.
        const uint8_t *p = acts_a[l].data_as<uint8_t>();
        EXPECT_NE(*std::min_element(p, p + acts_a[l].numel()), *std::max_element(p, p + acts_a[l].numel()));
    }
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "logits differ";
    // And the model learned something (chance is 20%).
    double acc = evaluate(net, test, EvalMode::integer_exact, 100);
    EXPECT_GT(acc, 0.5) << c.bits << " bits";
}

INSTANTIATE_TEST_SUITE_P(
    BitsAndMethods, Agreement,
    ::testing::Values(AgreementCase{8, QuantMethod::minmax, QuantMethod::minmax},
                      AgreementCase{4, QuantMethod::minmax, QuantMethod::minmax},
                      AgreementCase{4, QuantMethod::lsq, QuantMethod::lsq},
                      AgreementCase{4, QuantMethod::multiplier, QuantMethod::multiplier},
                      AgreementCase{8, QuantMethod::lsq, QuantMethod::minmax}),
    [](const auto &info) {
        return std::to_string(info.param.bits) + "bit_" + quant_method_name(info.param.weights) + "_" +
               quant_method_name(info.param.acts);
    });

TEST(IntModel, ConstructorValidatesStagesAgainstTheDescription) {
    ModelSpec spec = parse_model_spec(kSmallNet, "small");
    Network net(spec, 3);
    net.quantize(uniform_config(spec.stages.size(), 4, QuantMethod::minmax, QuantMethod::minmax));
    std::vector<float> logits(8 * 5);
    Dataset d = synthetic(8, 12, 5, 1);
    net.eval_fp32(d.images.data(), 8, logits.data(), true);
    auto folded = [&] {  // fresh stages (Tensor is move-only)
        std::vector<IntegerStage> v;
        for (size_t i = 0; i < spec.stages.size(); i++) v.push_back(net.fold(static_cast<int>(i)));
        return v;
    };
    EXPECT_NO_THROW(IntegerModel(spec, folded()));
    auto expect_invalid = [&](std::vector<IntegerStage> stages, const char *needle) {
        try {
            IntegerModel m(spec, std::move(stages));
            ADD_FAILURE() << "no exception (" << needle << ")";
        } catch (const InvalidArgument &e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    auto bad = folded();
    bad.pop_back();
    expect_invalid(std::move(bad), "stages for a description with");
    bad = folded();
    bad[0].weights.data_as<int8_t>()[0] = 8;  // does not fit 4 bits
    expect_invalid(std::move(bad), "does not fit 4 bits");
    bad = folded();
    bad[1].weights = Tensor(DType::s8, {1, 2});
    expect_invalid(std::move(bad), "weights are");
    bad = folded();
    bad[2].bias.pop_back();
    expect_invalid(std::move(bad), "bias has");
    bad = folded();
    bad[0].last = true;
    expect_invalid(std::move(bad), "only the last stage");
    bad = folded();
    bad.back().out_scale[0] = 0.0f;
    expect_invalid(std::move(bad), "out_scale must be finite and > 0");
    IntegerModel empty;
    std::vector<float> x(12 * 12), y(5);
    EXPECT_THROW(empty.run(x.data(), 1, y.data()), InvalidArgument);
    IntegerModel m(spec, folded());
    EXPECT_THROW(m.run(x.data(), 0, y.data()), InvalidArgument);
    EXPECT_THROW(m.run(nullptr, 1, y.data()), InvalidArgument);
}

TEST(IntModel, LoadRejectsOtherFileKinds) {
    TempDir dir;
    ModelFile f;
    f.kind = "fp32-model";
    f.metadata_json = "{}";
    save_model_file(dir.file("m.qfm"), f);
    EXPECT_THROW(IntegerModel::load(dir.file("m.qfm")), FileError);
    EXPECT_THROW(IntegerModel::load(dir.file("missing.qfm")), FileError);
}
