#!/usr/bin/env bash
# qforge-gen CLI checks: --list, generation for x86 (AVX2, AVX-512 VNNI) and a
# cross target (arm-64-linux), --param / --emit, the manifest, every error
# case, and a link test of an emitted library on the host.
#   check_qforge_gen.sh <path to qforge-gen> [C++ compiler]
set -u
GEN=${1:?usage: check_qforge_gen.sh <qforge-gen> [c++ compiler]}
CXX=${2:-${CXX:-c++}}
HERE=$(cd "$(dirname "$0")" && pwd)
HALIDE_INC=/usr/include/halide14
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILS=0
RUN=()   # a prefix for expect_error's runs (setpriv below)
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

VNNI=x86-64-linux-avx-avx2-avx512-avx512_cannonlake-avx512_sapphirerapids-avx512_skylake-f16c-fma-sse41
AVX2=x86-64-linux-avx-avx2-f16c-fma-sse41

# json_get FILE python-expression-on-m
json_get() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---- --list ----
if "$GEN" --list >"$WORK/list.txt" 2>&1 &&
   grep -q "gemm_int8_requant" "$WORK/list.txt" && grep -q "fake_quant_per_tensor" "$WORK/list.txt" &&
   grep -q "batch_norm_train" "$WORK/list.txt" && grep -q "sgemm_f32" "$WORK/list.txt" &&
   grep -q "tile_m=0 (int32)" "$WORK/list.txt" && grep -q "gemm_int8 -> gemm_int8_requant requant_type=uint8" "$WORK/list.txt"; then
  pass "--list names the operators, their parameters and the aliases"
else
  fail "--list"; head -20 "$WORK/list.txt"
fi
if "$GEN" --list --json | python3 -c "import json,sys; j=json.load(sys.stdin); assert j['operators']['gemm_int8_requant']['params']['requant_type']['default']=='uint8'"; then
  pass "--list --json"
else
  fail "--list --json"
fi

# ---- gemm_int8 for AVX2, with --param and --emit asm ----
OUT=$WORK/avx2
if "$GEN" --op gemm_int8 --target $AVX2 --out "$OUT" --param tile_m=1 --emit asm >"$WORK/log" 2>&1 &&
   [ -s "$OUT/gemm_int8.a" ] && [ -s "$OUT/gemm_int8.h" ] && [ -s "$OUT/gemm_int8.s" ] && [ -s "$OUT/gemm_int8.manifest.json" ]; then
  pass "gemm_int8 for AVX2 writes .a, .h, .s and the manifest"
else
  fail "gemm_int8 for AVX2"; cat "$WORK/log"; ls -la "$OUT"
fi
M=$OUT/gemm_int8.manifest.json
if [ "$(json_get "$M" "m['generator']")" = gemm_int8_requant ] &&
   [ "$(json_get "$M" "m['params']['tile_m']['value'], m['params']['tile_m']['source']")" = "1 user" ] &&
   [ "$(json_get "$M" "m['params']['requant_type']['value']")" = uint8 ] &&
   [ "$(json_get "$M" "m['params']['k_unroll']['source']")" = default ] &&
   [ "$(json_get "$M" "m['target']")" = $AVX2 ] &&
   [ "$(json_get "$M" "m['halide_version'].split('.')[0]")" = 14 ] &&
   [ "$(json_get "$M" "sorted(o['file'] for o in m['outputs'])")" = "['gemm_int8.a', 'gemm_int8.h', 'gemm_int8.s']" ] &&
   [ "$(json_get "$M" "all(o['bytes'] > 0 for o in m['outputs'])")" = True ]; then
  pass "manifest records generator, target, every parameter (tile_m=1 from --param) and the outputs"
else
  fail "manifest contents"; cat "$M"
fi
if grep -q vpmaddwd "$OUT/gemm_int8.s" && ! grep -q vpdpbusd "$OUT/gemm_int8.s"; then
  pass "AVX2 assembly uses vpmaddwd (no VNNI)"
else
  fail "AVX2 assembly: expected vpmaddwd and no vpdpbusd"
