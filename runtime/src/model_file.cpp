// The qforge model file (format 1): see docs/model-file.md for the layout.
//
// Writing: the header and tensor table are built in memory, then header,
// table and each tensor's bytes are written through stdio to a temporary file
// in the target's directory with a running CRC-32; the file is flushed,
// fsync'ed, renamed over the target and the directory fsync'ed.
//
// Reading: the fixed header is checked (magic, version, flags, sizes against
// the real file length) before anything else is read; the table region (at
// most the file's length) is read and parsed with every field bounds-checked;
// the layout is recomputed from the table and must match it exactly (so no
// tensor can overlap another, run past the end or allocate more than the file
// holds); only then are tensors allocated and filled, streaming, with the
// CRC-32 checked at the end. Nothing is returned unless the whole file passed.
#include "qforge/model_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#if QFORGE_HAVE_ZLIB
#include <zlib.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_set>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "model_file.cpp writes tensor data in host order; a big-endian host needs byte swapping here");

namespace qforge {

namespace {

// ---- the format's constants (docs/model-file.md) ----
constexpr unsigned char kMagic[8] = {0x89, 'Q', 'F', 'M', '\r', '\n', 0x1a, '\n'};
constexpr uint32_t kFormatVersion = kModelFileFormatVersion;
constexpr size_t kHeaderSize = 48;
constexpr size_t kEntryFixedSize = 24;  // name_length, dtype, rank, reserved, offset, nbytes
constexpr size_t kTrailerSize = 4;      // CRC-32
constexpr uint64_t kAlign = 64;
constexpr size_t kMaxKindLength = 255;
constexpr size_t kMaxNameLength = 1024;
constexpr int kMaxRank = 8;
constexpr uint32_t kMaxTensors = 1u << 24;

// dtype codes in the file: explicit, independent of the enum's values.
uint8_t dtype_code(DType t) {
    switch (t) {
    case DType::f32: return 1;
    case DType::u8: return 2;
    case DType::s8: return 3;
    case DType::s32: return 4;
    }
    return 0;
}

bool dtype_from_code(uint8_t code, DType *t) {
    switch (code) {
    case 1: *t = DType::f32; return true;
    case 2: *t = DType::u8; return true;
    case 3: *t = DType::s8; return true;
    case 4: *t = DType::s32; return true;
    default: return false;
    }
}

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// ---- little-endian encoding ----
void put_u8(std::string &b, uint8_t v) { b.push_back(static_cast<char>(v)); }
void put_u16(std::string &b, uint16_t v) {
    for (int i = 0; i < 2; i++) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u32(std::string &b, uint32_t v) {
    for (int i = 0; i < 4; i++) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string &b, uint64_t v) {
    for (int i = 0; i < 8; i++) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void patch_u64(std::string &b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; i++) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#if QFORGE_HAVE_ZLIB
uint32_t crc_update(uint32_t crc, const void *data, size_t n) {
    return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef *>(data), n));
}
#else
// Builds without zlib (the AArch64 cross build when the sysroot has none):
// the same CRC-32 as zlib's crc32_z (reflected polynomial 0xEDB88320, initial
// and final XOR 0xFFFFFFFF), a byte at a time, so files stay interchangeable.
constexpr uint32_t crc_table_entry(uint32_t b) {
    for (int k = 0; k < 8; k++) b = (b & 1) ? 0xEDB88320u ^ (b >> 1) : b >> 1;
    return b;
}
struct CrcTable {
    uint32_t v[256];
    constexpr CrcTable() : v() {
        for (uint32_t i = 0; i < 256; i++) v[i] = crc_table_entry(i);
    }
};
constexpr CrcTable kCrcTable;
constexpr uint32_t crc_bytes(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = kCrcTable.v[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}
constexpr unsigned char kCheckInput[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
static_assert(crc_bytes(0, kCheckInput, 9) == 0xCBF43926u, "CRC-32 check value (zlib's)");

uint32_t crc_update(uint32_t crc, const void *data, size_t n) {
    if (data == nullptr) return 0;  // zlib: crc32_z(_, NULL, _) is the initial value
    return crc_bytes(crc, static_cast<const unsigned char *>(data), n);
}
#endif

std::string errno_text(int err) { return std::strerror(err); }

// "has_tensor"/"tensor"/"add" share this lookup.
const std::pair<std::string, Tensor> *find_tensor(const ModelFile &m, const std::string &name) {
    for (const auto &entry : m.tensors) {
        if (entry.first == name) return &entry;
    }
    return nullptr;
}

// Empty when `json` is a valid JSON object, else the problem.
std::string metadata_problem(const std::string &json) {
    try {
        const nlohmann::json doc = nlohmann::json::parse(json);
        if (!doc.is_object()) {
            return std::string("metadata is not a JSON object (it is a JSON ") + doc.type_name() + ")";
        }
    } catch (const nlohmann::json::exception &e) {
        return std::string("metadata is not valid JSON: ") + e.what();
    }
    return {};
}

// Empty when `kind` is acceptable, else the problem.
std::string kind_problem(const std::string &kind) {
    if (kind.empty()) return "kind is empty (say what the file holds, e.g. \"fp32-model\")";
    if (kind.size() > kMaxKindLength) {
        return "kind is " + std::to_string(kind.size()) + " bytes long (at most " + std::to_string(kMaxKindLength) +
               ")";
    }
    for (unsigned char c : kind) {
        if (c < 0x20 || c > 0x7e) return "kind contains a byte that is not printable ASCII";
    }
    return {};
}

// Empty when `name` is acceptable, else the problem.
std::string name_problem(const std::string &name) {
    if (name.empty()) return "tensor name is empty";
    if (name.size() > kMaxNameLength) {
        return "tensor name is " + std::to_string(name.size()) + " bytes long (at most " +
               std::to_string(kMaxNameLength) + ")";
    }
    if (name.find('\0') != std::string::npos) return "tensor name contains a NUL byte";
    return {};
}

// numel of `shape` with the same overflow rule as TensorView::numel (so a
// shape accepted here is constructible); false on overflow.
bool checked_numel(const Shape &shape, int64_t *n_out) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) return false;
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return false;
        n *= d;
    }
    *n_out = n;
    return true;
}

std::string describe_shape(const Shape &shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); i++) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

