// Small generators the runtime and benchmarks need besides the operators.
//   cpu_variant_probe  returns which variant the multi-target dispatcher
//                      picked (compiled for the same target list as the
//                      operators, so it answers with the dispatcher's own choice)
//   stream_copy        y = x over float32: the streaming-copy bandwidth that
//                      the benchmarks compare memory-bound kernels against
#include "Halide.h"
#include "schedules/schedules.h"

namespace {

using namespace Halide;
namespace qs = qforge::schedules;  // schedules/schedules.h: per-family dispatch

class CpuVariantProbe : public Generator<CpuVariantProbe> {
public:
    Output<Buffer<int32_t>> variant{"variant", 0};

    void generate() {
        const Target t = get_target();
        int id = 0;  // keep in sync with qforge::CpuVariant
        if (t.has_feature(Target::ARMDotProd)) {
            id = 4;
        } else if (t.has_feature(Target::AVX512_SapphireRapids)) {
            id = 3;
        } else if (t.has_feature(Target::AVX2)) {
            id = 2;
        } else if (t.has_feature(Target::SSE41)) {
            id = 1;
        }
        variant() = id;
    }
};

class StreamCopy : public Generator<StreamCopy> {
public:
    qs::StreamingParams stream;

    Input<Buffer<float>> x{"x", 1};
    Output<Buffer<float>> y{"y", 1};

    void generate() { y(i) = x(i); }

    void schedule() {
        qs::finish_pipeline(this->get_pipeline(), get_target());
        qs::schedule_stream_1d(y, i, get_target(), stream);
    }

private:
    Var i{"i"};
};

}  // namespace

HALIDE_REGISTER_GENERATOR(CpuVariantProbe, cpu_variant_probe)
HALIDE_REGISTER_GENERATOR(StreamCopy, stream_copy)