fi

# ---- gemm_int8 for AVX-512 VNNI ----
OUT=$WORK/vnni
if "$GEN" --op gemm_int8 --target $VNNI --out "$OUT" --emit asm >"$WORK/log" 2>&1 &&
   grep -q "vpdpbusd.*zmm" "$OUT/gemm_int8.s"; then
  pass "AVX-512 VNNI assembly uses vpdpbusd on zmm"
else
  fail "VNNI assembly"; cat "$WORK/log"
fi

# ---- fake_quant_per_tensor for plain x86-64 ----
OUT=$WORK/fq
if "$GEN" --op fake_quant_per_tensor --target x86-64-linux --out "$OUT" >"$WORK/log" 2>&1 &&
   [ -s "$OUT/fake_quant_per_tensor.a" ] && [ -s "$OUT/fake_quant_per_tensor.h" ] &&
   [ "$(json_get "$OUT/fake_quant_per_tensor.manifest.json" "m['params']['task_elements']['value']")" = 16384 ]; then
  pass "fake_quant_per_tensor for x86-64-linux (defaults recorded)"
else
  fail "fake_quant_per_tensor for x86-64-linux"; cat "$WORK/log"
fi
if ! ls -A "$OUT" | grep -q '^\.qforge-gen'; then
  pass "no temporary directory left behind"
else
  fail "temporary directory left in $OUT"
fi

# ---- link test: the emitted library (runtime included) on the host ----
OUT=$WORK/host
if "$GEN" --op fake_quant_per_tensor --target host --out "$OUT" --param vector_unroll=2 >"$WORK/log" 2>&1 &&
   "$CXX" -std=c++17 -O1 -I"$OUT" -I"$HALIDE_INC" "$HERE/qforge_gen/link_fake_quant.cpp" "$OUT/fake_quant_per_tensor.a" \
     -o "$WORK/link_fq" -lpthread -ldl >"$WORK/cxx.log" 2>&1 &&
   "$WORK/link_fq" >"$WORK/run.log" 2>&1; then
  pass "an app links the host fake_quant library alone (runtime inside) and gets the right values"
else
  fail "link test"; cat "$WORK/log" "$WORK/cxx.log" "$WORK/run.log" 2>/dev/null
fi

# ---- the tuned schedule database (<dir>/<target>.json) ----
TUNED=$WORK/tuned
mkdir -p "$TUNED"
cat >"$TUNED/$AVX2.json" <<JSON
{"format": "qforge-schedule-db", "version": 1, "target": "$AVX2",
 "entries": [
  {"operator": "gemm_int8_requant", "shape_class": "default", "params": {"tile_m": 1, "k_unroll": 2},
   "default_ms": 1.0, "tuned_ms": 0.9},
  {"operator": "gemm_int8_requant", "shape_class": "small_m", "params": {"k_unroll": 3}}]}
JSON
OUT=$WORK/tuned_out
if "$GEN" --op gemm_int8 --target $AVX2 --out "$OUT" --tuned "$TUNED" --param tile_m=2 >"$WORK/log" 2>&1 &&
   [ "$(json_get "$OUT/gemm_int8.manifest.json" "m['params']['k_unroll']['value'], m['params']['k_unroll']['source']")" = "2 tuned" ] &&
   [ "$(json_get "$OUT/gemm_int8.manifest.json" "m['params']['tile_m']['value'], m['params']['tile_m']['source']")" = "2 user" ] &&
   [ "$(json_get "$OUT/gemm_int8.manifest.json" "m['tuned_database']")" = "$TUNED/$AVX2.json" ]; then
  pass "the tuned database supplies k_unroll=2; --param tile_m=2 overrides its tile_m; the manifest says so"
else
  fail "tuned database lookup"; cat "$WORK/log"; cat "$OUT/gemm_int8.manifest.json"
