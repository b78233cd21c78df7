// qforge vs PyTorch 1.13, bit for bit, on golden files that PyTorch 1.13.1
// itself produced (tests/golden/make_golden.py; the files are committed, so no
// torch is needed here). One parameterized test per golden case, per op:
//
//   torch.fake_quantize_per_tensor_affine            vs fake_quant(QuantParams)            y, dx
//   torch.fake_quantize_per_channel_affine           vs fake_quant(PerChannelQuantParams)  y, dx
//   torch._fake_quantize_learnable_per_tensor_affine vs lsq_forward / lsq_backward         y, dx, ds, dz
//   torch._fake_quantize_learnable_per_channel_affine vs the per-channel lsq_*             y, dx, ds, dz
//
// y and dx are compared as bit patterns (so -0.0 != +0.0); dx of fake_quant is
// fake_quant_backward(dy, mask) with the mask from the forward, torch's is the
// autograd gradient dy * mask. dscale / dzero_point are sums, compared with the
// bound of docs/numerics.md: |d - d_torch| <= 1e-5 * g * sum_i |term_i|, the
// magnitude sum computed in float64 by the script and stored in the file.
//
// The golden files come from PyTorch's generic CPU build (ATEN_CPU_CAPABILITY=
// default, recorded in each file's meta and printed in the coverage lines): the
// contract is the source-level formula without FMA contraction, and PyTorch's
// AVX2 / AVX-512 builds contract the learnable backward into FMAs (see
// make_golden.py for an example value).
//
// One documented deviation, kept apart in the hugepos_* cases (the test name
// ends in _DocumentedDeviation_TorchInt64OverflowUB): for finite x with
// z + nearbyint(x*inv) >= 2^63 in float (or x*inv = +inf from overflow),
// PyTorch's fake-quant forward casts that float to int64, which is undefined
// behaviour (x86 gives INT64_MIN, so a huge POSITIVE value quantizes to qmin).
// qforge saturates instead, as docs/numerics.md specifies (y = (qmax - z) * s,
// mask 0; LSQ: above the range). The files store the contract's results next
// to torch's; qforge is compared with the contract (y, dx bit-exact, sums within
// the bound), and torch with the contract at every element where its int64 cast
// does not overflow, so the test pins down exactly where and why they differ.
//
// Golden file format (little-endian, no padding; the generator documents it too):
//   "QFGOLDEN" u32 version(=1) u32 n_cases u32 meta_len meta[meta_len]
//   n_cases * { u32 name_len name  u32 n_fields
//               n_fields * { u32 key_len key  u8 dtype('f' f32,'d' f64,'i' i32,'u' u8)
//                            u8 ndim  i64 dims[ndim]  raw data } }
//   "QFGOLEND"
#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "qforge/ops.h"
#include "qforge/quant_params.h"
#include "qforge/tensor.h"

#ifndef QF_GOLDEN_DIR
#error "QF_GOLDEN_DIR (the tests/golden directory) must be defined"
#endif

namespace {

using qforge::DType;
using qforge::Shape;
using qforge::TensorView;

// ----------------------------------------------------------------------------- reader

struct Field {
    char dtype = 0;  // 'f', 'd', 'i', 'u'
    Shape shape;
    std::vector<unsigned char> bytes;

    size_t numel() const {
        size_t n = 1;
        for (int64_t d : shape) n *= static_cast<size_t>(d);
        return n;
    }
};

template<typename T> constexpr char dtype_code();
template<> constexpr char dtype_code<float>() { return 'f'; }
template<> constexpr char dtype_code<double>() { return 'd'; }
template<> constexpr char dtype_code<int32_t>() { return 'i'; }
template<> constexpr char dtype_code<uint8_t>() { return 'u'; }

struct GoldenCase {
    std::string name;
    std::map<std::string, Field> fields;

    const Field &field(const std::string &key) const {
        auto it = fields.find(key);
        if (it == fields.end()) throw std::runtime_error("case " + name + ": no field '" + key + "'");
        return it->second;
    }
    template<typename T> std::vector<T> vec(const std::string &key) const {
        const Field &f = field(key);
        if (f.dtype != dtype_code<T>()) {
            throw std::runtime_error("case " + name + ": field '" + key + "' has dtype '" +
                                     std::string(1, f.dtype) + "'");
        }
        std::vector<T> v(f.numel());
        if (!v.empty()) std::memcpy(v.data(), f.bytes.data(), v.size() * sizeof(T));
        return v;
    }
    template<typename T> T scalar(const std::string &key) const {
        const Field &f = field(key);
        if (!f.shape.empty()) throw std::runtime_error("case " + name + ": field '" + key + "' is not a scalar");
        return vec<T>(key).at(0);
    }
    const Shape &shape(const std::string &key) const { return field(key).shape; }
    bool has(const std::string &key) const { return fields.count(key) != 0; }
    // hugepos_* cases: the contract's results are stored next to torch's (see the top of this file).
    bool documented_deviation() const { return has("y_contract"); }
};

struct GoldenFile {
    std::string path;
    std::string meta;
    std::vector<GoldenCase> cases;
    std::string error;  // non-empty when the file could not be read
};

class Reader {
public:
    explicit Reader(std::vector<unsigned char> data) : data_(std::move(data)) {}

