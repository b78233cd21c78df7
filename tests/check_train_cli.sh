#!/usr/bin/env bash
# qforge-train's command line: --help documents the flags; bad input fails
# with a message naming the problem (exit 1 or CLI11's usage error), never a crash.
# Usage: check_train_cli.sh <qforge-train>
set -uo pipefail
exe=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

"$exe" --help > "$work/help" || { echo "FAIL: --help exited non-zero"; fail=1; }
for flag in --data --model --init --epochs --qat-epochs --bits --bits-file --quantizer --freeze-epochs \
            --qat-warmup-epochs --input-bits --qat-from --calib-images --configs --resume --report --threads --device --seed; do
  grep -q -- "$flag" "$work/help" || { echo "FAIL: --help does not document $flag"; fail=1; }
done

# expect <fragment of the error> <args...>
expect() {
  local fragment=$1; shift
  "$exe" "$@" > "$work/out" 2>&1
  local rc=$?
  if [[ $rc -eq 0 || $rc -ge 128 ]]; then
    echo "FAIL: '$*' exited $rc (want a clean error)"; cat "$work/out"; fail=1
  elif ! grep -q -- "$fragment" "$work/out"; then
    echo "FAIL: '$*' did not say '$fragment':"; cat "$work/out"; fail=1
  fi
}

mkdir -p "$work/empty"
expect "train-images-idx3-ubyte" --data "$work/empty" --report "$work/r"
printf 'garbage' > "$work/bad.idx"
mkdir -p "$work/corrupt"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  printf '\x00\x00\x08\x03\x00\x00\x00\x05' > "$work/corrupt/$f"
done
expect "truncated" --data "$work/corrupt" --report "$work/r"
printf 'input 28 28 1\nconv c out=4 kernel=3\nbn\nbn\n' > "$work/bad.model"
expect "line 4" --model "$work/bad.model" --report "$work/r"
printf 'not a model file' > "$work/bad.qfm"
expect "bad.qfm" --init "$work/bad.qfm" --report "$work/r"
expect "no layer 'conv9'" --bits conv9=8 --configs mixed --report "$work/r" --train-limit 64 --test-limit 64
expect "epochs" --epochs 0
expect "optimizer" --optimizer rmsprop
expect "device" --device tpu
# --device cuda where no CUDA device can be used must say so (not crash, not
# silently train on the CPU); a machine with one runs it (tests/test_cuda_kernels).
if ! command -v nvidia-smi > /dev/null || ! nvidia-smi > /dev/null 2>&1; then
  expect "no CUDA device" --device cuda --epochs 1 --train-limit 64 --test-limit 64 --report "$work/r3"
fi
expect "configs" --configs w9a9 --epochs 1 --train-limit 64 --test-limit 64 --report "$work/r2" --no-ptq

[[ $fail -eq 0 ]] && echo "PASS: help and error messages"
exit $fail
