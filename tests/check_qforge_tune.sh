#!/usr/bin/env bash
# qforge-tune end to end on tiny shapes (ctest qforge_tune_cli):
#  - a short run finds a valid schedule, writes a readable database entry and
#    rejects (logs, never records) a candidate whose output is wrong;
#  - --resume skips a finished unit and continues an interrupted one;
#  - merge combines databases and keeps the better entry of a conflict;
#  - malformed databases and bad arguments fail with clear messages;
#  - verify checks and times every tuned kernel of the build's database (the
#    verdicts are timings, so only that each kernel was found, ran and was
#    reported is asserted) and names an entry the build has no kernel for.
set -u
tune=$1
tuned_dir=${2:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
check() {  # check <description> <command...>
  local what=$1
  shift
  if "$@"; then echo "ok:   $what"; else echo "FAIL: $what"; fail=1; fi
}
# Tuned for the AVX2 variant: the machines this project runs on have it.
grep -qw avx2 /proc/cpuinfo || { echo "SKIPPED: this CPU lacks AVX2"; exit 77; }
target=x86-64-linux-avx-avx2-f16c-fma-sse41
db=$dir/out/$target.json

# 1. A short run with a corrupted candidate (the 2nd searched).
"$tune" --op gemm_int8 --shapes 8x64x36,12x96x20 --target avx2 --budget 6 --samples 3 --rounds 3 \
  --autoschedulers Mullapudi2016 --inject-wrong-candidate 2 --no-progress --out "$dir/out" >"$dir/run1.txt" 2>&1
rc=$?
check "short run exits 0 (rc $rc)" test $rc -eq 0
check "the table lists both shapes" grep -q "12x96x20" "$dir/run1.txt"
check "the database was written" test -f "$db"
journal=$dir/out/.qforge-tune/$target.gemm_int8.small_m.jsonl
check "the corrupted candidate was rejected as wrong" grep -q '"status":"wrong"' "$journal"
check "the rejection is logged" grep -q "rejected \[.*\]: wrong" "$dir/out/.qforge-tune/gemm_int8.small_m.log"
python3 - "$db" "$journal" <<'PY' || fail=1
import json, sys
db = json.load(open(sys.argv[1]))
assert db["format"] == "qforge-schedule-db" and db["version"] == 1, "format/version"
[e] = [e for e in db["entries"] if e["operator"] == "gemm_int8_requant" and e["shape_class"] == "small_m"]
wrong = [json.loads(l)["params"] for l in open(sys.argv[2]) if '"wrong"' in l]
recorded = {k: str(v) for k, v in e["params"].items()}
assert all(recorded != w for w in wrong), f"an incorrect candidate was recorded: {recorded}"
threads = sorted({s["threads"] for s in e["shapes"]})  # every shape at every thread count (default 1 and N)
assert e["tuned_ms"] > 0 and e["default_ms"] > 0 and len(e["shapes"]) == 2 * len(threads), "timings"
assert e["tuned_ms"] <= e["default_ms"] * 1.02, "tuned slower than default"
assert all(s["autoschedulers"]["Mullapudi2016"]["status"] in ("ok", "crashed", "error", "wrong", "timeout") for s in e["shapes"]), "autoscheduler"
print("ok:   the entry is valid and holds no rejected candidate:", recorded or "(default kept)")
PY

# 2. --resume: a finished unit is skipped; an interrupted one continues.
"$tune" --op gemm_int8 --shapes 8x64x36,12x96x20 --target avx2 --budget 6 --autoschedulers none --no-progress \
  --resume --out "$dir/out" >"$dir/run2.txt" 2>&1
check "resume skips the finished unit" grep -q "already tuned" "$dir/run2.txt"
timeout -s INT 5 "$tune" --op fake_quant --shapes 20000 --target avx2 --budget 60 --samples 3 --autoschedulers none \
  --no-progress --out "$dir/out" >"$dir/run3.txt" 2>&1
"$tune" --op fake_quant --shapes 20000 --target avx2 --budget 8 --samples 3 --rounds 3 --autoschedulers none \
  --no-progress --resume --out "$dir/out" >"$dir/run4.txt" 2>&1
check "resume continues the interrupted search" grep -q "resuming after" "$dir/run4.txt"
check "the resumed unit finished" grep -q "fake_quant_per_tensor" "$db"

# 3. merge.
python3 - "$db" "$dir/other.json" <<'PY'
import json, sys
db = json.load(open(sys.argv[1]))
for e in db["entries"]:
    e["tuned_ms"] = e["default_ms"] / 10  # a better speedup: must win the conflict
    e["params"] = {"k_unroll": 8} if e["operator"] == "gemm_int8_requant" else e["params"]
json.dump(db, open(sys.argv[2], "w"))
PY
"$tune" merge --out "$dir/merged.json" "$db" "$dir/other.json" >"$dir/merge.txt" 2>&1
check "merge succeeds" grep -q "merged 2 database(s): 2 entries" "$dir/merge.txt"
check "merge keeps the better entry" python3 -c "
import json; d = json.load(open('$dir/merged.json'))
assert [e for e in d['entries'] if e['operator'] == 'gemm_int8_requant'][0]['params'] == {'k_unroll': 8}"

# 4. Malformed databases and bad arguments.
bad() {  # bad <name> <content> <expected message>
  printf '%s' "$2" >"$dir/$1.json"
  "$tune" merge --out "$dir/m.json" "$dir/$1.json" >"$dir/$1.txt" 2>&1
  local rc=$?
  check "malformed database ($1) rejected: '$3'" bash -c "test $rc -ne 0 && grep -qF -- '$3' '$dir/$1.txt'"
}
bad notjson '{"format": ' "is not valid JSON"
bad format '{"format": "other", "version": 1, "target": "x", "entries": []}' '"format" must be "qforge-schedule-db"'
bad version '{"format": "qforge-schedule-db", "version": 2, "target": "x", "entries": []}' 'unsupported "version"'
bad entries '{"format": "qforge-schedule-db", "version": 1, "target": "x", "entries": {}}' '"entries" must be an array'
bad params '{"format": "qforge-schedule-db", "version": 1, "target": "x", "entries": [{"operator": "a", "shape_class": "b", "params": []}]}' 'entries[0] needs "params"'
bad value '{"format": "qforge-schedule-db", "version": 1, "target": "x", "entries": [{"operator": "a", "shape_class": "b", "params": {"k": [1]}}]}' 'parameter k must be a string'
bad dup '{"format": "qforge-schedule-db", "version": 1, "target": "x", "entries": [{"operator": "a", "shape_class": "b", "params": {}}, {"operator": "a", "shape_class": "b", "params": {}}]}' 'entries[1] repeats operator a'
"$tune" --op nosuchop --shapes 1 --out "$dir/x" >"$dir/e1.txt" 2>&1
check "unknown operator: exit 2 with the known ones" bash -c "test $? -eq 2 && grep -q 'unknown operator .nosuchop.' '$dir/e1.txt'"
"$tune" --op gemm_int8 --shapes 8x0x3 --out "$dir/x" >"$dir/e2.txt" 2>&1
check "bad shape: exit 2 naming it" bash -c "test $? -eq 2 && grep -q \"'0' is not a positive integer\" '$dir/e2.txt'"
"$tune" --op gemm_int8 --shapes 8x8x8 --target arm-64-linux-arm_dot_prod --out "$dir/x" >"$dir/e3.txt" 2>&1
check "a target this machine cannot run: exit 2" bash -c "test $? -eq 2 && grep -q 'cannot run target' '$dir/e3.txt'"

# 5. verify.
python3 - "$dir/absent.json" <<'PY'
import json, sys
json.dump({"format": "qforge-schedule-db", "version": 1, "target": "x86-64-linux-avx-avx2-f16c-fma-sse41",
           "entries": [{"operator": "gemm_int8_requant", "shape_class": "small_m", "params": {"k_unroll": "8"},
                        "shapes": [{"shape": "8x64x36", "threads": 1}]}]}, open(sys.argv[1], "w"))
PY
"$tune" verify "$dir/absent.json" --rounds 1 >"$dir/v1.txt" 2>&1
check "verify: an entry this build has no kernel for fails naming it" \
  bash -c "test $? -eq 1 && grep -q \"has no tuned qf_gemm_u8 kernel for class 'small_m'\" '$dir/v1.txt'"
"$tune" verify "$dir/notjson.json" >"$dir/v2.txt" 2>&1
check "verify: a malformed database fails" bash -c "test $? -eq 1 && grep -q 'is not valid JSON' '$dir/v2.txt'"
"$tune" verify "$dir/absent.json" --rounds 0 >"$dir/v3.txt" 2>&1
check "verify: --rounds 0 is a usage error" bash -c "test $? -eq 2 && grep -q 'rounds' '$dir/v3.txt'"
vnni_db=$tuned_dir/x86-64-linux-avx-avx2-avx512-avx512_cannonlake-avx512_sapphirerapids-avx512_skylake-f16c-fma-sse41.json
if [[ -f $vnni_db ]] && grep -qw avx512_vnni /proc/cpuinfo && grep -qw avx512_bf16 /proc/cpuinfo; then
  "$tune" verify "$vnni_db" --threads 1 --rounds 1 >"$dir/v4.txt" 2>&1
  rc=$?
  check "verify of the build's database runs every tuned kernel (rc $rc: 0 or 3)" bash -c "test $rc -eq 0 -o $rc -eq 3"
  python3 - "$vnni_db" "$dir/v4.txt" <<'PY' || fail=1
import json, sys
db = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read().splitlines()
for e in db["entries"]:
    if not e["params"]:
        continue
    rows = [l for l in out if l.split()[1:2] == [e["shape_class"]] and (l.endswith(" ok") or l.endswith(" SLOWER"))]
    shapes = {s["shape"] for s in e["shapes"]}
    got = {l.split()[2] for l in rows}
    assert shapes <= got, f"{e['operator']} {e['shape_class']}: verified {got}, expected {shapes}"
print("ok:   verify timed every shape of every tuned entry")
PY
else
  echo "skip: verify of the AVX-512 VNNI database (this CPU lacks the variant)"
fi
exit $fail
