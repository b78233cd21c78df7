// Datasets for qforge-train: load_split (on the runtime's IDX reader), the
// seeded epoch order and batch gathering (contracts in dataset.h).
#include "dataset.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "qforge/error.h"
#include "qforge/model_file.h"  // qforge::FileError

namespace qforge::train {

namespace {

// ---- the shuffling generator: splitmix64 seeds xoshiro256** ----
// Fixed algorithms, fixed constants, 64-bit unsigned arithmetic only: the same
// sequence on every platform and compiler.

uint64_t splitmix64_next(uint64_t &state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

class Xoshiro256StarStar {
public:
    explicit Xoshiro256StarStar(uint64_t seed) {
        uint64_t sm = seed;
        for (uint64_t &w : s_) w = splitmix64_next(sm);  // never all zero: splitmix64 is a bijection of a counter
    }
    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform in [0, n), n >= 1, unbiased: draws below 2^64 mod n are rejected
    // so the accepted range is a multiple of n.
    uint64_t below(uint64_t n) {
        const uint64_t threshold = (0 - n) % n;  // == 2^64 mod n
        for (;;) {
            const uint64_t x = next();
            if (x >= threshold) return x % n;
        }
    }

private:
    uint64_t s_[4];
};

bool is_file(const std::string &path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Dataset load_split(const std::string &dir, const std::string &split, float mean, float std, int64_t limit) {
    const std::string where = "load_split('" + dir + "', '" + split + "'): ";
    if (split != "train" && split != "t10k") throw InvalidArgument(where + "split must be \"train\" or \"t10k\"");
    if (!std::isfinite(mean)) throw InvalidArgument(where + "mean must be finite");
    if (!std::isfinite(std) || !(std > 0.0f)) throw InvalidArgument(where + "std must be finite and > 0");
    if (limit < 0) throw InvalidArgument(where + "limit must be >= 0, got " + std::to_string(limit));

    auto find = [&](const std::string &stem) {
        const std::string plain = dir + "/" + stem;
        if (is_file(plain)) return plain;
        if (is_file(plain + ".gz")) return plain + ".gz";
        throw FileError(where + "neither '" + plain + "' nor '" + plain + ".gz' exists");
    };
    const std::string images_path = find(split + "-images-idx3-ubyte");
    const std::string labels_path = find(split + "-labels-idx1-ubyte");
    const IdxArray images = read_idx(images_path);
    const IdxArray labels = read_idx(labels_path);
    if (images.dims.size() != 3) {
        throw FileError(where + "'" + images_path + "' has " + std::to_string(images.dims.size()) +
                        " dimensions, images need 3 (count, rows, cols)");
    }
    if (labels.dims.size() != 1) {
        throw FileError(where + "'" + labels_path + "' has " + std::to_string(labels.dims.size()) +
                        " dimensions, labels need 1 (count)");
    }
    if (images.dims[0] != labels.dims[0]) {
        throw FileError(where + "label/image count mismatch: '" + images_path + "' has " +
                        std::to_string(images.dims[0]) + " images, '" + labels_path + "' has " +
                        std::to_string(labels.dims[0]) + " labels");
    }
    Dataset d;
    for (int64_t i = 0; i < labels.dims[0]; i++) {
        if (labels.data[static_cast<size_t>(i)] >= d.num_classes) {
            throw FileError(where + "'" + labels_path + "': label " + std::to_string(labels.data[i]) + " at index " +
                            std::to_string(i) + " is outside [0, " + std::to_string(d.num_classes) + ")");
        }
    }
    d.count = limit > 0 ? std::min(limit, images.dims[0]) : images.dims[0];
    d.rows = images.dims[1];
    d.cols = images.dims[2];
    float table[256];
    for (int p = 0; p < 256; p++) table[p] = (static_cast<float>(p) / 255.0f - mean) / std;
    const size_t n = static_cast<size_t>(d.count * d.rows * d.cols);  // <= 2^31 (read_idx bound)
    d.images.resize(n);
    for (size_t i = 0; i < n; i++) d.images[i] = table[images.data[i]];
    d.labels.assign(labels.data.begin(), labels.data.begin() + d.count);
    return d;
}

std::vector<int64_t> epoch_order(int64_t count, uint64_t seed, int64_t epoch) {
    if (count < 0) throw InvalidArgument("epoch_order: count must be >= 0, got " + std::to_string(count));
    if (epoch < 0) throw InvalidArgument("epoch_order: epoch must be >= 0, got " + std::to_string(epoch));
    // One independent stream per (seed, epoch): the epoch goes through an odd
    // multiplier (a bijection), so distinct epochs give distinct keys.
    uint64_t sm = seed;
    const uint64_t key = splitmix64_next(sm) ^ (0xA0761D6478BD642Full * (static_cast<uint64_t>(epoch) + 1));
    Xoshiro256StarStar rng(key);
    std::vector<int64_t> order(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; i++) order[static_cast<size_t>(i)] = i;
    // Fisher-Yates, from the back.
    for (int64_t i = count - 1; i > 0; i--) {
        const uint64_t j = rng.below(static_cast<uint64_t>(i) + 1);
        std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
    }
    return order;
}

void gather_batch(const Dataset &d, const std::vector<int64_t> &order, int64_t begin, int64_t n, float *images,
                  int32_t *labels) {
    const int64_t size = static_cast<int64_t>(order.size());
    if (begin < 0 || n < 0 || begin > size || n > size - begin) {
        throw InvalidArgument("gather_batch: examples [" + std::to_string(begin) + ", " + std::to_string(begin) +
                              " + " + std::to_string(n) + ") are outside the order's " + std::to_string(size) +
                              " entries");
    }
    if (n > 0 && (images == nullptr || labels == nullptr)) {
        throw InvalidArgument("gather_batch: images and labels must not be null");
    }
    const int64_t pixels = d.rows * d.cols;
    if (static_cast<int64_t>(d.images.size()) != d.count * pixels ||
        static_cast<int64_t>(d.labels.size()) != d.count) {
        throw InvalidArgument("gather_batch: the dataset's images/labels do not hold count = " +
                              std::to_string(d.count) + " examples");
    }
    for (int64_t k = 0; k < n; k++) {  // validate every index before writing anything
        const int64_t idx = order[static_cast<size_t>(begin + k)];
        if (idx < 0 || idx >= d.count) {
            throw InvalidArgument("gather_batch: order[" + std::to_string(begin + k) + "] = " + std::to_string(idx) +
                                  " is outside [0, " + std::to_string(d.count) + ")");
        }
    }
    for (int64_t k = 0; k < n; k++) {
        const int64_t idx = order[static_cast<size_t>(begin + k)];
        std::copy_n(d.images.data() + idx * pixels, pixels, images + k * pixels);
        labels[k] = d.labels[static_cast<size_t>(idx)];
    }
}

}  // namespace qforge::train
