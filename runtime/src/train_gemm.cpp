// float32 GEMM and convolution for training: argument checks, workspaces,
// and the kernel calls (generators/train_gemm_generators.cpp).
//
// sgemm: the kernels read op(A) as it is stored (row-major A, or A^T via the
// transposed kernels) and op(B) row-major [K, N] with its columns readable up
// to whole panels; B is copied into a zero-padded workspace when it is stored
// transposed or its width is not a whole number of panels. K is cut into
// chunks whose B block stays in L2; chunks after the first accumulate into C.
// Whole row tiles run the tiled kernel, the last M mod tile_m rows 4-row and
// one-row kernels (rows are never computed twice: chunks accumulate in place).
// B stored row-major is read in place for its whole panels; only its last
// partial panel (or all of a transposed B) is copied into a padded workspace.
//
// Convolution: ungrouped convs run implicit GEMMs that read the input in
// place (no column matrix): the direct conv for the forward pass and, with
// the weights flipped and transposed, for the stride-1 input gradient; the
// weight-gradient kernel (per image group partial sums) when dilation_w = 1.
// Otherwise im2col (per group's channel slice) + sgemm for the forward pass
// and the weight gradient, sgemm + a col2im gather for the input gradient; a
// 1x1, stride-1, unpadded conv uses x / dx directly as the GEMM operand.
#include "qforge/train_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "device_call.h"
#include "kernel_call.h"
#include "qf_col2im_f32.h"
#include "qf_conv_f32_layout_probe.h"
#include "qf_conv_wgrad_f32_p1.h"
#include "qf_conv_wgrad_f32_p1s.h"
#include "qf_conv_wgrad_f32_p2.h"
#include "qf_direct_conv_f32_p1.h"
#include "qf_direct_conv_f32_p2.h"
#include "qf_im2col_f32.h"
#include "qf_pack_f32.h"
#include "qf_pack_f32_t.h"
#include "qf_sgemm_layout_probe.h"
#include "qf_sgemm_nn.h"
#include "qf_sgemm_nn_m4.h"
#include "qf_sgemm_nn_row.h"
#include "qf_sgemm_tn.h"
#include "qf_sgemm_tn_m4.h"
#include "qf_sgemm_tn_row.h"

