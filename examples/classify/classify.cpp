// qforge-classify: runs an integer model saved by qforge-train (an
// "int8-model" file) on IDX images, on qforge's int8 kernels.
//
//   qforge-classify [options] MODEL.qfm IDX_IMAGES [IDX_LABELS]
//
// Prints the model, the number of predictions per class and, given labels,
// the accuracy. Images are normalized as qforge-train normalizes them,
// (pixel / 255 - mean) / std, with Fashion-MNIST's training-set statistics
// unless --mean / --std say otherwise. Every input is validated by the
// runtime's loaders (qforge::IntegerModel::load, qforge::read_idx), which
// throw qforge::FileError naming the file and the problem.
#include <qforge/dispatch.h>
#include <qforge/error.h>
#include <qforge/idx.h>
#include <qforge/int_model.h>
#include <qforge/model_file.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

const char *kUsage =
    "usage: qforge-classify [options] MODEL.qfm IDX_IMAGES [IDX_LABELS]\n"
    "\n"
    "Classifies IDX images (e.g. Fashion-MNIST's t10k-images-idx3-ubyte.gz) with an\n"
    "integer model saved by qforge-train (<report>/models/<ptq|qat>-<config>.qfm).\n"
    "\n"
    "options:\n"
    "  --limit N      classify only the first N images (default: all)\n"
    "  --batch N      images per forward (default 500)\n"
    "  --threads N    kernel threads (default: the runtime's)\n"
    "  --mean M       normalization mean of pixel / 255 (default 0.2860, Fashion-MNIST)\n"
    "  --std S        normalization std of pixel / 255 (default 0.3530, Fashion-MNIST)\n"
    "  -h, --help     this text\n";

struct UsageError {
    std::string what;
};

long parse_long(const std::string &flag, const std::string &v, long lo, long hi) {
    errno = 0;
    char *end = nullptr;
    long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || x < lo || x > hi) {
        throw UsageError{flag + " " + v + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"};
    }
    return x;
}

float parse_float(const std::string &flag, const std::string &v) {
    errno = 0;
    char *end = nullptr;
    float x = std::strtof(v.c_str(), &end);
    if (v.empty() || *end || errno || !std::isfinite(x)) throw UsageError{flag + " " + v + ": expected a finite number"};
    return x;
}

struct Options {
    std::string model, images, labels;
    long limit = 0, batch = 500, threads = 0;
    float mean = 0.2860f, std = 0.3530f;  // qforge-train's Fashion-MNIST statistics
};

Options parse(int argc, char **argv) {
    Options o;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw UsageError{a + " needs a value"};
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (a == "--limit") {
            o.limit = parse_long(a, value(), 1, 1L << 31);
        } else if (a == "--batch") {
            o.batch = parse_long(a, value(), 1, 1 << 16);
        } else if (a == "--threads") {
            o.threads = parse_long(a, value(), 1, 1024);
        } else if (a == "--mean") {
            o.mean = parse_float(a, value());
        } else if (a == "--std") {
            o.std = parse_float(a, value());
            if (!(o.std > 0.0f)) throw UsageError{"--std must be > 0"};
        } else if (a.size() > 1 && a[0] == '-') {
            throw UsageError{"unknown option " + a};
        } else {
            positional.push_back(a);
        }
    }
    if (positional.size() < 2 || positional.size() > 3) {
        throw UsageError{"expected MODEL.qfm IDX_IMAGES [IDX_LABELS], got " + std::to_string(positional.size()) +
                         " file arguments"};
    }
    o.model = positional[0];
    o.images = positional[1];
    if (positional.size() == 3) o.labels = positional[2];
    return o;
}

