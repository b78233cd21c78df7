#!/usr/bin/env bash
# The build's tuned schedule database reader (cmake/QforgeTunedDb.cmake), in
# script mode: valid samples pass with the entries read as expected, malformed
# ones fail with a message naming the problem.
# Usage: check_tuned_db.sh <cmake> <cmake/check_tuned_db.cmake> <tests/tuned_db>
set -uo pipefail
cmake=${1:?usage: check_tuned_db.sh CMAKE CHECK_SCRIPT SAMPLES_DIR}
script=${2:?}
dir=${3:?}
target=x86-64-linux-avx-avx2-f16c-fma-sse41
bad=0

# check <sample> <pass|fail> <text the output must contain>...
check() {
  local sample=$1 want=$2
  shift 2
  local out rc
  out=$("$cmake" -DDB="$dir/$sample" -DTARGET="$target" -P "$script" 2>&1)
  rc=$?
  # CMake wraps error messages: compare with whitespace runs as one space.
  local flat
  flat=$(tr -s ' \n' '  ' <<< "$out")
  local got=pass
  [[ $rc -ne 0 ]] && got=fail
  local missing=()
  for text in "$@"; do
    grep -qF -- "$text" <<< "$flat" || missing+=("$text")
  done
  if [[ $got != "$want" || ${#missing[@]} -gt 0 ]]; then
    echo "FAIL $sample: expected $want, got $got (exit $rc)${missing[*]:+; output lacks: ${missing[*]}}"
    echo "$out" | sed 's/^/    /'
    bad=1
  else
    echo "ok   $sample ($want)"
  fi
}

check valid.json pass "3 entries" \
  "entries[0]: gemm_int8_requant small_m k_unroll=2 tile_m=4" \
  "entries[1]: gemm_int8_requant gemv" \
  "entries[2]: direct_conv_rows_int8_requant default flag=true other=false rows_per_task=-1 specialize_for=1,3/2"
check empty_entries.json pass "0 entries"
check no_such_file.json fail "no_such_file.json" "no such file"
check not_json.json fail "not_json.json" "is not valid JSON"
check wrong_format.json fail "\"format\"" "qforge-schedule-db"
check wrong_version.json fail "\"version\" 2"
check wrong_target.json fail "\"target\" is \"x86-64-linux-sse41\"" "must be \"$target\""
check entries_not_array.json fail "\"entries\" must be an array"
check entry_not_object.json fail "entries[0] must be an object"
check missing_operator.json fail "entries[1] has no \"operator\""
check bad_class_name.json fail "entries[0].shape_class"
check params_not_object.json fail "entries[0].params must be an object"
check param_array.json fail "entries[1].params.tile_m is ARRAY"
check param_float.json fail "entries[0].params.k_unroll is 2.5"
check duplicate.json fail "entries[2] duplicates entries[0]" "ambiguous"

[[ $bad -eq 0 ]] && echo "all tuned database samples behave as expected"
exit $bad
