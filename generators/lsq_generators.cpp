// LSQ / LSQ+ backward (learned step size, learned offset): dx, dscale and
// dzero_point in one fused pass over x and dy. The LSQ forward is the
// fake-quant forward (fake_quant_generators.cpp) with the zero point rounded
// as docs/numerics.md says; the runtime does that rounding.
#include "Halide.h"
#include "common/autoschedule.h"
#include "common/numerics.h"
#include "schedules/schedules.h"

namespace {

using namespace Halide;
namespace nx = qforge::numerics;
namespace qs = qforge::schedules;  // schedules/schedules.h: per-family dispatch

class LsqBackwardPerTensor : public Generator<LsqBackwardPerTensor> {
public:
    qs::StreamingParams stream;
    qforge::generators::AutoscheduleParams autoschedule;  // shape "N" (elements)

    Input<Buffer<float>> x{"x", 1};
    Input<Buffer<float>> dy{"dy", 1};
    Input<float> scale{"scale"};
    Input<int32_t> zero_point{"zero_point"};  // already rounded the backward's way
    Input<int32_t> qmin{"qmin"};
    Input<int32_t> qmax{"qmax"};
    Input<float> grad_scale{"grad_scale"};    // g
    Output<Buffer<float>> dx{"dx", 1};
    Output<Buffer<float>> dscale{"dscale", 0};
    Output<Buffer<float>> dzero_point{"dzero_point", 0};

    void generate() {
        Expr zf = cast<float>(zero_point), lo = cast<float>(qmin), hi = cast<float>(qmax);
        // 1/s as a Func: one value every use loads, so the duplicate uses in
        // the two sums stay identical and are computed once.
        inv_scale() = nx::inverse_scale(scale);
        auto terms_at = [&](Expr e) { return nx::learnable_backward(x(e), dy(e), scale, inv_scale(), zf, lo, hi); };
        dx(i) = terms_at(i).dx;

        auto t = terms_at(i);
        terms(i) = Tuple(t.ds_term, t.dz_term);
        r = RDom(0, x.dim(0).extent(), "r");
        total() = Tuple(0.0f, 0.0f);
        total() = Tuple(total()[0] + terms(r.x)[0], total()[1] + terms(r.x)[1]);
        dscale() = grad_scale * total()[0];
        dzero_point() = -(grad_scale * scale) * total()[1];
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        if (get_auto_schedule()) {
            const int elements = qforge::generators::parse_shape_spec(autoschedule.autoschedule_shape, "N", 1, 0).dims[0];
            x.set_estimates({{0, elements}});
            dy.set_estimates({{0, elements}});
            scale.set_estimate(0.05f);
            zero_point.set_estimate(2);
            qmin.set_estimate(-128);
            qmax.set_estimate(127);
            grad_scale.set_estimate(1e-4f);
            dx.set_estimates({{0, elements}});
            dscale.set_estimates({});
            dzero_point.set_estimates({});
            return;
        }
        qs::schedule_lsq_backward_per_tensor(dx, i, total, r, {inv_scale, dscale, dzero_point},
                                               get_target(), stream);
    }

private:
    Var i{"i"};
    RDom r;
    Func inv_scale{"inv_scale"}, terms{"terms"}, total{"total"};
};

class LsqBackwardPerChannel : public Generator<LsqBackwardPerChannel> {
public:
    Input<Buffer<float>> x{"x", 3};           // (inner, channel, outer), as fake_quant_per_channel
    Input<Buffer<float>> dy{"dy", 3};
    Input<Buffer<float>> scale{"scale", 1};
    Input<Buffer<int32_t>> zero_point{"zero_point", 1};
    Input<int32_t> qmin{"qmin"};
    Input<int32_t> qmax{"qmax"};
    Input<float> grad_scale{"grad_scale"};    // g (the same n for every channel)
    Output<Buffer<float>> dx{"dx", 3};
    Output<Buffer<float>> dscale{"dscale", 1};
    Output<Buffer<float>> dzero_point{"dzero_point", 1};

    void generate() {
        Expr lo = cast<float>(qmin), hi = cast<float>(qmax);
        inv_scale(c) = nx::inverse_scale(scale(c));
        auto terms_at = [&](Expr ei, Expr ec, Expr eo) {
            return nx::learnable_backward(x(ei, ec, eo), dy(ei, ec, eo), scale(ec), inv_scale(ec),
                                          cast<float>(zero_point(ec)), lo, hi);
        };
        dx(i, c, o) = terms_at(i, c, o).dx;

        auto t = terms_at(i, c, o);
        terms(i, c, o) = Tuple(t.ds_term, t.dz_term);
        r = RDom(0, x.dim(0).extent(), 0, x.dim(2).extent(), "r");
        total(c) = Tuple(0.0f, 0.0f);
        total(c) = Tuple(total(c)[0] + terms(r.x, c, r.y)[0], total(c)[1] + terms(r.x, c, r.y)[1]);
        dscale(c) = grad_scale * total(c)[0];
        dzero_point(c) = -(grad_scale * scale(c)) * total(c)[1];
    }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_lsq_backward_per_channel(dx, i, c, o, total, r, {inv_scale, dscale, dzero_point},
                                                get_target());
    }

private:
    Var i{"i"}, c{"c"}, o{"o"};
    RDom r;
    Func inv_scale{"inv_scale"}, terms{"terms"}, total{"total"};
};

}  // namespace

HALIDE_REGISTER_GENERATOR(LsqBackwardPerTensor, lsq_backward_per_tensor)
HALIDE_REGISTER_GENERATOR(LsqBackwardPerChannel, lsq_backward_per_channel)
