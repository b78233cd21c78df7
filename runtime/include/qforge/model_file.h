// The qforge model file: named tensors plus a JSON metadata document, in one
// versioned, checksummed file (the layout is specified in docs/model-file.md).
// FP32 models, training checkpoints and converted integer models all use it.
//
// Saving is atomic: the file is written to a temporary name in the same
// directory, flushed to disk and renamed over the target, so a crash (even
// kill -9) leaves either the old file or the new one, never a partial one.
// Loading validates everything (magic, version, sizes, offsets, dtypes,
// checksum) and throws FileError naming the file and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qforge/error.h"
#include "qforge/tensor.h"

namespace qforge {

// A file could not be read or written, or its contents are invalid.
class FileError : public Error {
public:
    using Error::Error;
};

struct ModelFile {
    std::string kind;           // what the file holds, e.g. "fp32-model", "checkpoint", "int8-model"
    std::string metadata_json;  // a JSON document (object), validated on save and load
    std::vector<std::pair<std::string, Tensor>> tensors;  // unique names, in file order

    // The named tensor; throws FileError when absent.
    const Tensor &tensor(const std::string &name) const;
    bool has_tensor(const std::string &name) const;
    void add(std::string name, Tensor t);  // throws InvalidArgument on a duplicate name
};

// The format version this build writes, and the newest it reads.
constexpr uint32_t kModelFileFormatVersion = 1;

// Writes `m` to `path` atomically (temporary `<path>.tmp.<pid>.<n>`, fsync,
// rename, fsync of the directory). Contents that cannot be stored (empty or
// non-printable kind, metadata that is not a JSON object (empty means "{}"),
// empty/duplicate/over-long names, default-constructed tensors, rank > 8)
// throw InvalidArgument before anything is written; an I/O failure throws
// FileError naming the path and the system's message, after removing the
// temporary file (the old file at `path`, if any, is left as it was).
void save_model_file(const std::string &path, const ModelFile &m);
// Reads and validates the whole file; throws FileError naming the file and the problem.
ModelFile load_model_file(const std::string &path);

}  // namespace qforge
