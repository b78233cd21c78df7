#!/usr/bin/env bash
# qforge-train --resume after kill -9: a run killed mid-FP32 and again mid-QAT,
# resumed each time, must end with the same models, byte for byte, as an
# uninterrupted run with the same seed and thread count.
# Usage: check_train_resume.sh <qforge-train>
set -euo pipefail
exe=$1
data=${QFORGE_TEST_DATA:-/usr/share/datasets/fashion-mnist}
if [[ ! -e $data/train-images-idx3-ubyte.gz && ! -e $data/train-images-idx3-ubyte ]]; then
  echo "SKIP: no Fashion-MNIST at $data (the set-up installs dataset-fashion-mnist)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 640 images in batches of 64: 10 steps per epoch.
common=(--data "$data" --train-limit 640 --test-limit 200 --epochs 2 --qat-epochs 2 --configs w4a4
        --calib-images 128 --batch 64 --threads 2 --eval-batch 100 --no-ptq)

"$exe" "${common[@]}" --report "$work/a" > "$work/a.log"

set +e
QFORGE_TRAIN_KILL_AT=fp32:13 "$exe" "${common[@]}" --report "$work/b" > "$work/b1.log"
rc1=$?
QFORGE_TRAIN_KILL_AT=qat-w4a4:13 "$exe" "${common[@]}" --report "$work/b" --resume > "$work/b2.log"
rc2=$?
set -e
[[ $rc1 -eq 137 && $rc2 -eq 137 ]] || { echo "FAIL: the runs were not killed (exit $rc1, $rc2)"; exit 1; }
grep -q "fp32: resumed after epoch 1" "$work/b2.log" || { echo "FAIL: FP32 did not resume"; cat "$work/b2.log"; exit 1; }
"$exe" "${common[@]}" --report "$work/b" --resume > "$work/b3.log"
grep -q "qat-w4a4: resumed after epoch 1" "$work/b3.log" || { echo "FAIL: QAT did not resume"; cat "$work/b3.log"; exit 1; }
# No temporary files left behind by the killed runs' atomic saves.
if find "$work/b" -name '*.tmp.*' | grep -q .; then echo "FAIL: temporary files left"; exit 1; fi

for m in fp32.qfm qat-w4a4.qfm; do
  if ! cmp "$work/a/models/$m" "$work/b/models/$m"; then
    echo "FAIL: models/$m differs between the uninterrupted and the resumed run"
    exit 1
  fi
done
echo "PASS: killed twice (exit 137), resumed, identical fp32 and qat-w4a4 models"
