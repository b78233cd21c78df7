// Errors thrown by the qforge runtime. Every message names the argument and
// the problem ("fake_quant: scale must be finite and > 0, got -1").
#pragma once

#include <stdexcept>
#include <string>

namespace qforge {

// Base of every qforge error.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A value is out of its domain: scale <= 0 or non-finite, qmin >= qmax, bits
// outside 2..8, axis out of range, zero point outside [qmin, qmax].
class InvalidArgument : public Error {
public:
    using Error::Error;
};

// A tensor does not fit: null data, wrong dtype, rank or shape mismatch,
// unsupported strides, overlapping outputs, too many elements.
class ShapeError : public Error {
public:
    using Error::Error;
};

// A compiled kernel reported a failure (the Halide runtime's message is kept).
class KernelError : public Error {
public:
    using Error::Error;
};

// The requested device cannot run the call: no CUDA device or driver, a
// build without the CUDA kernels, or an operator with no CUDA path
// (qforge/device.h).
class DeviceError : public Error {
public:
    using Error::Error;
};

}  // namespace qforge