// ---- saving ----

struct TempFile {
    std::string path;
    FILE *f = nullptr;
    bool keep = false;  // set once renamed over the target
    ~TempFile() {
        if (f) std::fclose(f);
        if (!keep && !path.empty()) ::unlink(path.c_str());
    }
};

[[noreturn]] void save_fail(const std::string &path, const std::string &what, int err) {
    throw FileError("save_model_file: '" + path + "': " + what + ": " + errno_text(err));
}

std::string directory_of(const std::string &path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// ---- loading ----

[[noreturn]] void load_fail(const std::string &path, const std::string &problem) {
    throw FileError("load_model_file: '" + path + "': " + problem);
}

struct FileCloser {
    void operator()(FILE *f) const { std::fclose(f); }
};

}  // namespace

// ---------------------------------------------------------------------------
// ModelFile
// ---------------------------------------------------------------------------

const Tensor &ModelFile::tensor(const std::string &name) const {
    if (const auto *entry = find_tensor(*this, name)) return entry->second;
    std::string names;
    for (size_t i = 0; i < tensors.size() && i < 16; i++) names += (i ? ", " : "") + tensors[i].first;
    if (tensors.size() > 16) names += ", ...";
    throw FileError("model file (kind '" + kind + "'): no tensor named '" + name + "' (it has " +
                    std::to_string(tensors.size()) + (tensors.empty() ? ")" : ": " + names + ")"));
}

bool ModelFile::has_tensor(const std::string &name) const { return find_tensor(*this, name) != nullptr; }

void ModelFile::add(std::string name, Tensor t) {
    const std::string problem = name_problem(name);
    if (!problem.empty()) throw InvalidArgument("ModelFile::add: " + problem);
    if (has_tensor(name)) throw InvalidArgument("ModelFile::add: duplicate tensor name '" + name + "'");
    if (t.data() == nullptr) {
        throw InvalidArgument("ModelFile::add: tensor '" + name + "' has no storage (default-constructed)");
    }
    tensors.emplace_back(std::move(name), std::move(t));
}

// ---------------------------------------------------------------------------
// save_model_file
// ---------------------------------------------------------------------------