namespace qforge {

namespace {

using HBuf = Halide::Runtime::Buffer<float>;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

std::string str(int64_t v) { return std::to_string(v); }

// A row-major matrix: rows x cols at data, row stride ld (elements).
struct Mat {
    float *data = nullptr;
    int64_t rows = 0, cols = 0, ld = 0;
    // Bytes [lo, hi) the matrix may touch.
    uintptr_t lo() const { return reinterpret_cast<uintptr_t>(data); }
    uintptr_t hi() const {
        if (rows == 0 || cols == 0) return lo();
        return lo() + static_cast<uintptr_t>(((rows - 1) * ld + cols) * 4);
    }
    bool empty() const { return rows == 0 || cols == 0; }
};

bool overlap(const Mat &a, const Mat &b) {
    if (a.empty() || b.empty()) return false;
    return a.lo() < b.hi() && b.lo() < a.hi();
}

// A 2-D f32 view with unit inner stride and any row stride >= its width.
Mat matrix(const char *op, const char *name, const TensorView &t) {
    const std::string where = std::string(op) + ": " + name;
    if (t.dtype() != DType::f32) throw ShapeError(where + " must be f32, got " + t.describe());
    if (t.rank() != 2) throw ShapeError(where + " must be a 2-D matrix, got " + t.describe());
    Mat m;
    m.rows = t.dim(0);
    m.cols = t.dim(1);
    m.ld = m.cols;
    if (!t.strides().empty()) {
        const int64_t s0 = t.strides()[0], s1 = t.strides()[1];
        if (m.cols > 1 && s1 != 1) {
            throw ShapeError(where + " " + t.describe() + " must have a unit column stride, got " + str(s1));
        }
        if (m.rows > 1 && s0 < m.cols) {
            throw ShapeError(where + " " + t.describe() + " has row stride " + str(s0) + " < its width " +
                             str(m.cols));
        }
        if (m.rows > 1) m.ld = s0;
    }
    const int64_t numel = m.rows * m.cols;
    if (numel > 0 && t.data() == nullptr) throw ShapeError(where + " has null data");
    if (reinterpret_cast<uintptr_t>(t.data()) % alignof(float) != 0) throw ShapeError(where + " is misaligned for f32");
    if (m.rows > INT32_MAX || m.cols > INT32_MAX || m.ld > INT32_MAX ||
        (numel > 0 && (m.rows - 1) * m.ld + m.cols > INT32_MAX)) {
        throw ShapeError(where + " " + t.describe() + " spans more than 2^31-1 elements");
    }
    m.data = static_cast<float *>(t.data());
    return m;
}

// The dispatched variant's layout: {panel width, rows per tile}.
struct SgemmLayout {
    int panel = 0, tile_rows = 0;
};

const SgemmLayout &sgemm_layout() {
    static const SgemmLayout layout = [] {
        detail::ensure_kernel_runtime();
        int32_t v[2] = {0, 0};
        Halide::Runtime::Buffer<int32_t> out(v, 2);
        detail::check_kernel(qf_sgemm_layout_probe(out), "sgemm", "qf_sgemm_layout_probe");
        return SgemmLayout{v[0], v[1]};
    }();
    return layout;
}

// Per-thread scratch, grown on demand and kept (the API takes no workspace).
enum Scratch { kPackB, kBias, kZeroBias, kCols, kDcols, kScratchCount };
float *scratch(Scratch which, int64_t n) {
    thread_local std::vector<float> buffers[kScratchCount];
    auto &v = buffers[which];
    if (static_cast<int64_t>(v.size()) < n) {
        v.clear();
        v.shrink_to_fit();
        v.resize(static_cast<size_t>(n));
    }
    return v.data();
}

HBuf buffer2(float *data, int64_t e0, int64_t s0, int64_t e1, int64_t s1) {
    halide_dimension_t dims[2] = {{0, static_cast<int32_t>(e0), static_cast<int32_t>(s0), 0},
                                  {0, static_cast<int32_t>(e1), static_cast<int32_t>(s1), 0}};
    return HBuf(data, 2, dims);
}

// K per chunk: B's block of kc x N_padded floats. A read transposed (TN:
// the A tile's k rows are strided) wants ~256 KB blocks, so a panel's rows of
// the chunk (kc x 32 floats at N = 400: 20 KB) stay in L1 while the row tiles
// of a task read them (32x400x25088 TN, 1 thread: 1 MB blocks 0.66x OpenBLAS,
// 256 KB 0.98x, 128 KB 0.87x). A row-major (NN) wants ~1 MB blocks: fewer
// passes over C (square NN, ratio to OpenBLAS 1T / 2T: 512^3 0.92 / 0.61 with
// kc 128, 0.96 / 0.83 with 512; 1024^3 0.79 / 0.59 with kc 128, 0.81 / 0.66
// with 256, 0.50 / 0.48 with 512, i.e. 2 MB blocks are too big).
int64_t k_chunk(int64_t k, int64_t n_padded, bool a_transposed) {
    const int64_t block_floats = a_transposed ? (int64_t(1) << 16) : (int64_t(1) << 18);
    const int64_t kc = std::max<int64_t>(128, block_floats / std::max<int64_t>(1, n_padded));
    if (k <= kc + kc / 2) return k;  // no short last chunk
    return kc;
}

// The CUDA layout's panel width (schedules/cuda/, reported by the host-only
// probe compiled for the CUDA target).
int64_t cuda_sgemm_panel() {
#if QFORGE_HAVE_CUDA
    static const int64_t panel = [] {
        int32_t v[2] = {0, 0};
        Halide::Runtime::Buffer<int32_t> out(v, 2);
        detail::check_kernel(qf_cuda_sgemm_layout_probe_sm80(out), "sgemm", "qf_cuda_sgemm_layout_probe");
        return int64_t(v[0]);
    }();
    return panel;
#else
    throw DeviceError("sgemm: this build has no CUDA kernels");
#endif
}

// C = op(A) op(B) (+ bias) on CUDA: op(B) packed on the host into whole
// panels of the CUDA layout (the CPU pack kernels, one pass), then one kernel
// call over all of C (the GPU's blocks take the rows and columns; no
// k-chunking: the operands are copied to the device once per call).
void run_sgemm_cuda(const char *op, const Mat &a, Transpose ta, const Mat &b, Transpose tb, const Mat &c,
                    const float *bias, bool accumulate_into_c) {
    const int64_t m = c.rows, n = c.cols, k = ta == Transpose::no ? a.cols : a.rows;
    const int64_t panel = cuda_sgemm_panel(), n_padded = round_up(n, panel);
    if (k * n_padded > INT32_MAX) {
        throw ShapeError(std::string(op) + ": K x N = " + str(k) + " x " + str(n) + " is too large to repack");
    }
    float *packed = scratch(kPackB, k * n_padded);
    HBuf bb = buffer2(packed, n_padded, 1, k, n_padded);
    if (tb == Transpose::yes) {
        HBuf in = buffer2(b.data, k, 1, n, b.ld);  // in(k, n) = B[n][k]
        detail::check_kernel(qf_pack_f32_t(in, bb), op, "qf_pack_f32_t");
    } else {
        HBuf in = buffer2(b.data, n, 1, k, b.ld);
        detail::check_kernel(qf_pack_f32(in, bb), op, "qf_pack_f32");
    }
    float *bias_padded = scratch(kBias, n_padded);
    std::fill(bias_padded, bias_padded + n_padded, 0.0f);
    if (bias) std::copy(bias, bias + n, bias_padded);
    HBuf biasb(bias_padded, static_cast<int>(n_padded));
    const bool at = ta == Transpose::yes;
    HBuf ab = at ? buffer2(a.data, m, 1, k, a.ld) : buffer2(a.data, k, 1, m, a.ld);
    HBuf cb = buffer2(c.data, n, 1, m, c.ld);
    const int accumulate = accumulate_into_c ? 1 : 0;
    if (at) {
        detail::check_kernel(detail::call_cuda(op, QF_CUDA_KERNEL(sgemm_tn), ab, bb, biasb, cb, accumulate, cb),
                             op, "qf_cuda_sgemm_tn");
    } else {
        detail::check_kernel(detail::call_cuda(op, QF_CUDA_KERNEL(sgemm_nn), ab, bb, biasb, cb, accumulate, cb),
                             op, "qf_cuda_sgemm_nn");
    }
}

// C = op(A) op(B) (+ bias), arguments already checked. b_padded: B is stored
// row-major [K, N] (tb = no) and its rows are readable and zero up to N
// rounded up to whole panels.
void run_sgemm(const char *op, const Mat &a, Transpose ta, const Mat &b, Transpose tb, const Mat &c, const float *bias,
               bool b_padded = false, bool accumulate_into_c = false) {
    const int64_t m = c.rows, n = c.cols, k = ta == Transpose::no ? a.cols : a.rows;
    if (m == 0 || n == 0) return;
    if (k == 0) {
        if (accumulate_into_c) return;
        for (int64_t i = 0; i < m; i++) {
            float *row = c.data + i * c.ld;
            for (int64_t j = 0; j < n; j++) row[j] = bias ? bias[j] : 0.0f;
        }
        return;
    }
    detail::ensure_kernel_runtime();
    if (current_device() == Device::cuda) {
        run_sgemm_cuda(op, a, ta, b, tb, c, bias, accumulate_into_c);
        return;
    }
    const SgemmLayout &lay = sgemm_layout();
    const int64_t n_padded = round_up(n, lay.panel);

    // op(B) as the kernels read it: row-major [K, columns padded to whole
    // panels]. Stored so (tb = no), B is read in place for its whole panels;
    // only the last partial panel is copied (zero-padded), unless the caller
    // says B's rows are readable and zero up to whole panels. Stored
    // transposed, all of it is transposed into the workspace.
    struct ColumnBlock {
        int64_t n0, n;      // columns [n0, n0 + n) of C
        const float *b;     // op(B) column n0, row 0
        int64_t ldb, width; // row stride; readable columns (whole panels)
    };
    ColumnBlock blocks[2];
    int block_count = 0;
    auto pack = [&](int64_t n0, int64_t cols) {
        const int64_t width = round_up(cols, lay.panel);
        if (k * width > INT32_MAX) {
            throw ShapeError(std::string(op) + ": K x N = " + str(k) + " x " + str(cols) + " is too large to repack");
        }
        float *packed = scratch(kPackB, k * width);
        HBuf out = buffer2(packed, width, 1, k, width);
        if (tb == Transpose::yes) {
            HBuf in = buffer2(b.data + n0 * b.ld, k, 1, cols, b.ld);  // in(k, n) = B[n][k]
            detail::check_kernel(qf_pack_f32_t(in, out), op, "qf_pack_f32_t");
        } else {
            HBuf in = buffer2(b.data + n0, cols, 1, k, b.ld);
            detail::check_kernel(qf_pack_f32(in, out), op, "qf_pack_f32");
        }
        blocks[block_count++] = {n0, cols, packed, width, width};
    };
    if (tb == Transpose::yes) {
        pack(0, n);
    } else if (b_padded) {
        blocks[block_count++] = {0, n, b.data, b.ld, n_padded};
    } else {
        const int64_t n_main = n / lay.panel * lay.panel;
        if (n_main > 0) blocks[block_count++] = {0, n_main, b.data, b.ld, n_main};
        if (n_main < n) pack(n_main, n - n_main);
    }
    float *bias_padded = scratch(kBias, n_padded);
    std::fill(bias_padded, bias_padded + n_padded, 0.0f);
    if (bias) std::copy(bias, bias + n, bias_padded);
    float *zero_bias = scratch(kZeroBias, n_padded);
    std::fill(zero_bias, zero_bias + n_padded, 0.0f);

    // Rows: whole tiles of the tiled kernel, then whole 4-row tiles, then single rows.
    const int64_t tm = lay.tile_rows;
    const int64_t m_main = m / tm * tm;
    const int64_t m_four = m_main + (m - m_main) / 4 * 4;
    const bool at = ta == Transpose::yes;
    for (int bi = 0; bi < block_count; bi++) {
        const ColumnBlock &blk = blocks[bi];
        const int64_t kc = k_chunk(k, blk.width, ta == Transpose::yes);
        for (int64_t k0 = 0; k0 < k; k0 += kc) {
            const int64_t kn = std::min(kc, k - k0);
            HBuf bb = buffer2(const_cast<float *>(blk.b) + k0 * blk.ldb, blk.width, 1, kn, blk.ldb);
            HBuf biasb((k0 == 0 && !accumulate_into_c ? bias_padded : zero_bias) + blk.n0, static_cast<int>(blk.width));
            const int accumulate = k0 > 0 || accumulate_into_c ? 1 : 0;
            // Rows [r0, r0 + rows) with the kernel of `tile` rows (1, 4, or the tiled one: 0).
            auto run_rows = [&](int64_t r0, int64_t rows, int tile) {
                if (rows == 0) return;
                HBuf ab = at ? buffer2(a.data + k0 * a.ld + r0, rows, 1, kn, a.ld)
                             : buffer2(a.data + r0 * a.ld + k0, kn, 1, rows, a.ld);
                HBuf cb = buffer2(c.data + r0 * c.ld + blk.n0, blk.n, 1, rows, c.ld);
                using Fn = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *,
                                   int32_t, halide_buffer_t *);
                Fn fn;
                const char *name;
                if (tile == 0) {
                    fn = at ? qf_sgemm_tn : qf_sgemm_nn;
                    name = at ? "qf_sgemm_tn" : "qf_sgemm_nn";
                } else if (tile == 4) {
                    fn = at ? qf_sgemm_tn_m4 : qf_sgemm_nn_m4;
                    name = at ? "qf_sgemm_tn_m4" : "qf_sgemm_nn_m4";
                } else {
                    fn = at ? qf_sgemm_tn_row : qf_sgemm_nn_row;
                    name = at ? "qf_sgemm_tn_row" : "qf_sgemm_nn_row";
                }
                detail::check_kernel(fn(ab, bb, biasb, cb, accumulate, cb), op, name);
            };
            run_rows(0, m_main, 0);
            run_rows(m_main, m_four - m_main, 4);
            run_rows(m_four, m - m_four, 1);
        }
    }
}

void require_finite_size(const char *op, const char *what, int64_t v) {
    if (v > INT32_MAX) throw ShapeError(std::string(op) + ": " + what + " = " + str(v) + " exceeds 2^31-1");
}

// ---- convolution ------------------------------------------------------------

struct ConvDims {
    int64_t n = 0, h = 0, w = 0, c = 0;  // input
    int64_t o = 0, kh = 0, kw = 0, cg = 0, og = 0;
    int64_t oh = 0, ow = 0;
    int groups = 1;
    int64_t pixels() const { return n * oh * ow; }      // GEMM rows
    int64_t kc() const { return kh * kw * cg; }           // GEMM depth per group
    bool pointwise(const Conv2dGeometry &g) const {
        return kh == 1 && kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_bottom == 0 &&
               g.pad_left == 0 && g.pad_right == 0;
    }
};

void check_geometry(const char *op, const Conv2dGeometry &g) {
    auto bad = [&](const std::string &what) { throw InvalidArgument(std::string(op) + ": " + what); };
    if (g.stride_h < 1 || g.stride_w < 1) bad("strides must be >= 1, got " + str(g.stride_h) + "x" + str(g.stride_w));
    if (g.dilation_h < 1 || g.dilation_w < 1) {
        bad("dilations must be >= 1, got " + str(g.dilation_h) + "x" + str(g.dilation_w));
    }
    if (g.pad_top < 0 || g.pad_bottom < 0 || g.pad_left < 0 || g.pad_right < 0) bad("padding must be >= 0");
    if (g.groups < 1) bad("groups must be >= 1, got " + str(g.groups));
}

ConvDims conv_dims(const char *op, const Shape &x, const Shape &w, const Conv2dGeometry &g) {
    check_geometry(op, g);
    auto describe = [](const Shape &s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); i++) r += (i ? "," : "") + str(s[i]);
        return r + "]";
    };
    if (x.size() != 4) throw ShapeError(std::string(op) + ": x must be NHWC [N, H, W, C], got " + describe(x));
    if (w.size() != 4) throw ShapeError(std::string(op) + ": w must be OHWI [O, KH, KW, C / groups], got " + describe(w));
    for (int64_t v : x) {
        if (v < 0) throw ShapeError(std::string(op) + ": x has a negative dimension " + describe(x));
    }
    ConvDims d;
    d.n = x[0], d.h = x[1], d.w = x[2], d.c = x[3];
    d.o = w[0], d.kh = w[1], d.kw = w[2], d.cg = w[3];
    d.groups = g.groups;
    if (d.o < 1 || d.kh < 1 || d.kw < 1 || d.cg < 1) {
        throw ShapeError(std::string(op) + ": w " + describe(w) + " must have every dimension >= 1");
    }
    if (d.c % g.groups != 0 || d.o % g.groups != 0) {
        throw InvalidArgument(std::string(op) + ": groups = " + str(g.groups) + " must divide C = " + str(d.c) +
                              " and O = " + str(d.o));
    }
    if (d.c / g.groups != d.cg) {
        throw ShapeError(std::string(op) + ": w " + describe(w) + " has " + str(d.cg) +
                         " input channels per group; x " + describe(x) + " with groups = " + str(g.groups) + " has " +
                         str(d.c / g.groups));
    }
    d.og = d.o / g.groups;
    const int64_t eff_h = (d.kh - 1) * g.dilation_h + 1, eff_w = (d.kw - 1) * g.dilation_w + 1;
    const int64_t span_h = d.h + g.pad_top + g.pad_bottom, span_w = d.w + g.pad_left + g.pad_right;
    if (span_h < eff_h || span_w < eff_w) {
        throw InvalidArgument(std::string(op) + ": the " + str(eff_h) + "x" + str(eff_w) +
                              " (dilated) kernel does not fit the padded " + str(span_h) + "x" + str(span_w) +
                              " input: no output");
    }
    d.oh = (span_h - eff_h) / g.stride_h + 1;
    d.ow = (span_w - eff_w) / g.stride_w + 1;
    require_finite_size(op, "N * OH * OW", d.pixels());
    require_finite_size(op, "KH * KW * C / groups", d.kc());
    return d;
}

