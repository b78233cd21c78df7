// The device choice (qforge/device.h) and running a kernel on CUDA.
#include "qforge/device.h"

#include <atomic>
#include <string>
#include <vector>

#include "HalideBuffer.h"
#include "device_call.h"
#include "kernel_call.h"
#include "qforge/error.h"

#if QFORGE_HAVE_CUDA
#include "HalideRuntimeCuda.h"
#include "cuda_driver.h"
#endif

namespace qforge {

namespace {

std::atomic<int> g_default_device{static_cast<int>(Device::cpu)};
thread_local int t_scoped_device = -1;  // -1: no DeviceScope on this thread

// What the first CUDA request found (probed once, on first use).
struct CudaState {
    std::string unavailable;  // "" when usable
    std::string description;
    int capability_index = 0;  // 0: the sm_80 builds, 1: sm_86
};

const CudaState &cuda_state() {
    static const CudaState state = [] {
        CudaState s;
#if QFORGE_HAVE_CUDA
        const auto dev = cuda_driver::open_first_device();
        if (!dev.unavailable.empty()) {
            s.unavailable = dev.unavailable;
            return s;
        }
        const int cc = dev.major * 10 + dev.minor;
        if (cc < 80) {
            s.unavailable = dev.name + " has compute capability " + std::to_string(dev.major) + "." +
                            std::to_string(dev.minor) + "; qforge's CUDA kernels need 8.0 or newer";
            return s;
        }
        // sm_86's PTX where the device runs it (8.6 and newer), else sm_80's.
        s.capability_index = cc >= 86 ? 1 : 0;
        detail::ensure_kernel_runtime();  // Halide's error handler: failures become messages, not abort()
        Halide::Runtime::Buffer<uint8_t> probe(16);
        if (const int rc = probe.device_malloc(halide_cuda_device_interface()); rc != 0) {
            s.unavailable = "Halide's CUDA runtime cannot use " + dev.name + " (code " + std::to_string(rc) +
                            "): " + detail::take_last_kernel_error();
            return s;
        }
        probe.device_free();
        // Freed device memory goes to Halide's cache and is reused by the next
        // call of the same size instead of cuMemFree + cuMemAlloc each call
        // (every runtime call allocates and frees its operands' device copies).
        halide_reuse_device_allocations(nullptr, true);
        s.description = dev.name + ", compute capability " + std::to_string(dev.major) + "." +
                        std::to_string(dev.minor) + ", " + (s.capability_index ? "sm_86" : "sm_80") + " kernels";
#else
        s.unavailable = "this build of qforge has no CUDA kernels (configured with -DQFORGE_CUDA=OFF, or cross-compiled)";
#endif
        return s;
    }();
    return state;
}

void require_usable(Device d, const char *what) {
    if (d != Device::cuda) return;
    std::string why;
    if (!cuda_available(&why)) throw DeviceError(std::string(what) + ": no CUDA device: " + why);
}

}  // namespace

const char *device_name(Device d) { return d == Device::cuda ? "cuda" : "cpu"; }

Device parse_device(std::string_view s) {
    if (s == "cpu") return Device::cpu;
    if (s == "cuda") return Device::cuda;
    throw InvalidArgument("unknown device '" + std::string(s) + "' (expected cpu or cuda)");
}

bool cuda_available(std::string *why) {
    const CudaState &s = cuda_state();
    if (why) *why = s.unavailable;
    return s.unavailable.empty();
}

std::string cuda_device_description() {
    require_usable(Device::cuda, "cuda_device_description");
    return cuda_state().description;
}

void set_default_device(Device d) {
    require_usable(d, "set_default_device(cuda)");
    g_default_device.store(static_cast<int>(d));
}

Device default_device() { return static_cast<Device>(g_default_device.load()); }

Device current_device() {
    return t_scoped_device >= 0 ? static_cast<Device>(t_scoped_device) : default_device();
}

DeviceScope::DeviceScope(Device d) : previous_(t_scoped_device) {
    require_usable(d, "DeviceScope(cuda)");
    t_scoped_device = static_cast<int>(d);
}

DeviceScope::~DeviceScope() { t_scoped_device = previous_; }

namespace detail {

void require_cpu_device(const char *op) {
    if (current_device() == Device::cuda) {
        throw DeviceError(std::string(op) + ": runs on the CPU only (no CUDA path in the runtime yet); call it "
                                            "under qforge::DeviceScope(qforge::Device::cpu)");
    }
}

int run_on_cuda(const char *op, const CudaKernel &k, void **argv) {
    require_usable(Device::cuda, op);
    const KernelArgvFn fn = cuda_state().capability_index ? k.sm86 : k.sm80;
    if (!fn || !k.metadata) throw DeviceError(std::string(op) + ": " + k.name + " is not in this build");
#if QFORGE_HAVE_CUDA
    const halide_filter_metadata_t *md = k.metadata();
    std::vector<halide_buffer_t *> inputs, outputs;
    for (int i = 0; i < md->num_arguments; i++) {
        const auto kind = md->arguments[i].kind;
        auto *b = static_cast<halide_buffer_t *>(argv[i]);
        if (kind == halide_argument_kind_input_buffer) inputs.push_back(b);
        if (kind == halide_argument_kind_output_buffer) outputs.push_back(b);
    }
    // Host memory is the truth: every input is copied to the device at its
    // first use in the pipeline. The buffers are the operator's own views, so
    // nothing else sees the flags.
    for (halide_buffer_t *b : inputs) b->flags |= halide_buffer_flag_host_dirty;
    struct FreeDeviceMemory {
        std::vector<halide_buffer_t *> &a, &b;
        ~FreeDeviceMemory() {
            for (auto *list : {&a, &b}) {
                for (halide_buffer_t *buf : *list) {
                    if (buf->device) halide_device_free(nullptr, buf);
                }
            }
        }
    } free_after{inputs, outputs};
    int rc = fn(argv);
    for (halide_buffer_t *b : outputs) {
        if (rc != 0) break;
        rc = halide_copy_to_host(nullptr, b);
    }
    return rc;
#else
    (void)argv;
    return -1;
#endif
}

}  // namespace detail
}  // namespace qforge
