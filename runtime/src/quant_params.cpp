#include "qforge/quant_params.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "qforge/error.h"

namespace qforge {

namespace {

std::string fmt(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
    return buf;
}

void check_scale(const char *what, const std::string &name, float s) {
    if (!std::isfinite(s) || !(s > 0.0f)) {
        throw InvalidArgument(std::string(what) + ": " + name + " must be finite and > 0, got " + fmt(s));
    }
}

void check_zero_point(const char *what, const std::string &name, int32_t z, const QuantRange &r) {
    if (z < r.qmin || z > r.qmax) {
        throw InvalidArgument(std::string(what) + ": " + name + " " + std::to_string(z) +
                              " is outside [qmin, qmax] = [" + std::to_string(r.qmin) + ", " +
                              std::to_string(r.qmax) + "]");
    }
}

void check_axis(const char *what, int axis) {
    if (axis < 0) {
        throw InvalidArgument(std::string(what) + ": axis must be >= 0, got " + std::to_string(axis));
    }
}

void check_channel_counts(const char *what, size_t scales, size_t zero_points) {
    if (scales == 0) throw InvalidArgument(std::string(what) + ": scales is empty");
    if (scales != zero_points) {
        throw InvalidArgument(std::string(what) + ": " + std::to_string(scales) + " scales but " +
                              std::to_string(zero_points) + " zero points");
    }
}

}  // namespace

QuantRange QuantRange::from_bits(int bits, bool is_signed, bool narrow) {
    if (bits < 2 || bits > 8) {
        throw InvalidArgument("QuantRange::from_bits: bits must be in 2..8, got " + std::to_string(bits));
    }
    QuantRange r;
    if (is_signed) {
        r.qmin = -(1 << (bits - 1));
        r.qmax = (1 << (bits - 1)) - 1;
    } else {
        r.qmin = 0;
        r.qmax = (1 << bits) - 1;
    }
    if (narrow) r.qmin += 1;
    return r;
}

void QuantRange::validate(const char *what) const {
    if (qmin >= qmax) {
        throw InvalidArgument(std::string(what) + ": qmin (" + std::to_string(qmin) +
                              ") must be < qmax (" + std::to_string(qmax) + ")");
    }
    if (qmin < -128 || qmax > 255 || qmax - qmin > 255) {
        throw InvalidArgument(std::string(what) + ": range [" + std::to_string(qmin) + ", " +
                              std::to_string(qmax) + "] does not fit in 8 bits");
    }
}

void QuantParams::validate(const char *what) const {
    range.validate(what);
    check_scale(what, "scale", scale);
    check_zero_point(what, "zero_point", zero_point, range);
}

void PerChannelQuantParams::validate(const char *what) const {
    range.validate(what);
    check_axis(what, axis);
    check_channel_counts(what, scales.size(), zero_points.size());
    for (size_t c = 0; c < scales.size(); c++) {
        check_scale(what, "scales[" + std::to_string(c) + "]", scales[c]);
        check_zero_point(what, "zero_points[" + std::to_string(c) + "]", zero_points[c], range);
    }
}

void LearnableQuantParams::validate(const char *what) const {
    range.validate(what);
    check_scale(what, "scale", scale);
    if (!std::isfinite(zero_point)) {
        throw InvalidArgument(std::string(what) + ": zero_point must be finite, got " + fmt(zero_point));
    }
}

void LearnablePerChannelQuantParams::validate(const char *what) const {
    range.validate(what);
    check_axis(what, axis);
    check_channel_counts(what, scales.size(), zero_points.size());
    for (size_t c = 0; c < scales.size(); c++) {
        check_scale(what, "scales[" + std::to_string(c) + "]", scales[c]);
        if (!std::isfinite(zero_points[c])) {
            throw InvalidArgument(std::string(what) + ": zero_points[" + std::to_string(c) +
                                  "] must be finite, got " + fmt(zero_points[c]));
        }
    }
}

int32_t learnable_zero_point_forward(float zero_point, const QuantRange &r) {
    float z = std::nearbyint(zero_point);
    z = std::fmin(std::fmax(z, static_cast<float>(r.qmin)), static_cast<float>(r.qmax));
    return static_cast<int32_t>(z);
}

int32_t learnable_zero_point_backward_per_tensor(float zero_point, const QuantRange &r) {
    // PyTorch 1.13 _get_zero_point_from_tensor(..., is_forward=false): z + 0.5f,
    // clamped, then truncated by the int64 cast.
    float z = zero_point + 0.5f;
    z = std::fmin(std::fmax(z, static_cast<float>(r.qmin)), static_cast<float>(r.qmax));
    return static_cast<int32_t>(z);
}

float lsq_default_grad_scale(int64_t elements_per_scale, int32_t qmax) {
    if (elements_per_scale < 1 || qmax < 1) {
        throw InvalidArgument("lsq: the default grad_scale 1/sqrt(n*qmax) needs n >= 1 and qmax >= 1 (n=" +
                              std::to_string(elements_per_scale) + ", qmax=" + std::to_string(qmax) +
                              "); pass grad_scale explicitly");
    }
    return static_cast<float>(1.0 / std::sqrt(static_cast<double>(elements_per_scale) * qmax));
}

}  // namespace qforge
