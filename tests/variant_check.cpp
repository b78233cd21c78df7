// Linked into every per-variant suite. Before any test runs it checks that
// Halide's dispatcher chose the variant ctest asked for
// (QFORGE_EXPECT_CPU_VARIANT, set together with QFORGE_MAX_CPU_VARIANT), and
// prints it, so the log names the variant each run covered. A CPU that lacks
// the requested variant makes the whole process skip (exit 77) rather than
// silently test a lower one.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "qforge/dispatch.h"

namespace {

class VariantEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        const char *want = std::getenv("QFORGE_EXPECT_CPU_VARIANT");
        const qforge::CpuVariant got = qforge::cpu_variant();
        std::printf("[ variant  ] kernels dispatched to variant: %s\n", qforge::cpu_variant_name(got));
        if (want && *want && std::string(want) != qforge::cpu_variant_name(got)) {
            std::printf("[ variant  ] requested %s, which this CPU lacks: skipping\n", want);
            std::fflush(stdout);
            std::_Exit(77);
        }
    }
};

const auto *const registered = ::testing::AddGlobalTestEnvironment(new VariantEnvironment);

}  // namespace
