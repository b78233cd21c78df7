// Which family of schedules a Halide target gets. Every family-specific
// query (schedules/layout.h) and schedule (schedules/schedules.h) asks here,
// so an unsupported target fails in one place, with one message.
#pragma once

#include <string>

#include "Halide.h"

namespace qforge::schedules {

// x86: schedules/x86/ (SSE4.1 / AVX2 / AVX-512 VNNI, chosen by features).
// arm: schedules/arm/, AArch64 NEON (32 q registers of 128 bits; sdot with
//      the arm_dot_prod feature). 32-bit ARM has 16 q registers, so the ARM
//      register tiles would spill there: it is not a supported target.
// cuda: schedules/cuda/, device kernels for targets with the cuda feature
//      (host code is the x86 baseline); not every operator has one yet.
enum class Family { x86, arm, cuda };

// The error for a target no family covers. The text contains "no schedule
// for target": qforge-gen (tools/qforge_gen_main.cpp) recognises it and
// reports the operator and target instead of Halide's exception.
inline Halide::CompileError no_schedule(const Halide::Target &t, const std::string &what) {
    return Halide::CompileError("qforge: no schedule for target " + t.to_string() + " (" + what +
                                "): qforge schedules cover x86 and 64-bit ARM (AArch64) targets only");
}

inline Family family(const Halide::Target &t, const std::string &what) {
    if (t.has_feature(Halide::Target::CUDA)) return Family::cuda;
    if (t.arch == Halide::Target::X86) return Family::x86;
    if (t.arch == Halide::Target::ARM && t.bits == 64) return Family::arm;
    throw no_schedule(t, what);
}

// The error for an operator whose CUDA schedule does not exist yet.
inline Halide::CompileError no_cuda_schedule(const Halide::Target &t, const std::string &what) {
    return Halide::CompileError("qforge: no schedule for target " + t.to_string() + " (" + what +
                                "): this operator has no CUDA schedule yet (schedules/cuda/)");
}

}  // namespace qforge::schedules
