#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""lamina -> Keras: loads in real Keras 3 every file lamina's tests exported and checks that Keras
predicts what lamina predicted and that Keras's get_config equals lamina's, key by key, for each
layer.

  mkdir -p /tmp/out
  LAMINA_KERAS_EXPORT=/tmp/out ./build/lamina_tests "[keras_export],[keras_actnorm],..."
  KERAS_BACKEND=jax python tests/tools/check_lamina_files_in_keras.py /tmp/out

The tests write the files through tests/support/keras_export.hpp: for each model
<name>.keras, <name>.h5, <name>.weights.h5 with <name>.config.json, and <name>.entry.json (the
inputs, lamina's outputs, lamina's config of every layer); lamina_classes.json lists the layer
classes lamina has. Each format is loaded as a Keras user would:
  .keras        keras.saving.load_model
  .h5           keras.saving.load_model (Keras's legacy HDF5 reader)
  .weights.h5   keras.models.model_from_json(<name>.config.json), then model.load_weights
Predictions must agree within 1e-5 (|keras - lamina| / max(1, |lamina|)); every config key must
be equal, but for the Keras quirks listed in CONFIG_EXCEPTIONS; a class of lamina_classes.json
that no file exercises in some format fails, but for KERAS3_LACKS (Keras 3 refuses those files,
which must then fail to load). Exits 1 on any mismatch; prints counts per class and format.
"""
import argparse
import glob
import json
import math
import os
import sys
from collections import defaultdict

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np

TOLERANCE = 1e-5
FORMATS = ("keras", "h5", "weights")

# Classes lamina has that Keras 3 does not: a file holding one must be refused by Keras.
KERAS3_LACKS = {
    "ThresholdedReLU": "tf.keras 2 only; Keras 3 removed it (use ReLU(threshold=...))",
}

# (class or "*", key) -> why Keras's get_config differs from the config it was loaded from. Each
# is a documented behaviour of Keras 3.15, not of lamina; every other difference fails.
CONFIG_EXCEPTIONS = {
}


def tensor_of(t):
    values = np.array([math.nan if v is None else v for v in t["values"]], np.float64)
    return values.reshape(t["shape"]).astype(t["dtype"] if t["dtype"].startswith(("int", "uint")) else np.float32)


def worst_difference(got, want):
    got = np.asarray(got, np.float64).ravel()
    want = np.array([math.nan if v is None else v for v in want["values"]], np.float64)
    if got.size != want.size:
        return math.inf
    nan = np.isnan(want)
    if not np.array_equal(nan, np.isnan(got)):
        return math.inf
    if nan.all():
        return 0.0
    return float(np.max(np.abs(got[~nan] - want[~nan]) / np.maximum(1.0, np.abs(want[~nan]))))


def plain(value):
    """A get_config value as JSON would carry it (tuples as lists, numpy scalars as numbers)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


ABSENT = "<absent>"


def differences(cls, keras_value, lamina_value, where):
    """(class, key path, keras value, lamina value) of every differing leaf: objects are compared
    key by key and lists of objects element by element; `cls` is the innermost class_name."""
    if isinstance(keras_value, dict) and isinstance(lamina_value, dict):
        inner = lamina_value.get("class_name", cls) if "config" in lamina_value else cls
        out = []
        for key in sorted(set(keras_value) | set(lamina_value)):
            out += differences(inner, keras_value.get(key, ABSENT), lamina_value.get(key, ABSENT),
                               f"{where}.{key}" if where else key)
        return out
    if (isinstance(keras_value, list) and isinstance(lamina_value, list) and len(keras_value) == len(lamina_value)
            and any(isinstance(v, dict) for v in keras_value + lamina_value)):
        out = []
        for i, (k, l) in enumerate(zip(keras_value, lamina_value)):
            out += differences(cls, k, l, f"{where}[{i}]")
        return out
    return [] if keras_value == lamina_value else [(cls, where, keras_value, lamina_value)]


def exception_for(cls, key):
    leaf = key.split(".")[-1].split("[")[0]
    for probe in ((cls, key), (cls, leaf), ("*", key), ("*", leaf)):
        if probe in CONFIG_EXCEPTIONS:
            return probe
    return None


def keras_layer(model, path):
    layer = model
    for name in path:
        candidates = getattr(layer, "_layers", None) or layer.layers
        match = [l for l in candidates if l.name == name]
        if not match:
            raise KeyError(f"no layer '{name}' in Keras's {layer.name}")
        layer = match[0]
    return layer


def load(keras, folder, files, fmt):
    path = os.path.join(folder, files[fmt])
    if fmt == "weights":
        with open(os.path.join(folder, files["config"])) as f:
            model = keras.models.model_from_json(f.read())
        model.load_weights(path)
        return model
    return keras.saving.load_model(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--min-files", type=int, default=1, help="fail when fewer model files were exported")
    parser.add_argument("--only", default="", help="check only the models whose name contains this")
    args = parser.parse_args()
    import keras

    entries = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(args.folder, f"*{args.only}*.entry.json")))]
    with open(os.path.join(args.folder, "lamina_classes.json")) as f:
        lamina_classes = json.load(f)
    print(f"keras {keras.__version__} ({keras.backend.backend()} backend): {len(entries)} models from {args.folder}")

    failures = []
    worst = 0.0
    per_format = defaultdict(lambda: [0, 0])  # fmt -> [matched, failed]
    per_class = defaultdict(lambda: defaultdict(int))  # class -> fmt -> matched files
    keys_compared = 0
    exceptions_used = defaultdict(int)
    expected_refusals = 0
    for entry in entries:
        lacking = sorted(set(entry["classes"]) & set(KERAS3_LACKS))
        inputs = [tensor_of(t) for t in entry["inputs"]]
        for fmt in FORMATS:
            if fmt not in entry["files"]:
                continue
            label = f"{entry['files'][fmt]}"
            try:
                model = load(keras, args.folder, entry["files"], fmt)
            except Exception as e:  # noqa: BLE001 - any refusal is reported
                if lacking and any(c in str(e) for c in lacking):
                    expected_refusals += 1
                    continue
                per_format[fmt][1] += 1
                failures.append(f"{label}: Keras cannot load it: {type(e).__name__}: {' '.join(str(e).split())[:900]}")
                continue
            if lacking:
                per_format[fmt][1] += 1
                failures.append(f"{label}: loaded although Keras 3 lacks {lacking}; update KERAS3_LACKS")
                continue
            problems = []
            outputs = model(inputs[0] if len(inputs) == 1 else inputs, training=False)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            if len(outputs) != len(entry["outputs"]):
                problems.append(f"{len(outputs)} outputs, lamina {len(entry['outputs'])}")
            for i, (got, want) in enumerate(zip(outputs, entry["outputs"])):
                got = np.asarray(got)
                if list(got.shape) != want["shape"]:
                    problems.append(f"output {i} has shape {list(got.shape)}, lamina's {want['shape']}")
                    continue
                d = worst_difference(got, want)
                if d >= TOLERANCE:
                    problems.append(f"output {i} differs by {d:.3g}")
                else:
                    worst = max(worst, d)
            for layer in entry["layers"]:
                try:
                    keras_cfg = plain(keras_layer(model, layer["path"]).get_config())
                except Exception as e:  # noqa: BLE001
                    problems.append(f"layer {'/'.join(layer['path'])}: {type(e).__name__}: {e}")
                    continue
                keys_compared += len(set(keras_cfg) | set(layer["config"]))
                for cls, key, k, l in differences(layer["class_name"], keras_cfg, layer["config"], ""):
                    probe = exception_for(cls, key)
                    if probe:
                        exceptions_used[probe] += 1
                    else:
                        problems.append(f"{'/'.join(layer['path'])} ({cls}) {key}: Keras {json.dumps(k)}, "
                                        f"lamina {json.dumps(l)}")
            if problems:
                per_format[fmt][1] += 1
                failures += [f"{label}: {p}" for p in problems]
            else:
                per_format[fmt][0] += 1
                for cls in entry["classes"]:
                    per_class[cls][fmt] += 1

    print(f"\n{'class':28s}" + "".join(f"{f:>9s}" for f in FORMATS))
    for cls in sorted(set(lamina_classes) | set(per_class)):
        print(f"{cls:28s}" + "".join(f"{per_class[cls][f]:9d}" for f in FORMATS)
              + ("   (Keras 3 lacks it: refused as expected)" if cls in KERAS3_LACKS else ""))
        if cls in KERAS3_LACKS:
            continue
        for fmt in FORMATS:
            if per_class[cls][fmt] == 0:
                failures.append(f"{cls}: no {fmt} file with it loaded in Keras with the same results")
    total = sum(m + f for m, f in per_format.values())
    print("\nper format: " + ", ".join(f"{fmt} {per_format[fmt][0]} matched, {per_format[fmt][1]} failed"
                                       for fmt in FORMATS))
    print(f"files loaded: {total}, refused as expected: {expected_refusals}; worst relative difference {worst:.3g}; "
          f"config keys compared: {keys_compared}")
    for probe, n in sorted(exceptions_used.items()):
        print(f"  config exception {probe[0]}.{probe[1]} ({n} times): {CONFIG_EXCEPTIONS[probe]}")
    if total < args.min_files:
        failures.append(f"only {total} files were exported (expected at least {args.min_files})")
    if failures:
        print(f"\n{len(failures)} FAILURES:")
        for f in failures:
            print("  " + f)
        return 1
    print("all files match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
