// Support for Halide's autoschedulers (Adams2019, Li2018, Mullapudi2016),
// which qforge-tune runs as extra candidates beside the hand schedules.
// With auto_schedule=true a generator must not schedule anything itself
// (HALIDE14_NOTES G6) and must give estimates of every input and output: the
// autoschedulers plan for those sizes. The sizes come from the shape the tuner
// times, in qforge-tune's syntax for the operator (docs/qforge-tune.md).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "Halide.h"

namespace qforge::generators {

struct AutoscheduleParams {
    // Read only when auto_schedule=true: the problem size the autoscheduler
    // plans for ("1024x1024x1024" for a GEMM, "1x56x56x64:64x3x3:s1:p1" for a conv).
    Halide::GeneratorParam<std::string> autoschedule_shape{"autoschedule_shape", ""};
};

// "AxB...[:CxD...][:sS][:pP]": the first group's sizes, the second's, stride and padding.
struct ShapeSpec {
    std::vector<int> dims, kernel;
    int stride = 1, pad = 0;
};

inline ShapeSpec parse_shape_spec(const std::string &text, const char *syntax, size_t dims, size_t kernel_dims) {
    auto bad = [&] {
        throw std::invalid_argument("autoschedule_shape '" + text + "' does not match " + syntax +
                                    " (needed with auto_schedule=true)");
    };
    auto numbers = [&](const std::string &part) {
        std::vector<int> v;
        std::stringstream ss(part);
        std::string n;
        while (std::getline(ss, n, 'x')) {
            if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 8) bad();
            v.push_back(std::stoi(n));
            if (v.back() <= 0) bad();
        }
        return v;
    };
    std::vector<std::string> parts;
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, ':')) parts.push_back(part);
    if (parts.empty() || parts.size() < (kernel_dims ? 2u : 1u)) bad();
    ShapeSpec s;
    s.dims = numbers(parts[0]);
    if (s.dims.size() != dims) bad();
    size_t next = 1;
    if (kernel_dims) {
        s.kernel = numbers(parts[1]);
        if (s.kernel.size() != kernel_dims) bad();
        next = 2;
    }
    for (size_t i = next; i < parts.size(); i++) {
        const std::string &p = parts[i];
        if (p.size() < 2 || (p[0] != 's' && p[0] != 'p') || p.find_first_not_of("0123456789", 1) != std::string::npos) {
            bad();
        }
        (p[0] == 's' ? s.stride : s.pad) = std::stoi(p.substr(1));
    }
    return s;
}

inline int round_up(int v, int m) { return (v + m - 1) / m * m; }

}  // namespace qforge::generators
