// Links against a fake_quant_per_tensor library emitted by qforge-gen for the
// host (the Halide runtime is inside that library) and checks a few values.
#include "fake_quant_per_tensor.h"
#include "HalideBuffer.h"

#include <cmath>
#include <cstdio>

int main() {
    const int n = 1000;
    Halide::Runtime::Buffer<float> x(n), y(n);
    for (int i = 0; i < n; i++) x(i) = (i - n / 2) * 0.01f;  // -5 .. 4.99
    // scale 0.1, zero point 0, int8 range: y = clamp(round(x / 0.1), -128, 127) * 0.1
    int rc = fake_quant_per_tensor(x, 0.1f, 0, -128, 127, y);
    if (rc != 0) {
        std::printf("fake_quant_per_tensor returned %d\n", rc);
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        float q = std::nearbyint(x(i) * (1.0f / 0.1f));
        q = std::fmin(std::fmax(q, -128.0f), 127.0f);
        float want = q * 0.1f;
        if (std::fabs(y(i) - want) > 1e-5f) {
            if (bad++ < 5) std::printf("x=%g: got %g, want %g\n", x(i), y(i), want);
        }
    }
    std::printf("%s: %d of %d values differ\n", bad ? "FAIL" : "ok", bad, n);
    return bad ? 1 : 0;
}
