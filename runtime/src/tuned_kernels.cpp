// The tuned-kernel table's lookup, the enable switch and the tuner's overrides.
#include "tuned_kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "kernel_call.h"

namespace qforge {

namespace {

struct Override {
    KernelArgvFn fn;
    int tile_m;
};

std::mutex g_override_mutex;
std::map<std::string, Override> g_overrides;
std::atomic<bool> g_any_override{false};

// -1: not decided yet (QFORGE_NO_TUNED is read at the first use), 0 / 1.
std::atomic<int> g_tuned_enabled{-1};

bool tuned_enabled_now() {
    int v = g_tuned_enabled.load();
    if (v < 0) {
        const char *env = std::getenv("QFORGE_NO_TUNED");
        v = (env && *env && std::strcmp(env, "0") != 0) ? 0 : 1;
        int expected = -1;
        g_tuned_enabled.compare_exchange_strong(expected, v);
        v = g_tuned_enabled.load();
    }
    return v == 1;
}

}  // namespace

std::vector<TunedKernelInfo> tuned_kernels() {
    std::vector<TunedKernelInfo> out;
    const bool enabled = tuned_enabled_now();
    const int active_variant = detail::kTunedKernels[0].slot ? static_cast<int>(cpu_variant()) : -1;
    for (const detail::TunedKernel *t = detail::kTunedKernels; t->slot; t++) {
        out.push_back({t->slot, t->shape_class, static_cast<CpuVariant>(t->variant), t->params,
                       enabled && t->variant == active_variant});
    }
    return out;
}

void set_tuned_kernels_enabled(bool enabled) { g_tuned_enabled.store(enabled ? 1 : 0); }

bool tuned_kernels_enabled() { return tuned_enabled_now(); }

void set_kernel_override(const std::string &slot, KernelArgvFn fn, int gemm_row_tile) {
    if (gemm_row_tile < 0) {
        throw InvalidArgument("set_kernel_override: gemm_row_tile must be >= 0, got " + std::to_string(gemm_row_tile));
    }
    std::lock_guard<std::mutex> lock(g_override_mutex);
    if (fn) {
        g_overrides[slot] = {fn, gemm_row_tile};
    } else {
        g_overrides.erase(slot);
    }
    g_any_override.store(!g_overrides.empty());
}

namespace detail {

KernelChoice choose_kernel(const char *slot, const char *shape_class) {
    KernelChoice k;
    if (g_any_override.load()) {
        std::lock_guard<std::mutex> lock(g_override_mutex);
        auto it = g_overrides.find(slot);
        if (it != g_overrides.end()) {
            k.argv = it->second.fn;
            k.tile_m = it->second.tile_m;
            return k;
        }
    }
    if (!kTunedKernels[0].slot || !tuned_enabled_now()) return k;
    // The dispatcher's choice is fixed for the process; cpu_variant() asks the
    // probe kernel once per call here, so remember it.
    static const int variant = static_cast<int>(cpu_variant());
    for (const TunedKernel *t = kTunedKernels; t->slot; t++) {
        if (t->variant == variant && std::strcmp(t->slot, slot) == 0 && std::strcmp(t->shape_class, shape_class) == 0) {
            k.tuned = t;
            k.tile_m = t->tile_m;
            return k;
        }
    }
    return k;
}

}  // namespace detail
}  // namespace qforge