Shape output_shape(const ConvDims &d) { return {d.n, d.oh, d.ow, d.o}; }

void require_shape(const char *op, const char *name, const TensorView &t, const Shape &want) {
    if (t.shape() != want) {
        std::string s = "[";
        for (size_t i = 0; i < want.size(); i++) s += (i ? "," : "") + str(want[i]);
        throw ShapeError(std::string(op) + ": " + name + " must be " + s + "], got " + t.describe());
    }
}

// Byte range overlap of two contiguous tensors (or a bias of n floats).
void require_apart(const char *op, const char *na, const void *pa, size_t bytes_a, const char *nb, const void *pb,
                   size_t bytes_b) {
    if (!pa || !pb || bytes_a == 0 || bytes_b == 0) return;
    auto a = reinterpret_cast<uintptr_t>(pa), b = reinterpret_cast<uintptr_t>(pb);
    if (a < b + bytes_b && b < a + bytes_a) {
        throw ShapeError(std::string(op) + ": " + na + " and " + nb + " overlap (they must not share memory)");
    }
}

// x(c, w, h, n) over a contiguous NHWC tensor.
HBuf nhwc_buffer(float *data, const ConvDims &d, int64_t channels, int64_t h, int64_t w) {
    halide_dimension_t dims[4] = {{0, static_cast<int32_t>(channels), 1, 0},
                                  {0, static_cast<int32_t>(w), static_cast<int32_t>(d.c), 0},
                                  {0, static_cast<int32_t>(h), static_cast<int32_t>(w * d.c), 0},
                                  {0, static_cast<int32_t>(d.n), static_cast<int32_t>(h * w * d.c), 0}};
    return HBuf(data, 4, dims);
}

