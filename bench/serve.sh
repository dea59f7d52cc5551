#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Serving benchmark: lamina_serve against PyTorch behind Python's http.server
# (bench/serve_torch.py), the same Fashion-MNIST MLP (784 → 512 relu → 10 softmax), one
# 28×28 image per request, TF Serving's JSON predict body, on this machine. wrk (Debian's
# package) drives each server at 1 and 16 concurrent connections (bench/serve_post.lua) and
# reports requests/s and p50/p99 latency; the servers alternate, ROUNDS times, and the medians
# are printed as a Markdown table. PyTorch: `LAMINA_SETUP_BENCH=1 .ci/setup` (python3-torch).
#
#   bench/run.sh-style knobs: ROUNDS=3 DURATION=10 THREADS=1 BUILD_DIR=build-bench bench/serve.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10}"
threads="${THREADS:-1}"  # compute threads per predict, both frameworks
python="${PYTHON:-/usr/bin/python3}"
lamina_port="${LAMINA_PORT:-18601}"
torch_port="${TORCH_PORT:-18602}"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLAMINA_BUILD_TESTS=OFF -DLAMINA_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j2 --target lamina_serve serve_mlp_model >/dev/null

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/models/1"
"$build/serve_mlp_model" "$work/models/1/fashion_mlp.keras"
# One standardised-looking 28×28 image, as a client would send it.
"$python" - "$work/body.json" <<'PY'
import json, random, sys
random.seed(0)
image = [[round(random.gauss(0, 1), 4) for _ in range(28)] for _ in range(28)]
json.dump({"instances": [image]}, open(sys.argv[1], "w"))
PY

"$build/lamina_serve" --model_name=fashion --model_base_path="$work/models" --rest_api_host=127.0.0.1 \
  --rest_api_port="$lamina_port" --rest_api_num_threads=16 --num_threads="$threads" 2>"$work/lamina.log" &
pids+=($!)
"$build/lamina_serve" --model_name=fashion --model_base_path="$work/models" --rest_api_host=127.0.0.1 \
  --rest_api_port=$((lamina_port + 10)) --rest_api_num_threads=16 --num_threads="$threads" \
  --enable_batching --max_batch_size=16 --batch_timeout_micros=500 2>"$work/lamina_batching.log" &
pids+=($!)
"$python" "$root/bench/serve_torch.py" --port "$torch_port" --threads "$threads" 2>"$work/torch.log" &
pids+=($!)
for url in "http://127.0.0.1:$lamina_port/v1/models/fashion" "http://127.0.0.1:$((lamina_port + 10))/v1/models/fashion"; do
  for _ in $(seq 100); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
done
for _ in $(seq 300); do curl -sf -d @"$work/body.json" "http://127.0.0.1:$torch_port/v1/models/fashion:predict" >/dev/null && break; sleep 0.1; done

log="$work/results"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores, $threads compute thread(s) per predict, $rounds rounds of ${duration} s" >&2
for ((r = 1; r <= rounds; ++r)); do
  for clients in 1 16; do
    for server in "lamina:$lamina_port" "lamina_batching:$((lamina_port + 10))" "pytorch:$torch_port"; do
      name="${server%%:*}"
      port="${server##*:}"
      if [[ "$name" == lamina_batching && "$clients" == 1 ]]; then continue; fi
      line=$(BODY_FILE="$work/body.json" wrk -t"$((clients < 2 ? 1 : 2))" -c"$clients" -d"${duration}s" \
             -s "$root/bench/serve_post.lua" "http://127.0.0.1:$port/v1/models/fashion:predict" | grep '^RESULT')
      echo "$line server=$name clients=$clients" | tee -a "$log" >&2
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$python" - "$log" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(sys.argv[1])]
print("| server | clients | requests/s | p50 ms | p99 ms | errors |")
print("|---|---:|---:|---:|---:|---:|")
for clients in ("1", "16"):
    for server in ("lamina", "lamina_batching", "pytorch"):
        mine = [r for r in rows if r["server"] == server and r["clients"] == clients]
        if not mine:
            continue
        med = lambda k: statistics.median(float(r[k]) for r in mine)
        label = {"lamina": "lamina_serve", "lamina_batching": "lamina_serve --enable_batching",
                 "pytorch": "PyTorch + http.server"}[server]
        print(f"| {label} | {clients} | {med('rps'):.0f} | {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | "
              f"{sum(int(r['errors']) for r in mine)} |")
PY
