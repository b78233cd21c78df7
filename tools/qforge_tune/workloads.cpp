// The tunable operators. Each workload builds deterministic inputs, computes
// the expected output with the plain C++ references the test suites use
// (tests/reference/), and calls the operator through qforge's public API, so
// a candidate is timed with exactly the arguments the runtime passes.
#include "workloads.h"

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "qforge/conv.h"
#include "qforge/gemm.h"
#include "qforge/ops.h"
#include "qforge/tensor.h"
#include "qforge/tuning.h"
#include "reference/conv_ref.h"
#include "reference/gemm_ref.h"
#include "reference/numerics_ref.h"
#include "test_data.h"

namespace qforge::tune {

namespace {

// "AxBxC" -> {A, B, C}; every part a positive integer.
std::vector<int64_t> parse_dims(const std::string &text, size_t count, const std::string &what) {
    std::vector<int64_t> dims;
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, 'x')) {
        size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(part, &used);
        } catch (const std::exception &) {
            used = 0;
        }
        if (used != part.size() || part.empty() || v <= 0 || v > (1 << 24)) {
            throw UsageError(what + ": '" + part + "' is not a positive integer");
        }
        dims.push_back(v);
    }
    if (dims.size() != count) {
        throw UsageError(what + ": expected " + std::to_string(count) + " 'x'-separated sizes, got '" + text + "'");
    }
    return dims;
}

std::vector<std::string> split(const std::string &text, char sep) {
    std::vector<std::string> parts;
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, sep)) parts.push_back(part);
    return parts;
}

std::vector<std::string> ints(std::initializer_list<int> v) {
    std::vector<std::string> out;
    for (int x : v) out.push_back(std::to_string(x));
    return out;
}

using qforge::testing::uniform_ints;

// The same output stage for GEMM and conv workloads: per-channel multipliers,
// a non-zero output zero point, clamp to u8.
struct RequantSetup {
    std::vector<float> multiplier;
    int32_t out_zero_point = 5, out_min = 0, out_max = 255;
    Requantization requantization() const { return {multiplier, out_zero_point, out_min, out_max}; }
};

RequantSetup requant_for(int64_t channels, int64_t k) {
    RequantSetup r;
    for (int64_t c = 0; c < channels; c++) {
        r.multiplier.push_back(static_cast<float>((0.6 + 0.1 * (c % 7)) / (40.0 * std::sqrt(static_cast<double>(k)))));
    }
    return r;
}

// The int8 operators' u8 output: the reference requantizes the plain
// accumulator (channels innermost) and the check compares every byte.
class RequantizedWorkload : public Workload {
public:
    std::string check() override {
        for (size_t i = 0; i < want_.size(); i++) {
            if (out_[i] != want_[i]) {
                return "output[" + std::to_string(i) + "] = " + std::to_string(out_[i]) + ", reference " +
                       std::to_string(want_[i]);
            }
        }
        return "";
    }
    void corrupt() override { out_.back() ^= 1; }

protected:
    void set_reference(const std::vector<int32_t> &acc, int64_t channels, int64_t k) {
        rq_ = requant_for(channels, k);
        want_.resize(acc.size());
        for (size_t i = 0; i < acc.size(); i++) {
            want_[i] = static_cast<uint8_t>(ref::requantize(acc[i], rq_.multiplier[i % size_t(channels)],
                                                            rq_.out_zero_point, rq_.out_min, rq_.out_max));
        }
        out_.assign(want_.size(), 0);
    }
    RequantSetup rq_;
    std::vector<uint8_t> want_, out_;
};

// ---- int8 GEMM, requantized to u8 ---------------------------------------------------

