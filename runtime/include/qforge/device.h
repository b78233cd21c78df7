// Where the operators run: the CPU (the multi-target AOT kernels, the
// default) or a CUDA GPU (the kernels of cmake/QforgeCuda.cmake, compiled for
// compute capability 8.0 and 8.6; newer GPUs run their PTX).
//
// Choose per model (the process default, set_default_device) or per call
// (DeviceScope, for the calling thread until the scope ends):
//
//   qforge::set_default_device(qforge::Device::cuda);   // everything after runs on the GPU
//   { qforge::DeviceScope on_cpu(qforge::Device::cpu);   // ... except this block
//     qforge::fake_quant(x, qp, y); }
//
// Tensors stay in host memory, as everywhere in qforge: on CUDA each call's
// Halide buffers copy its inputs to the device, run the kernels there and
// copy the outputs back (Halide's host/device copies), then free the device
// memory. Correct for any caller, but every call pays its transfers: the
// device pays off for large operands, not for many small calls.
//
// On CUDA: the float32 quantization operators (fake quant and its backward,
// LSQ / LSQ+), the training operators (qforge/train_ops.h) and the float32
// GEMM and convolutions (qforge/train_gemm.h, over im2col on the GPU). The
// int8 GEMM and convolutions and integer models run on the CPU only: on
// CUDA they throw DeviceError rather than silently running elsewhere.
#pragma once

#include <string>
#include <string_view>

namespace qforge {

enum class Device { cpu, cuda };

const char *device_name(Device d);        // "cpu", "cuda"
Device parse_device(std::string_view s);  // throws InvalidArgument

// Whether this build has the CUDA kernels and this machine a usable CUDA
// device. Never throws; `why` (if given) says what is missing.
bool cuda_available(std::string *why = nullptr);

// "NVIDIA H100 80GB HBM3, compute capability 9.0, sm_86 kernels"; throws
// DeviceError when cuda_available() is false.
std::string cuda_device_description();

// The device of calls that no DeviceScope covers (initially Device::cpu).
// Throws DeviceError for Device::cuda when cuda_available() is false, with
// the reason: a model asked for the GPU learns at once that there is none.
void set_default_device(Device d);
Device default_device();

// The device the calling thread's operators run on now.
Device current_device();

// Runs the calling thread's operators on `d` until the scope ends (scopes
// nest). Throws like set_default_device.
class DeviceScope {
public:
    explicit DeviceScope(Device d);
    ~DeviceScope();
    DeviceScope(const DeviceScope &) = delete;
    DeviceScope &operator=(const DeviceScope &) = delete;

private:
    int previous_;
};

}  // namespace qforge
