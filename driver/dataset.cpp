// Datasets for qforge-train: the IDX reader, load_split, the seeded epoch
// order and batch gathering (contracts in dataset.h).
#include "dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>

#include "qforge/error.h"
#include "qforge/model_file.h"  // qforge::FileError

namespace qforge::train {

namespace {

constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 31;  // largest payload read_idx accepts
constexpr unsigned kChunk = 1u << 24;                 // read (and grow the buffer) 16 MiB at a time

[[noreturn]] void idx_fail(const std::string &path, const std::string &problem) {
    throw FileError("read_idx: '" + path + "': " + problem);
}

struct GzCloser {
    void operator()(gzFile_s *f) const { gzclose(f); }
};

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

IdxArray read_idx(const std::string &path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) idx_fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        idx_fail(path, "not a regular file");
    }
    // gzdopen reads gzip streams (detected by their magic 1f 8b) and plain
    // files alike ("transparent" mode); gzdirect() tells which it found.
    std::unique_ptr<gzFile_s, GzCloser> gz(gzdopen(fd, "rb"));
    if (!gz) {
        ::close(fd);
        idx_fail(path, "cannot open (out of memory)");
    }
    gzbuffer(gz.get(), 1u << 17);

    // Reads up to n bytes; returns how many arrived (fewer only at the end);
    // a corrupt or truncated gzip stream throws.
    auto read = [&](void *dst, unsigned n) -> unsigned {
        unsigned got = 0;
        while (got < n) {
            const int r = gzread(gz.get(), static_cast<char *>(dst) + got, n - got);
            if (r < 0) {
                int code = 0;
                const char *msg = gzerror(gz.get(), &code);
                if (code == Z_ERRNO) idx_fail(path, std::string("read error: ") + std::strerror(errno));
                idx_fail(path, std::string("corrupt gzip stream: ") + (msg ? msg : "unknown error"));
            }
            if (r == 0) {
                // gzread reports a gzip stream cut short as end of file plus an error.
                int code = 0;
                const char *msg = gzerror(gz.get(), &code);
                if (code == Z_BUF_ERROR) {
                    idx_fail(path, std::string("truncated gzip stream: ") + (msg ? msg : "unexpected end of file"));
                }
                if (code != Z_OK) idx_fail(path, std::string("corrupt gzip stream: ") + (msg ? msg : "unknown error"));
                break;
            }
            got += static_cast<unsigned>(r);
        }
        return got;
    };

    unsigned char magic[4];
    const unsigned have = read(magic, 4);
    const bool compressed = gzdirect(gz.get()) == 0;
    const std::string decompressed = compressed ? " (after decompression)" : "";
    if (have < 4) {
        idx_fail(path, "truncated: expected a 4-byte IDX header, found " + std::to_string(have) + " bytes" + decompressed);
    }
    if (magic[0] != 0 || magic[1] != 0) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "not an IDX file (bad magic %02x %02x, expected 00 00)", magic[0], magic[1]);
        idx_fail(path, buf);
    }
    if (magic[2] != 0x08) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "element type 0x%02x is not supported (only unsigned byte, 0x08)", magic[2]);
        idx_fail(path, buf);
    }
    const int ndims = magic[3];
    if (ndims < 1 || ndims > 4) idx_fail(path, "number of dimensions " + std::to_string(ndims) + " is not in 1..4");

    IdxArray out;
    uint64_t total = 1;
    for (int i = 0; i < ndims; i++) {
        unsigned char b[4];
        const unsigned got = read(b, 4);
        if (got < 4) {
            idx_fail(path, "truncated: the header ends inside dimension " + std::to_string(i) + " of " +
                               std::to_string(ndims) + decompressed);
        }
        const uint64_t d = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
        if (d == 0) idx_fail(path, "dimension " + std::to_string(i) + " is 0");
        total *= d;  // <= 2^31 * (2^32 - 1): no overflow
        if (total > kMaxIdxBytes) {
            idx_fail(path, "the dimensions hold more than " + std::to_string(kMaxIdxBytes) + " bytes (" +
                               std::to_string(i + 1) + " of " + std::to_string(ndims) + " read)");
        }
        out.dims.push_back(static_cast<int64_t>(d));
    }

    // The buffer grows with the data that actually arrives, so a header that
    // lies about the size cannot make us allocate more than the file holds
    // (plus one chunk).
    uint64_t got_total = 0;
    while (got_total < total) {
        const unsigned want = static_cast<unsigned>(std::min<uint64_t>(kChunk, total - got_total));
        out.data.resize(static_cast<size_t>(got_total + want));
        const unsigned got = read(out.data.data() + got_total, want);
        got_total += got;
        if (got < want) break;
    }
    if (got_total < total) {
        idx_fail(path, "truncated: expected " + std::to_string(total) + " bytes of data, found " +
                           std::to_string(got_total) + decompressed);
    }
    unsigned char extra;
    if (read(&extra, 1) != 0) {
        idx_fail(path, "trailing data after the " + std::to_string(total) + " bytes the header declares" + decompressed);
    }
    return out;
}

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