// col(ci, kw, kh, ox, oy, n) over rows of ld floats, one per output pixel.
HBuf cols_buffer6(float *data, const ConvDims &d, int64_t ld) {
    halide_dimension_t dims[6] = {{0, static_cast<int32_t>(d.cg), 1, 0},
                                  {0, static_cast<int32_t>(d.kw), static_cast<int32_t>(d.cg), 0},
                                  {0, static_cast<int32_t>(d.kh), static_cast<int32_t>(d.kw * d.cg), 0},
                                  {0, static_cast<int32_t>(d.ow), static_cast<int32_t>(ld), 0},
                                  {0, static_cast<int32_t>(d.oh), static_cast<int32_t>(d.ow * ld), 0},
                                  {0, static_cast<int32_t>(d.n), static_cast<int32_t>(d.oh * d.ow * ld), 0}};
    return HBuf(data, 6, dims);
}

// col(ci, kw, kh, p) over rows of ld floats.
HBuf cols_buffer(float *data, const ConvDims &d, int64_t ld) {
    halide_dimension_t dims[4] = {{0, static_cast<int32_t>(d.cg), 1, 0},
                                  {0, static_cast<int32_t>(d.kw), static_cast<int32_t>(d.cg), 0},
                                  {0, static_cast<int32_t>(d.kh), static_cast<int32_t>(d.kw * d.cg), 0},
                                  {0, static_cast<int32_t>(d.pixels()), static_cast<int32_t>(ld), 0}};
    return HBuf(data, 4, dims);
}

// The group's im2col matrix [pixels, Kc] (row stride ld; columns [Kc, ld) zeroed when zero_pad).
Mat im2col(const char *op, const float *x, const ConvDims &d, const Conv2dGeometry &g, int group, int64_t ld,
           bool zero_pad) {
    const int64_t p = d.pixels();
    if (p * ld > INT32_MAX) throw ShapeError(std::string(op) + ": the im2col matrix would exceed 2^31-1 elements");
    float *cols = scratch(kCols, p * ld);
    HBuf xb = nhwc_buffer(const_cast<float *>(x), d, d.c, d.h, d.w);
    HBuf cb = cols_buffer6(cols, d, ld);
    detail::check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(im2col_f32), qf_im2col_f32, xb, static_cast<int32_t>(group * d.cg), g.stride_w, g.stride_h, g.dilation_w,
                                       g.dilation_h, g.pad_left, g.pad_top, cb),
                         op, "qf_im2col_f32");
    const int64_t kc = d.kc();
    if (zero_pad && ld > kc) {
        for (int64_t i = 0; i < p; i++) std::memset(cols + i * ld + kc, 0, static_cast<size_t>(ld - kc) * 4);
    }
    return Mat{cols, p, kc, ld};
}

// Pointwise convs: the group's channel slice of an NHWC tensor as a matrix.
Mat channel_slice(float *data, const ConvDims &d, int64_t channels_per_group, int64_t total_channels, int group) {
    return Mat{data + group * channels_per_group, d.pixels(), channels_per_group, total_channels};
}

// Convolutions run in chunks of whole images whose column matrix (im2col
// rows, or the input gradient's dcols) stays in the L2 caches: materialising
// it for the whole batch (40 MB for the default network's conv2 at batch 128)
// made every conv pass memory-bound (a training step: 46 ms -> see the commit
// log). Chunks are whole images because a col2im gather never crosses images.
constexpr int64_t kChunkBytes = 1 << 20;

int64_t images_per_chunk(const ConvDims &d, int64_t ld) {
    const int64_t per_image = std::max<int64_t>(1, d.oh * d.ow * ld * 4);
    return std::max<int64_t>(1, std::min<int64_t>(d.n, kChunkBytes / per_image));
}

// d restricted to images [n0, n0 + nb).
ConvDims chunk_of(const ConvDims &d, int64_t nb) {
    ConvDims c = d;
    c.n = nb;
    return c;
}