fi
OUT=$WORK/tuned_small
if "$GEN" --op gemm_int8 --target $AVX2 --out "$OUT" --tuned "$TUNED" --shape-class small_m >"$WORK/log" 2>&1 &&
   [ "$(json_get "$OUT/gemm_int8.manifest.json" "m['params']['k_unroll']['value'], m['params']['tile_m']['source']")" = "3 default" ]; then
  pass "--shape-class picks the small_m entry"
else
  fail "--shape-class"; cat "$WORK/log"
fi
OUT=$WORK/tuned_off
if "$GEN" --op gemm_int8 --target $AVX2 --out "$OUT" --tuned "$TUNED" --no-tuned >"$WORK/log" 2>&1 &&
   [ "$(json_get "$OUT/gemm_int8.manifest.json" "m['params']['k_unroll']['source'], m['tuned_database']")" = "default None" ]; then
  pass "--no-tuned ignores the database"
else
  fail "--no-tuned"; cat "$WORK/log"
fi
BAD=$WORK/tuned_bad
mkdir -p "$BAD"
echo '{"format": "qforge-schedule-db", "version": 1, "target": "'$AVX2'", "entries": [' >"$BAD/$AVX2.json"
if ! "$GEN" --op gemm_int8 --target $AVX2 --out "$WORK/tb1" --tuned "$BAD" >"$WORK/log" 2>&1 &&
   grep -q "tuned schedule database '.*' is not valid JSON" "$WORK/log" && [ ! -e "$WORK/tb1" ]; then
  pass "a malformed tuned database is a clear error: $(head -1 "$WORK/log" | cut -c1-120)"
else
  fail "malformed tuned database"; cat "$WORK/log"
fi
echo '{"format": "qforge-schedule-db", "version": 1, "target": "'$AVX2'", "entries": [{"operator": "gemm_int8_requant", "shape_class": "default", "params": {"tile_q": 2}}]}' >"$BAD/$AVX2.json"
if ! "$GEN" --op gemm_int8 --target $AVX2 --out "$WORK/tb2" --tuned "$BAD" >"$WORK/log" 2>&1 &&
   grep -q "entries\[0\]: operator gemm_int8_requant has no parameter 'tile_q'" "$WORK/log"; then
  pass "a tuned entry with an unknown parameter is a clear error"
else
  fail "unknown parameter in the tuned database"; cat "$WORK/log"
fi

# ---- AArch64: the int8 GEMM with dot product multiplies with sdot ----
OUT=$WORK/arm_dot
if "$GEN" --op gemm_int8 --target arm-64-linux-arm_dot_prod --out "$OUT" --emit asm >"$WORK/log" 2>&1 &&
   readelf -h "$OUT/gemm_int8.a" | grep -q "Machine:.*AArch64" &&
   [ "$(grep -cE '^\s+sdot\s' "$OUT/gemm_int8.s")" -ge 16 ]; then
  pass "gemm_int8 for arm-64-linux-arm_dot_prod: AArch64, $(grep -cE '^\s+sdot\s' "$OUT/gemm_int8.s") sdot"
else
  fail "gemm_int8 for arm-64-linux-arm_dot_prod"; cat "$WORK/log"
fi

# ---- cross target: float ops for arm-64-linux ----
OUT=$WORK/arm
if "$GEN" --op sgemm_f32 --target arm-64-linux --out "$OUT" >"$WORK/log" 2>&1 &&
   "$GEN" --op fake_quant_per_tensor --target arm-64-linux --out "$OUT" >>"$WORK/log" 2>&1; then
  arch_ok=0
  if objdump -f "$OUT/sgemm_f32.a" 2>/dev/null | grep -qi aarch64; then arch_ok=1; fi
  if readelf -h "$OUT/sgemm_f32.a" 2>/dev/null | grep -q "Machine:.*AArch64"; then arch_ok=1; fi
  if [ $arch_ok = 1 ] && readelf -h "$OUT/fake_quant_per_tensor.a" | grep -q "Machine:.*AArch64"; then
    pass "float ops for arm-64-linux are AArch64 objects"
  else
    fail "arm-64-linux objects are not AArch64"; readelf -h "$OUT/sgemm_f32.a" | grep Machine
  fi
