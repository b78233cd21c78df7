// Datasets for qforge-train: IDX files (read by the runtime's validated
// reader, qforge/idx.h: gzip-compressed or raw), normalization, and seeded
// shuffling.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qforge/idx.h"

namespace qforge::train {

using qforge::IdxArray;
using qforge::read_idx;

// One split of an image-classification dataset, images as NHWC f32 [count, rows, cols, 1].
struct Dataset {
    int64_t count = 0, rows = 0, cols = 0;
    std::vector<float> images;   // normalized: (pixel / 255 - mean) / std
    std::vector<int32_t> labels;  // count entries, each in [0, num_classes)
    int num_classes = 10;
};

// Loads `<dir>/<split>-images-idx3-ubyte[.gz]` and `<dir>/<split>-labels-idx1-ubyte[.gz]`
// (split is "train" or "t10k"), checks they agree in count and that labels are < 10,
// keeps the first `limit` examples when limit > 0, normalizes with (mean, std).
Dataset load_split(const std::string &dir, const std::string &split, float mean, float std, int64_t limit = 0);

// The default directory Debian's dataset-fashion-mnist installs.
inline const char *default_fashion_mnist_dir() { return "/usr/share/datasets/fashion-mnist"; }

// Fashion-MNIST's training-set pixel statistics (of pixel / 255).
constexpr float kFashionMnistMean = 0.2860f;
constexpr float kFashionMnistStd = 0.3530f;

// The example order of epoch `epoch` (0-based) for `seed`: a permutation of
// [0, count), the same on every machine for the same (seed, epoch) (it does
// not depend on std::shuffle's implementation-defined algorithm).
std::vector<int64_t> epoch_order(int64_t count, uint64_t seed, int64_t epoch);

// Copies examples order[begin, begin + n) into a contiguous batch
// (images [n, rows, cols, 1], labels [n]).
void gather_batch(const Dataset &d, const std::vector<int64_t> &order, int64_t begin, int64_t n,
                  float *images, int32_t *labels);

}  // namespace qforge::train