// The dispatched variant's float lanes and direct-conv tile rows per panel width.
struct ConvLayout {
    int lanes = 0, tile_rows_p1 = 0, tile_rows_p2 = 0;
};

const ConvLayout &conv_layout() {
    static const ConvLayout layout = [] {
        detail::ensure_kernel_runtime();
        int32_t v[3] = {0, 0, 0};
        Halide::Runtime::Buffer<int32_t> out(v, 3);
        detail::check_kernel(qf_conv_f32_layout_probe(out), "conv2d_f32", "qf_conv_f32_layout_probe");
        return ConvLayout{v[0], v[1], v[2]};
    }();
    return layout;
}

// QFORGE_CONV_F32_PATH=im2col forces the column-matrix paths (benchmarks and
// tests compare the two); anything else (or unset) lets the heuristics pick.
// On CUDA the column-matrix paths always: im2col, col2im and sgemm have CUDA
// kernels; the direct convs' CPU panel layouts do not apply there.
bool implicit_gemm_allowed() {
    static const bool allowed = [] {
        const char *e = std::getenv("QFORGE_CONV_F32_PATH");
        return !(e && std::string(e) == "im2col");
    }();
    return allowed && current_device() == Device::cpu;
}

// Output channels per panel of the direct conv with `pv` vectors per panel:
// the CPU variant's vectors, or on CUDA the CUDA layout's panel (equal to its
// sgemm panel, 32: schedules/cuda/; a mismatch would fail Halide's bounds
// check on the weights, not read past them).
int64_t direct_conv_panel(int pv) {
    return current_device() == Device::cuda ? cuda_sgemm_panel() : int64_t(conv_layout().lanes) * pv;
}

// Output-channel panel of the direct conv for `outputs` channels: one vector
// when they fit in one, else two.
int direct_panel_vectors(int64_t outputs) { return outputs <= conv_layout().lanes ? 1 : 2; }

// Whether the direct conv's row tiles cover an output row of width `ow` with
// at most half of their pixels wasted (a tile is tile_rows pixels: 14 on
// AVX-512). Narrower rows take the im2col paths.
bool direct_tiles_fit(int64_t ow, int pv) {
    const ConvLayout &l = conv_layout();
    const int64_t tm = pv == 1 ? l.tile_rows_p1 : l.tile_rows_p2;
    return round_up(ow, tm) <= 2 * ow;
}

// y(o, ox, oy, n) = sum x(c, ix, iy, n) * wk[k][o] (+ bias): the direct conv.
// wk is op(B) [K = KH * KW * C, O] with its rows padded to whole panels.
void run_direct_conv(const char *op, const float *x, int64_t n, int64_t h, int64_t w, int64_t c, const float *wk,
                     int64_t o, int64_t o_padded, int64_t kh, int64_t kw, const float *bias_padded, int stride_w,
                     int stride_h, int dilation_w, int dilation_h, int pad_left, int pad_top, float *y, int64_t oh,
                     int64_t ow, int pv) {
    const int64_t k = kh * kw * c;
    if (k * o_padded > INT32_MAX || n * h * w * c > INT32_MAX || n * oh * ow * o > INT32_MAX) {
        throw ShapeError(std::string(op) + ": tensors exceed 2^31-1 elements");
    }
    halide_dimension_t xd[4] = {{0, static_cast<int32_t>(c), 1, 0},
                                {0, static_cast<int32_t>(w), static_cast<int32_t>(c), 0},
                                {0, static_cast<int32_t>(h), static_cast<int32_t>(w * c), 0},
                                {0, static_cast<int32_t>(n), static_cast<int32_t>(h * w * c), 0}};
    halide_dimension_t yd[4] = {{0, static_cast<int32_t>(o), 1, 0},
                                {0, static_cast<int32_t>(ow), static_cast<int32_t>(o), 0},
                                {0, static_cast<int32_t>(oh), static_cast<int32_t>(ow * o), 0},
                                {0, static_cast<int32_t>(n), static_cast<int32_t>(oh * ow * o), 0}};
    HBuf xb(const_cast<float *>(x), 4, xd), yb(y, 4, yd);
    HBuf wb = buffer2(const_cast<float *>(wk), o_padded, 1, k, o_padded);
    HBuf bb(const_cast<float *>(bias_padded), static_cast<int>(o_padded));
    if (current_device() == Device::cuda) {
        detail::check_kernel(detail::call_cuda(op, QF_CUDA_KERNEL(direct_conv_f32), xb, wb, bb, static_cast<int32_t>(kw),
                                               static_cast<int32_t>(kh), stride_w, stride_h, dilation_w, dilation_h,
                                               pad_left, pad_top, yb),
                             op, "qf_cuda_direct_conv_f32");
        return;
    }
    auto fn = pv == 1 ? qf_direct_conv_f32_p1 : qf_direct_conv_f32_p2;
    detail::check_kernel(fn(xb, wb, bb, static_cast<int32_t>(kw), static_cast<int32_t>(kh), stride_w, stride_h,
                            dilation_w, dilation_h, pad_left, pad_top, yb),
                         op, pv == 1 ? "qf_direct_conv_f32_p1" : "qf_direct_conv_f32_p2");
}
}  // namespace

void sgemm(const TensorView &a, Transpose ta, const TensorView &b, Transpose tb, const TensorView &c,
           const float *bias) {
    const char *op = "sgemm";
    const Mat ma = matrix(op, "a", a), mb = matrix(op, "b", b), mc = matrix(op, "c", c);
    if (ta != Transpose::no && ta != Transpose::yes) throw InvalidArgument(std::string(op) + ": ta is not a Transpose");
    if (tb != Transpose::no && tb != Transpose::yes) throw InvalidArgument(std::string(op) + ": tb is not a Transpose");
    const int64_t m = ta == Transpose::no ? ma.rows : ma.cols, ka = ta == Transpose::no ? ma.cols : ma.rows;
    const int64_t kb = tb == Transpose::no ? mb.rows : mb.cols, n = tb == Transpose::no ? mb.cols : mb.rows;
    if (ka != kb) {
        throw ShapeError(std::string(op) + ": op(a) " + a.describe() + " has K = " + str(ka) + " but op(b) " +
                         b.describe() + " has K = " + str(kb));
    }
    if (mc.rows != m || mc.cols != n) {
        throw ShapeError(std::string(op) + ": c must be [M, N] = [" + str(m) + ", " + str(n) + "], got " +
                         c.describe());
    }
    if (overlap(mc, ma)) throw ShapeError(std::string(op) + ": a and c overlap (they must not share memory)");
    if (overlap(mc, mb)) throw ShapeError(std::string(op) + ": b and c overlap (they must not share memory)");
    if (bias) {
        if (reinterpret_cast<uintptr_t>(bias) % alignof(float) != 0) {
            throw ShapeError(std::string(op) + ": bias is misaligned for f32");
        }
        if (overlap(mc, Mat{const_cast<float *>(bias), 1, n, n})) {
            throw ShapeError(std::string(op) + ": bias and c overlap (they must not share memory)");
        }
    }
    run_sgemm(op, ma, ta, mb, tb, mc, bias);
}

