// int8 GEMM: weight packing and the GEMM with its output stages.
// Algorithms only; schedules/schedules.h decides the loops (per target family:
// schedules/x86/gemm_x86.h, schedules/arm/gemm_arm.h).
//
//   pack_gemm_weights   w(k, n) s8 [N, K]  ->  packed(kk, ni, ko, no) = w(G ko + kk, P no + ni),
//                       zero-padded to the extents the caller allocates; row_sums(n) = sum_k w(k, n)
//   gemm_int8_s32       c(n, m) = acc(n, m)
//   gemm_int8_requant   c(n, m) = requantize(acc(n, m), multiplier(n), ...)  as u8 or s8
//   gemm_int8_f32       c(n, m) = float(acc(n, m)) * out_scale(n)
// with
//   acc(n, m) = bias(n) - a_zero_point * row_sums(n) + sum_k a(k, m) * w(k, n)
// (stored per panel: acc(n % P, n / P, m)). M must be at least the
// kernel's row tile (schedules/layout.h, tile_rows; 1 for the GEMV tiling):
// the last tile is shifted inwards to end at row M, and Halide's bounds check
// on A rejects a shorter M.
// where a is u8. s8 activations are converted by the caller's view: a_u8 = a_s8 ^ 0x80 =
// a_s8 + 128, with a_zero_point + 128 (the runtime does this; VNNI multiplies u8 x s8).
// On targets with signed_activations (schedules/layout.h: AArch64) the
// same acc is computed as
//   bias(n) - (a_zero_point - 128) * row_sums(n) + sum_k (a(k, m) - 128) * w(k, n)
// with a - 128 = a ^ 0x80 read as s8, so the products are s8 x s8 (sdot, smull);
// equal modulo 2^32, so bit-identical.
//
// G, the k group, is the depth of the target's multiply-accumulate step
// (schedules/layout.h, k_group: 4 for VNNI and ARM's sdot, 2 for pmaddwd and
// ARM's smull + sadalp); P, the
// panel, is the width of a register tile (panel_width). Each panel of P
// columns is one contiguous block, k group after k group, so a tile's weights
// stream sequentially (no 4 KB-strided rows aliasing in L1). The runtime pads
// K to a multiple of 4 and N to a multiple of 64 and allocates packed as
// (G, P, K padded / G, N padded / P). Rows of A past M are
// read clamped (their results are not stored), columns past N have zero weights.
#include "Halide.h"
#include "common/numerics.h"
#include "common/autoschedule.h"
#include "common/operands.h"
#include "common/template_generator.h"
#include "schedules/schedules.h"

namespace {

using namespace Halide;
namespace nx = qforge::numerics;
namespace qs = qforge::schedules;  // schedules/schedules.h: per-family dispatch
namespace layout = qforge::schedules;  // layouts the schedules chose (schedules/layout.h)

class PackGemmWeights : public Generator<PackGemmWeights> {
public:
    Input<Buffer<int8_t>> w{"w", 2};                  // w(k, n)
    Output<Buffer<int8_t>> packed{"packed", 4};       // packed(kk, ni, ko, no)
    Output<Buffer<int32_t>> row_sums{"row_sums", 1};  // row_sums(n), 0 for padded columns

    void generate() {
        const int group = layout::k_group(get_target()), panel = layout::panel_width(get_target());
        Func w_padded = BoundaryConditions::constant_exterior(w, cast<int8_t>(0));
        packed(kk, ni, ko, no) = w_padded(group * ko + kk, panel * no + ni);
        // The dense layout the GEMM reads.
        packed.dim(0).set_bounds(0, group).dim(1).set_bounds(0, panel).set_stride(group).dim(2).set_stride(group * panel);
        RDom rk(0, w.dim(0).extent(), "rk");
        row_sums(n) = sum(cast<int32_t>(w_padded(rk, n)));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_pack_gemm_weights(packed, row_sums, kk, ni, ko, no, get_target());
    }

private:
    Var kk{"kk"}, ni{"ni"}, ko{"ko"}, no{"no"}, n{"n"};
};

using GemmOutput = nx::AccumulatorOutput;

// The shared part: inputs, the accumulator, and the output stage per kind.
template<GemmOutput kind>
class GemmInt8 : public Generator<GemmInt8<kind>> {
public:
    QF_TEMPLATE_GENERATOR(GemmInt8);

    // Output element type of the requantizing variant (uint8 or int8).
    GeneratorParam<Type> requant_type{"requant_type", UInt(8)};
    qs::GemmParams tiling;
    qforge::generators::AutoscheduleParams autoschedule;  // shape "MxNxK"

    Input<Buffer<uint8_t>> a{"a", 2};                 // a(k, m), u8
    Input<Buffer<int8_t>> packed{"packed", 4};        // packed(kk, ni, ko, no)
    Input<Buffer<int32_t>> row_sums{"row_sums", 1};   // row_sums(n)
    Input<Buffer<int32_t>> bias{"bias", 1};           // bias(n)
    Input<int32_t> a_zero_point{"a_zero_point"};
    // Output stage parameters (unused inputs are ignored by the other kinds).
    Input<Buffer<float>> channel_scale{"channel_scale", 1};  // multiplier(n) or out_scale(n)
    Input<int32_t> out_zero_point{"out_zero_point"};
    Input<int32_t> out_min{"out_min"};
    Input<int32_t> out_max{"out_max"};
    Output<Func> c{"c", 2};                            // c(n, m)

