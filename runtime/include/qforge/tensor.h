// Tensors: a non-owning view (dtype, shape, strides) over memory the caller
// owns, and an owning tensor with 64-byte-aligned storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qforge {

enum class DType : uint8_t { f32, u8, s8, s32 };

size_t dtype_size(DType t);
const char *dtype_name(DType t);

template<typename T> constexpr DType dtype_of();
template<> constexpr DType dtype_of<float>() { return DType::f32; }
template<> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template<> constexpr DType dtype_of<int8_t>() { return DType::s8; }
template<> constexpr DType dtype_of<int32_t>() { return DType::s32; }

using Shape = std::vector<int64_t>;

// A view of `shape` elements of `dtype` at `data`. Strides are in elements;
// an empty stride list means contiguous row-major (last dimension fastest).
class TensorView {
public:
    TensorView() = default;
    TensorView(void *data, DType dtype, Shape shape, Shape strides = {});
    template<typename T>
    TensorView(T *data, Shape shape, Shape strides = {})
        : TensorView(static_cast<void *>(data), dtype_of<T>(), std::move(shape), std::move(strides)) {}

    void *data() const { return data_; }
    DType dtype() const { return dtype_; }
    int rank() const { return static_cast<int>(shape_.size()); }
    const Shape &shape() const { return shape_; }
    const Shape &strides() const { return strides_; }
    int64_t dim(int i) const;  // throws ShapeError for a dimension the view does not have
    int64_t numel() const;
    size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
    bool is_contiguous() const;
    std::string describe() const;  // "f32[2,3]"

    // Typed pointer; throws ShapeError when T does not match the dtype.
    template<typename T> T *data_as() const;

private:
    void *data_ = nullptr;
    DType dtype_ = DType::f32;
    Shape shape_;
    Shape strides_;
};

// Owning, contiguous, zero-initialised, 64-byte aligned.
class Tensor {
public:
    Tensor() = default;
    Tensor(DType dtype, Shape shape);

    TensorView view() const { return view_; }
    operator TensorView() const { return view_; }  // NOLINT: a tensor is usable wherever a view is
    void *data() const { return view_.data(); }
    template<typename T> T *data_as() const { return view_.data_as<T>(); }
    DType dtype() const { return view_.dtype(); }
    const Shape &shape() const { return view_.shape(); }
    int64_t numel() const { return view_.numel(); }

private:
    struct FreeDeleter {
        void operator()(void *p) const;
    };
    std::unique_ptr<void, FreeDeleter> storage_;
    TensorView view_;
};

}  // namespace qforge
