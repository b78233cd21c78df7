// The model file (docs/model-file.md): round trips of every dtype and rank,
// metadata and kind preserved, atomic saves, and loading every truncated or
// corrupted variant of a small file fails with a FileError (never a crash:
// this suite also runs under ASan+UBSan).
#include <gtest/gtest.h>

#include "temp_dir.h"
#include <stdlib.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "qforge/model_file.h"

namespace {

namespace fs = std::filesystem;
using namespace qforge;
using qforge::testing::TempDir;


std::vector<unsigned char> read_bytes(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string &path, const std::vector<unsigned char> &bytes) {
    // A new file each time: truncating one with data makes ext4 flush it (auto_da_alloc), which is slow.
    std::error_code ec;
    fs::remove(path, ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

uint64_t get_le(const std::vector<unsigned char> &b, size_t at, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | b.at(at + i);
    return v;
}

void put_le(std::vector<unsigned char> &b, size_t at, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b.at(at + i) = static_cast<unsigned char>((v >> (8 * i)) & 0xff);
}

// Rewrites the trailing CRC-32 so that only the structural checks can catch a change.
void fix_crc(std::vector<unsigned char> &b) {
    const uLong crc = crc32(0L, b.data(), static_cast<uInt>(b.size() - 4));
    put_le(b, b.size() - 4, crc, 4);
}

Tensor filled(DType dtype, Shape shape, uint32_t seed) {
    Tensor t(dtype, std::move(shape));
    std::mt19937 rng(seed);
    auto *p = static_cast<unsigned char *>(t.data());
    for (size_t i = 0; i < t.view().nbytes(); i++) p[i] = static_cast<unsigned char>(rng());
    return t;
}

void expect_same(const Tensor &a, const Tensor &b, const std::string &what) {
    EXPECT_EQ(a.dtype(), b.dtype()) << what;
    EXPECT_EQ(a.shape(), b.shape()) << what;
    ASSERT_EQ(a.view().nbytes(), b.view().nbytes()) << what;
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.view().nbytes()), 0) << what;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u) << what;
}

// Runs `call`, which must throw E with a message containing every needle.
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

// A small model: two tensors, a kind and some metadata.
ModelFile small_model() {
    ModelFile m;
    m.kind = "fp32-model";
    m.metadata_json = R"({"arch":"lenet","epochs":3})";
    m.add("conv1.weight", filled(DType::f32, {2, 3}, 1));
    m.add("fc.bias", filled(DType::u8, {5}, 2));
    return m;
}

const std::vector<DType> kAllDtypes = {DType::f32, DType::u8, DType::s8, DType::s32};

TEST(ModelFile, RoundTripEveryDtypeAndRank) {
    TempDir dir;
    const std::vector<Shape> shapes = {{}, {0}, {7}, {2, 3}, {3, 0, 2}, {2, 3, 5}, {1, 2, 3, 4}, {0, 0, 0, 0}, {65}};
    ModelFile m;
    m.kind = "checkpoint";
    m.metadata_json = R"({"step": 12, "lr": 0.001, "names": ["a", "b"], "nested": {"x": null}})";
    uint32_t seed = 0;
    for (DType dt : kAllDtypes) {
        for (const Shape &s : shapes) {
            m.add(std::string(dtype_name(dt)) + "/" + std::to_string(seed), filled(dt, s, seed));
            seed++;
        }
    }
    const std::string path = dir.file("m.qfm");
    save_model_file(path, m);
    const ModelFile r = load_model_file(path);
    EXPECT_EQ(r.kind, m.kind);
    EXPECT_EQ(r.metadata_json, m.metadata_json);
    ASSERT_EQ(r.tensors.size(), m.tensors.size());
    for (size_t i = 0; i < m.tensors.size(); i++) {
        EXPECT_EQ(r.tensors[i].first, m.tensors[i].first);  // file order kept
        expect_same(m.tensors[i].second, r.tensors[i].second, m.tensors[i].first);
        EXPECT_TRUE(r.has_tensor(m.tensors[i].first));
        expect_same(m.tensors[i].second, r.tensor(m.tensors[i].first), m.tensors[i].first);
    }

    // Saving what was loaded gives the same bytes (the layout is canonical).
    const std::string again = dir.file("again.qfm");
    save_model_file(again, r);
    EXPECT_EQ(read_bytes(path), read_bytes(again));
}