    void need(size_t n) const {
        if (data_.size() - pos_ < n) throw std::runtime_error("truncated at byte " + std::to_string(pos_));
    }
    template<typename T> T read() {  // little-endian scalar
        need(sizeof(T));
        T v{};
        unsigned char tmp[sizeof(T)];
        for (size_t i = 0; i < sizeof(T); i++) tmp[i] = data_[pos_ + i];
        std::memcpy(&v, tmp, sizeof(T));  // host is little-endian (checked in load_golden)
        pos_ += sizeof(T);
        return v;
    }
    std::string bytes(size_t n) {
        need(n);
        std::string s(reinterpret_cast<const char *>(data_.data() + pos_), n);
        pos_ += n;
        return s;
    }
    void raw(std::vector<unsigned char> &out, size_t n) {
        need(n);
        out.assign(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
                   data_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
        pos_ += n;
    }
    bool at_end() const { return pos_ == data_.size(); }

private:
    std::vector<unsigned char> data_;
    size_t pos_ = 0;
};

GoldenFile parse_golden(const std::string &path) {
    GoldenFile gf;
    gf.path = path;
    try {
        const uint32_t one = 1;
        unsigned char first;
        std::memcpy(&first, &one, 1);
        if (first != 1) throw std::runtime_error("this reader assumes a little-endian host");

        std::ifstream in(path, std::ios::binary);
        if (!in) throw std::runtime_error("cannot open (run tests/golden/make_golden.py with torch 1.13)");
        std::vector<unsigned char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        Reader r(std::move(data));
        if (r.bytes(8) != "QFGOLDEN") throw std::runtime_error("bad magic");
        const auto version = r.read<uint32_t>();
        if (version != 1) throw std::runtime_error("unsupported version " + std::to_string(version));
        const auto n_cases = r.read<uint32_t>();
        gf.meta = r.bytes(r.read<uint32_t>());
        for (uint32_t c = 0; c < n_cases; c++) {
            GoldenCase gc;
            gc.name = r.bytes(r.read<uint32_t>());
            const auto n_fields = r.read<uint32_t>();
            for (uint32_t f = 0; f < n_fields; f++) {
                std::string key = r.bytes(r.read<uint32_t>());
                Field fl;
                fl.dtype = static_cast<char>(r.read<uint8_t>());
                size_t elem;
                switch (fl.dtype) {
                case 'f': elem = 4; break;
                case 'd': elem = 8; break;
                case 'i': elem = 4; break;
                case 'u': elem = 1; break;
                default: throw std::runtime_error("case " + gc.name + ": bad dtype for " + key);
                }
                const auto ndim = r.read<uint8_t>();
                for (int d = 0; d < ndim; d++) {
                    const auto dim = r.read<int64_t>();
                    if (dim < 0 || dim > (int64_t{1} << 31)) throw std::runtime_error("bad dim in " + gc.name);
                    fl.shape.push_back(dim);
                }
                r.raw(fl.bytes, fl.numel() * elem);
                gc.fields.emplace(std::move(key), std::move(fl));
            }
            gf.cases.push_back(std::move(gc));
        }
        if (r.bytes(8) != "QFGOLEND" || !r.at_end()) throw std::runtime_error("bad end marker");
    } catch (const std::exception &e) {
        gf.error = path + ": " + e.what();
        gf.cases.clear();
    }
    return gf;
}

const GoldenFile &golden(const std::string &file_name) {
    static std::map<std::string, GoldenFile> cache;
    auto it = cache.find(file_name);
    if (it == cache.end()) {
        it = cache.emplace(file_name, parse_golden(std::string(QF_GOLDEN_DIR) + "/" + file_name)).first;
    }
    return it->second;
}

const char *const kFqPerTensor = "fake_quant_per_tensor.bin";
const char *const kFqPerChannel = "fake_quant_per_channel.bin";
const char *const kLsqPerTensor = "lsq_per_tensor.bin";
const char *const kLsqPerChannel = "lsq_per_channel.bin";

// ----------------------------------------------------------------------------- comparison

uint32_t bits_of(float v) {
    uint32_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}

std::string fmt_float(float v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g (0x%08" PRIx32 ")", static_cast<double>(v), bits_of(v));
    return buf;
}

// Describes element i for a failure message (the channel and its parameters, for per-channel ops).
using ElementInfo = std::string (*)(const GoldenCase &, size_t);

std::string no_info(const GoldenCase &, size_t) { return ""; }

// Channel of flat index i for a contiguous tensor with the channel at `axis`.
size_t channel_of(const Shape &shape, int axis, size_t i) {
    size_t inner = 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); d++) inner *= static_cast<size_t>(shape[d]);
    return (i / inner) % static_cast<size_t>(shape[static_cast<size_t>(axis)]);
}

