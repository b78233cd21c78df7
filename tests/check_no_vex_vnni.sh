#!/usr/bin/env bash
# Fails if any kernel archive contains a VEX-encoded vpdp* (AVX-VNNI) instruction.
# Zen 4 has AVX512-VNNI (EVEX) but no AVX-VNNI, so such code dies with SIGILL
# there even though Halide's dispatcher picked the VNNI variant (HALIDE14_NOTES G3).
set -euo pipefail
build=${1:?usage: check_no_vex_vnni.sh BUILD_DIR}
mapfile -t archives < <(find "$build" -name 'libqf_*.a' -o -name 'qf_*.a' | sort)
if [[ ${#archives[@]} -eq 0 ]]; then
  echo "no kernel archives found under $build" >&2
  exit 1
fi
bad=0
for a in "${archives[@]}"; do
  hits=$(objdump -d "$a" | grep -cE '\{vex\} vpdp' || true)
  if [[ "$hits" != "0" ]]; then
    echo "FAIL $a: $hits VEX-encoded vpdp* instructions"
    bad=1
  fi
done
echo "checked ${#archives[@]} kernel archives for {vex} vpdp*: $([[ $bad == 0 ]] && echo none found || echo FOUND)"
exit $bad
