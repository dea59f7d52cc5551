#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rebuilds the committed corpus fuzz/corpus/<harness>/ from its seeds: the Keras files of
# tests/fixtures, the files lamina writes (fuzz_make_seeds), the hand-made hostile inputs
# (make_edge_seeds.py) and whatever is in fuzz/corpus already (a campaign's finds), minimized
# with libFuzzer's -merge=1 (only inputs that add coverage are kept). Inputs over 64 KiB are left
# out, so that the corpus stays a few MB and each run is fast: the larger Keras files stay in
# tests/fixtures, where the [fuzz] tests mutate them.
# Usage: fuzz/seeds.sh BUILD_DIR   (a -DLAMINA_FUZZ=ON build with lamina_fuzzers and fuzz_make_seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz/seeds.sh BUILD_DIR}
python=${PYTHON:-/work/venv-keras/bin/python}  # needs h5py and numpy
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT

"$build/fuzz/fuzz_make_seeds" "$seeds"
"$python" fuzz/make_edge_seeds.py "$seeds"
fixtures=tests/fixtures
mkdir -p "$seeds"/{h5_model,keras_model,weights_h5,model_json,npy,idx,csv}
for f in "$fixtures"/keras_files/*; do
  case "$f" in
    *.weights.h5) cp "$f" "$seeds/weights_h5/" ;;
    *.keras) cp "$f" "$seeds/keras_model/" ;;
    *.h5) cp "$f" "$seeds/h5_model/" ;;
    *.json) cp "$f" "$seeds/model_json/" ;;
    *.npy) cp "$f" "$seeds/npy/" ;;
  esac
done
cp "$fixtures"/npy/*.npy "$seeds/npy/"
cp "$fixtures"/datasets/*-ubyte.gz "$seeds/idx/"
cp "$fixtures"/keras_subclassed/*.keras "$seeds/keras_model/" 2>/dev/null || true

for dir in "$seeds"/*/; do
  harness=$(basename "$dir")
  mkdir -p "fuzz/corpus/$harness"
  cp -n "fuzz/corpus/$harness"/* "$dir" 2>/dev/null || true
  find "$dir" -type f -size +64k -delete
  merged=$(mktemp -d)
  # -merge=1 steps over inputs that crash: they are findings, kept and reported here.
  "$build/fuzz/fuzz_$harness" -merge=1 -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$seeds/finding-$harness-" \
    "$merged" "$dir" >/dev/null 2>&1
  rm -rf "fuzz/corpus/$harness"
  mv "$merged" "fuzz/corpus/$harness"
  echo "$harness: $(ls "fuzz/corpus/$harness" | wc -l) inputs, $(du -sh --apparent-size "fuzz/corpus/$harness" | cut -f1)"
done
if compgen -G "$seeds/finding-*" >/dev/null; then
  mkdir -p fuzz/findings
  cp "$seeds"/finding-* fuzz/findings/
  echo "seeds.sh: inputs that fail a harness are in fuzz/findings/ (fix, then move them to fuzz/regressions/<harness>/)" >&2
  exit 1
fi