TEST(ModelFile, NoTensorsAndDefaults) {
    TempDir dir;
    ModelFile m;
    m.kind = "int8-model";  // metadata left empty: stored as {}
    save_model_file(dir.file("e.qfm"), m);
    const ModelFile r = load_model_file(dir.file("e.qfm"));
    EXPECT_EQ(r.kind, "int8-model");
    EXPECT_EQ(r.metadata_json, "{}");
    EXPECT_TRUE(r.tensors.empty());
}

TEST(ModelFile, MetadataAndKindPreservedVerbatim) {
    TempDir dir;
    ModelFile m;
    m.kind = "fp32-model v2 (test)";
    m.metadata_json = "  {\n  \"unicode\": \"\xc3\xa9t\xc3\xa9 \\u2603\",\n  \"big\": 1e300, \"list\": [1, 2, [3]]\n}\n";
    save_model_file(dir.file("m.qfm"), m);
    const ModelFile r = load_model_file(dir.file("m.qfm"));
    EXPECT_EQ(r.kind, m.kind);
    EXPECT_EQ(r.metadata_json, m.metadata_json);  // byte for byte, whitespace included
}

TEST(ModelFile, LayoutIsAlignedAndLittleEndian) {
    TempDir dir;
    const ModelFile m = small_model();
    save_model_file(dir.file("m.qfm"), m);
    const auto b = read_bytes(dir.file("m.qfm"));
    const unsigned char magic[8] = {0x89, 'Q', 'F', 'M', '\r', '\n', 0x1a, '\n'};
    ASSERT_GE(b.size(), 48u);
    EXPECT_EQ(std::memcmp(b.data(), magic, 8), 0);
    EXPECT_EQ(get_le(b, 8, 4), 1u);                // format version
    EXPECT_EQ(get_le(b, 16, 8), b.size());         // file size
    EXPECT_EQ(get_le(b, 24, 8) % 64, 0u);          // data offset
    EXPECT_EQ(get_le(b, 32, 4), 2u);               // tensor count
    EXPECT_EQ(get_le(b, 36, 4), m.kind.size());    // kind length
    EXPECT_EQ(get_le(b, 40, 4), m.metadata_json.size());
    // The tensor table: walk it and check every offset is 64-aligned and the data matches.
    size_t at = 48 + m.kind.size() + m.metadata_json.size();
    for (const auto &[name, t] : m.tensors) {
        const uint64_t name_length = get_le(b, at, 4);
        const uint64_t rank = b.at(at + 5);
        const uint64_t offset = get_le(b, at + 8, 8), nbytes = get_le(b, at + 16, 8);
        EXPECT_EQ(rank, t.shape().size());
        EXPECT_EQ(offset % 64, 0u) << name;
        EXPECT_EQ(nbytes, t.view().nbytes()) << name;
        EXPECT_EQ(std::string(b.begin() + at + 24 + 8 * rank, b.begin() + at + 24 + 8 * rank + name_length), name);
        EXPECT_EQ(std::memcmp(b.data() + offset, t.data(), nbytes), 0) << name;
        at += 24 + 8 * rank + name_length;
    }
    EXPECT_EQ(b.at(at - 24 - 8 - 7 + 4), 2u);  // fc.bias is u8 (code 2)
    // The trailer is zlib's CRC-32 of everything before it.
    EXPECT_EQ(get_le(b, b.size() - 4, 4), crc32(0L, b.data(), static_cast<uInt>(b.size() - 4)));
}

TEST(ModelFile, TensorLookupAndAdd) {
    ModelFile m = small_model();
    EXPECT_TRUE(m.has_tensor("fc.bias"));
    EXPECT_FALSE(m.has_tensor("fc.weight"));
    expect_throw<FileError>([&] { m.tensor("fc.weight"); }, {"no tensor named 'fc.weight'", "conv1.weight"});
    expect_throw<InvalidArgument>([&] { m.add("fc.bias", Tensor(DType::f32, {1})); },
                                  {"duplicate tensor name 'fc.bias'"});
    expect_throw<InvalidArgument>([&] { m.add("", Tensor(DType::f32, {1})); }, {"name is empty"});
    expect_throw<InvalidArgument>([&] { m.add("nothing", Tensor()); }, {"no storage"});
    EXPECT_EQ(m.tensors.size(), 2u);
}