    void configure() {
        c.set_type(nx::accumulator_output_type(kind, requant_type));
    }

    void generate() {
        // The packed layout is dense: a k group of one column is `group` bytes,
        // and columns are adjacent, so a vector of columns' groups is one load.
        const int group = layout::k_group(get_target()), panel = layout::panel_width(get_target());
        packed.dim(0).set_bounds(0, group).dim(1).set_bounds(0, panel).set_stride(group).dim(2).set_stride(group * panel);
        // Rows are read as they are (not clamped): the tiled kernels run whole
        // row tiles only (the last one shifted inwards to overlap the one
        // before), which keeps the inner loop's row addresses plain
        // base + offset (clamped, LLVM spent vector ops on them: 0.66 -> 0.72
        // of peak on one tile).
        // With signed activations (schedules/layout.h: AArch64, whose sdot
        // and smull need s8 x s8), a enters the products as a - 128 (a ^ 0x80 read
        // as s8) and the zero point as z - 128: the same sum modulo 2^32.
        const bool shift = layout::signed_activations(get_target());
        const Expr zero_point = shift ? a_zero_point - 128 : Expr(a_zero_point);
        bias_folded(n) = bias(n) - zero_point * row_sums(n);

        // acc over (column within panel, panel, row).
        r = RDom(0, group, 0, packed.dim(2).extent(), "r");  // r.x: k within a group, r.y: group
        // The operands as the multiply reads them (int16 copies for pmaddwd,
        // which the schedule widens outside the inner loop).
        a_operand = qforge::generators::multiply_operand(a, get_target(), "a_operand");
        w_operand = qforge::generators::multiply_operand(packed, get_target(), "w_operand");
        Expr a_k = a_operand(group * r.y + r.x, m);
        if (shift) a_k = cast<int8_t>(a_k ^ cast<uint8_t>(0x80));
        Expr sum;
        if (layout::gemm_accumulates_by_column(get_target())) {
            acc(n, m) = bias_folded(n);
            acc(n, m) += cast<int32_t>(a_k) * cast<int32_t>(packed(r.x, n % panel, r.y, n / panel));
            sum = acc(n, m);
        } else {
            acc(ni, no, m) = bias_folded(panel * no + ni);
            acc(ni, no, m) += cast<int32_t>(a_k) * cast<int32_t>(w_operand(r.x, ni, r.y, no));
            sum = acc(n % panel, n / panel, m);
        }

        c(n, m) = nx::accumulator_output(kind, requant_type, sum, channel_scale(n), out_zero_point, out_min, out_max);
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        if (this->get_auto_schedule()) {
            set_autoschedule_estimates();
            return;
        }
        qs::schedule_gemm_int8(c, acc, {bias_folded}, {a_operand, w_operand}, n, m, ni, no, r, get_target(), tiling);
    }

private:
    // The buffers the runtime passes for an M x N x K GEMM (runtime/src/gemm.cpp).
    void set_autoschedule_estimates() {
        namespace ng = qforge::generators;
        const auto s = ng::parse_shape_spec(autoschedule.autoschedule_shape, "MxNxK", 3, 0);
        const int rows = s.dims[0], cols = s.dims[1], kp = ng::round_up(s.dims[2], 4), np = ng::round_up(cols, 64);
        const int group = layout::k_group(get_target()), panel = layout::panel_width(get_target());
        a.set_estimates({{0, kp}, {0, rows}});
        packed.set_estimates({{0, group}, {0, panel}, {0, kp / group}, {0, np / panel}});
        row_sums.set_estimates({{0, np}});
        bias.set_estimates({{0, np}});
        channel_scale.set_estimates({{0, np}});
        a_zero_point.set_estimate(7);
        out_zero_point.set_estimate(5);
        out_min.set_estimate(0);
        out_max.set_estimate(255);
        c.set_estimates({{0, cols}, {0, rows}});
    }

    Var n{"n"}, m{"m"}, ni{"ni"}, no{"no"};
    RDom r;
    Func bias_folded{"bias_folded"}, acc{"acc"}, a_operand, w_operand;
};

// The packed layout and row tile of the dispatched variant, from the same
// functions the kernels are built with, so the runtime never restates them:
// layout() = {k group G, panel width P, rows per tile R}.
class GemmLayoutProbe : public Generator<GemmLayoutProbe> {
public:
    qs::GemmParams tiling;
    Output<Buffer<int32_t>> layout{"layout", 1};

    void generate() {
        const Target t = get_target();
        layout(i) = select(i == 0, layout::k_group(t), i == 1, layout::panel_width(t), layout::tile_rows(t, tiling));
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        layout.bound(i, 0, 3);
    }

private:
    Var i{"i"};
};

using GemmInt8S32 = GemmInt8<GemmOutput::s32>;
using GemmInt8Requant = GemmInt8<GemmOutput::requant>;
using GemmInt8F32 = GemmInt8<GemmOutput::f32>;

}  // namespace

HALIDE_REGISTER_GENERATOR(PackGemmWeights, pack_gemm_weights)
HALIDE_REGISTER_GENERATOR(GemmLayoutProbe, gemm_layout_probe)
HALIDE_REGISTER_GENERATOR(GemmInt8S32, gemm_int8_s32)
HALIDE_REGISTER_GENERATOR(GemmInt8Requant, gemm_int8_requant)
HALIDE_REGISTER_GENERATOR(GemmInt8F32, gemm_int8_f32)
