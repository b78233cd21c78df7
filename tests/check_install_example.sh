#!/usr/bin/env bash
# Linking qforge into an app: `cmake --install` the build into a temporary
# prefix, build examples/classify against it as a separate CMake project
# (find_package(qforge)) and by hand with pkg-config, check its errors on bad
# input, then train a tiny model with the installed qforge-train and check that
# qforge-classify's accuracy on the same test images equals the integer-model
# accuracy qforge-train reported (results.json: phases[].int_accuracy).
# Usage: check_install_example.sh <build dir> <source dir> <C++ compiler>
set -euo pipefail
build=$1
src=$2
cxx=$3
data=${QFORGE_TEST_DATA:-/usr/share/datasets/fashion-mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "FAIL: $*"; exit 1; }

# 1. Install, and the layout apps rely on.
cmake --install "$build" --prefix "$prefix" > "$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
libdir=$(cd "$prefix" && dirname "$(find . -name libqforge.a | head -1)")
[[ -n $libdir && $libdir != . ]] || fail "no libqforge.a installed"
for f in include/qforge/qforge.h include/qforge/int_model.h include/qforge/model_spec.h include/qforge/idx.h \
         "$libdir/libqf_cpu_variant_probe.a" "$libdir/libqf_cpu_variant_probe.runtime.a" "$libdir/libqf_gemm_u8.a" \
         "$libdir/cmake/qforge/qforgeConfig.cmake" "$libdir/cmake/qforge/qforgeConfigVersion.cmake" \
         "$libdir/cmake/qforge/qforgeTargets.cmake" "$libdir/pkgconfig/qforge.pc" bin/qforge-train; do
  [[ -f $prefix/$f ]] || fail "not installed: $f"
done
# Every kernel library the package names is installed.
while read -r lib; do
  [[ -f $prefix/$libdir/lib$lib.a ]] || fail "qforge.pc names -l$lib, not installed"
done < <(grep '^Libs:' "$prefix/$libdir/pkgconfig/qforge.pc" | tr ' ' '\n' | sed -n 's/^-l\(q.*\)/\1/p')

# 2. The example as a separate CMake project against the prefix.
gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
cmake -S "$src/examples/classify" -B "$work/classify" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "configuring examples/classify against the prefix"; }
cmake --build "$work/classify" > "$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building examples/classify"; }
classify=$work/classify/qforge-classify

# 3. The same app built by hand with pkg-config.
if command -v pkg-config > /dev/null; then
  flags=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --cflags --libs qforge) || fail "pkg-config qforge"
  # shellcheck disable=SC2086
  "$cxx" -std=c++17 -O1 -ffp-contract=off "$src/examples/classify/classify.cpp" -o "$work/classify-pc" $flags ||
    fail "building classify.cpp with pkg-config --cflags --libs qforge"
fi

# 4. Bad input: clear errors, no crash.
expect_error() {  # expect_error <exit code> <text> <args...>
  local code=$1 text=$2
  shift 2
  set +e
  "$classify" "$@" > "$work/out" 2> "$work/err"
  local rc=$?
  set -e
  [[ $rc -eq $code ]] || { cat "$work/out" "$work/err"; fail "qforge-classify $* exited $rc, expected $code"; }
  grep -qF -- "$text" "$work/err" || { cat "$work/err"; fail "qforge-classify $*: no '$text' in the error"; }
}
expect_error 2 "expected MODEL.qfm IDX_IMAGES"
expect_error 2 "unknown option --bogus" --bogus m.qfm images
expect_error 2 "--limit 0" --limit 0 m.qfm images
expect_error 1 "$work/missing.qfm" "$work/missing.qfm" "$work/images"
head -c 100 /dev/urandom > "$work/garbage.qfm"
expect_error 1 "$work/garbage.qfm" "$work/garbage.qfm" "$work/images"

if [[ ! -e $data/t10k-images-idx3-ubyte.gz && ! -e $data/t10k-images-idx3-ubyte ]]; then
  echo "SKIP (after the install and build checks): no Fashion-MNIST at $data (the set-up installs dataset-fashion-mnist)"
  exit 77
fi
images=$data/t10k-images-idx3-ubyte
labels=$data/t10k-labels-idx1-ubyte
[[ -e $images ]] || images=$images.gz
[[ -e $labels ]] || labels=$labels.gz

# 5. A tiny model from the installed qforge-train, classified by the app.
"$prefix/bin/qforge-train" --data "$data" --train-limit 512 --test-limit 200 --epochs 1 --qat-epochs 1 \
  --configs w8a8 --no-ptq --calib-images 128 --threads 2 --report "$work/r" > "$work/train.log" 2>&1 ||
  { cat "$work/train.log"; fail "qforge-train"; }
model=$work/r/models/qat-w8a8.qfm
expected=$(python3 -c '
import json, sys
phases = {p["key"]: p for p in json.load(open(sys.argv[1]))["phases"]}
p = phases["qat-w8a8"]
print("%d/%d" % (round(p["int_accuracy"] * p["test_images"]), p["test_images"]))' "$work/r/results.json")

expect_error 1 "not an int8-model" "$work/r/models/fp32.qfm" "$images"
expect_error 1 "labels need 1" "$model" "$images" "$images"
expect_error 1 "images need 3" "$model" "$labels"

for exe in "$classify" "$work/classify-pc"; do
  [[ -x $exe ]] || continue
  "$exe" --limit 200 "$model" "$images" "$labels" > "$work/classify.log" 2>&1 ||
    { cat "$work/classify.log"; fail "$exe"; }
  got=$(sed -n 's/^accuracy: .* (\([0-9]*\/[0-9]*\) correct)$/\1/p' "$work/classify.log")
  [[ $got == "$expected" ]] ||
    { cat "$work/classify.log"; fail "$(basename "$exe"): $got correct, qforge-train reported $expected for its integer model"; }
done
cat "$work/classify.log"
echo "PASS: installed into a prefix; examples/classify built with find_package(qforge) and with pkg-config;" \
     "its accuracy on the first 200 test images ($expected) equals qforge-train's integer-model accuracy"