TEST(ModelFile, SaveRejectsBadContentsWithoutWriting) {
    TempDir dir;
    const std::string path = dir.file("bad.qfm");
    auto with = [](const std::function<void(ModelFile &)> &edit) {
        ModelFile m = small_model();
        edit(m);
        return m;
    };
    const std::vector<std::pair<ModelFile, std::string>> cases = [&] {
        std::vector<std::pair<ModelFile, std::string>> c;
        c.emplace_back(with([](ModelFile &m) { m.metadata_json = "{\"a\": 1"; }), "not valid JSON");
        c.emplace_back(with([](ModelFile &m) { m.metadata_json = "{\"a\": 1} x"; }), "not valid JSON");
        c.emplace_back(with([](ModelFile &m) { m.metadata_json = "[1, 2]"; }), "not a JSON object");
        c.emplace_back(with([](ModelFile &m) { m.metadata_json = "\"text\""; }), "not a JSON object");
        c.emplace_back(with([](ModelFile &m) { m.kind = ""; }), "kind is empty");
        c.emplace_back(with([](ModelFile &m) { m.kind = "a\nb"; }), "printable");
        c.emplace_back(with([](ModelFile &m) { m.kind = std::string(300, 'k'); }), "kind is 300 bytes");
        c.emplace_back(with([](ModelFile &m) { m.tensors.emplace_back("fc.bias", Tensor(DType::s8, {2})); }),
                       "duplicate tensor name 'fc.bias'");
        c.emplace_back(with([](ModelFile &m) { m.tensors.emplace_back("empty", Tensor()); }), "no storage");
        c.emplace_back(with([](ModelFile &m) { m.tensors.emplace_back(std::string(2000, 'n'), Tensor(DType::s8, {2})); }),
                       "2000 bytes");
        c.emplace_back(with([](ModelFile &m) { m.tensors.emplace_back("r9", Tensor(DType::s8, Shape(9, 1))); }),
                       "rank 9");
        return c;
    }();
    for (const auto &[m, needle] : cases) {
        expect_throw<InvalidArgument>([&] { save_model_file(path, m); }, {needle, path});
        EXPECT_TRUE(dir.entries().empty()) << needle;
    }
}

TEST(ModelFile, AtomicSaveReplacesAndLeavesNoTemporaries) {
    TempDir dir;
    const std::string path = dir.file("model.qfm");
    ModelFile a = small_model();
    save_model_file(path, a);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.qfm"});
    ModelFile b;
    b.kind = "checkpoint";
    b.metadata_json = R"({"epoch": 9})";
    b.add("w", filled(DType::s32, {4, 4}, 7));
    save_model_file(path, b);  // replaces the existing file
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.qfm"});
    const ModelFile r = load_model_file(path);
    EXPECT_EQ(r.kind, "checkpoint");
    ASSERT_EQ(r.tensors.size(), 1u);
    expect_same(b.tensor("w"), r.tensor("w"), "w");

    // A relative path (no directory part) works too.
    const fs::path cwd = fs::current_path();
    fs::current_path(dir.path);
    save_model_file("relative.qfm", b);
    fs::current_path(cwd);
    EXPECT_EQ(dir.entries(), (std::vector<std::string>{"model.qfm", "relative.qfm"}));
}

TEST(ModelFile, SaveFailuresNameThePathAndLeaveNothing) {
    TempDir dir;
    const ModelFile m = small_model();
    // The directory does not exist.
    const std::string missing = dir.file("no/such/dir/m.qfm");
    expect_throw<FileError>([&] { save_model_file(missing, m); }, {missing, "No such file or directory"});
    // The target is a directory: the rename fails after the temporary was written.
    fs::create_directory(dir.path / "sub");
    const std::string sub = dir.file("sub");
    expect_throw<FileError>([&] { save_model_file(sub, m); }, {sub, "rename", "Is a directory"});
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"sub"});
    EXPECT_TRUE(fs::is_empty(dir.path / "sub"));
}

TEST(ModelFile, FailedWriteKeepsTheOldFile) {
    TempDir dir;
    const std::string path = dir.file("model.qfm");
    const ModelFile old = small_model();
    save_model_file(path, old);
    const auto old_bytes = read_bytes(path);

    ModelFile big;
    big.kind = "fp32-model";
    big.add("w", filled(DType::f32, {64, 1024}, 3));  // 256 KiB
    // Cap the file size this process may write: writes past it fail with EFBIG.
    struct rlimit saved {};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
    struct rlimit capped = saved;
    capped.rlim_cur = 64 * 1024;
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &capped), 0);
    std::string message;
    try {
        save_model_file(path, big);
    } catch (const FileError &e) {
        message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("File too large"), std::string::npos) << message;
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.qfm"});  // no temporary left
    EXPECT_EQ(read_bytes(path), old_bytes);                            // the old file is intact
}

