#include "qforge/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

#include "qforge/error.h"

namespace qforge {

size_t dtype_size(DType t) {
    switch (t) {
    case DType::f32: return 4;
    case DType::u8: return 1;
    case DType::s8: return 1;
    case DType::s32: return 4;
    }
    return 0;
}

const char *dtype_name(DType t) {
    switch (t) {
    case DType::f32: return "f32";
    case DType::u8: return "u8";
    case DType::s8: return "s8";
    case DType::s32: return "s32";
    }
    return "?";
}

TensorView::TensorView(void *data, DType dtype, Shape shape, Shape strides)
    : data_(data), dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)) {
    for (size_t i = 0; i < shape_.size(); i++) {
        if (shape_[i] < 0) {
            throw ShapeError("tensor: dimension " + std::to_string(i) + " is negative (" +
                             std::to_string(shape_[i]) + ")");
        }
    }
    if (!strides_.empty() && strides_.size() != shape_.size()) {
        throw ShapeError("tensor: " + std::to_string(strides_.size()) + " strides for rank " +
                         std::to_string(shape_.size()));
    }
}

int64_t TensorView::dim(int i) const {
    if (i < 0 || i >= rank()) {
        throw ShapeError("tensor: dimension " + std::to_string(i) + " does not exist in " + describe());
    }
    return shape_[static_cast<size_t>(i)];
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape_) {
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
            throw ShapeError("tensor: element count overflows int64 for " + describe());
        }
        n *= d;
    }
    return n;
}

bool TensorView::is_contiguous() const {
    if (strides_.empty()) return true;
    int64_t expected = 1;
    for (int i = rank() - 1; i >= 0; i--) {
        if (shape_[i] != 1 && strides_[i] != expected) return false;
        expected *= shape_[i];
    }
    return true;
}

std::string TensorView::describe() const {
    std::ostringstream s;
    s << dtype_name(dtype_) << "[";
    for (size_t i = 0; i < shape_.size(); i++) s << (i ? "," : "") << shape_[i];
    s << "]";
    return s.str();
}

template<typename T> T *TensorView::data_as() const {
    if (dtype_ != dtype_of<T>()) {
        throw ShapeError(std::string("tensor: expected dtype ") + dtype_name(dtype_of<T>()) +
                         ", got " + describe());
    }
    return static_cast<T *>(data_);
}
template float *TensorView::data_as<float>() const;
template uint8_t *TensorView::data_as<uint8_t>() const;
template int8_t *TensorView::data_as<int8_t>() const;
template int32_t *TensorView::data_as<int32_t>() const;

void Tensor::FreeDeleter::operator()(void *p) const { std::free(p); }

Tensor::Tensor(DType dtype, Shape shape) {
    TensorView shape_only(nullptr, dtype, shape);
    const int64_t n = shape_only.numel();
    if (n > static_cast<int64_t>(std::numeric_limits<size_t>::max() / 64 / dtype_size(dtype))) {
        throw ShapeError("Tensor: " + shape_only.describe() + " is too large to allocate");
    }
    size_t bytes = shape_only.nbytes();
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = std::aligned_alloc(64, rounded ? rounded : 64);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, rounded ? rounded : 64);
    storage_.reset(p);
    view_ = TensorView(p, dtype, std::move(shape));
}

}  // namespace qforge