class GemmWorkload : public RequantizedWorkload {
public:
    GemmWorkload(int64_t m, int64_t n, int64_t k) : m_(m), n_(n), k_(k) {}
    void prepare() override {
        a_ = uniform_ints<uint8_t>(size_t(m_ * k_), 0, 255, 1);
        w_ = uniform_ints<int8_t>(size_t(n_ * k_), -128, 127, 2);
        bias_ = uniform_ints<int32_t>(size_t(n_), -5000, 5000, 3);
        set_reference(ref::gemm_acc(a_, w_, bias_, kZeroPoint, m_, n_, k_), n_, k_);
    }
    void setup() override { packed_ = PackedGemmWeights(TensorView(w_.data(), DType::s8, {n_, k_})); }
    void run() override {
        GemmOptions opt;
        opt.a_zero_point = kZeroPoint;
        opt.bias = bias_.data();
        gemm_requantized(TensorView(a_.data(), DType::u8, {m_, k_}), packed_, opt, rq_.requantization(),
                         TensorView(out_.data(), DType::u8, {m_, n_}));
    }

private:
    static constexpr int32_t kZeroPoint = 7;
    int64_t m_, n_, k_;
    std::vector<uint8_t> a_;
    std::vector<int8_t> w_;
    std::vector<int32_t> bias_;
    PackedGemmWeights packed_;
};

std::unique_ptr<Workload> parse_gemm(const std::string &shape, int) {
    auto d = parse_dims(shape, 3, "gemm_int8 shape MxNxK");
    auto w = std::make_unique<GemmWorkload>(d[0], d[1], d[2]);
    w->shape = shape;
    w->shape_class = shape_class::gemm(d[0]);
    w->work = 2.0 * double(d[0]) * double(d[1]) * double(d[2]);
    return w;
}

// ---- int8 convolutions (direct and depthwise), requantized to u8 ---------------------

struct ConvShape {
    int64_t n, h, w, c, o, kh, kw;
    Conv2dGeometry g;
    int64_t oh, ow;
};

// "NxHxWxC:OxKHxKW[:sS][:pP]" (ordinary) or "NxHxWxC:KHxKW[:sS][:pP]" (depthwise: O = C).
ConvShape parse_conv_shape(const std::string &text, bool depthwise) {
    const std::string what = depthwise ? "depthwise_conv_int8 shape NxHxWxC:KHxKW[:sS][:pP]"
                                       : "conv_int8 shape NxHxWxC:OxKHxKW[:sS][:pP]";
    auto parts = split(text, ':');
    if (parts.size() < 2 || parts.size() > 4) throw UsageError(what + ": got '" + text + "'");
    auto in = parse_dims(parts[0], 4, what);
    auto k = parse_dims(parts[1], depthwise ? 2 : 3, what);
    ConvShape s{in[0], in[1], in[2], in[3], depthwise ? in[3] : k[0], k[depthwise ? 0 : 1], k[depthwise ? 1 : 2],
                {}, 0, 0};
    for (size_t i = 2; i < parts.size(); i++) {
        const std::string &p = parts[i];
        if (p.size() < 2 || (p[0] != 's' && p[0] != 'p')) throw UsageError(what + ": '" + p + "' is not sS or pP");
        int v = 0;
        try {
            v = std::stoi(p.substr(1));
        } catch (const std::exception &) {
            throw UsageError(what + ": '" + p + "' is not sS or pP");
        }
        if (p[0] == 's') {
            if (v < 1 || v > 8) throw UsageError(what + ": stride must be 1..8, got " + p);
            s.g.stride_h = s.g.stride_w = v;
        } else {
            if (v < 0 || v > 8) throw UsageError(what + ": padding must be 0..8, got " + p);
            s.g.pad_top = s.g.pad_bottom = s.g.pad_left = s.g.pad_right = v;
        }
    }
    if (depthwise) s.g.groups = static_cast<int>(s.c);
    s.oh = (s.h + 2 * s.g.pad_top - s.kh) / s.g.stride_h + 1;
    s.ow = (s.w + 2 * s.g.pad_left - s.kw) / s.g.stride_w + 1;
    if (s.h + 2 * s.g.pad_top < s.kh || s.w + 2 * s.g.pad_left < s.kw) {
        throw UsageError(what + ": the kernel is larger than the padded input in '" + text + "'");
    }
    return s;
}