Shape conv2d_f32_output_shape(const Shape &x, const Shape &w, const Conv2dGeometry &g) {
    return output_shape(conv_dims("conv2d_f32_output_shape", x, w, g));
}

void conv2d_f32(const TensorView &x, const TensorView &w, const float *bias, const Conv2dGeometry &g,
                const TensorView &y) {
    const char *op = "conv2d_f32";
    detail::require_tensor(op, "x", x, DType::f32);
    detail::require_tensor(op, "w", w, DType::f32);
    detail::require_tensor(op, "y", y, DType::f32);
    const ConvDims d = conv_dims(op, x.shape(), w.shape(), g);
    require_shape(op, "y", y, output_shape(d));
    require_apart(op, "x", x.data(), x.nbytes(), "y", y.data(), y.nbytes());
    require_apart(op, "w", w.data(), w.nbytes(), "y", y.data(), y.nbytes());
    if (bias) {
        if (reinterpret_cast<uintptr_t>(bias) % alignof(float) != 0) throw ShapeError(std::string(op) + ": bias is misaligned");
        require_apart(op, "bias", bias, static_cast<size_t>(d.o) * 4, "y", y.data(), y.nbytes());
    }
    if (y.numel() == 0) return;
    float *xd = static_cast<float *>(x.data()), *wd = static_cast<float *>(w.data()), *yd = static_cast<float *>(y.data());
    const int64_t kc = d.kc();
    if (d.pointwise(g)) {
        for (int gi = 0; gi < d.groups; gi++) {
            const Mat wg{wd + gi * d.og * kc, d.og, kc, kc};  // [Og, Kc]: op(B) = wg^T
            run_sgemm(op, channel_slice(xd, d, d.cg, d.c, gi), Transpose::no, wg, Transpose::yes,
                      channel_slice(yd, d, d.og, d.o, gi), bias ? bias + gi * d.og : nullptr);
        }
        return;
    }
    // On CUDA always the direct conv: x read in place on the device. Through a
    // column matrix the matrix made a round trip through host memory between
    // the im2col and sgemm calls (25.8 ms per call on an H100 at
    // [128,28,28,16] 3x3 -> 32, 6.5x the CPU's 2 threads).
    const bool cuda = current_device() == Device::cuda;
    if (d.groups == 1 && (cuda || implicit_gemm_allowed())) {
        const int pv = cuda ? 1 : direct_panel_vectors(d.o);
        if (cuda || direct_tiles_fit(d.ow, pv)) {
            // op(B) = w^T [K, O], O padded to whole panels of the direct conv.
            const int64_t o_padded = round_up(d.o, direct_conv_panel(pv));
            std::vector<float> wk(static_cast<size_t>(kc * o_padded), 0.0f), bp(static_cast<size_t>(o_padded), 0.0f);
            for (int64_t o = 0; o < d.o; o++) {
                for (int64_t k = 0; k < kc; k++) wk[k * o_padded + o] = wd[o * kc + k];
            }
            if (bias) std::copy(bias, bias + d.o, bp.begin());
            run_direct_conv(op, xd, d.n, d.h, d.w, d.c, wk.data(), d.o, o_padded, d.kh, d.kw, bp.data(), g.stride_w,
                            g.stride_h, g.dilation_w, g.dilation_h, g.pad_left, g.pad_top, yd, d.oh, d.ow, pv);
            return;
        }
    }
    // Per group, op(B) = w_g^T [Kc, Og] transposed once into whole zero-padded
    // panels, then image chunks: im2col into cache, GEMM into y.
    const int64_t panel = sgemm_layout().panel, og_padded = round_up(d.og, panel);
    std::vector<float> wt(static_cast<size_t>(d.groups * kc * og_padded), 0.0f);
    for (int gi = 0; gi < d.groups; gi++) {
        for (int64_t o = 0; o < d.og; o++) {
            for (int64_t k = 0; k < kc; k++) wt[(gi * kc + k) * og_padded + o] = wd[(gi * d.og + o) * kc + k];
        }
    }
    const int64_t nb = images_per_chunk(d, kc);
    for (int64_t n0 = 0; n0 < d.n; n0 += nb) {
        const ConvDims dc = chunk_of(d, std::min(nb, d.n - n0));
        const float *xc = xd + n0 * d.h * d.w * d.c;
        float *yc = yd + n0 * d.oh * d.ow * d.o;
        for (int gi = 0; gi < d.groups; gi++) {
            const Mat a = im2col(op, xc, dc, g, gi, kc, false);
            const Mat wg{wt.data() + gi * kc * og_padded, kc, d.og, og_padded};  // [Kc, Og], rows padded
            run_sgemm(op, a, Transpose::no, wg, Transpose::no, channel_slice(yc, dc, d.og, d.o, gi),
                      bias ? bias + gi * d.og : nullptr, /*b_padded=*/true);
        }
    }
}

