// Integer models: every stage of a network as int8 weights (stored bit-packed
// at their width), an int32 bias and a requantization, run on the int8 GEMM /
// conv kernels with the requantization fused (logits dequantized). Saved in
// the qforge model file format (kind "int8-model", docs/qforge-train.md,
// "Files"); qforge-train converts a trained network into one, apps load and
// run it:
//
//   qforge::IntegerModel m = qforge::IntegerModel::load("qat-w8a8.qfm");
//   std::vector<float> logits(size_t(batch) * m.num_classes());
//   m.run(images, batch, logits.data());  // images: NHWC f32, normalized as in training
//
// load() validates the whole file (format, kind, version, the model
// description, every stage's tensors and parameters) and throws
// qforge::FileError naming the file and the problem.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "qforge/conv.h"
#include "qforge/gemm.h"
#include "qforge/model_spec.h"
#include "qforge/quant_params.h"
#include "qforge/tensor.h"

namespace qforge {

// One stage in integer form (plain data): what conversion produces, the model
// file stores and the integer forward runs.
struct IntegerStage {
    Tensor weights;                    // s8, [O, KH, KW, C/groups] or [O, F], in [-2^(b-1), 2^(b-1) - 1]
    int weight_bits = 8;               // 2..8: the width the weights are stored at
    std::vector<float> weight_scales;  // per output channel
    std::vector<int32_t> bias;         // nearbyint(b_folded / (s_x * s_w))
    QuantParams input;                 // the activations it consumes
    bool last = false;                 // the stage giving the logits
    Requantization requant;            // not last: M = s_x * s_w / s_y, clamp fusing ReLU
    QuantParams output;                // not last
    std::vector<float> out_scale;      // last: logits = float(acc) * s_x * s_w
};

class IntegerModel {
public:
    IntegerModel() = default;
    // One IntegerStage per stage of `spec` (in order; only the last has `last`
    // set). Checks shapes, dtypes, bit widths and parameters against the spec
    // (throws InvalidArgument) and packs the weights for the kernels.
    IntegerModel(ModelSpec spec, std::vector<IntegerStage> stages);

    static IntegerModel load(const std::string &path);  // throws FileError
    void save(const std::string &path) const;           // atomic (save_model_file)

    const ModelSpec &spec() const { return spec_; }
    int num_classes() const { return spec_.num_classes(); }
    const IntegerStage &stage(size_t i) const { return layers_.at(i).stage; }
    size_t num_stages() const { return layers_.size(); }

    // images: NHWC f32 [batch, in_h, in_w, in_c]; logits: [batch, classes].
    // `activations` receives each stage's u8 output (after pooling), all but the last.
    void run(const float *images, int batch, float *logits, std::vector<Tensor> *activations = nullptr);
    // Bytes of weights, biases and requantization parameters as stored (weights at their bit width).
    int64_t parameter_bytes() const;

private:
    struct Layer {
        StageSpec spec;
        IntegerStage stage;
        PackedConvWeights conv;
        PackedGemmWeights gemm;
        std::map<std::string, Tensor> buffers;
    };
    ModelSpec spec_;
    std::vector<Layer> layers_;
    Tensor input_buffer_;
};

// b-bit two's-complement values (b in 2..8) packed little-endian into a bitstream, and back.
std::vector<uint8_t> pack_bits(const int8_t *values, int64_t n, int bits);
void unpack_bits(const uint8_t *packed, size_t packed_size, int64_t n, int bits, int8_t *values);

}  // namespace qforge
