// The converted integer model: every stage as int8 weights (stored bit-packed
// at their width), an int32 bias and a requantization, run on the int8
// GEMM / conv kernels with the requantization fused (logits dequantized).
// Saved in the qforge model file format (kind "int8-model",
// docs/qforge-train.md, "Integer model file").
#pragma once

#include <string>
#include <vector>

#include "model_spec.h"
#include "network.h"
#include "qforge/conv.h"
#include "qforge/gemm.h"

namespace qforge::train {

class IntegerModel {
public:
    // Converts a quantized network (BN folded, weights quantized, int32 biases, multipliers).
    static IntegerModel convert(Network &net);
    static IntegerModel load(const std::string &path);
    void save(const std::string &path) const;

    const ModelSpec &spec() const { return spec_; }
    // logits [batch, classes]; `activations` receives each stage's u8 output (after pooling).
    void run(const float *images, int batch, float *logits, std::vector<Tensor> *activations = nullptr);
    // Bytes of weights, biases and requantization parameters as stored (weights at their bit width).
    int64_t parameter_bytes() const;

private:
    struct Layer {
        StageSpec spec;
        FoldedStage folded;
        PackedConvWeights conv;
        PackedGemmWeights gemm;
        std::map<std::string, Tensor> buffers;
    };
    void prepare();  // packs weights for the kernels
    ModelSpec spec_;
    std::vector<Layer> layers_;
    Tensor input_buffer_;
};

// b-bit two's-complement values (b in 2..8) packed little-endian into a bitstream, and back.
std::vector<uint8_t> pack_bits(const int8_t *values, int64_t n, int bits);
void unpack_bits(const uint8_t *packed, size_t packed_size, int64_t n, int bits, int8_t *values);

}  // namespace qforge::train