void conv2d_f32_backward_input(const TensorView &dy, const TensorView &w, const Conv2dGeometry &g,
                               const TensorView &dx) {
    const char *op = "conv2d_f32_backward_input";
    detail::require_tensor(op, "dy", dy, DType::f32);
    detail::require_tensor(op, "w", w, DType::f32);
    detail::require_tensor(op, "dx", dx, DType::f32);
    const ConvDims d = conv_dims(op, dx.shape(), w.shape(), g);
    require_shape(op, "dy", dy, output_shape(d));
    require_apart(op, "dy", dy.data(), dy.nbytes(), "dx", dx.data(), dx.nbytes());
    require_apart(op, "w", w.data(), w.nbytes(), "dx", dx.data(), dx.nbytes());
    if (dx.numel() == 0) return;
    float *dyd = static_cast<float *>(dy.data()), *wd = static_cast<float *>(w.data());
    float *dxd = static_cast<float *>(dx.data());
    const int64_t kc = d.kc(), p = d.pixels();
    if (p == 0) {  // no output pixels (N = 0 is caught above): nothing flows back
        std::fill(dxd, dxd + dx.numel(), 0.0f);
        return;
    }
    if (d.pointwise(g)) {
        for (int gi = 0; gi < d.groups; gi++) {
            const Mat wg{wd + gi * d.og * kc, d.og, kc, kc};  // op(B) = wg: [K = Og, N = Kc]
            run_sgemm(op, channel_slice(dyd, d, d.og, d.o, gi), Transpose::no, wg, Transpose::no,
                      channel_slice(dxd, d, d.cg, d.c, gi), nullptr);
        }
        return;
    }
    const bool cuda = current_device() == Device::cuda;  // as conv2d_f32: no column matrix on CUDA
    if (d.groups == 1 && g.stride_h == 1 && g.stride_w == 1 && (cuda || implicit_gemm_allowed())) {
        // Stride 1: dx is the forward conv of dy with the flipped, transposed
        // weights w'[c, kh', kw', o] = w[o, KH-1-kh', KW-1-kw', c] and padding
        // (K-1) * dilation - pad (dy read as 0 outside its extent).
        const int pv = cuda ? 1 : direct_panel_vectors(d.c);
        if (cuda || direct_tiles_fit(d.w, pv)) {
            const int64_t c_padded = round_up(d.c, direct_conv_panel(pv));
            const int64_t kt = d.kh * d.kw * d.o;  // the transposed conv's K
            std::vector<float> wk(static_cast<size_t>(kt * c_padded), 0.0f), bp(static_cast<size_t>(c_padded), 0.0f);
            for (int64_t o = 0; o < d.o; o++) {
                for (int64_t kh = 0; kh < d.kh; kh++) {
                    for (int64_t kw = 0; kw < d.kw; kw++) {
                        const float *src = wd + ((o * d.kh + kh) * d.kw + kw) * d.c;
                        const int64_t k = ((d.kh - 1 - kh) * d.kw + (d.kw - 1 - kw)) * d.o + o;
                        std::copy(src, src + d.c, wk.begin() + k * c_padded);
                    }
                }
            }
            const int pad_left = static_cast<int>((d.kw - 1) * g.dilation_w - g.pad_left);
            const int pad_top = static_cast<int>((d.kh - 1) * g.dilation_h - g.pad_top);
            run_direct_conv(op, dyd, d.n, d.oh, d.ow, d.o, wk.data(), d.c, c_padded, d.kh, d.kw, bp.data(), 1, 1,
                            g.dilation_w, g.dilation_h, pad_left, pad_top, dxd, d.h, d.w, pv);
            return;
        }
    }
    // Image chunks: dcols = dy_g w_g into cache, then the col2im gather into dx.
    const int64_t nb = images_per_chunk(d, kc);
    for (int64_t n0 = 0; n0 < d.n; n0 += nb) {
        const ConvDims dc = chunk_of(d, std::min(nb, d.n - n0));
        const int64_t pc = dc.pixels();
        float *dyc = dyd + n0 * d.oh * d.ow * d.o;
        float *dxc = dxd + n0 * d.h * d.w * d.c;
        for (int gi = 0; gi < d.groups; gi++) {
            const Mat wg{wd + gi * d.og * kc, d.og, kc, kc};  // op(B) = wg: [K = Og, N = Kc]
            if (pc * kc > INT32_MAX) throw ShapeError(std::string(op) + ": the column matrix would exceed 2^31-1 elements");
            float *dcols = scratch(kDcols, pc * kc);
            run_sgemm(op, channel_slice(dyc, dc, d.og, d.o, gi), Transpose::no, wg, Transpose::no, Mat{dcols, pc, kc, kc},
                      nullptr);
            HBuf db = cols_buffer(dcols, dc, kc);
            HBuf xb = nhwc_buffer(dxc + gi * d.cg, dc, d.cg, d.h, d.w);
            detail::check_kernel(detail::call_on_device(op, QF_CUDA_KERNEL(col2im_f32), qf_col2im_f32, db, static_cast<int32_t>(d.ow), static_cast<int32_t>(d.oh), g.stride_w,
                                               g.stride_h, g.dilation_w, g.dilation_h, g.pad_left, g.pad_top, xb),
                                 op, "qf_col2im_f32");
        }
    }
}

namespace {

// The weight gradient by image groups ("parts" of N / parts images each):
// `kernel(xb, dyb, partb, images_per_part)` fills part(o, (kw, c), kh, g) for
// the o_extent channels of dy (dy's channel count: O, or O padded to whole
// panels), then dw[o][kh][j] = the sum over the parts, in part order.
template<typename Kernel>
void wgrad_by_parts(const char *op, const float *xd, const float *dyd, float *dwd, const ConvDims &d,
                    int64_t o_extent, int64_t parts, Kernel &&kernel) {
    const int64_t jw = d.kw * d.c, per_part = o_extent * jw * d.kh;
    if (per_part * parts > INT32_MAX || d.n * d.h * d.w * d.c > INT32_MAX || d.pixels() * o_extent > INT32_MAX) {
        throw ShapeError(std::string(op) + ": tensors exceed 2^31-1 elements");
    }
    float *partial = scratch(kCols, per_part * parts);
    halide_dimension_t xdim[3] = {{0, static_cast<int32_t>(d.w * d.c), 1, 0},
                                  {0, static_cast<int32_t>(d.h), static_cast<int32_t>(d.w * d.c), 0},
                                  {0, static_cast<int32_t>(d.n), static_cast<int32_t>(d.h * d.w * d.c), 0}};
    halide_dimension_t ydim[4] = {{0, static_cast<int32_t>(o_extent), 1, 0},
                                  {0, static_cast<int32_t>(d.ow), static_cast<int32_t>(o_extent), 0},
                                  {0, static_cast<int32_t>(d.oh), static_cast<int32_t>(d.ow * o_extent), 0},
                                  {0, static_cast<int32_t>(d.n), static_cast<int32_t>(d.oh * d.ow * o_extent), 0}};
    halide_dimension_t pdim[4] = {{0, static_cast<int32_t>(o_extent), 1, 0},
                                  {0, static_cast<int32_t>(jw), static_cast<int32_t>(o_extent), 0},
                                  {0, static_cast<int32_t>(d.kh), static_cast<int32_t>(jw * o_extent), 0},
                                  {0, static_cast<int32_t>(parts), static_cast<int32_t>(per_part), 0}};
    HBuf xb(const_cast<float *>(xd), 3, xdim), yb(const_cast<float *>(dyd), 4, ydim), pb(partial, 4, pdim);
    kernel(xb, yb, pb, static_cast<int32_t>(d.n / parts));
    for (int64_t o = 0; o < d.o; o++) {
        for (int64_t kh = 0; kh < d.kh; kh++) {
            float *dst = dwd + (o * d.kh + kh) * jw;
            for (int64_t j = 0; j < jw; j++) {
                const float *src = partial + (kh * jw + j) * o_extent + o;
                float sum = 0.0f;
                for (int64_t gi = 0; gi < parts; gi++) sum += src[gi * per_part];
                dst[j] = sum;
            }
        }
    }
}

// The weight gradient on CUDA: the implicit-GEMM kernel with one part per
// image (a GPU thread per (o, (kw, c), kh, image) sums that image's output
// pixels). As a column-matrix sgemm (dy^T [O, P] x cols [P, KH*KW*C]) it had
// O x KH*KW*C threads, each with a serial loop over all P = N*OH*OW pixels:
// 973 ms per call on an H100 at [128,28,28,16] 3x3 -> 32, 222x the CPU's 2
// threads. dy's channels are padded to whole panels of the CUDA layout (its
// wgrad panel is the sgemm panel, 32: schedules/cuda/); a mismatch would fail
// Halide's bounds check on dy, not read past it.
void conv_wgrad_cuda(const char *op, const float *xd, const float *dyd, float *dwd, const ConvDims &d,
                     const Conv2dGeometry &g) {
    const int64_t o_padded = round_up(d.o, cuda_sgemm_panel()), pixels = d.pixels();
    std::vector<float> dy_padded;
    const float *dyp = dyd;
    if (o_padded != d.o) {
        dy_padded.assign(static_cast<size_t>(pixels * o_padded), 0.0f);
        for (int64_t p = 0; p < pixels; p++) {
            std::copy(dyd + p * d.o, dyd + (p + 1) * d.o, dy_padded.data() + p * o_padded);
        }
        dyp = dy_padded.data();
    }
    wgrad_by_parts(op, xd, dyp, dwd, d, o_padded, d.n, [&](HBuf &xb, HBuf &yb, HBuf &pb, int32_t ipg) {
        detail::check_kernel(detail::call_cuda(op, QF_CUDA_KERNEL(conv_wgrad_f32), xb, yb, static_cast<int32_t>(d.c),
                                               g.stride_w, g.stride_h, g.dilation_h, g.pad_left, g.pad_top, ipg, pb),
                             op, "qf_cuda_conv_wgrad_f32");
    });
}

}  // namespace