// `ref` names what `want` is: "torch" (its output) or "the contract" (hugepos_* cases).
::testing::AssertionResult bits_equal(const GoldenCase &gc, const char *what, const std::vector<float> &got,
                                      const std::vector<float> &want, const std::vector<float> &x,
                                      const std::vector<float> *dy = nullptr, ElementInfo info = no_info,
                                      const char *ref = "torch") {
    if (got.size() != want.size()) {
        return ::testing::AssertionFailure() << "case " << gc.name << ": " << what << " has " << got.size()
                                             << " elements, " << ref << " " << want.size();
    }
    size_t mismatches = 0, first = 0;
    for (size_t i = 0; i < got.size(); i++) {
        if (bits_of(got[i]) != bits_of(want[i])) {
            if (mismatches++ == 0) first = i;
        }
    }
    if (mismatches == 0) return ::testing::AssertionSuccess();
    auto f = ::testing::AssertionFailure();
    f << "case " << gc.name << ": " << what << " differs from " << ref << " at " << mismatches << " of "
      << got.size() << " elements; first at index " << first << ": qforge " << fmt_float(got[first]) << ", "
      << ref << " " << fmt_float(want[first]) << "; x = " << fmt_float(x[first]);
    if (dy) f << ", dy = " << fmt_float((*dy)[first]);
    f << info(gc, first);
    return f;
}

// |got - want| <= 1e-5 * g * sum|term| (docs/numerics.md, Sums); got_name / want_name
// say whose values they are ("qforge", "torch", "the contract").
::testing::AssertionResult sum_within(const GoldenCase &gc, const std::string &what, float got, float want,
                                      float g, double abs_sum, const char *got_name = "qforge",
                                      const char *want_name = "torch") {
    const double bound = 1e-5 * static_cast<double>(g) * abs_sum;
    const double err = std::fabs(static_cast<double>(got) - static_cast<double>(want));
    if (err <= bound) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "case " << gc.name << ": " << what << " " << got_name << " " << fmt_float(got) << ", " << want_name
           << " " << fmt_float(want) << ", |diff| " << err << " > bound 1e-5 * g * sum|term| = " << bound
           << " (g = " << g << ", sum|term| = " << abs_sum << ")";
}

// ----------------------------------------------------------------------------- documented deviation

const char *const kDeviation = "documented deviation: torch int64 overflow (UB)";

// Casting a float to int64 is undefined behaviour when it is not finite or lies outside [-2^63, 2^63).
bool int64_cast_overflows(float v) { return !std::isfinite(v) || v >= 0x1p63f || v < -0x1p63f; }

// Where PyTorch 1.13's fake-quant forward (also the LSQ forward, with the forward zero
// point) casts out of range: qval = int64(z + nearbyint(x * inv)), a float sum.
std::vector<bool> torch_forward_int64_overflow(const std::vector<float> &x, float scale, int32_t z) {
    const float inv = 1.0f / scale;
    std::vector<bool> overflow(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        overflow[i] = int64_cast_overflows(std::nearbyint(x[i] * inv) + static_cast<float>(z));
    }
    return overflow;
}

// Where PyTorch 1.13's learnable backward casts out of range: xqi = int64(nearbyint(z + x * inv)),
// with the backward zero point (its mask and dscale term use xqi).
std::vector<bool> torch_learnable_backward_int64_overflow(const std::vector<float> &x, float scale, int32_t z) {
    const float inv = 1.0f / scale;
    std::vector<bool> overflow(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        volatile float product = x[i] * inv;  // rounded before z is added, as the contract (no FMA)
        overflow[i] = int64_cast_overflows(std::nearbyint(static_cast<float>(z) + product));
    }
    return overflow;
}

