// Integer models: validation, the int8-model file (save/load) and the integer
// forward (contracts in qforge/int_model.h).
#include "qforge/int_model.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "qforge/error.h"
#include "qforge/model_file.h"
#include "qforge/train_ops.h"

namespace qforge {

using nlohmann::json;

namespace {

constexpr int kIntModelVersion = 1;

TensorView reshape(const TensorView &t, Shape shape) { return TensorView(t.data(), t.dtype(), std::move(shape)); }

Tensor &buffer(std::map<std::string, Tensor> &m, const std::string &key, DType t, const Shape &shape) {
    Tensor &b = m[key];
    if (b.dtype() != t || b.shape() != shape) b = Tensor(t, shape);
    return b;
}

json qparams_json(const QuantParams &p) {
    return {{"scale", p.scale}, {"zero_point", p.zero_point}, {"qmin", p.range.qmin}, {"qmax", p.range.qmax}};
}

QuantParams qparams_from(const json &j) {
    QuantParams p;
    p.scale = j.at("scale").get<float>();
    p.zero_point = j.at("zero_point").get<int32_t>();
    p.range.qmin = j.at("qmin").get<int32_t>();
    p.range.qmax = j.at("qmax").get<int32_t>();
    p.validate("integer model file");
    return p;
}

template<typename T> Tensor vector_tensor(const std::vector<T> &v) {
    Tensor t(dtype_of<T>(), {static_cast<int64_t>(v.size())});
    if (!v.empty()) std::memcpy(t.data(), v.data(), v.size() * sizeof(T));
    return t;
}

template<typename T> std::vector<T> tensor_vector(const ModelFile &f, const std::string &name, int64_t n) {
    const Tensor &t = f.tensor(name);
    if (t.dtype() != dtype_of<T>() || t.numel() != n) {
        throw FileError("integer model: tensor '" + name + "' is " + t.view().describe() + ", expected " +
                        std::to_string(n) + " " + dtype_name(dtype_of<T>()));
    }
    const T *p = t.data_as<T>();
    return std::vector<T>(p, p + n);
}

Shape weight_shape(const StageSpec &s) {
    const int64_t O = s.out_c;
    return s.kind == LayerKind::linear ? Shape{O, s.in_c} : Shape{O, s.kernel_h, s.kernel_w, s.in_c / s.geometry.groups};
}

std::string shape_text(const Shape &s) {
    std::string t = "[";
    for (size_t i = 0; i < s.size(); i++) t += (i ? ", " : "") + std::to_string(s[i]);
    return t + "]";
}

// The checks of IntegerModel's constructor, one stage.
void validate_stage(const StageSpec &s, const IntegerStage &st, bool last) {
    const std::string where = "IntegerModel: stage '" + s.name + "': ";
    auto fail = [&](const std::string &what) { throw InvalidArgument(where + what); };
    if (st.last != last) fail(last ? "the last stage must have last = true" : "only the last stage may have last = true");
    if (st.weight_bits < 2 || st.weight_bits > 8) fail("weight_bits " + std::to_string(st.weight_bits) + " is outside 2..8");
    const Shape ws = weight_shape(s);
    if (st.weights.dtype() != DType::s8 || st.weights.shape() != ws) {
        fail("weights are " + st.weights.view().describe() + ", expected s8 " + shape_text(ws));
    }
    const int lo = -(1 << (st.weight_bits - 1)), hi = (1 << (st.weight_bits - 1)) - 1;
    const int8_t *w = st.weights.data_as<int8_t>();
    for (int64_t i = 0; i < st.weights.numel(); i++) {
        if (w[i] < lo || w[i] > hi) {
            fail("weight " + std::to_string(w[i]) + " at index " + std::to_string(i) + " does not fit " +
                 std::to_string(st.weight_bits) + " bits");
        }
    }
    const size_t O = static_cast<size_t>(s.out_c);
    auto per_channel = [&](const std::vector<float> &v, const char *name) {
        if (v.size() != O) fail(std::string(name) + " has " + std::to_string(v.size()) + " entries, expected " + std::to_string(O));
        for (float x : v) {
            if (!std::isfinite(x) || !(x > 0.0f)) fail(std::string(name) + " must be finite and > 0");
        }
    };
    per_channel(st.weight_scales, "weight_scales");
    if (st.bias.size() != O) fail("bias has " + std::to_string(st.bias.size()) + " entries, expected " + std::to_string(O));
    st.input.validate("IntegerModel stage input");
    if (st.input.range.qmin < 0 || st.input.range.qmax > 255) fail("input range must lie in u8 [0, 255]");
    if (last) {
        per_channel(st.out_scale, "out_scale");
    } else {
        st.output.validate("IntegerModel stage output");
        per_channel(st.requant.multiplier, "requant.multiplier");
        const Requantization &r = st.requant;
        if (r.out_min < 0 || r.out_max > 255 || r.out_min > r.out_max) {
            fail("requantization clamp [" + std::to_string(r.out_min) + ", " + std::to_string(r.out_max) +
                 "] must be a range within u8 [0, 255]");
        }
        if (r.out_zero_point != st.output.zero_point) fail("requant.out_zero_point differs from output.zero_point");
    }
}

}  // namespace

std::vector<uint8_t> pack_bits(const int8_t *values, int64_t n, int bits) {
    if (bits < 2 || bits > 8) throw InvalidArgument("pack_bits: bits " + std::to_string(bits) + " is outside 2..8");
    if (n < 0 || (n > 0 && !values)) throw InvalidArgument("pack_bits: bad values (null or negative count)");
    std::vector<uint8_t> out((n * bits + 7) / 8, 0);
    const uint32_t mask = (1u << bits) - 1;
    int64_t bit = 0;
    for (int64_t i = 0; i < n; i++, bit += bits) {
        uint32_t v = static_cast<uint32_t>(static_cast<int32_t>(values[i])) & mask;
        for (int b = 0; b < bits; b++) {
            if (v >> b & 1) out[(bit + b) >> 3] |= static_cast<uint8_t>(1u << ((bit + b) & 7));
        }
    }
    return out;
}

void unpack_bits(const uint8_t *packed, size_t packed_size, int64_t n, int bits, int8_t *values) {
    if (bits < 2 || bits > 8) throw InvalidArgument("unpack_bits: bits " + std::to_string(bits) + " is outside 2..8");
    if (n < 0 || (n > 0 && (!values || !packed))) throw InvalidArgument("unpack_bits: null pointer or negative count");
    if (static_cast<int64_t>(packed_size) * 8 < n * bits) throw FileError("packed weights are too short");
    int64_t bit = 0;
    for (int64_t i = 0; i < n; i++, bit += bits) {
        uint32_t v = 0;
        for (int b = 0; b < bits; b++) v |= uint32_t(packed[(bit + b) >> 3] >> ((bit + b) & 7) & 1) << b;
        // Sign-extend from `bits`.
        int32_t s = static_cast<int32_t>(v << (32 - bits)) >> (32 - bits);
        values[i] = static_cast<int8_t>(s);
    }
}

IntegerModel::IntegerModel(ModelSpec spec, std::vector<IntegerStage> stages) : spec_(std::move(spec)) {
    if (spec_.stages.empty()) throw InvalidArgument("IntegerModel: the model description has no stages");
    if (stages.size() != spec_.stages.size()) {
        throw InvalidArgument("IntegerModel: " + std::to_string(stages.size()) + " stages for a description with " +
                              std::to_string(spec_.stages.size()));
    }
    for (size_t i = 0; i < stages.size(); i++) {
        Layer l;
        l.spec = spec_.stages[i];
        l.stage = std::move(stages[i]);
        validate_stage(l.spec, l.stage, i + 1 == stages.size());
        // Packed once for the kernels (their own checks apply too).
        if (l.spec.kind == LayerKind::linear) {
            l.gemm = PackedGemmWeights(l.stage.weights);
        } else {
            l.conv = PackedConvWeights(l.stage.weights, l.spec.geometry.groups);
        }
        layers_.push_back(std::move(l));
    }
}

void IntegerModel::run(const float *images, int batch, float *logits, std::vector<Tensor> *activations) {
    if (layers_.empty()) throw InvalidArgument("IntegerModel::run: the model is empty (default-constructed)");
    if (batch < 1) throw InvalidArgument("IntegerModel::run: batch must be >= 1, got " + std::to_string(batch));
    if (!images || !logits) throw InvalidArgument("IntegerModel::run: images and logits must not be null");
    if (activations) activations->clear();
    TensorView x(const_cast<float *>(images), {batch, spec_.in_h, spec_.in_w, spec_.in_c});
    if (input_buffer_.shape() != x.shape()) input_buffer_ = Tensor(DType::u8, x.shape());
    quantize(x, layers_.front().stage.input, input_buffer_);
    TensorView xq = input_buffer_;
    for (Layer &l : layers_) {
        const IntegerStage &f = l.stage;
        GemmOptions opt{f.input.zero_point, f.bias.data()};
        bool linear = l.spec.kind == LayerKind::linear;
        TensorView in = reshape(xq, linear ? Shape{batch, l.spec.in_c}
                                           : Shape{batch, l.spec.in_h, l.spec.in_w, l.spec.in_c});
        Shape out_shape = linear ? Shape{batch, l.spec.out_c} : Shape{batch, l.spec.out_h, l.spec.out_w, l.spec.out_c};
        if (f.last) {
            TensorView out(logits, out_shape);
            if (linear) {
                gemm_dequantized(in, l.gemm, opt, f.out_scale, out);
            } else {
                conv2d_dequantized(in, l.conv, l.spec.geometry, opt, f.out_scale, out);
            }
            break;
        }
        Tensor &y = buffer(l.buffers, "y", DType::u8, out_shape);
        if (linear) {
            gemm_requantized(in, l.gemm, opt, f.requant, y);
        } else {
            conv2d_requantized(in, l.conv, l.spec.geometry, opt, f.requant, y);
        }
        TensorView out = y;
        for (int k = 0; k < l.spec.pools; k++) {
            Shape ps = {batch, out.dim(1) / 2, out.dim(2) / 2, out.dim(3)};
            Tensor &p = buffer(l.buffers, "pool" + std::to_string(k), DType::u8, ps);
            max_pool2x2_int8(out, p);
            out = p;
        }
        if (activations) {
            Tensor copy(DType::u8, out.shape());
            std::memcpy(copy.data(), out.data(), out.nbytes());
            activations->push_back(std::move(copy));
        }
        xq = out;
    }
}

int64_t IntegerModel::parameter_bytes() const {
    int64_t bytes = 0;
    for (const Layer &l : layers_) {
        bytes += (l.stage.weights.numel() * l.stage.weight_bits + 7) / 8;
        bytes += static_cast<int64_t>(l.stage.bias.size()) * 4;
        bytes += static_cast<int64_t>(l.stage.last ? l.stage.out_scale.size() : l.stage.requant.multiplier.size()) * 4;
    }
    return bytes;
}

void IntegerModel::save(const std::string &path) const {
    if (layers_.empty()) throw InvalidArgument("IntegerModel::save: the model is empty (default-constructed)");
    ModelFile f;
    f.kind = "int8-model";
    json meta;
    meta["int_model_version"] = kIntModelVersion;
    meta["model_description"] = spec_.text;
    json stages = json::array();
    for (const Layer &l : layers_) {
        const IntegerStage &fs = l.stage;
        json s = {{"name", l.spec.name}, {"weight_bits", fs.weight_bits}, {"input", qparams_json(fs.input)}};
        if (!fs.last) {
            s["output"] = qparams_json(fs.output);
            s["out_min"] = fs.requant.out_min;
            s["out_max"] = fs.requant.out_max;
        }
        stages.push_back(s);
        std::vector<uint8_t> packed = pack_bits(fs.weights.data_as<int8_t>(), fs.weights.numel(), fs.weight_bits);
        Tensor w(DType::u8, {static_cast<int64_t>(packed.size())});
        std::memcpy(w.data(), packed.data(), packed.size());
        f.add(l.spec.name + ".weights_packed", std::move(w));
        f.add(l.spec.name + ".weight_scales", vector_tensor(fs.weight_scales));
        f.add(l.spec.name + ".bias", vector_tensor(fs.bias));
        f.add(l.spec.name + (fs.last ? ".out_scale" : ".multiplier"),
              vector_tensor(fs.last ? fs.out_scale : fs.requant.multiplier));
    }
    meta["stages"] = stages;
    f.metadata_json = meta.dump();
    save_model_file(path, f);
}

IntegerModel IntegerModel::load(const std::string &path) {
    ModelFile f = load_model_file(path);
    if (f.kind != "int8-model") throw FileError(path + ": holds a '" + f.kind + "', not an int8-model");
    try {
        json meta = json::parse(f.metadata_json);
        int version = meta.at("int_model_version").get<int>();
        if (version != kIntModelVersion) {
            throw FileError(path + ": integer model version " + std::to_string(version) + ", this build reads " +
                            std::to_string(kIntModelVersion));
        }
        ModelSpec spec = parse_model_spec(meta.at("model_description").get<std::string>(), path);
        const json &stages = meta.at("stages");
        if (!stages.is_array() || stages.size() != spec.stages.size()) {
            throw FileError(path + ": the stage list does not match the model description");
        }
        std::vector<IntegerStage> loaded;
        for (size_t i = 0; i < stages.size(); i++) {
            const json &s = stages[i];
            const StageSpec &ss = spec.stages[i];
            if (s.at("name").get<std::string>() != ss.name) throw FileError(path + ": stage names do not match");
            IntegerStage fs;
            fs.last = i + 1 == stages.size();
            fs.weight_bits = s.at("weight_bits").get<int>();
            if (fs.weight_bits < 2 || fs.weight_bits > 8) throw FileError(path + ": weight_bits outside 2..8");
            fs.input = qparams_from(s.at("input"));
            const int64_t O = ss.out_c;
            fs.weights = Tensor(DType::s8, weight_shape(ss));
            const Tensor &packed = f.tensor(ss.name + ".weights_packed");
            if (packed.dtype() != DType::u8) throw FileError(path + ": packed weights are not u8");
            unpack_bits(packed.data_as<uint8_t>(), static_cast<size_t>(packed.numel()), fs.weights.numel(),
                        fs.weight_bits, fs.weights.data_as<int8_t>());
            fs.weight_scales = tensor_vector<float>(f, ss.name + ".weight_scales", O);
            fs.bias = tensor_vector<int32_t>(f, ss.name + ".bias", O);
            if (fs.last) {
                fs.out_scale = tensor_vector<float>(f, ss.name + ".out_scale", O);
            } else {
                fs.output = qparams_from(s.at("output"));
                fs.requant.multiplier = tensor_vector<float>(f, ss.name + ".multiplier", O);
                fs.requant.out_zero_point = fs.output.zero_point;
                fs.requant.out_min = s.at("out_min").get<int32_t>();
                fs.requant.out_max = s.at("out_max").get<int32_t>();
            }
            loaded.push_back(std::move(fs));
        }
        // Validates every stage against the description and packs the weights.
        return IntegerModel(std::move(spec), std::move(loaded));
    } catch (const json::exception &e) {
        throw FileError(path + ": bad integer-model metadata: " + e.what());
    } catch (const InvalidArgument &e) {
        throw FileError(path + ": " + e.what());
    }
}

}  // namespace qforge