void conv2d_f32_backward_weight(const TensorView &x, const TensorView &dy, const Conv2dGeometry &g,
                                const TensorView &dw) {
    const char *op = "conv2d_f32_backward_weight";
    detail::require_tensor(op, "x", x, DType::f32);
    detail::require_tensor(op, "dy", dy, DType::f32);
    detail::require_tensor(op, "dw", dw, DType::f32);
    const ConvDims d = conv_dims(op, x.shape(), dw.shape(), g);
    require_shape(op, "dy", dy, output_shape(d));
    require_apart(op, "x", x.data(), x.nbytes(), "dw", dw.data(), dw.nbytes());
    require_apart(op, "dy", dy.data(), dy.nbytes(), "dw", dw.data(), dw.nbytes());
    if (dw.numel() == 0) return;
    float *xd = static_cast<float *>(x.data()), *dyd = static_cast<float *>(dy.data());
    float *dwd = static_cast<float *>(dw.data());
    const int64_t kc = d.kc();
    if (d.pointwise(g) || d.pixels() == 0) {
        for (int gi = 0; gi < d.groups; gi++) {
            // dw_g [Og, Kc] = dy_g^T [Og, P] x x_g [P, Kc].
            run_sgemm(op, channel_slice(dyd, d, d.og, d.o, gi), Transpose::yes, channel_slice(xd, d, d.cg, d.c, gi),
                      Transpose::no, Mat{dwd + gi * d.og * kc, d.og, kc, kc}, nullptr);
        }
        return;
    }
    if (current_device() == Device::cuda && d.groups == 1 && g.dilation_w == 1) {
        conv_wgrad_cuda(op, xd, dyd, dwd, d, g);
        return;
    }
    const int64_t lanes = conv_layout().lanes;
    if (d.groups == 1 && g.dilation_w == 1 && implicit_gemm_allowed() &&
        d.o % lanes == 0 && (d.o <= lanes || d.o % (2 * lanes) == 0)) {
        // Implicit GEMM per image group: part_g(o, (kw, c), kh) = sum over the
        // group's output pixels of dy(p, o) * x(tap of p), groups in parallel,
        // then dw = the sum of the parts, transposed.
        const int pv = d.o <= lanes ? 1 : 2;
        const int64_t jw = d.kw * d.c;
        // Groups: a divisor of N, enough of them for the threads, few enough
        // that each group's pixels amortise its tile loads.
        int64_t parts = 1;
        for (int64_t cand = std::min<int64_t>(d.n, 16); cand >= 1; cand--) {
            if (d.n % cand == 0) {
                parts = cand;
                break;
            }
        }
        const bool short_rows = pv == 1 && jw <= 5;
        auto fn = short_rows ? qf_conv_wgrad_f32_p1s : pv == 1 ? qf_conv_wgrad_f32_p1 : qf_conv_wgrad_f32_p2;
        wgrad_by_parts(op, xd, dyd, dwd, d, d.o, parts, [&](HBuf &xb, HBuf &yb, HBuf &pb, int32_t ipg) {
            detail::check_kernel(fn(xb, yb, static_cast<int32_t>(d.c), g.stride_w, g.stride_h, g.dilation_h,
                                    g.pad_left, g.pad_top, ipg, pb),
                                 op, "qf_conv_wgrad_f32");
        });
        return;
    }
    // dw_g = sum over image chunks of dy_chunk^T cols_chunk: the first chunk
    // writes dw, the others add to it.
    const int64_t ld = round_up(kc, sgemm_layout().panel);
    const int64_t nb = images_per_chunk(d, ld);
    for (int64_t n0 = 0; n0 < d.n; n0 += nb) {
        const ConvDims dc = chunk_of(d, std::min(nb, d.n - n0));
        const float *xc = xd + n0 * d.h * d.w * d.c;
        float *dyc = dyd + n0 * d.oh * d.ow * d.o;
        for (int gi = 0; gi < d.groups; gi++) {
            const Mat b = im2col(op, xc, dc, g, gi, ld, /*zero_pad=*/true);
            run_sgemm(op, channel_slice(dyc, dc, d.og, d.o, gi), Transpose::yes, b, Transpose::no,
                      Mat{dwd + gi * d.og * kc, d.og, kc, kc}, nullptr, /*b_padded=*/true,
                      /*accumulate_into_c=*/n0 > 0);
        }
    }
}

}  // namespace qforge
