// Internal: the GEMM kernel call behind the public GEMMs and the convolution
// (which feeds it im2col rows and writes into strided output columns).
#pragma once

#include <cstdint>
#include <vector>

#include "HalideRuntime.h"
#include "qforge/gemm.h"

namespace qforge::detail {

// The output stage, validated, with its per-column vector padded to the
// packed column count.
struct GemmEpilogue {
    DType out;
    std::vector<float> channel_scale;  // multiplier or out_scale per column (unused for s32)
    int32_t out_zero_point, out_min, out_max;

    static GemmEpilogue raw(const PackedGemmWeights &w);
    static GemmEpilogue requantized(const char *op, const Requantization &rq, DType out, const PackedGemmWeights &w);
    static GemmEpilogue dequantized(const char *op, const std::vector<float> &out_scale, const PackedGemmWeights &w);
};

// The requantized output's rules: u8/s8, ordered clamp bounds and zero point
// inside the type, multipliers finite and > 0 (1 or per-channel entries).
void check_requantization(const char *op, const Requantization &rq, DType out);

// Activations as the int8 kernels read them: u8, rows of `row_stride` bytes
// (the first `row_bytes` of each copied; the rest zero), zero point in u8
// terms. s8 input is shifted by +128 (a ^ 0x80), and so is its zero point; u8
// input already in the kernels' layout is used in place (no copy).
struct U8Activations {
    std::vector<uint8_t> storage;  // used only when a copy was needed
    const uint8_t *data = nullptr;
    int32_t zero_point = 0;
};

// Checks the dtype (u8/s8, contiguous) and that the zero point lies in its range.
U8Activations u8_activations(const char *op, const char *name, const TensorView &a, int32_t zero_point,
                             int64_t rows, int64_t row_bytes, int64_t row_stride);

// The dispatched variant's packed layout and row tile (qf_gemm_layout_probe).
struct GemmLayout {
    int32_t k_group, panel, tile_rows;
};
const GemmLayout &gemm_layout();

// Throws InvalidArgument if some |bias| plus the largest possible sum over K
// could pass INT32_MAX.
void check_bias_headroom(const char *op, const int32_t *bias, int64_t n, int64_t k);

// a: u8 (K padded, m) rows with zero point a_zero_point (already in u8
// terms); c: (N, m) of the epilogue's type, any strides. bias: N or nullptr.
void run_gemm(const char *op, halide_buffer_t *a, int64_t m, int32_t a_zero_point, const PackedGemmWeights &w,
              const int32_t *bias, const GemmEpilogue &epilogue, halide_buffer_t *c);

}  // namespace qforge::detail