TEST(ModelFile, LoadMissingOrNotAFile) {
    TempDir dir;
    const std::string missing = dir.file("missing.qfm");
    expect_throw<FileError>([&] { load_model_file(missing); }, {missing, "No such file or directory"});
    expect_throw<FileError>([&] { load_model_file(dir.path.string()); }, {"not a regular file"});
    write_bytes(dir.file("empty"), {});
    expect_throw<FileError>([&] { load_model_file(dir.file("empty")); }, {"truncated"});
}

TEST(ModelFile, LoadBadMagicAndNewerVersion) {
    TempDir dir;
    const std::string path = dir.file("m.qfm");
    save_model_file(path, small_model());
    const auto good = read_bytes(path);

    auto b = good;
    b[1] = 'X';
    fix_crc(b);
    write_bytes(path, b);
    expect_throw<FileError>([&] { load_model_file(path); }, {path, "not a qforge model file"});
    write_bytes(path, std::vector<unsigned char>{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0});
    expect_throw<FileError>([&] { load_model_file(path); }, {"not a qforge model file"});

    b = good;
    put_le(b, 8, 2, 4);
    fix_crc(b);
    write_bytes(path, b);
    expect_throw<FileError>([&] { load_model_file(path); },
                            {path, "written by a newer qforge (format 2, this build reads up to 1)"});
    // A newer version is reported even when the rest of the file is unreadable to this build.
    b.resize(60);
    write_bytes(path, b);
    expect_throw<FileError>([&] { load_model_file(path); }, {"written by a newer qforge (format 2"});

    b = good;
    put_le(b, 8, 0, 4);
    fix_crc(b);
    write_bytes(path, b);
    expect_throw<FileError>([&] { load_model_file(path); }, {"format version 0"});
}

TEST(ModelFile, LoadEveryTruncation) {
    TempDir dir;
    const std::string path = dir.file("m.qfm"), cut = dir.file("cut.qfm");
    save_model_file(path, small_model());
    const auto good = read_bytes(path);
    for (size_t n = 0; n < good.size(); n++) {
        write_bytes(cut, std::vector<unsigned char>(good.begin(), good.begin() + n));
        expect_throw<FileError>([&] { load_model_file(cut); }, {cut, "truncated"});
    }
    auto longer = good;
    longer.push_back(0);
    write_bytes(cut, longer);
    expect_throw<FileError>([&] { load_model_file(cut); }, {cut, "trailing data"});
}

TEST(ModelFile, LoadEverySingleByteCorruption) {
    TempDir dir;
    const std::string path = dir.file("m.qfm"), bad = dir.file("bad.qfm");
    save_model_file(path, small_model());
    const auto good = read_bytes(path);
    int detected = 0;
    for (size_t i = 0; i < good.size(); i++) {
        for (unsigned flip : {0x01u, 0x80u, 0xffu, 0x5au}) {
            auto b = good;
            b[i] = static_cast<unsigned char>(b[i] ^ flip);
            write_bytes(bad, b);
            try {
                load_model_file(bad);
                ADD_FAILURE() << "byte " << i << " ^ " << flip << " not detected";
            } catch (const FileError &e) {
                EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
                detected++;
            }
        }
    }
    EXPECT_EQ(detected, static_cast<int>(4 * good.size()));
}

