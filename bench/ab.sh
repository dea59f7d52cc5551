#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A/B of lamina against itself: bench/fashion_mnist built (Release) at two commits, run alternately
# before/after ROUNDS times per model and batch on the same machine, medians printed. This is how a
# change that must not cost speed (the device seam: 85ab2c9 against its successor) is measured.
#
#   bench/ab.sh 85ab2c9            # that commit against HEAD
#   ROUNDS=5 EPOCHS=2 THREADS=2 RUNS="mlp:128 mlp:32 cnn:128" bench/ab.sh A B
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
before_rev="${1:?usage: $0 BEFORE [AFTER]}"
after_rev="${2:-HEAD}"
rounds="${ROUNDS:-5}" epochs="${EPOCHS:-2}" threads="${THREADS:-2}"
work="${AB_DIR:-$root/build-ab}"

build_at() {  # <rev> -> prints the binary's path
  local sha dir
  sha=$(git -C "$root" rev-parse --short "$1")
  dir="$work/$sha"
  [[ -d "$dir/src" ]] || git -C "$root" worktree add --detach "$dir/src" "$sha" >/dev/null 2>&1
  cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DLAMINA_BUILD_TESTS=OFF \
    -DLAMINA_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$dir/build" -j2 --target fashion_mnist >/dev/null
  echo "$dir/build/fashion_mnist"
}
before=$(build_at "$before_rev")
after=$(build_at "$after_rev")

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= rounds; ++r)); do
  for run in ${RUNS:-mlp:128 mlp:32 cnn:128}; do
    for which in before after; do
      bin=$before
      [[ $which == after ]] && bin=$after
      "$bin" --model "${run%%:*}" --batch "${run##*:}" --epochs "$epochs" --threads "$threads" |
        grep '^RESULT' | sed "s/^RESULT/RESULT which=$which/" | tee -a "$log" >&2
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$log" "$before_rev" "$after_rev" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(sys.argv[1])]
print(f"before = {sys.argv[2]}, after = {sys.argv[3]}; medians of alternating runs, s/epoch\n")
print("| model | batch | before | after | after / before |\n|---|---:|---:|---:|---:|")
for key in dict.fromkeys((r["model"], r["batch"]) for r in rows):
    t = {w: [float(r["epoch_s"]) for r in rows if (r["model"], r["batch"]) == key and r["which"] == w]
         for w in ("before", "after")}
    b, a = statistics.median(t["before"]), statistics.median(t["after"])
    print(f"| {key[0]} | {key[1]} | {b:.3f} ({min(t['before']):.2f}–{max(t['before']):.2f}) | "
          f"{a:.3f} ({min(t['after']):.2f}–{max(t['after']):.2f}) | {a / b:.3f} |")
PY
