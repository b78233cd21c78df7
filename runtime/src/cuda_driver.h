// Finding the CUDA driver and device, header-only: for the runtime
// (src/device.cpp) and the self-contained GPU binaries (tests/test_cuda_kernels,
// bench/bench_cuda). Nothing links a CUDA library: libcuda is loaded here and
// asked only what Halide's runtime does not say (the device's name and
// compute capability).
//
// Halide's CUDA runtime looks for cuInit in the process, then dlopens
// "libcuda.so" only; driver installs without the development symlink have
// libcuda.so.1 alone, so this loads one of them first, RTLD_GLOBAL, and the
// runtime finds its symbols.
#pragma once

#include <dlfcn.h>

#include <string>

namespace qforge::cuda_driver {

struct Device {
    std::string unavailable;  // why there is none ("" when there is one)
    std::string name;
    int major = 0, minor = 0;  // compute capability
};

inline Device open_first_device() {
    Device d;
    void *lib = dlopen("libcuda.so", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        d.unavailable = "no CUDA driver library (libcuda.so / libcuda.so.1)";
        return d;
    }
    using InitFn = int (*)(unsigned);
    using DeviceGetFn = int (*)(int *, int);
    using AttributeFn = int (*)(int *, int, int);
    using NameFn = int (*)(char *, int, int);
    auto init = reinterpret_cast<InitFn>(dlsym(lib, "cuInit"));
    auto device_get = reinterpret_cast<DeviceGetFn>(dlsym(lib, "cuDeviceGet"));
    auto attribute = reinterpret_cast<AttributeFn>(dlsym(lib, "cuDeviceGetAttribute"));
    auto get_name = reinterpret_cast<NameFn>(dlsym(lib, "cuDeviceGetName"));
    if (!init || !device_get || !attribute || !get_name) {
        d.unavailable = "the CUDA driver library lacks cuInit / cuDeviceGet / cuDeviceGetAttribute";
        return d;
    }
    if (int rc = init(0); rc != 0) {
        d.unavailable = "cuInit failed (CUresult " + std::to_string(rc) + "): no usable CUDA device";
        return d;
    }
    int dev = 0;
    if (int rc = device_get(&dev, 0); rc != 0) {
        d.unavailable = "cuDeviceGet(0) failed (CUresult " + std::to_string(rc) + "): no CUDA device";
        return d;
    }
    constexpr int kMajor = 75, kMinor = 76;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR
    char name[256] = {};
    if (attribute(&d.major, kMajor, dev) != 0 || attribute(&d.minor, kMinor, dev) != 0 ||
        get_name(name, sizeof name, dev) != 0) {
        d.unavailable = "cannot read the CUDA device's name and compute capability";
        return d;
    }
    d.name = name;
    return d;
}

}  // namespace qforge::cuda_driver