// With the checksum recomputed, only the structural validation stands between
// a crafted file and the loader: each result must be a clean load or a
// FileError (ASan/UBSan report anything else in the sanitized run).
TEST(ModelFile, LoadStructuralFuzzWithValidChecksum) {
    TempDir dir;
    const std::string path = dir.file("m.qfm"), bad = dir.file("bad.qfm");
    ModelFile m = small_model();
    m.add("s", filled(DType::s32, {}, 9));
    m.add("z", filled(DType::s8, {0, 4}, 9));
    save_model_file(path, m);
    const auto good = read_bytes(path);
    const size_t data_offset = static_cast<size_t>(get_le(good, 24, 8));
    auto try_load = [&](const std::vector<unsigned char> &b) {
        write_bytes(bad, b);
        try {
            const ModelFile r = load_model_file(bad);
            for (const auto &[name, t] : r.tensors) EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
        } catch (const FileError &) {
        } catch (const std::exception &e) {
            ADD_FAILURE() << "not a FileError: " << e.what();
        }
    };
    // Every byte of the header and table, set to interesting values.
    for (size_t i = 0; i < data_offset; i++) {
        for (unsigned v : {0x00u, 0x01u, 0x07u, 0x3fu, 0x40u, 0x7fu, 0x80u, 0xffu, good[i] + 1u, good[i] - 1u}) {
            auto b = good;
            b[i] = static_cast<unsigned char>(v);
            fix_crc(b);
            try_load(b);
        }
    }
    // Random multi-byte mutations, and random 8-byte fields set to huge values.
    std::mt19937_64 rng(1234);
    for (int iter = 0; iter < 3000; iter++) {
        auto b = good;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; e++) {
            const size_t at = rng() % (data_offset - 8);
            if (rng() % 2) {
                b[at] = static_cast<unsigned char>(rng());
            } else {
                const uint64_t huge[] = {~0ull, 1ull << 63, (1ull << 63) - 1, 1ull << 32, 1ull << 40, rng()};
                put_le(b, at, huge[rng() % 6], 8);
            }
        }
        fix_crc(b);
        try_load(b);
    }
}

TEST(ModelFile, LoadRejectsCraftedTables) {
    TempDir dir;
    const std::string path = dir.file("m.qfm"), bad = dir.file("bad.qfm");
    ModelFile m;
    m.kind = "fp32-model";
    m.add("a1", filled(DType::f32, {3}, 1));
    m.add("a2", filled(DType::f32, {3}, 2));
    save_model_file(path, m);
    const auto good = read_bytes(path);
    const size_t first = 48 + m.kind.size() + 2;  // metadata "{}"
    const size_t second = first + 24 + 8 + 2;
    auto load_with = [&](const std::function<void(std::vector<unsigned char> &)> &edit,
                         const std::vector<std::string> &needles) {
        auto b = good;
        edit(b);
        fix_crc(b);
        write_bytes(bad, b);
        expect_throw<FileError>([&] { load_model_file(bad); }, needles);
    };
    load_with([&](auto &b) { b[second + 24 + 8 + 1] = '1'; }, {bad, "duplicate tensor name 'a1'"});
    load_with([&](auto &b) { b[first + 4] = 9; }, {"unknown dtype code 9"});
    load_with([&](auto &b) { b[first + 4] = 0; }, {"unknown dtype code 0"});
    load_with([&](auto &b) { b[first + 5] = 200; }, {"rank 200"});
    load_with([&](auto &b) { put_le(b, first + 24, 4, 8); }, {"bytes recorded for f32[4]"});
    load_with([&](auto &b) { put_le(b, first + 24, ~0ull, 8); }, {"negative"});
    load_with([&](auto &b) { put_le(b, first + 16, 1ull << 62, 8); }, {"tensor 'a1'"});
    load_with([&](auto &b) { put_le(b, first + 8, 0, 8); }, {"data offset 0"});
    load_with([&](auto &b) { put_le(b, 32, 3, 4); }, {"corrupt"});
    load_with([&](auto &b) { put_le(b, 32, 0xffffffffu, 4); }, {"tensors"});
    load_with([&](auto &b) { put_le(b, 36, 0, 4); }, {"kind length 0"});
    load_with([&](auto &b) { put_le(b, 40, 0xfffffff0u, 4); }, {"do not fit"});
    load_with([&](auto &b) { put_le(b, 24, 1ull << 60, 8); }, {"data offset"});
    load_with([&](auto &b) { b[12] = 1; }, {"unknown header flags 0x1"});
    load_with([&](auto &b) { b[48 + m.kind.size()] = '['; }, {"metadata is not valid JSON"});
    load_with([&](auto &b) { b[48] = '\t'; }, {"printable"});
    load_with([&](auto &b) { b[first + 24 + 8] = 0; }, {"NUL"});
    // A flipped data byte: only the checksum sees it.
    auto b = good;
    b[b.size() - 5] ^= 1;
    write_bytes(bad, b);
    expect_throw<FileError>([&] { load_model_file(bad); }, {bad, "checksum mismatch"});
}

}  // namespace