int run(const Options &o) {
    if (o.threads > 0) qforge::set_num_threads(static_cast<int>(o.threads));
    qforge::IntegerModel model = qforge::IntegerModel::load(o.model);
    const qforge::ModelSpec &spec = model.spec();
    const int classes = model.num_classes();
    std::printf("model: %s: %zu stages, input %dx%dx%d, %d classes, %lld parameter bytes\n", o.model.c_str(),
                model.num_stages(), spec.in_h, spec.in_w, spec.in_c, classes,
                static_cast<long long>(model.parameter_bytes()));

    // Images: [count, rows, cols] (one channel) or [count, rows, cols, channels].
    const qforge::IdxArray images = qforge::read_idx(o.images);
    const auto &d = images.dims;
    if (d.size() != 3 && d.size() != 4) {
        throw qforge::FileError(o.images + ": " + std::to_string(d.size()) +
                                " dimensions; images need 3 (count, rows, cols) or 4 (count, rows, cols, channels)");
    }
    const int64_t channels = d.size() == 4 ? d[3] : 1;
    if (d[1] != spec.in_h || d[2] != spec.in_w || channels != spec.in_c) {
        throw qforge::FileError(o.images + ": images are " + std::to_string(d[1]) + "x" + std::to_string(d[2]) + "x" +
                                std::to_string(channels) + ", the model takes " + std::to_string(spec.in_h) + "x" +
                                std::to_string(spec.in_w) + "x" + std::to_string(spec.in_c));
    }
    const int64_t count = o.limit > 0 ? std::min<int64_t>(o.limit, d[0]) : d[0];
    std::printf("images: %s: %lld of %lld, %lldx%lldx%lld\n", o.images.c_str(), static_cast<long long>(count),
                static_cast<long long>(d[0]), static_cast<long long>(d[1]), static_cast<long long>(d[2]),
                static_cast<long long>(channels));

    std::vector<uint8_t> labels;
    if (!o.labels.empty()) {
        const qforge::IdxArray l = qforge::read_idx(o.labels);
        if (l.dims.size() != 1) {
            throw qforge::FileError(o.labels + ": " + std::to_string(l.dims.size()) + " dimensions, labels need 1 (count)");
        }
        if (l.dims[0] != d[0]) {
            throw qforge::FileError(o.labels + ": " + std::to_string(l.dims[0]) + " labels for " +
                                    std::to_string(d[0]) + " images in " + o.images);
        }
        for (int64_t i = 0; i < count; i++) {
            if (l.data[i] >= classes) {
                throw qforge::FileError(o.labels + ": label " + std::to_string(l.data[i]) + " at index " +
                                        std::to_string(i) + " is outside the model's " + std::to_string(classes) +
                                        " classes");
            }
        }
        labels.assign(l.data.begin(), l.data.begin() + count);
    }

    float table[256];
    for (int p = 0; p < 256; p++) table[p] = (static_cast<float>(p) / 255.0f - o.mean) / o.std;
    const int64_t per_image = d[1] * d[2] * channels;
    std::vector<float> x(static_cast<size_t>(std::min<int64_t>(o.batch, count) * per_image));
    std::vector<float> logits(static_cast<size_t>(std::min<int64_t>(o.batch, count)) * classes);
    std::vector<int64_t> per_class(classes, 0);
    int64_t correct = 0;
    for (int64_t begin = 0; begin < count; begin += o.batch) {
        const int n = static_cast<int>(std::min<int64_t>(o.batch, count - begin));
        const uint8_t *px = images.data.data() + begin * per_image;
        for (int64_t i = 0; i < n * per_image; i++) x[i] = table[px[i]];
        model.run(x.data(), n, logits.data());
        for (int i = 0; i < n; i++) {
            const float *row = logits.data() + static_cast<size_t>(i) * classes;
            const int pred = static_cast<int>(std::max_element(row, row + classes) - row);  // first maximum
            per_class[pred]++;
            if (!labels.empty()) correct += pred == labels[begin + i];
        }
    }
    std::printf("predictions per class:");
    for (int k = 0; k < classes; k++) std::printf(" %d:%lld", k, static_cast<long long>(per_class[k]));
    std::printf("\n");
    if (!labels.empty()) {
        std::printf("accuracy: %.2f%% (%lld/%lld correct)\n", 100.0 * correct / count, static_cast<long long>(correct),
                    static_cast<long long>(count));
    }
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    try {
        return run(parse(argc, argv));
    } catch (const UsageError &e) {
        std::fprintf(stderr, "qforge-classify: %s\n\n%s", e.what.c_str(), kUsage);
        return 2;
    } catch (const qforge::Error &e) {
        std::fprintf(stderr, "qforge-classify: error: %s\n", e.what());
        return 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "qforge-classify: error: %s\n", e.what());
        return 1;
    }
}
