// The IDX reader (the MNIST / Fashion-MNIST file format; contract in qforge/idx.h).
#include "qforge/idx.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#if QFORGE_HAVE_ZLIB
#include <zlib.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "qforge/model_file.h"  // qforge::FileError

namespace qforge {

namespace {

constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 31;  // largest payload read_idx accepts
constexpr unsigned kChunk = 1u << 24;                 // read (and grow the buffer) 16 MiB at a time

[[noreturn]] void idx_fail(const std::string &path, const std::string &problem) {
    throw FileError("read_idx: '" + path + "': " + problem);
}

#if QFORGE_HAVE_ZLIB
struct GzCloser {
    void operator()(gzFile_s *f) const { gzclose(f); }
};

// An IDX file, gzip-compressed or not. gzdopen reads gzip streams (detected
// by their magic 1f 8b) and plain files alike ("transparent" mode);
// gzdirect() tells which it found.
class IdxStream {
public:
    IdxStream(int fd, const std::string &path) : path_(path), gz_(gzdopen(fd, "rb")) {
        if (!gz_) {
            ::close(fd);
            idx_fail(path, "cannot open (out of memory)");
        }
        gzbuffer(gz_.get(), 1u << 17);
    }

    // Reads up to n bytes; returns how many arrived (fewer only at the end);
    // a corrupt or truncated gzip stream throws.
    unsigned read(void *dst, unsigned n) {
        unsigned got = 0;
        while (got < n) {
            const int r = gzread(gz_.get(), static_cast<char *>(dst) + got, n - got);
            if (r < 0) {
                int code = 0;
                const char *msg = gzerror(gz_.get(), &code);
                if (code == Z_ERRNO) idx_fail(path_, std::string("read error: ") + std::strerror(errno));
                idx_fail(path_, std::string("corrupt gzip stream: ") + (msg ? msg : "unknown error"));
            }
            if (r == 0) {
                // gzread reports a gzip stream cut short as end of file plus an error.
                int code = 0;
                const char *msg = gzerror(gz_.get(), &code);
                if (code == Z_BUF_ERROR) {
                    idx_fail(path_, std::string("truncated gzip stream: ") + (msg ? msg : "unexpected end of file"));
                }
                if (code != Z_OK) idx_fail(path_, std::string("corrupt gzip stream: ") + (msg ? msg : "unknown error"));
                break;
            }
            got += static_cast<unsigned>(r);
        }
        return got;
    }

    bool compressed() { return gzdirect(gz_.get()) == 0; }

private:
    std::string path_;
    std::unique_ptr<gzFile_s, GzCloser> gz_;
};
#else
// A build without zlib (the AArch64 cross build when the sysroot has none)
// reads uncompressed IDX files and names gzip ones as such.
class IdxStream {
public:
    IdxStream(int fd, const std::string &path) : path_(path), fd_(fd) {}
    ~IdxStream() { ::close(fd_); }
    IdxStream(const IdxStream &) = delete;
    IdxStream &operator=(const IdxStream &) = delete;

    unsigned read(void *dst, unsigned n) {
        unsigned got = 0;
        while (got < n) {
            const ssize_t r = ::read(fd_, static_cast<char *>(dst) + got, n - got);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) idx_fail(path_, std::string("read error: ") + std::strerror(errno));
            if (r == 0) break;
            if (first_ && got + r >= 2 && static_cast<unsigned char *>(dst)[0] == 0x1f &&
                static_cast<unsigned char *>(dst)[1] == 0x8b) {
                idx_fail(path_, "gzip-compressed, and this build of qforge has no zlib: decompress it first (gunzip)");
            }
            first_ = false;
            got += static_cast<unsigned>(r);
        }
        return got;
    }

    bool compressed() { return false; }

private:
    std::string path_;
    int fd_;
    bool first_ = true;
};
#endif

}  // namespace

IdxArray read_idx(const std::string &path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) idx_fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        idx_fail(path, "not a regular file");
    }
    IdxStream stream(fd, path);
    auto read = [&](void *dst, unsigned n) { return stream.read(dst, n); };

    unsigned char magic[4];
    const unsigned have = read(magic, 4);
    const bool compressed = stream.compressed();
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

}  // namespace qforge
