#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Side-by-side benchmark: lamina (bench/fashion_mnist.cpp) against PyTorch
# (bench/fashion_mnist_torch.py) on Fashion-MNIST, same model, data, batch, optimizer and
# thread count. Builds lamina (Release), then runs lamina, PyTorch 1.13, PyTorch 2.x, lamina...
# ROUNDS times per batch size — alternating, because the machine is shared and its load drifts —
# and prints a Markdown table of the medians, with "the limit": OpenBLAS alone at the model's
# exact GEMM shapes (bench/gemm_limit.cpp).
#
# PyTorch runs in its fastest setting: torch.set_num_threads(THREADS) with its BLAS single-threaded
# (OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=OMP_NUM_THREADS=1; see bench/fashion_mnist_torch.py).
# PyTorch 1.13 is Debian's (python3-torch, /usr/bin/python3); PyTorch 2.x is PyPI's, installed on
# first use into a virtual environment outside the repository (TORCH2_VENV, default
# ~/.cache/lamina-bench-torch2; a large download, for this benchmark only, never in CI).
# TORCH2=0 leaves it out.
#
#   bench/run.sh mlp                  # batch 128 and 32, 2 threads, 3 rounds of 3 epochs
#   bench/run.sh cnn                  # batch 128
#   bench/run.sh lstm                 # the row-LSTM of examples/fashion_mnist_lstm.cpp, batch 128,
#                                     # against PyTorch's nn.LSTM
#   bench/run.sh infer                # inference (bench/infer.cpp, bench/infer_torch.py): predict of
#                                     # the 10k test images at batch 1000, images/s, and one image
#                                     # at a time (predict_on_batch / inference_mode), median and
#                                     # p99 µs; MODELS="mlp cnn" by default
#   bench/run.sh pipeline             # the input pipeline (bench/dataset_pipeline.cpp) against
#                                     # PyTorch's DataLoader, and the CNN epoch it feeds
#   bench/run.sh portable             # lamina only: the default (portable) build against one with
#                                     # -DLAMINA_NATIVE=ON, alternating, on mlp 128/32 and cnn 128
#   bench/run.sh distributed          # lamina only: 1 process × 2 threads against 2 MPI processes ×
#                                     # 1 thread (data-parallel, the same global batch 128) on mlp
#                                     # and cnn, the share of the all-reduce hidden behind backward,
#                                     # then MPI's all-reduce bandwidth (bench/allreduce.cpp)
#   THREADS=1 ROUNDS=5 EPOCHS=4 BATCHES="128 32" BUILD_DIR=build TORCH2=0 bench/run.sh mlp
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
threads="${THREADS:-2}"
rounds="${ROUNDS:-3}"
epochs="${EPOCHS:-3}"
model="${1:-mlp}"
case "$model" in
  mlp) batches="${BATCHES:-128 32}" ;;
  cnn | lstm) batches="${BATCHES:-128}" ;;
  infer | pipeline | portable | distributed) ;;
  *) echo "usage: $0 mlp|cnn|lstm|infer|pipeline|portable|distributed" >&2; exit 2 ;;
esac
python="${PYTHON:-/usr/bin/python3}"

# The PyTorch interpreters compared with: Debian's 1.13, and PyPI's 2.x unless TORCH2=0.
torches=("$python")
if [[ "${TORCH2:-1}" != 0 && "$model" =~ ^(mlp|cnn|lstm|infer)$ ]]; then
  venv="${TORCH2_VENV:-$HOME/.cache/lamina-bench-torch2}"
  if ! "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    echo "installing PyTorch 2.x from PyPI into $venv (once; a large download)" >&2
    /usr/bin/python3 -m venv "$venv"
    # PyTorch's CPU-only index is far smaller than PyPI's CUDA build; PyPI when it is unreachable.
    "$venv/bin/pip" install --quiet torch numpy --index-url https://download.pytorch.org/whl/cpu ||
      "$venv/bin/pip" install --quiet torch numpy
  fi
  torches+=("$venv/bin/python")
fi

