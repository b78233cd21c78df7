#!/usr/bin/env bash
# Runs every benchmark of a build and prints the comparison table.
#
#   bash bench/run_all.sh BUILD_DIR
#
# The benchmarks are the executables listed in BUILD_DIR/bench/benches.txt
# (written by bench/CMakeLists.txt), or, without that file, every executable
# BUILD_DIR/bench/bench_*. Each writes BUILD_DIR/bench/<name>.json (Google
# Benchmark JSON) and its console output to BUILD_DIR/bench/<name>.log; then
# qforge-bench-summary prints the table and the goal lines and writes
# BUILD_DIR/bench/summary.json.
# benches.txt may also hold extra runs of a benchmark (qforge_bench_run in
# bench/CMakeLists.txt), one per line: EXE TAB RUN TAB ENV-WORDS TAB ARGS, e.g.
# bench_gemm with QFORGE_MAX_CPU_VARIANT=avx2 DNNL_MAX_CPU_ISA=AVX2 --isa=avx2
# ("-" for an empty field); those write <name>@<run>.json and .log.
#
# Environment: QFORGE_BENCH_ARGS  extra arguments for every benchmark
#              (e.g. --benchmark_filter=lsq); QFORGE_BENCH_MIN_TIME and
#              QFORGE_BENCH_REPETITIONS are read by the benchmarks themselves.
# Exit status: non-zero if a benchmark or the summary failed.
set -uo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 1
fi
build=$1
dir=$build/bench
summary_tool=$dir/qforge-bench-summary
if [[ ! -x $summary_tool ]]; then
    echo "run_all.sh: $summary_tool not found; build the qforge-bench-all target first" >&2
    exit 1
fi

# Parallel arrays, one entry per run: executable, run name ("" for the plain
# run), environment words, arguments.
benches=()
runs=()
run_envs=()
run_args=()
if [[ -f $dir/benches.txt ]]; then
    while IFS=$'\t' read -r exe run env_words arg_words; do
        [[ -z $exe ]] && continue
        benches+=("$exe")
        # "-" stands for an empty field (bash's read collapses consecutive tabs).
        [[ ${env_words:-} == - ]] && env_words=
        [[ ${arg_words:-} == - ]] && arg_words=
        runs+=("${run:-}")
        run_envs+=("${env_words:-}")
        run_args+=("${arg_words:-}")
    done <"$dir/benches.txt"
else
    for exe in "$dir"/bench_*; do
        [[ -f $exe && -x $exe ]] || continue
        benches+=("$exe")
        runs+=("")
        run_envs+=("")
        run_args+=("")
    done
fi
if [[ ${#benches[@]} -eq 0 ]]; then
    echo "run_all.sh: no benchmarks in $dir" >&2
    exit 1
fi

read -r -a extra_args <<<"${QFORGE_BENCH_ARGS:-}"

# PyTorch's side of bench_train (bench/pytorch_reference.py): FP32 and QAT
# training epochs and oneDNN int8 inference of the same network, measured now,
# on this machine; bench_train reads the JSON. Without torch it is skipped
# (exit 3) and bench_train's rows have no PyTorch ratio.
torch_json=$dir/pytorch_reference.json
rm -f "$torch_json"
if command -v /usr/bin/python3 >/dev/null; then
    echo "== pytorch_reference.py (output: $dir/pytorch_reference.log)"
    if /usr/bin/python3 "$(dirname "$0")/pytorch_reference.py" --steps "${QFORGE_BENCH_TORCH_STEPS:-100}" \
        --threads 2 --out "$torch_json" >"$dir/pytorch_reference.log" 2>&1; then
        export QFORGE_PYTORCH_REFERENCE=$torch_json
    else
        echo "   PyTorch reference not measured (see the log); bench_train has no PyTorch ratios"
    fi
fi
status=0
jsons=()
start_all=$SECONDS
for i in "${!benches[@]}"; do
    exe=${benches[$i]}
    name=$(basename "$exe")
    [[ -n ${runs[$i]} ]] && name+="@${runs[$i]}"
    read -r -a env_words <<<"${run_envs[$i]}"
    read -r -a arg_words <<<"${run_args[$i]}"
    json=$dir/$name.json
    log=$dir/$name.log
    if [[ ! -x $exe ]]; then
        echo "run_all.sh: $exe is missing; build the qforge-bench-all target" >&2
        status=1
        continue
    fi
    rm -f "$json"
    echo "== $name${run_envs[$i]:+ (${run_envs[$i]})} (output: $log)"
    start=$SECONDS
    # Progress: one counter line, updated as each benchmark finishes (its
    # median, or its single result without repetitions, reaches the console).
    env "${env_words[@]}" "$exe" "${arg_words[@]}" --benchmark_out="$json" --benchmark_out_format=json \
        "${extra_args[@]}" 2>&1 | tee "$log" |
        {
            done_count=0
            while IFS= read -r line; do
                case $line in
                    *_mean\ * | *_stddev\ * | *_cv\ * | -* | Benchmark* | "") ;;
                    *\ ms\ * | *\ us\ * | *\ ns\ * | *\ s\ * | *ERROR\ OCCURRED*)
                        done_count=$((done_count + 1))
                        if [[ -t 1 ]]; then
                            printf '\r   %3d done  %-70.70s' "$done_count" "${line%% *}"
                        elif ((done_count % 10 == 0)); then
                            printf '   %d done\n' "$done_count"
                        fi
                        ;;
                esac
            done
            [[ -t 1 ]] && printf '\r%-80s\r' ''
            printf '   %d benchmarks\n' "$done_count"
        }
    rc=${PIPESTATUS[0]}
    if [[ $rc -ne 0 ]]; then
        echo "run_all.sh: $name failed (exit $rc); last lines of $log:" >&2
        tail -n 20 "$log" >&2
        status=1
    fi
    echo "   $((SECONDS - start)) s"
    [[ -s $json ]] && jsons+=("$json")
done

if [[ ${#jsons[@]} -eq 0 ]]; then
    echo "run_all.sh: no benchmark produced results" >&2
    exit 1
fi

echo
# Goals: OP,SHAPE,THREADS,MIN (the fraction of the baseline the row must reach).
"$summary_tool" --out "$dir/summary.json" \
    --goal "fake_quant_fwd,per_tensor[16777216],2,0.85" \
    --goal "lsq_bwd,per_tensor[16777216],2,0.7" \
    --goal "qat_step_w4a4,default_net_b128,2,2.0" \
    --goal "int8_inference,default_net_b128,2,1.0" \
    "${jsons[@]}" || status=1
echo "total $((SECONDS - start_all)) s"
exit $status
