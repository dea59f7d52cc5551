#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one script a session with a GPU runs (issue 20): builds lamina with the CUDA backend, runs
# the `cuda` CTest label (the op harness, the optimizer rules and the test-device flows on
# cuda:0), compute-sanitizer memcheck on the harness, trains the three Fashion-MNIST examples on
# cuda:0, and benchmarks lamina against PyTorch eager on the same GPU (bench/gpu/gpu_bench.cpp
# and gpu_bench_torch.py: MLP and CNN at batch 128 and 1024, ResNet-20 on CIFAR-shaped data;
# float32 and bf16; images/s, ratio, peak GPU memory). Every step is timed and logged; a failing
# step is reported and the script goes on. Everything lands in one folder: $OUT when set, else
# ./gpu-check-<time>; summary.txt there is the note's material.
#
#   bench/gpu/check.sh [FASHION_MNIST_DIR]
#
# FASHION_MNIST_DIR (or LAMINA_FASHION_MNIST_DIR): the four IDX files, for the examples (the GPU
# machine may have no network; without them the example steps fail and say so). Step time limits:
# LAMINA_CHECK_STEP_S (default 300 s). LAMINA_CHECK_SKIP: space-separated steps to skip
# (build ctest fallback memcheck examples bench).
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out="${OUT:-$root/gpu-check-$(date -u +%Y%m%dT%H%M%S)}"
mkdir -p "$out"
build="${LAMINA_CHECK_BUILD:-$root/build-gpu}"
limit="${LAMINA_CHECK_STEP_S:-300}"
skip=" ${LAMINA_CHECK_SKIP:-} "
data="${1:-${LAMINA_FASHION_MNIST_DIR:-}}"
[[ -n "$data" ]] && export LAMINA_FASHION_MNIST_DIR="$data"
summary="$out/summary.txt"
export root out build
: >"$summary"
t_all=$SECONDS

note() { echo "$*" | tee -a "$summary"; }

# step <name> <command...>: runs it under the time limit, output to <name>.log, status and time to
# the summary.
step() {
  local name=$1 start=$SECONDS status=0
  shift
  if [[ "$skip" == *" $name "* ]]; then note "step $name: skipped (LAMINA_CHECK_SKIP)"; return 0; fi
  echo "=== $name: $*" >"$out/$name.log"
  # Through bash -c: the steps below are often this script's own (exported) functions.
  timeout --kill-after=10 "$limit" bash -c '"$@"' step "$@" >>"$out/$name.log" 2>&1 || status=$?
  note "step $name: status $status, $((SECONDS - start)) s (log: $name.log)"
  return 0
}

note "lamina GPU check, $(date -u), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
{ nvidia-smi || true; nvcc --version || true; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda, torch.cuda.is_available())' || true; } >"$out/machine.log" 2>&1
note "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"

# 1. Build: the library, the tests, the three examples and the GPU benchmark.
configure() {
  local log
  log="$(cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLAMINA_WITH_CUDA=ON -DLAMINA_BUILD_EXAMPLES=ON \
    -DLAMINA_BUILD_BENCH=ON 2>&1)"
  echo "$log"
  grep -q "lamina: CUDA backend ON" <<<"$log"
}
build_all() {
  configure || { echo "CUDA backend not enabled (see the configure output above)"; return 1; }
  cmake --build "$build" -j"$(nproc)" --target lamina_tests fashion_mnist_mlp fashion_mnist_cnn fashion_mnist_lstm gpu_bench
}
export -f configure build_all
LAMINA_CHECK_STEP_S_BUILD="${LAMINA_CHECK_BUILD_S:-900}"
limit_saved=$limit; limit=$LAMINA_CHECK_STEP_S_BUILD
step build build_all
limit=$limit_saved