if [[ "$model" == pipeline ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target dataset_pipeline >/dev/null
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); threads $threads, $rounds rounds" >&2
  for ((r = 1; r <= rounds; ++r)); do
    "$build/dataset_pipeline" --threads "$threads" --epochs "$epochs" --cnn "${CNN_PAIRS:-3}" | grep '^RESULT' | tee -a "$log" >&2
    "$python" "$root/bench/dataset_pipeline_torch.py" --threads "$threads" --epochs "$epochs" |
      grep '^RESULT' | tee -a "$log" >&2
  done
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$python" - "$log" "$threads" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(sys.argv[1])]
def med(framework, what, key):
    return statistics.median(float(r[key]) for r in rows if r["framework"] == framework and r["what"] == what)
n = sum(r["framework"] == "lamina" and r["what"] == "pipeline" for r in rows)
print(f"pipeline, threads: {sys.argv[2]}; medians of {n} alternating runs\n")
print("| lamina elements/s | PyTorch DataLoader elements/s | CNN epoch, preloaded s | CNN epoch, pipeline s | "
      "pipeline overhead |")
print("|---:|---:|---:|---:|---:|")
print(f"| {med('lamina', 'pipeline', 'elements_per_s'):.0f} | {med('pytorch', 'pipeline', 'elements_per_s'):.0f} | "
      f"{med('lamina', 'cnn_epoch', 'preloaded_s'):.2f} | {med('lamina', 'cnn_epoch', 'pipeline_s'):.2f} | "
      f"{med('lamina', 'cnn_epoch', 'overhead_pct'):+.1f} % |")
PY
  exit 0
fi

if [[ "$model" == portable ]]; then
  # Two build trees that differ only in LAMINA_NATIVE: the runtime-dispatched kernels of the
  # default build should cost nothing against -march=native.
  for variant in portable native; do
    flag=OFF
    [[ "$variant" == native ]] && flag=ON
    cmake -S "$root" -B "$build-$variant" -DCMAKE_BUILD_TYPE=Release -DLAMINA_NATIVE=$flag \
      -DLAMINA_BUILD_TESTS=OFF -DLAMINA_BUILD_EXAMPLES=OFF >/dev/null
    cmake --build "$build-$variant" -j2 --target fashion_mnist >/dev/null
  done
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); threads $threads, $rounds rounds of $epochs epochs" >&2
  for run in ${RUNS:-mlp:128 mlp:32 cnn:128}; do
    for ((r = 1; r <= rounds; ++r)); do
      for variant in portable native; do
        "$build-$variant/fashion_mnist" --model "${run%%:*}" --batch "${run##*:}" --epochs "$epochs" \
          --threads "$threads" | grep '^RESULT' | sed "s/framework=lamina/build=$variant/" |
          tee -a "$log" >&2
      done
    done
  done
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$python" - "$log" "$threads" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    rows.setdefault((f["model"], int(f["batch"]), f["build"]), []).append(float(f["epoch_s"]))
print(f"portable (runtime dispatch) against -march=native, threads: {sys.argv[2]}; medians of "
      "alternating runs\n")
print("| model | batch | portable s/epoch | native s/epoch | ratio portable/native | runs each |")
print("|---|---:|---:|---:|---:|---:|")
for model, batch in dict.fromkeys((m, b) for m, b, _ in rows):
    p, n = rows[(model, batch, "portable")], rows[(model, batch, "native")]
    mp, mn = statistics.median(p), statistics.median(n)
    print(f"| {model} | {batch} | {mp:.3f} | {mn:.3f} | {mp / mn:.3f} | {min(len(p), len(n))} |")
PY
  exit 0
fi

