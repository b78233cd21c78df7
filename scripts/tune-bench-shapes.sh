#!/usr/bin/env bash
# The tuning campaign whose result is committed in schedules/tuned/: the
# benchmark shapes of every tuned operator (bench/bench_gemm.cpp,
# bench_conv.cpp, bench_quant.cpp), plus shapes the default schedules were not
# designed for (small M, K not a multiple of 16, a strided depthwise conv).
#
#   scripts/tune-bench-shapes.sh [--target T] [--budget SECONDS] [--out DIR] [--tune BINARY]
#
# Defaults: this machine's best variant (host), 300 s per shape class,
# schedules/tuned, build/tools/qforge-tune. Rerunning continues where an
# interrupted run stopped (--resume); finished classes are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
target=host budget=300 out=schedules/tuned tune=build/tools/qforge-tune
while [[ $# -gt 0 ]]; do
  case $1 in
    --target) target=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tune) tune=$2; shift 2 ;;
    *) echo "usage: $0 [--target T] [--budget SECONDS] [--out DIR] [--tune BINARY]" >&2; exit 2 ;;
  esac
done
[[ -x $tune ]] || { echo "$tune is missing: run 'make build' first" >&2; exit 1; }

# Timed at 2 threads (the machine's cores), as the committed database was;
# qforge-tune's own default times every candidate at 1 and 2 threads, which
# costs twice the time per candidate.
threads=${QFORGE_TUNE_THREADS:-2}
run() {  # run <op> <shapes>
  "$tune" --op "$1" --shapes "$2" --target "$target" --budget "$budget" --out "$out" --threads "$threads" \
    --resume --no-progress
}
# GEMM: one row (gemv), small M (small_m, odd K included), the bench's squares and layers (default).
run gemm_int8 "1x1024x1024,16x1024x1024,8x2048x512,48x512x300,1024x1024x1024,256x256x256,512x512x512,2048x2048x2048,64x1024x1024,128x4096x1024,3136x64x576,256x256x1000"
# Direct conv: the bench's 3x3 convs (8x14x14x256 is "narrow": 14 pixels per row).
run conv_int8 "1x56x56x64:64x3x3:p1,1x28x28x128:128x3x3:p1,8x14x14x256:256x3x3:p1"
# The QAT network's convs (bench_conv "qat" rows): C_in = 1, and C_out = 32 (a 2-vector panel).
run rows_conv_int8 "128x28x28x1:16x5x5:p2,128x14x14x16:32x5x5:p2"
run depthwise_conv_int8 "1x112x112x32:3x3:p1,1x56x56x64:3x3:s2:p1"
run fake_quant "1048576,16777216"
run lsq_backward "1048576,16777216"
# The tuner timed JIT copies; what counts is the build's own libraries.
echo "next: make build, then 'build/tools/qforge-tune verify $out/<target>.json --threads 1,2 --rounds 25'" \
  "and drop the entries it marks SLOWER (docs/qforge-tune.md)"