class ConvWorkload : public RequantizedWorkload {
public:
    explicit ConvWorkload(const ConvShape &s) : s_(s) {}
    void prepare() override {
        const int64_t cg = s_.c / s_.g.groups;
        x_ = uniform_ints<uint8_t>(size_t(s_.n * s_.h * s_.w * s_.c), 0, 255, 11);
        w_ = uniform_ints<int8_t>(size_t(s_.o * s_.kh * s_.kw * cg), -128, 127, 12);
        bias_ = uniform_ints<int32_t>(size_t(s_.o), -5000, 5000, 13);
        set_reference(ref::conv2d_acc(x_, s_.n, s_.h, s_.w, s_.c, w_, s_.o, s_.kh, s_.kw, bias_, kZeroPoint, s_.g,
                                      s_.oh, s_.ow),
                      s_.o, s_.kh * s_.kw * cg);
    }
    void setup() override {
        const int64_t cg = s_.c / s_.g.groups;
        packed_ = PackedConvWeights(TensorView(w_.data(), DType::s8, {s_.o, s_.kh, s_.kw, cg}), s_.g.groups);
    }
    void run() override {
        GemmOptions opt;
        opt.a_zero_point = kZeroPoint;
        opt.bias = bias_.data();
        conv2d_requantized(TensorView(x_.data(), DType::u8, {s_.n, s_.h, s_.w, s_.c}), packed_, s_.g, opt,
                           rq_.requantization(), TensorView(out_.data(), DType::u8, {s_.n, s_.oh, s_.ow, s_.o}));
    }

private:
    static constexpr int32_t kZeroPoint = 9;
    ConvShape s_;
    std::vector<uint8_t> x_;
    std::vector<int8_t> w_;
    std::vector<int32_t> bias_;
    PackedConvWeights packed_;
};

// Which of the runtime's ungrouped conv paths a shape takes (runtime/src/conv.cpp):
// C_in % 4 != 0 or C_out at most two vectors: the rows conv; else the direct conv.
bool takes_rows_conv(const ConvShape &s, int int32_lanes) { return s.c % 4 != 0 || s.o <= 2 * int32_lanes; }

std::unique_ptr<Workload> parse_conv(const std::string &shape, int int32_lanes) {
    ConvShape s = parse_conv_shape(shape, false);
    if (takes_rows_conv(s, int32_lanes) || (s.kh == 1 && s.kw == 1 && s.g.stride_h == 1 && s.g.pad_top == 0)) {
        throw UsageError("conv_int8 tunes the direct conv, which the runtime runs for C_in % 4 == 0, C_out > " +
                         std::to_string(2 * int32_lanes) + " and not 1x1/stride 1/unpadded; '" + shape +
                         "' takes another path (rows_conv_int8 or the GEMM)");
    }
    auto w = std::make_unique<ConvWorkload>(s);
    w->shape = shape;
    w->shape_class = shape_class::direct_conv(s.ow);
    w->work = 2.0 * double(s.n * s.oh * s.ow * s.o) * double(s.kh * s.kw * s.c);
    return w;
}

std::unique_ptr<Workload> parse_rows_conv(const std::string &shape, int int32_lanes) {
    ConvShape s = parse_conv_shape(shape, false);
    if (!takes_rows_conv(s, int32_lanes)) {
        throw UsageError("rows_conv_int8 tunes the conv over input rows, which the runtime runs for C_in % 4 != 0 "
                         "or C_out <= " + std::to_string(2 * int32_lanes) + "; '" + shape + "' takes the direct conv");
    }
    auto w = std::make_unique<ConvWorkload>(s);
    w->shape = shape;
    const int64_t vectors = s.o <= int32_lanes ? 1 : s.o <= 2 * int32_lanes ? 2 : 4;
    w->shape_class = shape_class::rows_conv(vectors);
    w->work = 2.0 * double(s.n * s.oh * s.ow * s.o) * double(s.kh * s.kw * s.c);
    return w;
}

