// The numerics contract (docs/numerics.md) as Halide expressions: the one
// definition of quantize, fake-quantize, the STE mask, the LSQ/LSQ+ gradient
// terms and requantize. Every generator builds its math from these helpers and
// nothing else; tests/reference/numerics_ref.h is the same contract in plain C++.
//
// All float inputs here are fp32 Exprs; integer quantization parameters
// (zero point, qmin, qmax) are passed already converted to fp32 (exact: they
// are small integers), so each helper is one line of the contract.
// Libraries built from these helpers are compiled with the strict_float
// target feature: no FMA contraction and no NaN/Inf assumptions.
#pragma once

#include "Halide.h"

namespace qforge::numerics {

using Halide::Expr;

// inv = 1.0f / s, computed in fp32 once per scale (PyTorch does the same and
// then multiplies: x * inv, never x / s).
inline Expr inverse_scale(const Expr &scale) { return 1.0f / scale; }

// qf = nearbyint(x * inv) + z: the rounded, unclamped quantized value.
// Halide's round() is round-half-to-even, like std::nearbyint in the default
// rounding mode.
inline Expr quantize_unclamped(const Expr &x, const Expr &inv, const Expr &zf) {
    return Halide::round(x * inv) + zf;
}

// q = clamp(qf, qmin, qmax).
inline Expr clamp_to_range(const Expr &qf, const Expr &qminf, const Expr &qmaxf) {
    return Halide::clamp(qf, qminf, qmaxf);
}

// STE mask: 1 where the rounded, unclamped value lies in [qmin, qmax]; NaN
// gives 0. The explicit NaN test is needed: Halide canonicalises a >= b into
// !(a < b), which is true for NaN.
inline Expr in_range(const Expr &qf, const Expr &qminf, const Expr &qmaxf) {
    return qf >= qminf && qf <= qmaxf && !Halide::is_nan(qf);
}

// (q - z) * s: q - z is exact in fp32, the product is rounded once.
inline Expr dequantize(const Expr &q, const Expr &zf, const Expr &scale) {
    return (q - zf) * scale;
}

// NaN in, NaN out (docs/numerics.md, "NaN and Inf").
inline Expr propagate_nan(const Expr &x, const Expr &value) {
    return Halide::select(Halide::is_nan(x), x, value);
}

// y = fake_quant(x): quantize then dequantize.
inline Expr fake_quantize(const Expr &x, const Expr &scale, const Expr &inv, const Expr &zf,
                          const Expr &qminf, const Expr &qmaxf) {
    Expr q = clamp_to_range(quantize_unclamped(x, inv, zf), qminf, qmaxf);
    return propagate_nan(x, dequantize(q, zf, scale));
}

// dx = dy * float(mask): a product, not a select, so -dy * 0 gives -0.0 as in PyTorch.
inline Expr straight_through(const Expr &dy, const Expr &mask) {
    return dy * Halide::cast<float>(mask);
}

// Per-element terms of the learnable (LSQ / LSQ+) backward.
//   xq   = nearbyint(z + x * inv)   (z added BEFORE rounding, as PyTorch's
//                                    learnable backward does; see numerics.md)
//   dx   = dy * in
//   ds_term = dy * t,  t = ((clamp(xq) - z) * s - x) * inv inside the range,
//                          qmin - z below, qmax - z above
//   dz_term = dy over clipped elements, 0 inside (dz = -g * s * sum(dz_term))
struct LearnableBackwardTerms {
    Expr dx;
    Expr ds_term;
    Expr dz_term;
};

inline LearnableBackwardTerms learnable_backward(const Expr &x, const Expr &dy, const Expr &scale,
                                                 const Expr &inv, const Expr &zf,
                                                 const Expr &qminf, const Expr &qmaxf) {
    Expr xq = Halide::round(zf + x * inv);
    Expr inside = in_range(xq, qminf, qmaxf);
    Expr xfq = dequantize(clamp_to_range(xq, qminf, qmaxf), zf, scale);
    Expr t = Halide::select(inside, (xfq - x) * inv,
                            xq < qminf, qminf - zf,
                            qmaxf - zf);
    LearnableBackwardTerms terms;
    terms.dx = straight_through(dy, inside);
    terms.ds_term = propagate_nan(x, dy * t);
    terms.dz_term = propagate_nan(x, Halide::select(inside, 0.0f, dy));
    return terms;
}

// Requantize an int32 accumulator: clamp(nearbyint(float(acc) * M) + z_out, lo, hi).
// Returned as int32; the caller casts to the storage type (the clamp makes that exact).
// Round half to even by one add and one subtract of 1.5 * 2^23: for
// |v| < 2^22 the sum lies where fp32's spacing is 1, so fp32 addition itself
// rounds v to the nearest integer, ties to even (the constant is even).
// Larger |v| may come out one off, so this is only for values clamped to a
// narrow range right after (requantize: [lo, hi] within [-128, 255]), where
// such values saturate either way. Finite inputs only (Inf - Inf is NaN).
// Two instructions instead of Halide 14's four per zmm for round().
inline Expr round_then_clamped(const Expr &v) {
    const Expr magic = Halide::Expr(12582912.0f);  // 1.5 * 2^23
    return Halide::strict_float((v + magic) - magic);
}

inline Expr requantize(const Expr &acc, const Expr &multiplier, const Expr &z_out,
                       const Expr &lo, const Expr &hi) {
    // float(acc) * M is finite (acc is an int32, M a finite fp32), and the
    // clamp below absorbs any |v| >= 2^22: exactly nearbyint's result.
    Expr scaled = round_then_clamped(Halide::cast<float>(acc) * multiplier);
    // Clamp in float before the int conversion so huge products cannot overflow int32.
    Expr clamped = Halide::clamp(scaled + Halide::cast<float>(z_out), Halide::cast<float>(lo),
                                 Halide::cast<float>(hi));
    return Halide::cast<int32_t>(clamped);
}

// dequantize an int32 accumulator: float(acc) * scale (e.g. logits).
inline Expr dequantize_accumulator(const Expr &acc, const Expr &scale) {
    return Halide::cast<float>(acc) * scale;
}

// The output stages of the integer kernels (GEMM, conv): the accumulator as
// is, requantized to the 8-bit `requant_type`, or dequantized to fp32.
enum class AccumulatorOutput { s32, requant, f32 };

inline Halide::Type accumulator_output_type(AccumulatorOutput kind, const Halide::Type &requant_type) {
    return kind == AccumulatorOutput::s32 ? Halide::Int(32)
           : kind == AccumulatorOutput::f32 ? Halide::Float(32)
                                            : requant_type;
}

// scale: the per-channel multiplier (requant) or output scale (f32).
inline Expr accumulator_output(AccumulatorOutput kind, const Halide::Type &requant_type, const Expr &acc,
                               const Expr &scale, const Expr &z_out, const Expr &lo, const Expr &hi) {
    switch (kind) {
    case AccumulatorOutput::s32: return acc;
    case AccumulatorOutput::f32: return dequantize_accumulator(acc, scale);
    case AccumulatorOutput::requant: break;
    }
    return Halide::cast(requant_type, requantize(acc, scale, z_out, lo, hi));
}

}  // namespace qforge::numerics
