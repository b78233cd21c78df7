// Benchmark settings from the environment, shared by every bench binary.
#pragma once

#include <cstdlib>

// A positive number from the environment (QFORGE_BENCH_MIN_TIME,
// QFORGE_BENCH_REPETITIONS, ...), or the fallback when unset or not positive.
inline double env_double(const char *name, double fallback) {
    const char *v = std::getenv(name);
    if (!v || !*v) return fallback;
    char *end = nullptr;
    double d = std::strtod(v, &end);
    return (end && *end == '\0' && d > 0) ? d : fallback;
}