std::unique_ptr<Workload> parse_depthwise(const std::string &shape, int) {
    ConvShape s = parse_conv_shape(shape, true);
    auto w = std::make_unique<ConvWorkload>(s);
    w->shape = shape;
    w->shape_class = shape_class::depthwise_conv();
    w->work = 2.0 * double(s.n * s.oh * s.ow * s.o) * double(s.kh * s.kw);
    return w;
}

// ---- float32 fake quantization and LSQ backward ---------------------------------------

int64_t parse_count(const std::string &shape, const char *op) {
    return parse_dims(shape, 1, std::string(op) + " shape: an element count")[0];
}

// Values around the quantization grid, a sixteenth of them exact ties (k + .5) * scale.
std::vector<float> grid_values(size_t n, float scale, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 40.0f * scale);
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++) v[i] = (i % 16 == 0) ? (static_cast<float>(int(i % 301) - 150) + 0.5f) * scale : d(rng);
    return v;
}

class FakeQuantWorkload : public Workload {
public:
    explicit FakeQuantWorkload(int64_t n) : n_(n) {}
    void prepare() override {
        x_ = grid_values(size_t(n_), kScale, 21);
        want_.resize(x_.size());
        for (size_t i = 0; i < x_.size(); i++) want_[i] = ref::fake_quant(x_[i], kScale, kZero, 0, 255).y;
    }
    void setup() override { y_.assign(x_.size(), 0.0f); }
    void corrupt() override { y_.back() = std::nextafter(y_.back(), 1e30f); }
    void run() override {
        QuantParams p{kScale, kZero, QuantRange{0, 255}};
        fake_quant(TensorView(x_.data(), DType::f32, {n_}), p, TensorView(y_.data(), DType::f32, {n_}));
    }
    std::string check() override {
        for (size_t i = 0; i < want_.size(); i++) {
            if (!ref::same_bits(y_[i], want_[i])) {
                return "y[" + std::to_string(i) + "] = " + std::to_string(y_[i]) + ", reference " +
                       std::to_string(want_[i]);
            }
        }
        return "";
    }

private:
    static constexpr float kScale = 0.05f;
    static constexpr int32_t kZero = 128;
    int64_t n_;
    std::vector<float> x_, want_, y_;
};

class LsqBackwardWorkload : public Workload {
public:
    explicit LsqBackwardWorkload(int64_t n) : n_(n) {}
    void prepare() override {
        x_ = grid_values(size_t(n_), kScale, 31);
        dy_ = grid_values(size_t(n_), 0.01f, 32);
        want_dx_.resize(x_.size());
        const float g = 1.0f / std::sqrt(static_cast<float>(n_) * 127.0f);
        for (size_t i = 0; i < x_.size(); i++) {
            const auto t = ref::learnable_backward(x_[i], dy_[i], kScale, kZero, -128, 127);
            want_dx_[i] = t.dx;
            ref::accumulate(sums_, t, kScale, g);
        }
    }
    void setup() override { dx_.assign(x_.size(), 0.0f); }
    void corrupt() override { dx_.back() = std::nextafter(dx_.back(), 1e30f); }
    void run() override {
        LearnableQuantParams p{kScale, static_cast<float>(kZero), QuantRange{-128, 127}};
        grads_ = lsq_backward(TensorView(x_.data(), DType::f32, {n_}), TensorView(dy_.data(), DType::f32, {n_}), p,
                              TensorView(dx_.data(), DType::f32, {n_}));
    }
    std::string check() override {
        for (size_t i = 0; i < want_dx_.size(); i++) {
            if (!ref::same_bits(dx_[i], want_dx_[i])) {
                return "dx[" + std::to_string(i) + "] = " + std::to_string(dx_[i]) + ", reference " +
                       std::to_string(want_dx_[i]);
            }
        }
        // The scale gradient is a float sum whose order the schedule sets:
        // within the bound docs/numerics.md gives (relative to the sum of magnitudes).
        if (std::fabs(grads_.dscale - sums_.ds) > 1e-4 * sums_.ds_abs + 1e-12) {
            return "dscale = " + std::to_string(grads_.dscale) + ", reference " + std::to_string(sums_.ds);
        }
        return "";
    }

private:
    static constexpr float kScale = 0.05f;
    static constexpr int32_t kZero = 2;
    int64_t n_;
    std::vector<float> x_, dy_, want_dx_, dx_;
    ref::LearnableSums sums_;
    LsqGradients grads_;
};