// The script's torch_int64_overflow field is the same set (it used it to zero dy for the *_excl sums).
::testing::AssertionResult same_overflow_set(const GoldenCase &gc, const std::vector<bool> &overflow) {
    const auto stored = gc.vec<uint8_t>("torch_int64_overflow");
    if (stored.size() != overflow.size()) return ::testing::AssertionFailure() << gc.name << ": size mismatch";
    for (size_t i = 0; i < stored.size(); i++) {
        if ((stored[i] != 0) != overflow[i]) {
            return ::testing::AssertionFailure() << "case " << gc.name << ": torch_int64_overflow[" << i
                                                 << "] = " << int{stored[i]} << ", recomputed " << overflow[i];
        }
    }
    return ::testing::AssertionSuccess();
}

// torch's output equals the contract's at every element where its int64 cast does not
// overflow; `deviating` counts the (overflowing) elements where they differ.
::testing::AssertionResult torch_matches_contract_except_overflow(const GoldenCase &gc, const char *what,
                                                                  const std::vector<float> &torch,
                                                                  const std::vector<float> &contract,
                                                                  const std::vector<bool> &overflow,
                                                                  const std::vector<float> &x, size_t &deviating) {
    if (torch.size() != contract.size() || torch.size() != overflow.size()) {
        return ::testing::AssertionFailure() << "case " << gc.name << ": " << what << ": size mismatch";
    }
    size_t bad = 0, first = 0;
    deviating = 0;
    for (size_t i = 0; i < torch.size(); i++) {
        if (bits_of(torch[i]) == bits_of(contract[i])) continue;
        if (overflow[i]) {
            deviating++;
        } else if (bad++ == 0) {
            first = i;
        }
    }
    if (bad == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "case " << gc.name << " (" << kDeviation << "): torch " << what << " differs from the contract at "
           << bad << " elements where torch's int64 cast does NOT overflow; first at index " << first << ": torch "
           << fmt_float(torch[first]) << ", contract " << fmt_float(contract[first]) << "; x = " << fmt_float(x[first]);
}

std::string case_name(const std::string &file, size_t i) {
    const GoldenFile &gf = golden(file);
    if (i >= gf.cases.size()) return "case" + std::to_string(i);
    const GoldenCase &gc = gf.cases[i];
    return gc.documented_deviation() ? gc.name + "_DocumentedDeviation_TorchInt64OverflowUB" : gc.name;
}

// Coverage, printed once per suite.
struct Coverage {
    size_t cases = 0;
    size_t elements = 0;
    size_t channels = 0;
    size_t deviation_cases = 0;       // hugepos_*: qforge vs the contract
    size_t deviation_elements = 0;    // of those, elements where torch's int64 cast overflows
    size_t deviating_y = 0;           // ... and torch's y differs from the contract's
    size_t deviating_dx = 0;          // ... and torch's dx differs from the contract's
    size_t deviating_sums = 0;        // LSQ: torch's dscale / dzero_point outside the bound around the contract's
};

std::string meta_value(const GoldenFile &gf, const std::string &key) {
    const std::string meta = "\n" + gf.meta, k = "\n" + key + "=";
    const size_t pos = meta.find(k);
    if (pos == std::string::npos) return "?";
    const size_t begin = pos + k.size();
    return meta.substr(begin, meta.find('\n', begin) - begin);
}

void print_coverage(const char *suite, const char *file, const Coverage &c, const char *checked) {
    const GoldenFile &gf = golden(file);
    std::string deviation;
    if (c.deviation_cases) {
        deviation = "; " + std::to_string(c.deviation_cases) + " hugepos_* cases vs the contract: torch's y differs at " +
                    std::to_string(c.deviating_y) + " and its dx at " + std::to_string(c.deviating_dx) + " of their " +
                    std::to_string(c.deviation_elements) + " int64-overflow elements, nowhere else" +
                    (c.deviating_sums ? "; torch's dscale/dzero_point off in " + std::to_string(c.deviating_sums) +
                                            " sums, all within the bound once dy = 0 at those elements"
                                      : std::string()) +
                    " (" + kDeviation + ")";
    }
    std::printf("[ golden   ] %s vs torch %s (ATEN_CPU_CAPABILITY=%s): %zu of %zu cases, %zu elements%s checked "
                "(%s)%s\n",
                suite, meta_value(gf, "torch").c_str(), meta_value(gf, "aten_cpu_capability").c_str(), c.cases,
                gf.cases.size(), c.elements,
                c.channels ? (", " + std::to_string(c.channels) + " channels").c_str() : "", checked,
                deviation.c_str());
    std::fflush(stdout);
}

int32_t i32(const GoldenCase &gc, const char *key) { return gc.scalar<int32_t>(key); }

// ----------------------------------------------------------------------------- files

TEST(PyTorchGoldenFiles, PresentAndWellFormed) {
    for (const char *file : {kFqPerTensor, kFqPerChannel, kLsqPerTensor, kLsqPerChannel}) {
        const GoldenFile &gf = golden(file);
        EXPECT_TRUE(gf.error.empty()) << gf.error;
        EXPECT_GE(gf.cases.size(), 10u) << file;
        EXPECT_NE(gf.meta.find("torch=1.13"), std::string::npos) << file << " meta: " << gf.meta;
        for (const GoldenCase &gc : gf.cases) {  // the contract's results are stored exactly for hugepos_*
            EXPECT_EQ(gc.documented_deviation(), gc.name.rfind("hugepos_", 0) == 0) << file << ": " << gc.name;
        }
    }
}

// ----------------------------------------------------------------------------- fake_quant per tensor

class FakeQuantPerTensorGolden : public ::testing::TestWithParam<size_t> {
public:
    static Coverage coverage;
    static void TearDownTestSuite() {
        print_coverage("fake_quant per-tensor", kFqPerTensor, coverage, "y with and without mask, dx: bit-exact");
    }
};
Coverage FakeQuantPerTensorGolden::coverage;

TEST_P(FakeQuantPerTensorGolden, MatchesTorch) {
    const GoldenCase &gc = golden(kFqPerTensor).cases.at(GetParam());
    auto x = gc.vec<float>("x"), dy = gc.vec<float>("dy");
    const auto want_y = gc.vec<float>("y"), want_dx = gc.vec<float>("dx");
    const Shape shape = gc.shape("x");
    const qforge::QuantParams p{gc.scalar<float>("scale"), i32(gc, "zero_point"),
                                qforge::QuantRange{i32(gc, "qmin"), i32(gc, "qmax")}};
    std::vector<float> y(x.size(), -1.0f), y2(x.size(), -1.0f), dx(x.size(), -1.0f);
    std::vector<uint8_t> mask(x.size(), 7);

    qforge::fake_quant(TensorView(x.data(), shape), p, TensorView(y.data(), shape));
    qforge::fake_quant(TensorView(x.data(), shape), p, TensorView(y2.data(), shape),
                       TensorView(mask.data(), shape));
    qforge::fake_quant_backward(TensorView(dy.data(), shape), TensorView(mask.data(), shape),
                                TensorView(dx.data(), shape));

    coverage.cases++;
    coverage.elements += x.size();
    if (!gc.documented_deviation()) {
        EXPECT_TRUE(bits_equal(gc, "y (fake_quant without mask)", y, want_y, x));
        EXPECT_TRUE(bits_equal(gc, "y (fake_quant with mask)", y2, want_y, x));
        EXPECT_TRUE(bits_equal(gc, "dx (fake_quant_backward)", dx, want_dx, x, &dy));
        return;
    }
    // hugepos_*: qforge vs the contract, torch vs the contract except where its int64 cast overflows.
    SCOPED_TRACE(kDeviation);
    const auto contract_y = gc.vec<float>("y_contract"), contract_dx = gc.vec<float>("dx_contract");
    EXPECT_TRUE(bits_equal(gc, "y (fake_quant without mask)", y, contract_y, x, nullptr, no_info, "the contract"));
    EXPECT_TRUE(bits_equal(gc, "y (fake_quant with mask)", y2, contract_y, x, nullptr, no_info, "the contract"));
    EXPECT_TRUE(bits_equal(gc, "dx (fake_quant_backward)", dx, contract_dx, x, &dy, no_info, "the contract"));
    const auto overflow = torch_forward_int64_overflow(x, p.scale, p.zero_point);  // mask (dx) from the forward
    EXPECT_TRUE(same_overflow_set(gc, overflow));
    size_t dev_y = 0, dev_dx = 0;
    EXPECT_TRUE(torch_matches_contract_except_overflow(gc, "y", want_y, contract_y, overflow, x, dev_y));
    EXPECT_TRUE(torch_matches_contract_except_overflow(gc, "dx", want_dx, contract_dx, overflow, x, dev_dx));
    const size_t n_overflow = static_cast<size_t>(std::count(overflow.begin(), overflow.end(), true));
    EXPECT_GT(n_overflow, 0u) << gc.name << ": a hugepos_* case without an int64-overflow element";
    coverage.deviation_cases++;
    coverage.deviation_elements += n_overflow;
    coverage.deviating_y += dev_y;
    coverage.deviating_dx += dev_dx;
}

INSTANTIATE_TEST_SUITE_P(
    PyTorch113, FakeQuantPerTensorGolden, ::testing::Range<size_t>(0, golden(kFqPerTensor).cases.size()),
    [](const ::testing::TestParamInfo<size_t> &info) { return case_name(kFqPerTensor, info.param); });

// ----------------------------------------------------------------------------- fake_quant per channel

std::string per_channel_info(const GoldenCase &gc, size_t i) {
    const int axis = gc.scalar<int32_t>("axis");
    const size_t c = channel_of(gc.shape("x"), axis, i);
    std::ostringstream os;
    os << " (channel " << c << " on axis " << axis << ", scale " << fmt_float(gc.vec<float>("scales").at(c))
       << ", zero point ";
    if (gc.field("zero_points").dtype == 'i') {
        os << gc.vec<int32_t>("zero_points").at(c);
    } else {
        os << fmt_float(gc.vec<float>("zero_points").at(c));
    }
    os << ", range [" << gc.scalar<int32_t>("qmin") << ", " << gc.scalar<int32_t>("qmax") << "])";
    return os.str();
}

class FakeQuantPerChannelGolden : public ::testing::TestWithParam<size_t> {
public:
    static Coverage coverage;
    static void TearDownTestSuite() {
        print_coverage("fake_quant per-channel", kFqPerChannel, coverage,
                       "y with and without mask, dx: bit-exact");
    }
};
Coverage FakeQuantPerChannelGolden::coverage;

TEST_P(FakeQuantPerChannelGolden, MatchesTorch) {
    const GoldenCase &gc = golden(kFqPerChannel).cases.at(GetParam());
    auto x = gc.vec<float>("x"), dy = gc.vec<float>("dy");
    const auto want_y = gc.vec<float>("y"), want_dx = gc.vec<float>("dx");
    const Shape shape = gc.shape("x");
    qforge::PerChannelQuantParams p;
    p.scales = gc.vec<float>("scales");
    p.zero_points = gc.vec<int32_t>("zero_points");
    p.axis = i32(gc, "axis");
    p.range = qforge::QuantRange{i32(gc, "qmin"), i32(gc, "qmax")};
    std::vector<float> y(x.size(), -1.0f), y2(x.size(), -1.0f), dx(x.size(), -1.0f);
    std::vector<uint8_t> mask(x.size(), 7);

    qforge::fake_quant(TensorView(x.data(), shape), p, TensorView(y.data(), shape));
    qforge::fake_quant(TensorView(x.data(), shape), p, TensorView(y2.data(), shape),
                       TensorView(mask.data(), shape));
    qforge::fake_quant_backward(TensorView(dy.data(), shape), TensorView(mask.data(), shape),
                                TensorView(dx.data(), shape));

    EXPECT_TRUE(bits_equal(gc, "y (fake_quant without mask)", y, want_y, x, nullptr, per_channel_info));
    EXPECT_TRUE(bits_equal(gc, "y (fake_quant with mask)", y2, want_y, x, nullptr, per_channel_info));
    EXPECT_TRUE(bits_equal(gc, "dx (fake_quant_backward)", dx, want_dx, x, &dy, per_channel_info));
    coverage.cases++;
    coverage.elements += x.size();
    coverage.channels += p.scales.size();
}

INSTANTIATE_TEST_SUITE_P(
    PyTorch113, FakeQuantPerChannelGolden, ::testing::Range<size_t>(0, golden(kFqPerChannel).cases.size()),
    [](const ::testing::TestParamInfo<size_t> &info) { return case_name(kFqPerChannel, info.param); });

// ----------------------------------------------------------------------------- LSQ per tensor

class LsqPerTensorGolden : public ::testing::TestWithParam<size_t> {
public:
    static Coverage coverage;
    static void TearDownTestSuite() {
        print_coverage("LSQ per-tensor", kLsqPerTensor, coverage,
                       "y, dx bit-exact; dscale, dzero_point within 1e-5*g*sum|term|");
    }
};
Coverage LsqPerTensorGolden::coverage;

TEST_P(LsqPerTensorGolden, MatchesTorch) {
    const GoldenCase &gc = golden(kLsqPerTensor).cases.at(GetParam());
    auto x = gc.vec<float>("x"), dy = gc.vec<float>("dy");
    const auto want_y = gc.vec<float>("y"), want_dx = gc.vec<float>("dx");
    const Shape shape = gc.shape("x");
    const qforge::LearnableQuantParams p{gc.scalar<float>("scale"), gc.scalar<float>("zero_point"),
                                         qforge::QuantRange{i32(gc, "qmin"), i32(gc, "qmax")}};
    const float g = gc.scalar<float>("grad_factor");
    // Where the script used g = float(1/sqrt(numel*qmax)), let qforge compute its default.
    const std::optional<float> grad_scale =
        i32(gc, "grad_factor_is_default") ? std::nullopt : std::optional<float>(g);
    std::vector<float> y(x.size(), -1.0f), dx(x.size(), -1.0f);

    qforge::lsq_forward(TensorView(x.data(), shape), p, TensorView(y.data(), shape));
    const qforge::LsqGradients grads = qforge::lsq_backward(TensorView(x.data(), shape), TensorView(dy.data(), shape),
                                                            p, TensorView(dx.data(), shape), grad_scale);

    const double ds_abs = gc.scalar<double>("dscale_abs_sum"), dz_abs = gc.scalar<double>("dzero_point_abs_sum");
    coverage.cases++;
    coverage.elements += x.size();
    if (!gc.documented_deviation()) {
        EXPECT_TRUE(bits_equal(gc, "y (lsq_forward)", y, want_y, x));
        EXPECT_TRUE(bits_equal(gc, "dx (lsq_backward)", dx, want_dx, x, &dy));
        EXPECT_TRUE(sum_within(gc, "dscale", grads.dscale, gc.scalar<float>("dscale"), g, ds_abs));
        EXPECT_TRUE(sum_within(gc, "dzero_point", grads.dzero_point, gc.scalar<float>("dzero_point"), g, dz_abs));
        return;
    }
    // hugepos_*: qforge vs the contract, torch vs the contract except where its int64 casts overflow.
    SCOPED_TRACE(kDeviation);
    const auto contract_y = gc.vec<float>("y_contract"), contract_dx = gc.vec<float>("dx_contract");
    EXPECT_TRUE(bits_equal(gc, "y (lsq_forward)", y, contract_y, x, nullptr, no_info, "the contract"));
    EXPECT_TRUE(bits_equal(gc, "dx (lsq_backward)", dx, contract_dx, x, &dy, no_info, "the contract"));
    EXPECT_TRUE(sum_within(gc, "dscale", grads.dscale, gc.scalar<float>("dscale_contract"), g, ds_abs, "qforge",
                           "the contract"));
    EXPECT_TRUE(sum_within(gc, "dzero_point", grads.dzero_point, gc.scalar<float>("dzero_point_contract"), g, dz_abs,
                           "qforge", "the contract"));

    // torch's forward is fake_quantize_per_tensor_affine with z = clamp(nearbyint(zf)); its backward
    // casts nearbyint(z + x*inv) to int64 with z = int(clamp(zf + 0.5)) (docs/numerics.md).
    const float lo = static_cast<float>(p.range.qmin), hi = static_cast<float>(p.range.qmax);
    const auto z_fwd = static_cast<int32_t>(std::fmin(std::fmax(std::nearbyint(p.zero_point), lo), hi));
    const auto z_bwd = static_cast<int32_t>(std::fmin(std::fmax(p.zero_point + 0.5f, lo), hi));
    const auto ov_fwd = torch_forward_int64_overflow(x, p.scale, z_fwd);
    const auto ov_bwd = torch_learnable_backward_int64_overflow(x, p.scale, z_bwd);
    std::vector<bool> ov_any(x.size());
    for (size_t i = 0; i < x.size(); i++) ov_any[i] = ov_fwd[i] || ov_bwd[i];
    EXPECT_TRUE(same_overflow_set(gc, ov_any));
    size_t dev_y = 0, dev_dx = 0;
    EXPECT_TRUE(torch_matches_contract_except_overflow(gc, "y", want_y, contract_y, ov_fwd, x, dev_y));
    EXPECT_TRUE(torch_matches_contract_except_overflow(gc, "dx", want_dx, contract_dx, ov_bwd, x, dev_dx));
    // dscale and dzero_point are sums: torch's, run again with dy = 0 where an int64 cast
    // overflows, against the contract's over the same elements. (Over all elements torch's
    // dscale differs: its backward counts an overflowing element as below the range.)
    EXPECT_TRUE(sum_within(gc, "dscale (dy = 0 where torch's int64 cast overflows)",
                           gc.scalar<float>("dscale_torch_excl"), gc.scalar<float>("dscale_contract_excl"), g,
                           gc.scalar<double>("dscale_abs_sum_excl"), "torch", "the contract"));
    EXPECT_TRUE(sum_within(gc, "dzero_point (dy = 0 where torch's int64 cast overflows)",
                           gc.scalar<float>("dzero_point_torch_excl"), gc.scalar<float>("dzero_point_contract_excl"),
                           g, gc.scalar<double>("dzero_point_abs_sum_excl"), "torch", "the contract"));
    const size_t n_overflow = static_cast<size_t>(std::count(ov_any.begin(), ov_any.end(), true));
    EXPECT_GT(n_overflow, 0u) << gc.name << ": a hugepos_* case without an int64-overflow element";
    coverage.deviation_cases++;
    coverage.deviation_elements += n_overflow;
    coverage.deviating_y += dev_y;
    coverage.deviating_dx += dev_dx;
    for (const char *what : {"dscale", "dzero_point"}) {
        const std::string w = what;
        if (!sum_within(gc, w, gc.scalar<float>(w), gc.scalar<float>(w + "_contract"), g,
                        gc.scalar<double>(w + "_abs_sum"), "torch", "the contract")) {
            coverage.deviating_sums++;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    PyTorch113, LsqPerTensorGolden, ::testing::Range<size_t>(0, golden(kLsqPerTensor).cases.size()),
    [](const ::testing::TestParamInfo<size_t> &info) { return case_name(kLsqPerTensor, info.param); });

// ----------------------------------------------------------------------------- LSQ per channel

class LsqPerChannelGolden : public ::testing::TestWithParam<size_t> {
public:
    static Coverage coverage;
    static void TearDownTestSuite() {
        print_coverage("LSQ per-channel", kLsqPerChannel, coverage,
                       "y, dx bit-exact; dscale, dzero_point within 1e-5*g*sum|term|");
    }
};
Coverage LsqPerChannelGolden::coverage;

TEST_P(LsqPerChannelGolden, MatchesTorch) {
    const GoldenCase &gc = golden(kLsqPerChannel).cases.at(GetParam());
    auto x = gc.vec<float>("x"), dy = gc.vec<float>("dy");
    const auto want_y = gc.vec<float>("y"), want_dx = gc.vec<float>("dx");
    const auto want_ds = gc.vec<float>("dscale"), want_dz = gc.vec<float>("dzero_point");
    const auto ds_abs = gc.vec<double>("dscale_abs_sum"), dz_abs = gc.vec<double>("dzero_point_abs_sum");
    const Shape shape = gc.shape("x");
    qforge::LearnablePerChannelQuantParams p;
    p.scales = gc.vec<float>("scales");
    p.zero_points = gc.vec<float>("zero_points");
    p.axis = i32(gc, "axis");
    p.range = qforge::QuantRange{i32(gc, "qmin"), i32(gc, "qmax")};
    const float g = gc.scalar<float>("grad_factor");
    const std::optional<float> grad_scale =
        i32(gc, "grad_factor_is_default") ? std::nullopt : std::optional<float>(g);
    std::vector<float> y(x.size(), -1.0f), dx(x.size(), -1.0f);

    qforge::lsq_forward(TensorView(x.data(), shape), p, TensorView(y.data(), shape));
    const qforge::LsqPerChannelGradients grads = qforge::lsq_backward(
        TensorView(x.data(), shape), TensorView(dy.data(), shape), p, TensorView(dx.data(), shape), grad_scale);

    EXPECT_TRUE(bits_equal(gc, "y (lsq_forward)", y, want_y, x, nullptr, per_channel_info));
    EXPECT_TRUE(bits_equal(gc, "dx (lsq_backward)", dx, want_dx, x, &dy, per_channel_info));
    ASSERT_EQ(grads.dscale.size(), p.scales.size()) << gc.name;
    ASSERT_EQ(grads.dzero_point.size(), p.scales.size()) << gc.name;
    for (size_t c = 0; c < p.scales.size(); c++) {
        const std::string ch = "[channel " + std::to_string(c) + "]";
        EXPECT_TRUE(sum_within(gc, "dscale" + ch, grads.dscale[c], want_ds.at(c), g, ds_abs.at(c)));
        EXPECT_TRUE(sum_within(gc, "dzero_point" + ch, grads.dzero_point[c], want_dz.at(c), g, dz_abs.at(c)));
    }
    coverage.cases++;
    coverage.elements += x.size();
    coverage.channels += p.scales.size();
}

INSTANTIATE_TEST_SUITE_P(
    PyTorch113, LsqPerChannelGolden, ::testing::Range<size_t>(0, golden(kLsqPerChannel).cases.size()),
    [](const ::testing::TestParamInfo<size_t> &info) { return case_name(kLsqPerChannel, info.param); });

}  // namespace
