// The dataset reader (driver/dataset.h): IDX files raw and gzipped, every
// malformed-file error, load_split, the seeded epoch order (pinned, so a
// change of algorithm is caught) and gather_batch; and the real
// Fashion-MNIST files where Debian's dataset-fashion-mnist is installed.
#include <gtest/gtest.h>

#include "temp_dir.h"
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "dataset.h"
#include "error_expectations.h"
#include "qforge/model_file.h"

namespace {

namespace fs = std::filesystem;
using namespace qforge;
using qforge::testing::TempDir;
using namespace qforge::train;
using Bytes = std::vector<unsigned char>;


// The bytes of an IDX file: magic 00 00 <type> <ndims>, big-endian u32 dims, payload.
Bytes idx_bytes(const std::vector<uint32_t> &dims, const Bytes &payload, unsigned char type = 0x08) {
    Bytes b = {0, 0, type, static_cast<unsigned char>(dims.size())};
    for (uint32_t d : dims) {
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>((d >> s) & 0xff));
    }
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

Bytes pattern(size_t n, unsigned mul = 7) {
    Bytes b(n);
    for (size_t i = 0; i < n; i++) b[i] = static_cast<unsigned char>((i * mul + 3) & 0xff);
    return b;
}

void write_raw(const std::string &path, const Bytes &b) {
    // A new file each time: truncating one with data makes ext4 flush it (auto_da_alloc), which is slow.
    std::error_code ec;
    fs::remove(path, ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(b.data()), static_cast<std::streamsize>(b.size()));
}

void write_gz(const std::string &path, const Bytes &b) {
    gzFile f = gzopen(path.c_str(), "wb9");
    ASSERT_NE(f, nullptr);
    if (!b.empty()) {
        ASSERT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
    }
    ASSERT_EQ(gzclose(f), Z_OK);
}

Bytes read_raw(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// `call` must throw E with a message containing every needle.
template<typename E>
void expect_throw(const std::function<void()> &call, const std::vector<std::string> &needles) {
    try {
        call();
        ADD_FAILURE() << "no exception; expected one mentioning '" << needles.front() << "'";
    } catch (const E &e) {
        for (const auto &n : needles) {
            EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
                << "message '" << e.what() << "' does not mention '" << n << "'";
        }
    } catch (const std::exception &e) {
        ADD_FAILURE() << "wrong exception type: " << e.what();
    }
}

TEST(ReadIdx, RawAndGzipRoundTrip) {
    TempDir dir;
    const std::vector<std::vector<uint32_t>> shapes = {{5}, {3, 4}, {2, 3, 4}, {2, 1, 3, 2}, {1}, {300, 300}};
    for (const auto &dims : shapes) {
        size_t n = 1;
        for (uint32_t d : dims) n *= d;
        const Bytes payload = pattern(n);
        const Bytes file = idx_bytes(dims, payload);
        for (bool gz : {false, true}) {
            const std::string path = dir.file(gz ? "a.gz" : "a");
            if (gz) {
                write_gz(path, file);
            } else {
                write_raw(path, file);
            }
            const IdxArray a = read_idx(path);
            EXPECT_EQ(a.dims, std::vector<int64_t>(dims.begin(), dims.end()));
            EXPECT_EQ(a.data, std::vector<uint8_t>(payload.begin(), payload.end()));
        }
    }
    // Detection is by content, not by name: a gzip file without .gz and a raw one with it.
    const Bytes file = idx_bytes({4}, {1, 2, 3, 4});
    write_gz(dir.file("no-suffix"), file);
    write_raw(dir.file("raw.gz"), file);
    EXPECT_EQ(read_idx(dir.file("no-suffix")).data, (std::vector<uint8_t>{1, 2, 3, 4}));
    EXPECT_EQ(read_idx(dir.file("raw.gz")).data, (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST(ReadIdx, Truncated) {
    TempDir dir;
    const std::string raw = dir.file("t"), gz = dir.file("t.gz");
    const Bytes full = idx_bytes({2, 3, 4}, pattern(24));
    Bytes cut(full.begin(), full.end() - 1);
    write_raw(raw, cut);
    expect_throw<FileError>([&] { read_idx(raw); }, {raw, "truncated: expected 24 bytes of data, found 23"});
    write_gz(gz, cut);
    expect_throw<FileError>([&] { read_idx(gz); }, {gz, "truncated: expected 24 bytes of data, found 23"});
    cut = Bytes(full.begin(), full.begin() + 16);  // header only
    write_raw(raw, cut);
    expect_throw<FileError>([&] { read_idx(raw); }, {"truncated: expected 24 bytes of data, found 0"});
    for (size_t n : {0, 1, 3}) {
        write_raw(raw, Bytes(full.begin(), full.begin() + static_cast<long>(n)));
        expect_throw<FileError>([&] { read_idx(raw); }, {raw, "truncated", "4-byte IDX header"});
    }
    write_raw(raw, Bytes(full.begin(), full.begin() + 9));  // inside the dimensions
    expect_throw<FileError>([&] { read_idx(raw); }, {raw, "truncated", "dimension 1"});
    // Every prefix of the raw file fails, with "truncated".
    for (size_t n = 0; n < full.size(); n++) {
        write_raw(raw, Bytes(full.begin(), full.begin() + static_cast<long>(n)));
        expect_throw<FileError>([&] { read_idx(raw); }, {raw, "truncated"});
    }
}

TEST(ReadIdx, BadHeaders) {
    TempDir dir;
    const std::string p = dir.file("bad");
    auto expect_bad = [&](const Bytes &b, const std::string &needle) {
        write_raw(p, b);
        expect_throw<FileError>([&] { read_idx(p); }, {p, needle});
        write_gz(p, b);  // the same through gzip
        expect_throw<FileError>([&] { read_idx(p); }, {p, needle});
    };
    Bytes b = idx_bytes({4}, pattern(4));
    b[0] = 1;
    expect_bad(b, "bad magic 01 00");
    b = idx_bytes({4}, pattern(4));
    b[1] = 0x08;
    expect_bad(b, "bad magic 00 08");
    expect_bad(idx_bytes({4}, pattern(16), 0x0D), "element type 0x0d is not supported");
    expect_bad(idx_bytes({4}, pattern(16), 0x09), "element type 0x09");
    expect_bad(idx_bytes({}, {}), "number of dimensions 0 is not in 1..4");
    expect_bad(idx_bytes({1, 1, 1, 1, 1}, pattern(1)), "number of dimensions 5");
    expect_bad(idx_bytes({3, 0, 2}, {}), "dimension 1 is 0");
    expect_bad(idx_bytes({65536, 65536}, pattern(10)), "more than 2147483648 bytes");
    expect_bad(idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {}), "more than");
    Bytes trailing = idx_bytes({2, 2}, pattern(5));
    expect_bad(trailing, "trailing data after the 4 bytes");
}

TEST(ReadIdx, MissingFileAndDirectory) {
    TempDir dir;
    const std::string p = dir.file("missing-idx1-ubyte.gz");
    expect_throw<FileError>([&] { read_idx(p); }, {p, "No such file or directory"});
    expect_throw<FileError>([&] { read_idx(dir.path.string()); }, {"not a regular file"});
}

TEST(ReadIdx, CorruptGzip) {
    TempDir dir;
    const std::string p = dir.file("c.gz");
    const Bytes file = idx_bytes({50, 40}, pattern(2000, 13));
    write_gz(p, file);
    const Bytes good = read_raw(p);
    ASSERT_GT(good.size(), 30u);
    // Cut inside the compressed stream, and inside the 8-byte trailer.
    for (size_t keep : {good.size() / 2, good.size() - 3, size_t{12}}) {
        write_raw(p, Bytes(good.begin(), good.begin() + static_cast<long>(keep)));
        expect_throw<FileError>([&] { read_idx(p); }, {p});
    }
    write_raw(p, Bytes(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
    expect_throw<FileError>([&] { read_idx(p); }, {"gzip stream"});
    // The stored CRC-32 of the data.
    Bytes b = good;
    b[b.size() - 6] ^= 0x10;
    write_raw(p, b);
    expect_throw<FileError>([&] { read_idx(p); }, {p, "corrupt gzip stream"});
    // Garbage in the compressed data: every flipped byte after the 10-byte header is caught.
    for (size_t i = 10; i < good.size(); i++) {
        b = good;
        b[i] ^= 0xa5;
        write_raw(p, b);
        expect_throw<FileError>([&] { read_idx(p); }, {p});
    }
    // A gzip magic followed by nonsense.
    write_raw(p, Bytes{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    expect_throw<FileError>([&] { read_idx(p); }, {p, "gzip stream"});
}

// A small split in `dir`: images raw, labels gzipped (both forms are looked up).
void write_split(const TempDir &dir, const std::string &split, uint32_t count, uint32_t rows, uint32_t cols,
                 const Bytes &labels) {
    write_raw(dir.file(split + "-images-idx3-ubyte"), idx_bytes({count, rows, cols}, pattern(size_t{count} * rows * cols)));
    write_gz(dir.file(split + "-labels-idx1-ubyte.gz"), idx_bytes({static_cast<uint32_t>(labels.size())}, labels));
}

TEST(LoadSplit, LoadsNormalizesAndLimits) {
    TempDir dir;
    const Bytes labels = {3, 0, 9, 1, 1};
    write_split(dir, "train", 5, 3, 2, labels);
    const float mean = 0.25f, sd = 0.5f;
    const Dataset d = load_split(dir.path.string(), "train", mean, sd);
    EXPECT_EQ(d.count, 5);
    EXPECT_EQ(d.rows, 3);
    EXPECT_EQ(d.cols, 2);
    EXPECT_EQ(d.num_classes, 10);
    EXPECT_EQ(d.labels, (std::vector<int32_t>{3, 0, 9, 1, 1}));
    const Bytes pixels = pattern(30);
    ASSERT_EQ(d.images.size(), 30u);
    for (size_t i = 0; i < 30; i++) {
        EXPECT_EQ(d.images[i], (static_cast<float>(pixels[i]) / 255.0f - mean) / sd) << i;
    }
    const Dataset l = load_split(dir.path.string(), "train", mean, sd, 2);
    EXPECT_EQ(l.count, 2);
    EXPECT_EQ(l.labels, (std::vector<int32_t>{3, 0}));
    EXPECT_EQ(std::vector<float>(d.images.begin(), d.images.begin() + 12), l.images);
    EXPECT_EQ(load_split(dir.path.string(), "train", mean, sd, 100).count, 5);  // limit above count: all
}

TEST(LoadSplit, Errors) {
    TempDir dir;
    const std::string d = dir.path.string();
    expect_throw<FileError>([&] { load_split(d, "train", 0.f, 1.f); }, {"neither", "train-images-idx3-ubyte"});
    expect_throw<InvalidArgument>([&] { load_split(d, "valid", 0.f, 1.f); }, {"split must be"});
    expect_throw<InvalidArgument>([&] { load_split(d, "train", 0.f, 0.f); }, {"std must be"});
    expect_throw<InvalidArgument>([&] { load_split(d, "train", NAN, 1.f); }, {"mean must be"});
    expect_throw<InvalidArgument>([&] { load_split(d, "train", 0.f, 1.f, -1); }, {"limit"});

    write_split(dir, "train", 5, 2, 2, {1, 2, 3, 4});  // 4 labels for 5 images
    expect_throw<FileError>([&] { load_split(d, "train", 0.f, 1.f); },
                            {"label/image count mismatch", "5 images", "4 labels"});
    write_split(dir, "train", 4, 2, 2, {1, 2, 10, 4});
    expect_throw<FileError>([&] { load_split(d, "train", 0.f, 1.f); }, {"label 10 at index 2", "[0, 10)"});
    write_split(dir, "train", 4, 2, 2, {1, 2, 255, 4});
    expect_throw<FileError>([&] { load_split(d, "train", 0.f, 1.f); }, {"label 255 at index 2"});
    // Images must have 3 dimensions, labels 1.
    write_raw(dir.file("t10k-images-idx3-ubyte"), idx_bytes({4, 4}, pattern(16)));
    write_raw(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({4}, {0, 1, 2, 3}));
    expect_throw<FileError>([&] { load_split(d, "t10k", 0.f, 1.f); }, {"has 2 dimensions, images need 3"});
    write_raw(dir.file("t10k-images-idx3-ubyte"), idx_bytes({4, 1, 1}, pattern(4)));
    write_raw(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({4, 1}, {0, 1, 2, 3}));
    expect_throw<FileError>([&] { load_split(d, "t10k", 0.f, 1.f); }, {"labels need 1"});
    // A corrupt file is reported by name.
    write_raw(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({5}, {0, 1, 2, 3}));
    expect_throw<FileError>([&] { load_split(d, "t10k", 0.f, 1.f); }, {"t10k-labels-idx1-ubyte", "truncated"});
}

bool is_permutation_of_iota(const std::vector<int64_t> &v) {
    std::vector<int64_t> s = v;
    std::sort(s.begin(), s.end());
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] != static_cast<int64_t>(i)) return false;
    }
    return true;
}

TEST(EpochOrder, PermutationDeterministicAndVarying) {
    for (int64_t n : {0, 1, 2, 3, 10, 1000, 60000}) {
        const auto a = epoch_order(n, 7, 0);
        EXPECT_EQ(a.size(), static_cast<size_t>(n));
        EXPECT_TRUE(is_permutation_of_iota(a)) << n;
        EXPECT_EQ(a, epoch_order(n, 7, 0)) << n;
        if (n >= 10) {
            EXPECT_NE(a, epoch_order(n, 7, 1)) << n;
            EXPECT_NE(a, epoch_order(n, 8, 0)) << n;
            EXPECT_NE(epoch_order(n, 7, 1), epoch_order(n, 8, 1)) << n;
        }
    }
    EXPECT_THROW(epoch_order(-1, 0, 0), InvalidArgument);
    EXPECT_THROW(epoch_order(10, 0, -1), InvalidArgument);
}

// The algorithm is part of the contract (runs are reproducible across
// machines and versions): these values pin it.
TEST(EpochOrder, PinnedValues) {
    EXPECT_EQ(epoch_order(10, 42, 0), (std::vector<int64_t>{5, 1, 6, 9, 0, 8, 2, 7, 3, 4}));
    EXPECT_EQ(epoch_order(10, 42, 3), (std::vector<int64_t>{5, 9, 6, 3, 7, 1, 2, 0, 8, 4}));
    const auto big = epoch_order(60000, 20240601, 5);
    EXPECT_EQ(std::vector<int64_t>(big.begin(), big.begin() + 8), (std::vector<int64_t>{12138, 55744, 10656, 52048, 37756, 43348, 54018, 44874}));
}

TEST(EpochOrder, RoughlyUniform) {
    // Each of the 6 orders of 3 elements, over 6000 (seed, epoch) pairs.
    std::map<std::vector<int64_t>, int> seen;
    for (int64_t e = 0; e < 3000; e++) {
        seen[epoch_order(3, 1, e)]++;
        seen[epoch_order(3, static_cast<uint64_t>(e) + 100, 0)]++;
    }
    EXPECT_EQ(seen.size(), 6u);
    for (const auto &[order, n] : seen) {
        EXPECT_GT(n, 850);
        EXPECT_LT(n, 1150);
    }
    // Where each element lands, for a larger n.
    const int64_t n = 8;
    std::vector<std::vector<int>> pos(n, std::vector<int>(n, 0));
    for (int64_t e = 0; e < 8000; e++) {
        const auto o = epoch_order(n, 99, e);
        for (int64_t i = 0; i < n; i++) pos[static_cast<size_t>(o[i])][static_cast<size_t>(i)]++;
    }
    for (const auto &row : pos) {
        for (int c : row) {
            EXPECT_GT(c, 850);
            EXPECT_LT(c, 1150);
        }
    }
}

TEST(GatherBatch, CopiesAndValidates) {
    Dataset d;
    d.count = 4;
    d.rows = 2;
    d.cols = 1;
    d.images = {0, 1, 10, 11, 20, 21, 30, 31};
    d.labels = {5, 6, 7, 8};
    const std::vector<int64_t> order = {2, 0, 3, 1};
    std::vector<float> images(4, -1.f);
    std::vector<int32_t> labels(2, -1);
    gather_batch(d, order, 1, 2, images.data(), labels.data());
    EXPECT_EQ(images, (std::vector<float>{0, 1, 30, 31}));
    EXPECT_EQ(labels, (std::vector<int32_t>{5, 8}));
    gather_batch(d, order, 4, 0, nullptr, nullptr);  // an empty batch at the end is fine

    std::vector<float> out(8, -1.f);
    std::vector<int32_t> lab(4, -1);
    auto expect_rejected = [&](const std::function<void()> &call, const std::string &needle) {
        qforge::testing::expect_error_untouched<InvalidArgument>(call, needle, out, -1.f);
        for (int32_t v : lab) EXPECT_EQ(v, -1);
    };
    expect_rejected([&] { gather_batch(d, order, 3, 2, out.data(), lab.data()); }, "outside the order's 4 entries");
    expect_rejected([&] { gather_batch(d, order, -1, 1, out.data(), lab.data()); }, "outside");
    expect_rejected([&] { gather_batch(d, order, 0, -1, out.data(), lab.data()); }, "outside");
    expect_rejected([&] { gather_batch(d, {0, 4}, 0, 2, out.data(), lab.data()); }, "order[1] = 4 is outside [0, 4)");
    expect_rejected([&] { gather_batch(d, {0, -3}, 0, 2, out.data(), lab.data()); }, "order[1] = -3");
    expect_rejected([&] { gather_batch(d, order, 0, 1, nullptr, lab.data()); }, "must not be null");
}

TEST(FashionMnist, RealSplitsLoad) {
    const std::string dir = default_fashion_mnist_dir();
    if (!fs::exists(dir)) {
        GTEST_SKIP() << dir << " does not exist (install Debian's dataset-fashion-mnist to run this test)";
    }
    const Dataset train = load_split(dir, "train", kFashionMnistMean, kFashionMnistStd);
    EXPECT_EQ(train.count, 60000);
    EXPECT_EQ(train.rows, 28);
    EXPECT_EQ(train.cols, 28);
    ASSERT_EQ(train.images.size(), size_t{60000} * 28 * 28);
    ASSERT_EQ(train.labels.size(), 60000u);
    std::vector<int> per_class(10, 0);
    for (int32_t l : train.labels) per_class[static_cast<size_t>(l)]++;
    for (int c : per_class) EXPECT_EQ(c, 6000);  // Fashion-MNIST is balanced
    // The stated statistics hold: normalized pixels have mean ~0 and std ~1.
    double sum = 0, sum2 = 0;
    for (float v : train.images) {
        sum += v;
        sum2 += double{v} * v;
    }
    const double m = sum / static_cast<double>(train.images.size());
    const double var = sum2 / static_cast<double>(train.images.size()) - m * m;
    EXPECT_NEAR(m, 0.0, 0.002);
    EXPECT_NEAR(std::sqrt(var), 1.0, 0.002);

    const Dataset test = load_split(dir, "t10k", kFashionMnistMean, kFashionMnistStd);
    EXPECT_EQ(test.count, 10000);
    EXPECT_EQ(test.rows, 28);
    EXPECT_EQ(test.cols, 28);
    std::vector<int> test_class(10, 0);
    for (int32_t l : test.labels) test_class[static_cast<size_t>(l)]++;
    for (int c : test_class) EXPECT_EQ(c, 1000);

    const Dataset some = load_split(dir, "t10k", kFashionMnistMean, kFashionMnistStd, 100);
    EXPECT_EQ(some.count, 100);
    EXPECT_EQ(std::vector<float>(test.images.begin(), test.images.begin() + 100 * 784), some.images);
}

}  // namespace
