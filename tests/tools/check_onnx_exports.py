# SPDX-License-Identifier: Apache-2.0
"""Checks lamina's ONNX exports with the real tools: onnx.checker.check_model(full_check=True)
and onnxruntime inference against lamina's predictions.

Usage: check_onnx_exports.py DIR [--min-models N] [--tolerance 1e-5]
DIR holds one folder per model (written by `LAMINA_ONNX_EXPORT_DIR=DIR lamina_tests "[onnx_export]"`):
model.onnx, input_<i>.npy (in the graph's input order) and output_<i>.npy (lamina's predictions,
in the graph's output order). A model passes when every output agrees elementwise within
tolerance·(1 + |lamina|). Prints the worst absolute and relative difference per model and overall.
"""
import argparse
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort


def check(folder: pathlib.Path, tolerance: float):
    path = folder / "model.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for i, meta in enumerate(session.get_inputs()):
        x = np.load(folder / f"input_{i}.npy")
        feeds[meta.name] = x.astype(np.int64 if "int64" in meta.type else np.int32 if "int32" in meta.type else np.float32)
    results = session.run(None, feeds)
    worst_abs = worst_rel = 0.0
    ok = True
    for i, got in enumerate(results):
        want = np.load(folder / f"output_{i}.npy")
        if got.shape != want.shape:
            print(f"  output {i}: shape {got.shape} from onnxruntime, {want.shape} from lamina")
            return False, float("inf"), float("inf")
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        worst_abs = max(worst_abs, float(diff.max(initial=0.0)))
        worst_rel = max(worst_rel, float((diff / (1.0 + np.abs(want))).max(initial=0.0)))
        ok = ok and bool(np.all(diff <= tolerance * (1.0 + np.abs(want))))
    return ok, worst_abs, worst_rel


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--min-models", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    folders = sorted(p for p in args.dir.iterdir() if (p / "model.onnx").is_file())
    failures = []
    overall_abs = overall_rel = 0.0
    for folder in folders:
        try:
            ok, worst_abs, worst_rel = check(folder, args.tolerance)
        except Exception as e:  # the checker's or onnxruntime's refusal is a failure of that model
            print(f"FAIL {folder.name}: {type(e).__name__}: {e}")
            failures.append(folder.name)
            continue
        overall_abs, overall_rel = max(overall_abs, worst_abs), max(overall_rel, worst_rel)
        print(f"{'ok  ' if ok else 'FAIL'} {folder.name}: worst |diff| {worst_abs:.3g}, relative {worst_rel:.3g}")
        if not ok:
            failures.append(folder.name)
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}: {len(folders) - len(failures)}/{len(folders)} "
          f"models pass; worst |diff| {overall_abs:.3g}, worst relative {overall_rel:.3g} (tolerance {args.tolerance})")
    if len(folders) < args.min_models:
        print(f"expected at least {args.min_models} models in {args.dir}, found {len(folders)}")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
