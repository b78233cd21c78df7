// qforge-demo: fake-quantizes and LSQ-quantizes a tensor at 8, 4 and 2 bits
// and prints the error statistics, and which CPU variant dispatch chose.
// (The main job until the QAT training driver lands.)
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <random>

#include "qforge/qforge.h"

namespace {

struct ErrorStats {
    double mse = 0, max_abs = 0, sqnr_db = 0;
    double clipped_fraction = 0;
};

ErrorStats compare(const qforge::Tensor &x, const qforge::Tensor &y, const qforge::Tensor *mask) {
    const float *a = x.data_as<float>(), *b = y.data_as<float>();
    double err = 0, sig = 0, max_abs = 0;
    int64_t n = x.numel(), clipped = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = double(a[i]) - b[i];
        err += d * d;
        sig += double(a[i]) * a[i];
        max_abs = std::max(max_abs, std::fabs(d));
        if (mask && mask->data_as<uint8_t>()[i] == 0) clipped++;
    }
    ErrorStats s;
    s.mse = err / n;
    s.max_abs = max_abs;
    s.sqnr_db = 10.0 * std::log10(sig / std::max(err, 1e-30));
    s.clipped_fraction = double(clipped) / n;
    return s;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"qforge-demo: fake quantization and LSQ at 8, 4 and 2 bits on a Gaussian tensor"};
    int64_t n = 1 << 20;
    unsigned seed = 1;
    int threads = 2;
    int lsq_steps = 200;
    app.add_option("-n,--elements", n, "tensor size")->check(CLI::Range(int64_t(1), int64_t(1) << 30));
    app.add_option("--seed", seed, "random seed");
    app.add_option("--threads", threads, "kernel threads")->check(CLI::PositiveNumber);
    app.add_option("--lsq-steps", lsq_steps, "gradient steps LSQ takes on its scale")->check(CLI::NonNegativeNumber);
    CLI11_PARSE(app, argc, argv);

    try {
        qforge::set_num_threads(threads);
        std::printf("qforge-demo: %lld float32 elements ~ N(0, 1), seed %u, %d threads\n", (long long)n, seed,
                    threads);
        std::printf("CPU variant chosen by dispatch: %s\n\n", qforge::cpu_variant_name(qforge::cpu_variant()));

        qforge::Tensor x(qforge::DType::f32, {n}), y(qforge::DType::f32, {n}), mask(qforge::DType::u8, {n});
        qforge::Tensor dy(qforge::DType::f32, {n}), dx(qforge::DType::f32, {n});
        std::mt19937 rng(seed);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (int64_t i = 0; i < n; i++) x.data_as<float>()[i] = normal(rng);

        std::printf("%-28s %5s %10s %12s %10s %10s %9s\n", "method", "bits", "scale", "mse", "max|err|",
                    "SQNR dB", "clipped");
        for (int bits : {8, 4, 2}) {
            auto range = qforge::QuantRange::from_bits(bits, /*is_signed=*/true);
            // Min/max observer, symmetric: the classic PTQ choice.
            qforge::Observer obs(qforge::ObserverOptions::min_max(range, qforge::QScheme::symmetric));
            obs.observe(x);
            auto p = obs.qparams();
            qforge::fake_quant(x, p, y, mask);
            auto s = compare(x, y, &mask);
            std::printf("%-28s %5d %10.5f %12.4e %10.4f %10.2f %8.3f%%\n", "fake_quant minmax-symmetric", bits,
                        p.scale, s.mse, s.max_abs, s.sqnr_db, 100 * s.clipped_fraction);

            // LSQ: learn the scale by gradient descent on the quantization error
            // L = mean((y - x)^2), dL/dy = 2 (y - x) / n, with the LSQ scale
            // gradient from lsq_backward (g = 1: the exact dL/ds). Steps on
            // log(s), normalised by L, so one learning rate suits every bit width.
            qforge::LearnableQuantParams lp{p.scale, 0.0f, range};
            for (int step = 0; step < lsq_steps; step++) {
                qforge::lsq_forward(x, lp, y);
                const float *xv = x.data_as<float>(), *yv = y.data_as<float>();
                float *g = dy.data_as<float>();
                double loss = 0;
                for (int64_t i = 0; i < n; i++) {
                    g[i] = 2.0f * (yv[i] - xv[i]) / float(n);
                    loss += double(yv[i] - xv[i]) * (yv[i] - xv[i]) / n;
                }
                auto grads = qforge::lsq_backward(x, dy, lp, dx, /*grad_scale=*/1.0f);
                const double relative_grad = lp.scale * grads.dscale / std::max(loss, 1e-30);
                lp.scale = std::max(float(lp.scale * std::exp(-0.05 * relative_grad)), 1.1920929e-07f);
            }
            qforge::lsq_forward(x, lp, y);
            qforge::QuantParams lq{lp.scale, 0, range};
            qforge::fake_quant(x, lq, y, mask);
            s = compare(x, y, &mask);
            std::printf("%-28s %5d %10.5f %12.4e %10.4f %10.2f %8.3f%%\n", "lsq (learned scale)", bits, lp.scale,
                        s.mse, s.max_abs, s.sqnr_db, 100 * s.clipped_fraction);
        }
        return 0;
    } catch (const qforge::Error &e) {
        std::fprintf(stderr, "qforge-demo: %s\n", e.what());
        return 1;
    }
}
