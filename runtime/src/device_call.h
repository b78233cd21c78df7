// Internal: how an operator runs a kernel on the device the caller chose
// (qforge/device.h). Each routed call site names its CUDA kernel next to the
// CPU one:
//
//   check_kernel(call_on_device(op, QF_CUDA_KERNEL(relu), qf_relu, xb, yb), op, "qf_relu");
//
// On the CPU that is qf_relu(xb, yb). On CUDA the same arguments go to the
// CUDA build for the device's capability (qf_cuda_relu_sm80 / _sm86) through
// Halide's argv convention; the kernel's metadata says which buffers are
// inputs (copied to the device) and outputs (copied back).
#pragma once

#include "HalideRuntime.h"
#include "qforge/device.h"
#include "tuned_kernels.h"  // argv_slot

#if QFORGE_HAVE_CUDA
#include "qf_cuda_kernels_all.h"  // every CUDA kernel's header (cmake/QforgeCuda.cmake)
#endif

namespace qforge::detail {

using KernelMetadataFn = const halide_filter_metadata_t *(*)();

// One operator's CUDA kernel, one build per compiled capability (all null in
// a build without the CUDA kernels).
struct CudaKernel {
    const char *name;  // "qf_cuda_relu"
    KernelArgvFn sm80 = nullptr, sm86 = nullptr;
    KernelMetadataFn metadata = nullptr;
};

#if QFORGE_HAVE_CUDA
#define QF_CUDA_KERNEL(k)                                                                                   \
    ::qforge::detail::CudaKernel{"qf_cuda_" #k, &qf_cuda_##k##_sm80_argv, &qf_cuda_##k##_sm86_argv,        \
                                 &qf_cuda_##k##_sm80_metadata}
#else
#define QF_CUDA_KERNEL(k) ::qforge::detail::CudaKernel{"qf_cuda_" #k}
#endif

// Runs `k` on the CUDA device with argv: input buffers are marked host-dirty
// (Halide copies them to the device), outputs are copied back to their host
// memory, and every device allocation the call made is freed, on success and
// failure alike. Returns the kernel's result; throws DeviceError when there
// is no usable device.
int run_on_cuda(const char *op, const CudaKernel &k, void **argv);

// For operators with no CUDA path: throws DeviceError on CUDA.
void require_cpu_device(const char *op);

// run_on_cuda with the kernel's arguments as the CPU library takes them.
template<typename... Args>
int call_cuda(const char *op, const CudaKernel &cuda, Args &&...args) {
    void *argv[] = {argv_slot(args)...};
    return run_on_cuda(op, cuda, argv);
}

// The CPU library on Device::cpu, its CUDA kernel on Device::cuda.
template<typename Fn, typename... Args>
int call_on_device(const char *op, const CudaKernel &cuda, Fn cpu_fn, Args &&...args) {
    if (current_device() == Device::cpu) return cpu_fn(args...);
    return call_cuda(op, cuda, args...);
}

}  // namespace qforge::detail