void save_model_file(const std::string &path, const ModelFile &m) {
    const std::string where = "save_model_file: '" + path + "': ";
    if (path.empty()) throw InvalidArgument("save_model_file: path is empty");

    // Validate everything before touching the file system.
    std::string problem = kind_problem(m.kind);
    if (!problem.empty()) throw InvalidArgument(where + problem);
    const std::string metadata = m.metadata_json.empty() ? std::string("{}") : m.metadata_json;
    problem = metadata_problem(metadata);
    if (!problem.empty()) throw InvalidArgument(where + problem);
    if (metadata.size() > std::numeric_limits<uint32_t>::max()) {
        throw InvalidArgument(where + "metadata is larger than 4 GiB");
    }
    if (m.tensors.size() > kMaxTensors) {
        throw InvalidArgument(where + std::to_string(m.tensors.size()) + " tensors (at most " +
                              std::to_string(kMaxTensors) + ")");
    }
    std::unordered_set<std::string> seen;
    for (const auto &[name, t] : m.tensors) {
        problem = name_problem(name);
        if (!problem.empty()) throw InvalidArgument(where + problem);
        if (!seen.insert(name).second) throw InvalidArgument(where + "duplicate tensor name '" + name + "'");
        if (t.data() == nullptr) {
            throw InvalidArgument(where + "tensor '" + name + "' has no storage (default-constructed)");
        }
        if (static_cast<int>(t.shape().size()) > kMaxRank) {
            throw InvalidArgument(where + "tensor '" + name + "' has rank " + std::to_string(t.shape().size()) +
                                  " (at most " + std::to_string(kMaxRank) + ")");
        }
        if (!t.view().is_contiguous()) throw InvalidArgument(where + "tensor '" + name + "' is not contiguous");
    }

    // Header, kind, metadata, tensor table, padding to the data section.
    std::string head;
    head.append(reinterpret_cast<const char *>(kMagic), sizeof kMagic);
    put_u32(head, kFormatVersion);
    put_u32(head, 0);  // flags
    put_u64(head, 0);  // file_size, patched below
    put_u64(head, 0);  // data_offset, patched below
    put_u32(head, static_cast<uint32_t>(m.tensors.size()));
    put_u32(head, static_cast<uint32_t>(m.kind.size()));
    put_u32(head, static_cast<uint32_t>(metadata.size()));
    put_u32(head, 0);  // reserved
    head += m.kind;
    head += metadata;
    // Offsets are relative to the data section until it is known.
    std::vector<uint64_t> offsets;
    std::vector<size_t> offset_fields;
    uint64_t rel = 0;
    for (const auto &[name, t] : m.tensors) {
        const uint64_t nbytes = t.view().nbytes();
        rel = align_up(rel);
        put_u32(head, static_cast<uint32_t>(name.size()));
        put_u8(head, dtype_code(t.dtype()));
        put_u8(head, static_cast<uint8_t>(t.shape().size()));
        put_u16(head, 0);
        offset_fields.push_back(head.size());
        put_u64(head, 0);  // offset, patched below
        put_u64(head, nbytes);
        for (int64_t d : t.shape()) put_u64(head, static_cast<uint64_t>(d));
        head += name;
        offsets.push_back(rel);
        rel += nbytes;
    }
    const uint64_t data_offset = align_up(head.size());
    const uint64_t file_size = data_offset + rel + kTrailerSize;
    head.resize(data_offset, '\0');
    patch_u64(head, 16, file_size);
    patch_u64(head, 24, data_offset);
    for (size_t i = 0; i < offsets.size(); i++) patch_u64(head, offset_fields[i], data_offset + offsets[i]);

    // Write to <path>.tmp.<pid>.<n> in the same directory.
    static std::atomic<uint64_t> counter{0};
    TempFile tmp;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        tmp.path = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
        fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        const int err = errno;
        tmp.path.clear();  // not ours: nothing to remove
        save_fail(path, "cannot create temporary file", err);
    }
    tmp.f = ::fdopen(fd, "wb");
    if (!tmp.f) {
        const int err = errno;
        ::close(fd);
        save_fail(path, "cannot open temporary file '" + tmp.path + "'", err);
    }

    uint32_t crc = crc_update(0, nullptr, 0);
    auto write = [&](const void *data, size_t n) {
        if (n == 0) return;
        errno = 0;
        if (std::fwrite(data, 1, n, tmp.f) != n) {
            save_fail(path, "cannot write temporary file '" + tmp.path + "'", errno ? errno : EIO);
        }
        crc = crc_update(crc, data, n);
    };
    write(head.data(), head.size());
    static const char zeros[kAlign] = {};
    uint64_t pos = data_offset;
    for (size_t i = 0; i < m.tensors.size(); i++) {
        const Tensor &t = m.tensors[i].second;
        const uint64_t at = data_offset + offsets[i];
        write(zeros, static_cast<size_t>(at - pos));
        write(t.data(), t.view().nbytes());
        pos = at + t.view().nbytes();
    }
    unsigned char trailer[4];
    for (int i = 0; i < 4; i++) trailer[i] = static_cast<unsigned char>((crc >> (8 * i)) & 0xff);
    errno = 0;
    if (std::fwrite(trailer, 1, 4, tmp.f) != 4) {
        save_fail(path, "cannot write temporary file '" + tmp.path + "'", errno ? errno : EIO);
    }
    errno = 0;
    if (std::fflush(tmp.f) != 0) save_fail(path, "cannot write temporary file '" + tmp.path + "'", errno ? errno : EIO);
    if (::fsync(::fileno(tmp.f)) != 0) save_fail(path, "cannot fsync temporary file '" + tmp.path + "'", errno);
    FILE *f = tmp.f;
    tmp.f = nullptr;
    errno = 0;
    if (std::fclose(f) != 0) save_fail(path, "cannot close temporary file '" + tmp.path + "'", errno ? errno : EIO);

    if (std::rename(tmp.path.c_str(), path.c_str()) != 0) {
        save_fail(path, "cannot rename '" + tmp.path + "' over it", errno);
    }
    tmp.keep = true;

    // Make the rename durable. (The new file is already in place; a directory
    // that cannot be fsync'ed at all (EINVAL) is not an error.)
    const std::string dir = directory_of(path);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) save_fail(path, "renamed, but cannot open directory '" + dir + "' to fsync it", errno);
    if (::fsync(dfd) != 0 && errno != EINVAL) {
        const int err = errno;
        ::close(dfd);
        save_fail(path, "renamed, but cannot fsync directory '" + dir + "'", err);
    }
    ::close(dfd);
}