if [[ "$model" == distributed ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target fashion_mnist allreduce >/dev/null
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  mpirun=(mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none)
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds of $epochs epochs" >&2
  for m in mlp cnn; do
    for ((r = 1; r <= rounds; ++r)); do
      "$build/fashion_mnist" --model "$m" --epochs "$epochs" --threads 2 | grep '^RESULT' | tee -a "$log" >&2
      "${mpirun[@]}" "$build/fashion_mnist" --model "$m" --epochs "$epochs" --threads 1 --distributed 1 |
        grep '^RESULT' | tee -a "$log" >&2
    done
  done
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$python" - "$log" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    rows.setdefault((f["model"], f["processes"]), []).append(float(f["epoch_s"]))
print("| model (batch 128) | 1 process × 2 threads s/epoch | 2 processes × 1 thread s/epoch | speed-up |")
print("|---|---:|---:|---:|")
for m in ("mlp", "cnn"):
    a, b = statistics.median(rows[(m, "1")]), statistics.median(rows[(m, "2")])
    print(f"| {m} | {a:.2f} | {b:.2f} | {a / b:.2f} |")
PY
  # The overlap: the gradients' all-reduce time left after backward (per step, rank 0) with each
  # bucket started during backward, against every bucket started after it; buckets of
  # BUCKET_KB (512 KiB: the MLP's 2.1 MB in 4 buckets, DDP's 25 MiB would make it 2).
  ovlog="$(mktemp)"
  trap 'rm -f "$log" "$ovlog"' EXIT
  for m in mlp cnn; do
    for ((r = 1; r <= rounds; ++r)); do
      for ov in 1 0; do
        "${mpirun[@]}" "$build/fashion_mnist" --model "$m" --epochs 1 --threads 1 --distributed 1 \
          --bucket-kb "${BUCKET_KB:-512}" --overlap "$ov" | grep '^RESULT' | tee -a "$ovlog" >&2
      done
    done
  done
  "$python" - "$ovlog" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    rows.setdefault((f["model"], f["overlap"]), []).append((float(f["backward_ms"]), float(f["exposed_ms"])))
print()
print("| model (batch 128) | backward ms/step | all-reduce after backward ms/step | left exposed with overlap ms/step | hidden |")
print("|---|---:|---:|---:|---:|")
for m in ("mlp", "cnn"):
    on, off = rows[(m, "1")], rows[(m, "0")]
    back = statistics.median(b for b, _ in on)
    e_on, e_off = statistics.median(e for _, e in on), statistics.median(e for _, e in off)
    print(f"| {m} | {back:.2f} | {e_off:.2f} | {e_on:.2f} | {100 * (1 - e_on / e_off):.0f} % |")
PY
  echo
  "${mpirun[@]}" "$build/allreduce" | grep -v '^RESULT'
  exit 0
fi


if [[ "$model" == infer ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target infer gemm_limit >/dev/null
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); threads $threads, $rounds rounds" >&2
  for m in ${MODELS:-mlp cnn}; do
    [[ "$m" == lstm ]] || "$build/gemm_limit" --model "$m" --threads "$threads" | grep '^RESULT' | tee -a "$log" >&2
    for ((r = 1; r <= rounds; ++r)); do
      "$build/infer" --model "$m" --threads "$threads" | grep '^RESULT' | tee -a "$log" >&2
      for py in "${torches[@]}"; do
        "$py" "$root/bench/infer_torch.py" --model "$m" --threads "$threads" | grep '^RESULT' | tee -a "$log" >&2
      done
    done
  done
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$python" "$root/bench/tables.py" infer "$log" "$threads"
  exit 0
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target fashion_mnist gemm_limit >/dev/null

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); threads $threads, $rounds rounds of $epochs epochs" >&2
for batch in $batches; do
  if [[ "$model" != lstm ]]; then
    "$build/gemm_limit" --model "$model" --batch "$batch" --threads "$threads" | grep '^RESULT' | tee -a "$log" >&2
  fi
  for ((r = 1; r <= rounds; ++r)); do
    "$build/fashion_mnist" --model "$model" --batch "$batch" --epochs "$epochs" --threads "$threads" |
      grep '^RESULT' | tee -a "$log" >&2
    for py in "${torches[@]}"; do
      "$py" "$root/bench/fashion_mnist_torch.py" --model "$model" --batch "$batch" --epochs "$epochs" \
        --threads "$threads" | grep '^RESULT' | tee -a "$log" >&2
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$python" "$root/bench/tables.py" train "$log" "$threads" "$model"
