#include "int_model.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "qforge/error.h"
#include "qforge/model_file.h"
#include "qforge/train_ops.h"

namespace qforge::train {

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

}  // namespace

std::vector<uint8_t> pack_bits(const int8_t *values, int64_t n, int bits) {
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

IntegerModel IntegerModel::convert(Network &net) {
    IntegerModel m;
    m.spec_ = net.spec();
    for (size_t i = 0; i < net.spec().stages.size(); i++) {
        Layer l;
        l.spec = net.spec().stages[i];
        l.folded = net.fold(static_cast<int>(i));
        m.layers_.push_back(std::move(l));
    }
    m.prepare();
    return m;
}

void IntegerModel::prepare() {
    for (Layer &l : layers_) {
        if (l.spec.kind == LayerKind::linear) {
            l.gemm = PackedGemmWeights(l.folded.weights);
        } else {
            l.conv = PackedConvWeights(l.folded.weights, l.spec.geometry.groups);
        }
    }
}

void IntegerModel::run(const float *images, int batch, float *logits, std::vector<Tensor> *activations) {
    if (activations) activations->clear();
    TensorView x(const_cast<float *>(images), {batch, spec_.in_h, spec_.in_w, spec_.in_c});
    if (input_buffer_.shape() != x.shape()) input_buffer_ = Tensor(DType::u8, x.shape());
    quantize(x, layers_.front().folded.input, input_buffer_);
    TensorView xq = input_buffer_;
    for (Layer &l : layers_) {
        const FoldedStage &f = l.folded;
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
        bytes += (l.folded.weights.numel() * l.folded.weight_bits + 7) / 8;
        bytes += static_cast<int64_t>(l.folded.bias.size()) * 4;
        bytes += static_cast<int64_t>(l.folded.last ? l.folded.out_scale.size() : l.folded.requant.multiplier.size()) * 4;
    }
    return bytes;
}

void IntegerModel::save(const std::string &path) const {
    ModelFile f;
    f.kind = "int8-model";
    json meta;
    meta["int_model_version"] = kIntModelVersion;
    meta["model_description"] = spec_.text;
    json stages = json::array();
    for (const Layer &l : layers_) {
        const FoldedStage &fs = l.folded;
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
    IntegerModel m;
    try {
        json meta = json::parse(f.metadata_json);
        int version = meta.at("int_model_version").get<int>();
        if (version != kIntModelVersion) {
            throw FileError(path + ": integer model version " + std::to_string(version) + ", this build reads " +
                            std::to_string(kIntModelVersion));
        }
        m.spec_ = parse_model_spec(meta.at("model_description").get<std::string>(), path);
        const json &stages = meta.at("stages");
        if (!stages.is_array() || stages.size() != m.spec_.stages.size()) {
            throw FileError(path + ": the stage list does not match the model description");
        }
        for (size_t i = 0; i < stages.size(); i++) {
            const json &s = stages[i];
            Layer l;
            l.spec = m.spec_.stages[i];
            if (s.at("name").get<std::string>() != l.spec.name) throw FileError(path + ": stage names do not match");
            FoldedStage &fs = l.folded;
            fs.last = i + 1 == stages.size();
            fs.weight_bits = s.at("weight_bits").get<int>();
            if (fs.weight_bits < 2 || fs.weight_bits > 8) throw FileError(path + ": weight_bits outside 2..8");
            fs.input = qparams_from(s.at("input"));
            const int64_t O = l.spec.out_c;
            Shape ws = l.spec.kind == LayerKind::linear
                           ? Shape{O, l.spec.in_c}
                           : Shape{O, l.spec.kernel_h, l.spec.kernel_w, l.spec.in_c / l.spec.geometry.groups};
            fs.weights = Tensor(DType::s8, ws);
            const Tensor &packed = f.tensor(l.spec.name + ".weights_packed");
            if (packed.dtype() != DType::u8) throw FileError(path + ": packed weights are not u8");
            unpack_bits(packed.data_as<uint8_t>(), static_cast<size_t>(packed.numel()), fs.weights.numel(),
                        fs.weight_bits, fs.weights.data_as<int8_t>());
            fs.weight_scales = tensor_vector<float>(f, l.spec.name + ".weight_scales", O);
            fs.bias = tensor_vector<int32_t>(f, l.spec.name + ".bias", O);
            if (fs.last) {
                fs.out_scale = tensor_vector<float>(f, l.spec.name + ".out_scale", O);
            } else {
                fs.output = qparams_from(s.at("output"));
                fs.requant.multiplier = tensor_vector<float>(f, l.spec.name + ".multiplier", O);
                fs.requant.out_zero_point = fs.output.zero_point;
                fs.requant.out_min = s.at("out_min").get<int32_t>();
                fs.requant.out_max = s.at("out_max").get<int32_t>();
            }
            m.layers_.push_back(std::move(l));
        }
    } catch (const json::exception &e) {
        throw FileError(path + ": bad integer-model metadata: " + e.what());
    } catch (const InvalidArgument &e) {
        throw FileError(path + ": " + e.what());
    }
    m.prepare();  // the kernels' own checks reject inconsistent values
    return m;
}

}  // namespace qforge::train