// ---------------------------------------------------------------------------
// load_model_file
// ---------------------------------------------------------------------------

ModelFile load_model_file(const std::string &path) {
    errno = 0;
    std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) load_fail(path, "cannot open: " + errno_text(errno ? errno : EIO));
    struct stat st {};
    if (::fstat(::fileno(file.get()), &st) != 0) load_fail(path, "cannot stat: " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) load_fail(path, "not a regular file");
    const uint64_t actual_size = static_cast<uint64_t>(st.st_size);

    uint32_t crc = crc_update(0, nullptr, 0);
    uint64_t pos = 0;
    // Reads exactly n bytes at the current position (the caller checked they exist).
    auto read = [&](void *dst, size_t n) {
        if (n == 0) return;
        errno = 0;
        if (std::fread(dst, 1, n, file.get()) != n) {
            if (std::feof(file.get())) {
                load_fail(path, "truncated while reading (file shrank?) at byte " + std::to_string(pos));
            }
            load_fail(path, "read error at byte " + std::to_string(pos) + ": " + errno_text(errno ? errno : EIO));
        }
        crc = crc_update(crc, dst, n);
        pos += n;
    };

    // Magic first (a short file that is a prefix of the magic is "truncated").
    unsigned char fixed[kHeaderSize];
    const size_t magic_have = static_cast<size_t>(std::min<uint64_t>(actual_size, sizeof kMagic));
    read(fixed, magic_have);
    if (std::memcmp(fixed, kMagic, magic_have) != 0) {
        load_fail(path, "not a qforge model file (bad magic bytes)");
    }
    if (actual_size < kHeaderSize) {
        load_fail(path, "truncated: " + std::to_string(actual_size) + " bytes, shorter than the " +
                            std::to_string(kHeaderSize) + "-byte header");
    }
    read(fixed + magic_have, kHeaderSize - magic_have);
    const uint32_t version = static_cast<uint32_t>(get_le(fixed + 8, 4));
    if (version > kFormatVersion) {
        load_fail(path, "written by a newer qforge (format " + std::to_string(version) + ", this build reads up to " +
                            std::to_string(kFormatVersion) + ")");
    }
    if (version == 0) load_fail(path, "invalid format version 0");
    const uint32_t flags = static_cast<uint32_t>(get_le(fixed + 12, 4));
    const uint64_t file_size = get_le(fixed + 16, 8);
    const uint64_t data_offset = get_le(fixed + 24, 8);
    const uint32_t tensor_count = static_cast<uint32_t>(get_le(fixed + 32, 4));
    const uint32_t kind_length = static_cast<uint32_t>(get_le(fixed + 36, 4));
    const uint32_t metadata_length = static_cast<uint32_t>(get_le(fixed + 40, 4));
    const uint32_t reserved = static_cast<uint32_t>(get_le(fixed + 44, 4));
    if (file_size > actual_size) {
        load_fail(path, "truncated: the header says " + std::to_string(file_size) + " bytes, the file has " +
                            std::to_string(actual_size));
    }
    if (file_size < actual_size) {
        load_fail(path, "the file has " + std::to_string(actual_size) + " bytes, the header says " +
                            std::to_string(file_size) + " (trailing data)");
    }
    if (flags != 0) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "unknown header flags 0x%x", flags);
        load_fail(path, buf);
    }
    if (reserved != 0) load_fail(path, "corrupt header: reserved field is not zero");
    // Every region must fit: header | kind | metadata | table | pad | data | crc.
    if (data_offset % kAlign != 0 || data_offset < kHeaderSize || data_offset > file_size - kTrailerSize) {
        load_fail(path, "corrupt header: data offset " + std::to_string(data_offset) + " is not a 64-aligned offset in "
                                                                                     "the file");
    }
    if (kind_length == 0 || kind_length > kMaxKindLength) {
        load_fail(path, "corrupt header: kind length " + std::to_string(kind_length) + " is not in 1.." +
                            std::to_string(kMaxKindLength));
    }
    if (tensor_count > kMaxTensors) {
        load_fail(path, "corrupt header: " + std::to_string(tensor_count) + " tensors (at most " +
                            std::to_string(kMaxTensors) + ")");
    }
    const uint64_t table_start = uint64_t{kHeaderSize} + kind_length + metadata_length;  // no overflow: < 2^34
    if (table_start + uint64_t{tensor_count} * kEntryFixedSize > data_offset) {
        load_fail(path, "corrupt header: kind (" + std::to_string(kind_length) + " bytes), metadata (" +
                            std::to_string(metadata_length) + " bytes) and " + std::to_string(tensor_count) +
                            " table entries do not fit before the data offset " + std::to_string(data_offset));
    }

    // The whole region before the data: bounded by the file's length.
    std::string region(static_cast<size_t>(data_offset - kHeaderSize), '\0');
    read(region.data(), region.size());
    const auto *region_bytes = reinterpret_cast<const unsigned char *>(region.data());
    auto bytes_at = [&](uint64_t file_offset) { return region_bytes + (file_offset - kHeaderSize); };

    ModelFile m;
    m.kind.assign(reinterpret_cast<const char *>(bytes_at(kHeaderSize)), kind_length);
    std::string problem = kind_problem(m.kind);
    if (!problem.empty()) load_fail(path, problem);
    m.metadata_json.assign(reinterpret_cast<const char *>(bytes_at(kHeaderSize + kind_length)), metadata_length);

    struct Entry {
        std::string name;
        DType dtype;
        Shape shape;
        uint64_t offset, nbytes;
    };
    std::vector<Entry> entries;
    entries.reserve(tensor_count);  // fits: tensor_count * 24 <= data_offset <= file length
    std::unordered_set<std::string> seen;
    uint64_t at = table_start;
    uint64_t expected_offset = data_offset;  // the canonical layout
    for (uint32_t i = 0; i < tensor_count; i++) {
        const std::string which = "tensor table entry " + std::to_string(i);
        if (data_offset - at < kEntryFixedSize) load_fail(path, which + " runs past the table");
        const uint32_t name_length = static_cast<uint32_t>(get_le(bytes_at(at), 4));
        const uint8_t code = *bytes_at(at + 4);
        const uint8_t rank = *bytes_at(at + 5);
        const uint16_t entry_reserved = static_cast<uint16_t>(get_le(bytes_at(at + 6), 2));
        Entry e;
        e.offset = get_le(bytes_at(at + 8), 8);
        e.nbytes = get_le(bytes_at(at + 16), 8);
        at += kEntryFixedSize;
        if (!dtype_from_code(code, &e.dtype)) load_fail(path, which + ": unknown dtype code " + std::to_string(code));
        if (rank > kMaxRank) {
            load_fail(path, which + ": rank " + std::to_string(rank) + " (at most " + std::to_string(kMaxRank) + ")");
        }
        if (entry_reserved != 0) load_fail(path, which + ": reserved field is not zero");
        if (name_length == 0 || name_length > kMaxNameLength) {
            load_fail(path, which + ": name length " + std::to_string(name_length) + " is not in 1.." +
                                std::to_string(kMaxNameLength));
        }
        if ((data_offset - at) / 8 < rank || data_offset - at - uint64_t{rank} * 8 < name_length) {
            load_fail(path, which + " runs past the table");
        }
        for (int d = 0; d < rank; d++) {
            const uint64_t dim = get_le(bytes_at(at), 8);
            at += 8;
            if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                load_fail(path, which + ": dimension " + std::to_string(d) + " is negative");
            }
            e.shape.push_back(static_cast<int64_t>(dim));
        }
        e.name.assign(reinterpret_cast<const char *>(bytes_at(at)), name_length);
        at += name_length;
        problem = name_problem(e.name);
        if (!problem.empty()) load_fail(path, which + ": " + problem);
        if (!seen.insert(e.name).second) load_fail(path, "duplicate tensor name '" + e.name + "'");
        const std::string tname = "tensor '" + e.name + "'";
        int64_t numel = 0;
        if (!checked_numel(e.shape, &numel) ||
            static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / dtype_size(e.dtype)) {
            load_fail(path, tname + ": element count of shape " + describe_shape(e.shape) + " overflows");
        }
        if (static_cast<uint64_t>(numel) * dtype_size(e.dtype) != e.nbytes) {
            load_fail(path, tname + ": " + std::to_string(e.nbytes) + " bytes recorded for " + dtype_name(e.dtype) +
                                describe_shape(e.shape) + " (" +
                                std::to_string(static_cast<uint64_t>(numel) * dtype_size(e.dtype)) + " expected)");
        }
        expected_offset = align_up(expected_offset);
        if (e.offset != expected_offset) {
            load_fail(path, tname + ": data offset " + std::to_string(e.offset) + " (the layout puts it at " +
                                std::to_string(expected_offset) + ")");
        }
        if (e.nbytes > file_size - kTrailerSize - e.offset) {  // e.offset <= file_size - 4 holds here
            load_fail(path, tname + ": " + std::to_string(e.nbytes) + " bytes at offset " + std::to_string(e.offset) +
                                " run past the end of the data");
        }
        expected_offset = e.offset + e.nbytes;
        // The next aligned offset must also stay within the data (it is <= file size - 4 or no tensor follows).
        if (i + 1 < tensor_count && align_up(expected_offset) > file_size - kTrailerSize) {
            load_fail(path, "tensor table entry " + std::to_string(i + 1) + " has no room in the file");
        }
        entries.push_back(std::move(e));
    }
    for (uint64_t p = at; p < data_offset; p++) {
        if (*bytes_at(p) != 0) load_fail(path, "corrupt file: non-zero padding after the tensor table");
    }
    if (expected_offset != file_size - kTrailerSize) {
        load_fail(path, "the tensor data ends at byte " + std::to_string(expected_offset) + ", but the checksum is at " +
                            std::to_string(file_size - kTrailerSize));
    }
    problem = metadata_problem(m.metadata_json);
    if (!problem.empty()) load_fail(path, problem);

    // The data: every allocation below is covered by bytes of the file.
    m.tensors.reserve(entries.size());
    unsigned char pad[kAlign];
    for (Entry &e : entries) {
        const size_t gap = static_cast<size_t>(e.offset - pos);  // < 64
        read(pad, gap);
        for (size_t k = 0; k < gap; k++) {
            if (pad[k] != 0) load_fail(path, "corrupt file: non-zero padding before tensor '" + e.name + "'");
        }
        Tensor t;
        try {
            t = Tensor(e.dtype, e.shape);
        } catch (const Error &err) {
            load_fail(path, "tensor '" + e.name + "': " + err.what());
        }
        read(t.data(), static_cast<size_t>(e.nbytes));
        m.tensors.emplace_back(std::move(e.name), std::move(t));
    }
    unsigned char trailer[kTrailerSize];
    const uint32_t computed = crc;
    read(trailer, kTrailerSize);
    const uint32_t stored = static_cast<uint32_t>(get_le(trailer, 4));
    if (stored != computed) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "checksum mismatch (stored CRC-32 %08x, computed %08x): the file is corrupt",
                      stored, computed);
        load_fail(path, buf);
    }
    return m;
}

}  // namespace qforge