std::unique_ptr<Workload> parse_fake_quant(const std::string &shape, int) {
    const int64_t n = parse_count(shape, "fake_quant");
    auto w = std::make_unique<FakeQuantWorkload>(n);
    w->shape = shape;
    w->shape_class = shape_class::elementwise(n);
    w->work = 8.0 * double(n);  // read x, write y
    w->work_unit = "GB/s";
    return w;
}

std::unique_ptr<Workload> parse_lsq(const std::string &shape, int) {
    const int64_t n = parse_count(shape, "lsq_backward");
    auto w = std::make_unique<LsqBackwardWorkload>(n);
    w->shape = shape;
    w->shape_class = shape_class::elementwise(n);
    w->work = 12.0 * double(n);  // read x and dy, write dx
    w->work_unit = "GB/s";
    return w;
}

// ---- the table --------------------------------------------------------------------------

// GEMM: the build's tiled slot holds tile_m = 0 (the target's row tile), the
// one-row slot tile_m = 1. A tuned row tile may not exceed the class's
// smallest M (the runtime runs the tiled kernel only for M >= its tile).
std::string gemm_slot(const std::string &cls) { return cls == "gemv" ? "qf_gemm_u8_gemv" : "qf_gemm_u8"; }
std::map<std::string, std::string> gemm_base(const std::string &cls) {
    return {{"tile_m", cls == "gemv" ? "1" : "0"}, {"row_tiles_per_task", "32"}, {"k_unroll", "4"}};
}
std::vector<ParamDomain> gemm_space(const std::string &cls, bool) {
    // 0 is the target's own row tile (the build's default), valid where the
    // class's smallest M is at least any target's tile.
    std::vector<std::string> tiles;
    if (cls == "default") tiles.push_back("0");
    const int64_t max_tile = std::min<int64_t>(8, shape_class::gemm_min_rows(cls));
    for (int t = 1; t <= max_tile; t++) tiles.push_back(std::to_string(t));
    return {{"tile_m", tiles}, {"k_unroll", ints({1, 2, 4, 8})}, {"row_tiles_per_task", ints({1, 2, 4, 8, 16, 32, 64})}};
}

std::string dconv_slot(const std::string &) { return "qf_dconv_u8"; }
std::map<std::string, std::string> dconv_base(const std::string &) {
    return {{"tile_m", "0"}, {"tile_oy", "2"}, {"k_unroll", "2"}};
}
std::vector<ParamDomain> dconv_space(const std::string &, bool) {
    // tile_m 0: the target's pixel count for tile_oy rows (the build's default).
    return {{"tile_m", ints({0, 1, 2, 3, 4, 5, 6, 7, 8})}, {"tile_oy", ints({1, 2, 3, 4})}, {"k_unroll", ints({1, 2, 4})}};
}

