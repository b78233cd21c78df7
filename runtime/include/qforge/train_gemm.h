// float32 GEMM and convolution for training (forward, input gradient, weight
// gradient). NHWC activations, OHWI weights, row-major matrices. Every entry
// point validates its arguments first (qforge::Error naming the argument, no
// output written), then runs dispatched AOT kernels.
//
// Matrices are 2-D f32 views with unit inner stride and any row stride (so a
// group's column slice of a larger matrix is a valid operand).
#pragma once

#include "qforge/conv.h"  // Conv2dGeometry
#include "qforge/tensor.h"

namespace qforge {

enum class Transpose : uint8_t { no, yes };

// C[M, N] = op(A) * op(B) (+ bias[n] when bias is given: N entries).
// op(A) is [M, K]: A is [M, K] (Transpose::no) or [K, M] (yes); op(B) is
// [K, N]: B is [K, N] (no) or [N, K] (yes). C is overwritten.
void sgemm(const TensorView &a, Transpose ta, const TensorView &b, Transpose tb, const TensorView &c,
           const float *bias = nullptr);

// Output shape [N, OH, OW, O] of a conv of x [N, H, W, C] with weights [O, KH, KW, C / groups].
Shape conv2d_f32_output_shape(const Shape &x, const Shape &w, const Conv2dGeometry &g);

// y = conv2d(x, w) (+ bias[o]). Zero padding. Any geometry, groups included.
void conv2d_f32(const TensorView &x, const TensorView &w, const float *bias, const Conv2dGeometry &g,
                const TensorView &y);
// dx = d(loss)/dx given dy [N, OH, OW, O]; dx is overwritten.
void conv2d_f32_backward_input(const TensorView &dy, const TensorView &w, const Conv2dGeometry &g,
                               const TensorView &dx);
// dw = d(loss)/dw given x and dy; dw [O, KH, KW, C / groups] is overwritten.
// (The bias gradient is column_sum(dy) in train_ops.h.)
void conv2d_f32_backward_weight(const TensorView &x, const TensorView &dy, const Conv2dGeometry &g,
                                const TensorView &dw);

}  // namespace qforge