# 2. The cuda label: harness, flows, losses, metrics, layers (native kernels), engine and
# optimizers (bit for bit, every kernel on the host fallback).
step ctest ctest --test-dir "$build" -L cuda --output-on-failure
grep -E "tests passed|Skipped|Failed|\(Failed\)|\*\*\*" "$out/ctest.log" | tee -a "$summary"
harness() { LAMINA_TEST_DEVICE=cuda:0 "$build/lamina_tests" "[backend][harness]" -s 2>&1 | grep -E "harness cases run|test cases|assertions|FAILED|with expansion" | head -40; }
export -f harness
step harness_count harness
grep -E "cases run|test cases" "$out/harness_count.log" | tee -a "$summary"
# The same harness with every kernel on the host fallback: a failure only here is memory or
# transfers; a failure only above is a native kernel (LAMINA_CUDA_FALLBACK=<kernel> isolates it).
step fallback env LAMINA_TEST_DEVICE=cuda:0 LAMINA_CUDA_FALLBACK=all "$build/lamina_tests" "[backend][harness],[backend][flows]"
tail -n 3 "$out/fallback.log" | tee -a "$summary"

# 3. compute-sanitizer memcheck on the cuda tests (the harness and the flows).
memcheck() {
  local cs
  # On the PATH, in the toolkit's bin/ or its own folder (CUDA 12/13 layouts); the CI toolkit has none.
  cs="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
        /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -n 1)"
  [[ -n "$cs" ]] || { echo "compute-sanitizer not found (not in this toolkit install)"; return 127; }
  LAMINA_TEST_DEVICE=cuda:0 "$cs" --tool memcheck --leak-check no --error-exitcode 9 \
    "$build/lamina_tests" "[backend][harness],[backend][flows],[backend][losses],[backend][metrics],[backend][layers]"
}
export -f memcheck
limit_saved=$limit; limit="${LAMINA_CHECK_MEMCHECK_S:-600}"
step memcheck memcheck
limit=$limit_saved
grep -E "ERROR SUMMARY|test cases" "$out/memcheck.log" | tail -n 3 | tee -a "$summary"

# 4. The examples on cuda:0 (their accuracy floors: mlp >= 0.88, cnn >= 0.90, lstm >= 0.85).
for ex in mlp cnn lstm; do
  ( cd "$out" && step "example_$ex" env LAMINA_DEVICE=cuda:0 "$build/fashion_mnist_$ex" )
  grep -E "test accuracy|epoch 5|Error|error" "$out/example_$ex.log" | tail -n 3 | sed "s/^/  $ex: /" | tee -a "$summary"
done

# 5. The benchmark: lamina and PyTorch eager, float32 and bf16 (lamina: mixed_bfloat16 policy;
# PyTorch: bf16 autocast).
bench() {
  local m b p
  for p in float32 mixed_bfloat16; do
    for m in mlp cnn resnet20; do
      local batches="128 1024"
      [[ $m == resnet20 ]] && batches=128
      for b in $batches; do
        local steps=$((b == 128 ? 200 : 40))
        timeout 300 "$build/gpu_bench" --model $m --batch $b --steps $steps --policy $p 2>&1 | grep -E "RESULT|rror" || echo "RESULT framework=lamina model=$m batch=$b policy=$p failed"
        timeout 300 python3 "$root/bench/gpu/gpu_bench_torch.py" --model $m --batch $b --steps $steps --policy $p 2>&1 | grep -E "RESULT|rror" || echo "RESULT framework=torch model=$m batch=$b policy=$p failed"
      done
    done
  done
}
export -f bench
limit_saved=$limit; limit="${LAMINA_CHECK_BENCH_S:-900}"
step bench bench
limit=$limit_saved
python3 - "$out/bench.log" <<'PY' | tee -a "$summary"
import re, sys
rows = {}
for line in open(sys.argv[1]):
    if not line.startswith("RESULT"):
        continue
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    rows.setdefault((kv.get("model"), kv.get("batch"), kv.get("policy")), {})[kv.get("framework")] = kv
print("| model | batch | policy | lamina img/s | torch img/s | ratio | lamina peak MB | torch peak MB |")
print("|---|---|---|---|---|---|---|---|")
for (m, b, p), fw in rows.items():
    l, t = fw.get("lamina", {}), fw.get("torch", {})
    li, ti = l.get("images_per_s"), t.get("images_per_s")
    ratio = f"{float(li) / float(ti):.2f}" if li and ti else "-"
    print(f"| {m} | {b} | {p} | {li or 'failed'} | {ti or 'failed'} | {ratio} | {l.get('peak_gpu_mb', '-')} | {t.get('peak_gpu_mb', '-')} |")
PY
note "total: $((SECONDS - t_all)) s; logs in $out"