// The rows conv: one library per panel width; the class names it (pv1, pv2, pv4).
std::string rconv_slot(const std::string &cls) { return "qf_rconv" + cls.substr(2) + "_u8"; }
std::map<std::string, std::string> rconv_base(const std::string &cls) {
    return {{"panel_vectors", cls.substr(2)}, {"tile_m", "0"}, {"k_unroll", "1"}, {"rows_per_task", "4"}};
}
std::vector<ParamDomain> rconv_space(const std::string &cls, bool) {
    // Register tiles of tile_m pixels x the panel's vectors (0: the target's choice).
    std::vector<std::string> tiles = cls == "pv4" ? ints({0, 1, 2, 3, 4, 5, 6, 7})
                                                  : ints({0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28});
    return {{"tile_m", tiles}, {"k_unroll", ints({1, 2, 4})}, {"rows_per_task", ints({1, 2, 4, 8, 16})}};
}

std::string dwconv_slot(const std::string &) { return "qf_dwconv_u8"; }
std::map<std::string, std::string> dwconv_base(const std::string &) {
    return {{"channel_vectors", "1"}, {"tile_pixels", "8"}, {"rows_per_task", "2"}};
}
std::vector<ParamDomain> dwconv_space(const std::string &, bool arm) {
    // x86 pads channels to 16 only, so one zmm of channels per tile (params.h).
    return {{"channel_vectors", arm ? ints({1, 2, 4}) : ints({1})},
            {"tile_pixels", ints({2, 4, 6, 8, 10, 12, 14, 16})},
            {"rows_per_task", ints({1, 2, 4, 8})}};
}

std::map<std::string, std::string> streaming_base(const std::string &) {
    return {{"task_elements", "16384"}, {"vector_unroll", "1"}};
}
std::vector<ParamDomain> streaming_space(const std::string &, bool) {
    return {{"task_elements", ints({4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576})},
            {"vector_unroll", ints({1, 2, 4, 8})}};
}

}  // namespace

const std::vector<TuneOperator> &operators() {
    static const std::vector<TuneOperator> ops = {
        {"gemm_int8", "gemm_int8_requant", {{"requant_type", "uint8"}}, {}, "MxNxK", "1x1024x1024,16x1024x1000,1024x1024x1024",
         true, gemm_slot, gemm_base, gemm_space, parse_gemm},
        {"conv_int8", "direct_conv_int8_requant", {{"requant_type", "uint8"}}, {}, "NxHxWxC:OxKHxKW[:sS][:pP]",
         "1x56x56x64:64x3x3:p1,8x14x14x256:256x3x3:p1", true, dconv_slot, dconv_base, dconv_space, parse_conv},
        {"rows_conv_int8", "direct_conv_rows_int8_requant", {{"requant_type", "uint8"}}, {},
         "NxHxWxC:OxKHxKW[:sS][:pP] (C % 4 != 0 or C_out <= 2 vectors)", "128x28x28x1:16x5x5:p2,128x14x14x16:32x5x5:p2",
         true, rconv_slot, rconv_base, rconv_space, parse_rows_conv},
        {"depthwise_conv_int8", "depthwise_conv_int8_requant", {{"requant_type", "uint8"}}, {},
         "NxHxWxC:KHxKW[:sS][:pP]", "1x112x112x32:3x3:p1", true, dwconv_slot, dwconv_base, dwconv_space,
         parse_depthwise},
        {"fake_quant", "fake_quant_per_tensor", {}, {"strict_float"}, "N (elements)", "16777216", true,
         [](const std::string &) { return std::string("qf_fake_quant_pt"); }, streaming_base, streaming_space,
         parse_fake_quant},
        {"lsq_backward", "lsq_backward_per_tensor", {}, {"strict_float"}, "N (elements)", "16777216", false,
         [](const std::string &) { return std::string("qf_lsq_backward_pt"); }, streaming_base, streaming_space,
         parse_lsq},
    };
    return ops;
}

const TuneOperator &find_operator(const std::string &name) {
    std::string known;
    for (const auto &op : operators()) {
        if (op.name == name || op.generator == name) return op;
        known += (known.empty() ? "" : ", ") + op.name;
    }
    throw UsageError("unknown operator '" + name + "' (qforge-tune tunes: " + known + ")");
}

}  // namespace qforge::tune
