// Fake quantization (forward, with optional STE mask) and its straight-through
// backward. Algorithms only: every scheduling decision is in schedules/.
//
// Generators:
//   fake_quant_per_tensor   y = fake_quant(x)           x: 1-D view of any tensor
//   fake_quant_per_channel  y = fake_quant(x; s[c], z[c]) x: (inner, channel, outer)
//   ste_backward            dx = dy * mask
// The *_mask variants add the STE mask (u8, 1 = inside the range) as a second output.
#include "Halide.h"
#include "common/numerics.h"
#include "common/autoschedule.h"
#include "common/template_generator.h"
#include "schedules/schedules.h"

namespace {

using namespace Halide;
namespace nx = qforge::numerics;
namespace qs = qforge::schedules;  // schedules/schedules.h: per-family dispatch

// The mask is a second Tuple element, so "with mask" is a separate generator
// (Halide 14 cannot set a Tuple output type from a GeneratorParam).
inline std::vector<Type> output_types(bool with_mask) {
    return with_mask ? std::vector<Type>{Float(32), UInt(8)} : std::vector<Type>{Float(32)};
}

template<bool with_mask>
class FakeQuantPerTensor : public Generator<FakeQuantPerTensor<with_mask>> {
public:
    QF_TEMPLATE_GENERATOR(FakeQuantPerTensor);
    qs::StreamingParams stream;
    qforge::generators::AutoscheduleParams autoschedule;  // shape "N" (elements)

    Input<Buffer<float>> x{"x", 1};
    Input<float> scale{"scale"};
    Input<int32_t> zero_point{"zero_point"};
    Input<int32_t> qmin{"qmin"};
    Input<int32_t> qmax{"qmax"};
    // y alone, or the tuple (y, mask) written in one loop.
    Output<Func> out{"out", output_types(with_mask), 1};

    void generate() {
        Expr zf = cast<float>(zero_point), lo = cast<float>(qmin), hi = cast<float>(qmax);
        Expr inv = nx::inverse_scale(scale);
        Expr y = nx::fake_quantize(x(i), scale, inv, zf, lo, hi);
        if (with_mask) {
            Expr mask = nx::in_range(nx::quantize_unclamped(x(i), inv, zf), lo, hi);
            out(i) = Tuple(y, cast<uint8_t>(mask));
        } else {
            out(i) = y;
        }
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        if (this->get_auto_schedule()) {
            const int elements = qforge::generators::parse_shape_spec(autoschedule.autoschedule_shape, "N", 1, 0).dims[0];
            x.set_estimates({{0, elements}});
            scale.set_estimate(0.05f);
            zero_point.set_estimate(128);
            qmin.set_estimate(0);
            qmax.set_estimate(255);
            out.set_estimates({{0, elements}});
            return;
        }
        qs::schedule_stream_1d(out, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

template<bool with_mask>
class FakeQuantPerChannel : public Generator<FakeQuantPerChannel<with_mask>> {
public:
    QF_TEMPLATE_GENERATOR(FakeQuantPerChannel);
    qs::StreamingParams stream;

    // x(i, c, o): the tensor viewed as [outer, channels, inner] (row-major),
    // so any channel axis of a contiguous tensor maps onto c.
    Input<Buffer<float>> x{"x", 3};
    Input<Buffer<float>> scale{"scale", 1};
    Input<Buffer<int32_t>> zero_point{"zero_point", 1};
    Input<int32_t> qmin{"qmin"};
    Input<int32_t> qmax{"qmax"};
    Output<Func> out{"out", output_types(with_mask), 3};

    void generate() {
        Expr lo = cast<float>(qmin), hi = cast<float>(qmax);
        inv_scale(c) = nx::inverse_scale(scale(c));
        Expr zf = cast<float>(zero_point(c));
        Expr y = nx::fake_quantize(x(i, c, o), scale(c), inv_scale(c), zf, lo, hi);
        if (with_mask) {
            Expr mask = nx::in_range(nx::quantize_unclamped(x(i, c, o), inv_scale(c), zf), lo, hi);
            out(i, c, o) = Tuple(y, cast<uint8_t>(mask));
        } else {
            out(i, c, o) = y;
        }
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_per_channel_3d(out, i, c, o, x.dim(0).extent(), {inv_scale}, get_target(), stream);
    }

private:
    Var i{"i"}, c{"c"}, o{"o"};
    Func inv_scale{"inv_scale"};
};

class SteBackward : public Generator<SteBackward> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> dy{"dy", 1};
    Input<Buffer<uint8_t>> mask{"mask", 1};
    Output<Buffer<float>> dx{"dx", 1};

    void generate() { dx(i) = nx::straight_through(dy(i), mask(i)); }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_stream_1d(dx, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

}  // namespace

using FakeQuantPerTensorNoMask = FakeQuantPerTensor<false>;
using FakeQuantPerTensorMask = FakeQuantPerTensor<true>;
using FakeQuantPerChannelNoMask = FakeQuantPerChannel<false>;
using FakeQuantPerChannelMask = FakeQuantPerChannel<true>;
HALIDE_REGISTER_GENERATOR(FakeQuantPerTensorNoMask, fake_quant_per_tensor)
HALIDE_REGISTER_GENERATOR(FakeQuantPerTensorMask, fake_quant_per_tensor_mask)
HALIDE_REGISTER_GENERATOR(FakeQuantPerChannelNoMask, fake_quant_per_channel)
HALIDE_REGISTER_GENERATOR(FakeQuantPerChannelMask, fake_quant_per_channel_mask)
HALIDE_REGISTER_GENERATOR(SteBackward, ste_backward)
