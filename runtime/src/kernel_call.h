// Internal: what every operator does around a kernel call. Argument checks
// that throw qforge errors naming the argument, Halide buffers over tensor
// views, and turning a kernel's non-zero return into a KernelError.
#pragma once

#include <cstdint>
#include <string>

#include "HalideBuffer.h"
#include "qforge/error.h"
#include "qforge/tensor.h"

namespace qforge::detail {

// Installs the Halide error handler and the CPU-variant cap before the first
// kernel call (idempotent, thread-safe). Every operator calls this first.
void ensure_kernel_runtime();

// The calling thread's last Halide error message (cleared).
std::string take_last_kernel_error();

// Throws KernelError("<op>: kernel <kernel> failed (code N): <Halide's message>") if rc != 0.
void check_kernel(int rc, const char *op, const char *kernel);

// Argument checks. `op` is the public function, `name` the argument.
void require_tensor(const char *op, const char *name, const TensorView &t, DType dtype);
void require_same_shape(const char *op, const char *name_a, const TensorView &a, const char *name_b,
                        const TensorView &b);
// Outputs may alias an input exactly (in place) but must not overlap partially.
void require_no_partial_overlap(const char *op, const char *name_a, const TensorView &a,
                                const char *name_b, const TensorView &b);

// The Halide element type of a dtype.
inline halide_type_t halide_type_for(DType t) {
    switch (t) {
    case DType::f32: return halide_type_of<float>();
    case DType::u8: return halide_type_of<uint8_t>();
    case DType::s8: return halide_type_of<int8_t>();
    case DType::s32: return halide_type_of<int32_t>();
    }
    return halide_type_of<uint8_t>();
}

// For kernels whose parallel tasks read inputs others have overwritten (GEMM,
// conv): no overlap at all, exact aliasing included.
void require_disjoint(const char *op, const char *name_a, const TensorView &a, const char *name_b,
                      const TensorView &b);

// A 1-D Halide buffer over all elements of a contiguous view.
template<typename T> Halide::Runtime::Buffer<T> flat_buffer(const TensorView &t) {
    return Halide::Runtime::Buffer<T>(t.data_as<T>(), static_cast<int>(t.numel()));
}

// The (inner, channel, outer) view the per-channel kernels take.
struct ChannelSplit {
    int inner = 1, channels = 1, outer = 1;
};
ChannelSplit split_at_axis(const char *op, const TensorView &t, int axis, size_t channels_given);

template<typename T>
Halide::Runtime::Buffer<T> channel_buffer(const TensorView &t, const ChannelSplit &s) {
    return Halide::Runtime::Buffer<T>(t.data_as<T>(), s.inner, s.channels, s.outer);
}

}  // namespace qforge::detail
