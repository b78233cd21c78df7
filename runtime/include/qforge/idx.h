// IDX files: the MNIST / Fashion-MNIST format (magic 0x00 0x00 type ndims,
// big-endian 32-bit dimensions, row-major payload), gzip-compressed or raw.
//
// read_idx validates the magic, the element type (only unsigned byte, 0x08),
// the dimensions (1..4 of them, each >= 1, at most 2^31 bytes in all) and that
// the payload is exactly as long as the dimensions say; missing, truncated,
// corrupt or oversized files throw qforge::FileError naming the file and the
// problem. Memory grows with the data that arrives, never with what a header
// claims.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qforge {

struct IdxArray {
    std::vector<int64_t> dims;
    std::vector<uint8_t> data;  // product(dims) bytes, row-major
};

// Reads `path`, transparently gunzipping when it starts with the gzip magic.
IdxArray read_idx(const std::string &path);

}  // namespace qforge