else
  fail "float ops for arm-64-linux"; cat "$WORK/log"
fi

# ---- errors: non-zero exit, a message naming the problem, nothing written ----
# expect_error <grep pattern> <args...>
expect_error() {
  local pattern=$1; shift
  local out=$WORK/err_out
  rm -rf "$out"
  "${RUN[@]}" "$GEN" "$@" >"$WORK/err.log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$pattern" "$WORK/err.log" && ! grep -q "core dumped\|terminate called\|^Aborted" "$WORK/err.log" &&
     { [ ! -d "$out" ] || [ -z "$(ls -A "$out")" ]; }; then
    pass "error: $(head -1 "$WORK/err.log" | cut -c1-150)"
  else
    fail "expected an error matching '$pattern' for: $* (rc=$rc)"; cat "$WORK/err.log"; ls -A "$out" 2>/dev/null
  fi
}
E=$WORK/err_out
expect_error "unknown operator 'gemm_int9'.*did you mean.*gemm_int8" --op gemm_int9 --target x86-64-linux --out "$E"
expect_error "has no parameter 'tile_n'.*tile_m" --op gemm_int8 --target x86-64-linux --out "$E" --param tile_n=2
expect_error "bad value 'abc' for parameter tile_m.*integer" --op gemm_int8 --target x86-64-linux --out "$E" --param tile_m=abc
expect_error "bad value 'int4' for parameter requant_type.*uint8" --op gemm_int8_requant --target x86-64-linux --out "$E" --param requant_type=int4
expect_error "alias gemm_int8 fixes requant_type" --op gemm_int8 --target x86-64-linux --out "$E" --param requant_type=int8
expect_error "must be name=value" --op gemm_int8 --target x86-64-linux --out "$E" --param tile_m
expect_error "invalid Halide target string 'x86-64-linux-avx3'.*'avx3'" --op gemm_int8 --target x86-64-linux-avx3 --out "$E"
expect_error "invalid Halide target string 'banana'" --op relu --target banana --out "$E"
expect_error "operator gemm_int8 has no schedule for target riscv-64-linux" --op gemm_int8 --target riscv-64-linux --out "$E"
expect_error "unknown --emit kind 'assembler'" --op relu --target x86-64-linux --out "$E" --emit assembler
expect_error "must be a C identifier" --op relu --target x86-64-linux --out "$E" --name 1relu
expect_error "missing --out" --op relu --target x86-64-linux
touch "$WORK/a_file"
expect_error "cannot create output directory" --op relu --target x86-64-linux --out "$WORK/a_file/sub"
# A directory we cannot write to (as root, run qforge-gen as nobody through setpriv).
mkdir -p "$WORK/ro" && chmod 755 "$WORK" "$WORK/ro"
if [ "$(id -u)" != 0 ]; then
  chmod a-w "$WORK/ro"
  expect_error "output directory '$WORK/ro' is not writable" --op relu --target x86-64-linux --out "$WORK/ro"
  chmod u+w "$WORK/ro"
elif command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups "$GEN" --version >/dev/null 2>&1; then
  RUN=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  expect_error "output directory '$WORK/ro' is not writable" --op relu --target x86-64-linux --out "$WORK/ro"
  RUN=()
else
  echo "SKIP: unwritable --out (root without setpriv)"
fi
# A failed generation leaves no file behind, not even in an existing directory.
mkdir -p "$WORK/keep" && "$GEN" --op gemm_int8 --target riscv-64-linux --out "$WORK/keep" >/dev/null 2>&1
if [ -z "$(ls -A "$WORK/keep")" ]; then
  pass "a failed generation leaves the output directory untouched"
else
  fail "a failed generation left files: $(ls -A "$WORK/keep")"
fi

# A generator that dies (an abort inside Halide or LLVM) is reported, not fatal.
QFORGE_GEN_TEST_CHILD_ABORT=1 expect_error "crashed (signal 6, Aborted)" --op relu --target x86-64-linux --out "$E"

echo "qforge-gen checks: $FAILS failure(s)"
[ $FAILS -eq 0 ]
