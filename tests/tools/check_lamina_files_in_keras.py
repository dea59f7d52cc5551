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
be equal, but for Keras 3.15's own behaviours listed in CONFIG_EXCEPTIONS (and lamina's known,
equivalent forms in LAMINA_DIFFERENCES, printed on every run); models Keras 3 cannot express
(EXPECTED_REFUSALS) must be refused. A class of lamina_classes.json that no file of some format
exercises fails. Exits 1 on any mismatch; prints counts per class and format.
"""
import argparse
import fnmatch
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

# Models Keras 3 cannot load, whatever wrote them: (what, why, does it apply to (entry, format),
# text Keras's error must contain, classes it leaves without a loadable file). Such a file must be
# refused with that error; one that loads fails the check (the rule is out of date).
EXPECTED_REFUSALS = [
    ("ThresholdedReLU", "tf.keras 2 only: Keras 3 removed it (ReLU(threshold=...) replaces it)",
     lambda entry, fmt: "ThresholdedReLU" in entry["classes"], ("ThresholdedReLU",), ("ThresholdedReLU",)),
    ("LocallyConnected1D/2D", "tf.keras 2 only: Keras 3 removed them; lamina writes them as custom objects, which "
     "Keras 3 cannot resolve",
     lambda entry, fmt: bool({"LocallyConnected1D", "LocallyConnected2D"} & set(entry["classes"])),
     ("LocallyConnected",), ("LocallyConnected1D", "LocallyConnected2D")),
    ("IntegerLookup/Hashing under JAX", "Keras 3 builds them on tf.data lookups: without TensorFlow (this check runs "
     "the JAX backend, a third of the download) they refuse to exist; tests/fixtures/check_preprocessing_in_keras.py "
     "loads lamina's saves of them in Keras 3.15 with TensorFlow",
     lambda entry, fmt: bool({"IntegerLookup", "Hashing"} & set(entry["classes"])), ("requires TensorFlow",),
     ("IntegerLookup", "Hashing")),
    ("Keras 2's hard_sigmoid", "lamina keeps Keras 2's formula, clip(0.2x + 0.5, 0, 1), for Keras 2 files as "
     "'hard_sigmoid_keras2'; Keras 3 has only its own, relu6(x + 3) / 6, so it cannot express those models",
     lambda entry, fmt: '"hard_sigmoid_keras2"' in json.dumps(entry["layers"]), ("hard_sigmoid_keras2",), ()),
    ("bfloat16 weights in .h5", "Keras 3.15 writes bfloat16 weights in a legacy .h5 as 2-byte opaque data and "
     "cannot read them back, its own files included (tests/fixtures/half/half_model.h5): 'Dtype |V2' under JAX, "
     "'No cast function available' under TensorFlow",
     lambda entry, fmt: fmt == "h5" and "bfloat16" in policies(entry), ("JAX value", "cast function"), ()),
]

# Differences between Keras's get_config and the config lamina wrote, allowed where Keras 3.15
# itself behaves so: (class of the compared layer or "*", fnmatch pattern of the key path, which
# may also match after a ".") -> (Keras's value, lamina's value, why); a value may be a predicate.
# "<absent>" stands for a missing key. Any other difference fails.
def _policy_name(value):
    return value.get("config", {}).get("name") if isinstance(value, dict) else None


CONFIG_EXCEPTIONS = {
    ("*", "quantization_config"): (None, "<absent>", "Keras 3.15 writes quantization_config=None for Dense, "
                                   "EinsumDense and Embedding, a key later Keras 3 releases added; absent means None"),
    ("InputLayer", "optional"): (False, "<absent>", "Keras 3.15 writes optional=False, a key later Keras 3 releases "
                                 "added; absent means False"),
    ("*", "*initializer.config.input_axes"): (None, "<absent>", "Keras 3.15's fan-based initializers (Glorot, He, "
                                              "Lecun, VarianceScaling) write the axes of their fans, None by default, a "
                                              "key of the latest releases; absent means None"),
    ("*", "*initializer.config.output_axes"): (None, "<absent>", "as input_axes"),
    ("BatchNormalization", "renorm"): (False, "<absent>", "Keras 3.15 brought back batch renormalization and "
                                       "writes its keys at their defaults; absent means off (lamina refuses renorm=True)"),
    ("BatchNormalization", "renorm_clipping"): (None, "<absent>", "as renorm"),
    ("BatchNormalization", "renorm_momentum"): (0.99, "<absent>", "as renorm"),
    ("*", "sliding_window"): (None, "<absent>", "Keras 3.15's MultiHeadAttention writes sliding_window=None, a key "
                              "later Keras 3 releases added; absent means None (lamina refuses other values)"),
    ("*", "use_gate"): (False, "<absent>", "as sliding_window"),
    ("ZeroPadding1D", "data_format"): ("channels_last", "<absent>", "Keras 3.15's ZeroPadding1D writes data_format, "
                                       "a key later Keras 3 releases added; absent means channels_last"),
    ("MultiHeadAttention", "attention_axes"): (lambda k: isinstance(k, list), None, "Keras's MultiHeadAttention "
                                               "replaces attention_axes=None by the axes it resolved when built"),
    ("SpatialDropout*", "dtype"): (lambda k: isinstance(k, str), _policy_name, "Keras 3.15's SpatialDropout1D/2D/3D "
                                   "get_config writes the dtype as a plain name, every other layer as a DTypePolicy"),
    ("Discretization", "dtype"): (lambda k: isinstance(k, str), _policy_name, "Keras 3.15's Discretization "
                                  "get_config writes its dtype as a plain name, as SpatialDropout does"),
    ("CategoryEncoding", "sparse"): ("<absent>", False, "Keras 3.15's CategoryEncoding.get_config leaves out the "
                                     "sparse it takes; absent means False (lamina refuses sparse=True)"),
    ("*", "*activation"): ("silu", "swish", "Keras 3 resolves the alias 'swish' to its function and writes that "
                           "function's name; lamina writes the name it was given: the same function"),
    ("SimpleRNN", "seed"): ("<absent>", None, "Keras 3.15's SimpleRNN.get_config leaves out the seed it takes "
                            "(LSTM's and GRU's write it)"),
    ("Bidirectional", "*layer.config.zero_output_for_mask"): (True, False, "Keras's Bidirectional sets "
                                                             "zero_output_for_mask=True on the layers it wraps and "
                                                             "writes that; lamina's Bidirectional zeroes masked steps "
                                                             "itself (same outputs, checked here)"),
}
# Keras 3.15 turns an int axis into a one-element list: [a] and a mean the same axis.
LIST_AXIS = {("LayerNormalization", "axis"), ("RMSNormalization", "axis")}

# Differences that are lamina's: its files load and predict the same in Keras, but lamina writes
# another (equivalent) form. Listed so that the check passes while they remain, printed on every run;
# remove an entry when lamina writes Keras's form.
LAMINA_DIFFERENCES = {
    ("*", "*layer.config.dtype"): "a layer nested in a wrapper (Bidirectional, TimeDistributed) gets its dtype "
                                  "policy as a name, not as Keras's DTypePolicy object (Keras reads both)",
    ("*", "cell.config.dtype"): "as *layer.config.dtype, for the cell of RNN(cell)",
    ("*", "*layer.build_config"): "a layer nested in a wrapper has no build_config (the wrapper builds it)",
    ("*", "cell.build_config"): "as *layer.build_config, for the cell of RNN(cell)",
    ("*Attention", "seed"): "Attention and AdditiveAttention leave out seed=None, which Keras 3 writes "
                           "(tests/layers/test_attention.cpp pins lamina's keys)",
}


def policies(entry):
    """The dtype policy names of every layer of an entry."""
    out = set()
    for layer in entry["layers"]:
        d = layer["config"].get("dtype")
        out.add(d.get("config", {}).get("name") if isinstance(d, dict) else d)
    return out


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


def allowed(top_cls, cls, key, keras_value, lamina_value):
    """The table entry that allows this difference: ("keras", rule) or ("lamina", rule), or None."""
    leaf = key.split(".")[-1]
    if (cls, leaf) in LIST_AXIS and keras_value == [lamina_value]:
        return ("keras", (cls, leaf))
    def applies(rule):
        return (any(fnmatch.fnmatchcase(c, rule[0]) for c in (cls, top_cls))
                and (fnmatch.fnmatchcase(key, rule[1]) or fnmatch.fnmatchcase(key, "*." + rule[1])))

    def same(expected, value, other):
        if expected is _policy_name:  # lamina's DTypePolicy holds the name Keras wrote
            return _policy_name(value) == other
        return expected(value) if callable(expected) else expected == value

    for rule, (k, l, _) in CONFIG_EXCEPTIONS.items():
        if applies(rule) and same(k, keras_value, None) and same(l, lamina_value, keras_value):
            return ("keras", rule)
    for rule in LAMINA_DIFFERENCES:
        if applies(rule):
            return ("lamina", rule)
    return None


def tolerance(entry):
    """1e-5, but for models computing in 16 bits: a few units in the last place of that type (an
    addition order that differs, as between any two implementations, moves the result that much)."""
    p = policies(entry)
    if p & {"bfloat16", "mixed_bfloat16"}:
        return 2.0**-6
    if p & {"float16", "mixed_float16"}:
        return 2.0**-9
    return TOLERANCE


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
    allowances = defaultdict(int)  # ("keras" | "lamina", rule) -> differences it allowed
    refusals = defaultdict(int)  # what -> files refused as expected
    for entry in entries:
        inputs = [tensor_of(t) for t in entry["inputs"]]
        for fmt in FORMATS:
            if fmt not in entry["files"]:
                continue
            label = entry["files"][fmt]
            refusal = next((r for r in EXPECTED_REFUSALS if r[2](entry, fmt)), None)
            try:
                model = load(keras, args.folder, entry["files"], fmt)
            except Exception as e:  # noqa: BLE001 - any refusal is reported
                message = " ".join(str(e).split())
                if refusal and any(text in message for text in refusal[3]):
                    refusals[refusal[0]] += 1
                    continue
                per_format[fmt][1] += 1
                failures.append(f"{label}: Keras cannot load it: {type(e).__name__}: {message[:900]}")
                continue
            if refusal:
                per_format[fmt][1] += 1
                failures.append(f"{label}: loaded, but Keras was expected to refuse it ({refusal[0]})")
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
                if d >= tolerance(entry):
                    problems.append(f"output {i} differs by {d:.3g} (tolerance {tolerance(entry):.3g})")
                elif tolerance(entry) == TOLERANCE:
                    worst = max(worst, d)
            for layer in entry["layers"]:
                where = "/".join(layer["path"])
                try:
                    keras_cfg = plain(keras_layer(model, layer["path"]).get_config())
                except Exception as e:  # noqa: BLE001
                    problems.append(f"layer {where}: {type(e).__name__}: {e}")
                    continue
                keys_compared += len(set(keras_cfg) | set(layer["config"]))
                for cls, key, k, l in differences(layer["class_name"], keras_cfg, layer["config"], ""):
                    rule = allowed(layer["class_name"], cls, key, k, l)
                    if rule:
                        allowances[rule] += 1
                    else:
                        problems.append(f"{where} ({cls}) {key}: Keras {json.dumps(k)}, lamina {json.dumps(l)}")
            if problems:
                per_format[fmt][1] += 1
                failures += [f"{label}: {p}" for p in problems]
            else:
                per_format[fmt][0] += 1
                for cls in entry["classes"]:
                    per_class[cls][fmt] += 1

    excused = {cls for r in EXPECTED_REFUSALS for cls in r[4]}
    print(f"\n{'class':28s}" + "".join(f"{f:>9s}" for f in FORMATS))
    for cls in sorted(set(lamina_classes) | set(per_class)):
        print(f"{cls:28s}" + "".join(f"{per_class[cls][f]:9d}" for f in FORMATS)
              + ("   (Keras 3 refuses it, as expected)" if cls in excused else ""))
        for fmt in FORMATS:
            if per_class[cls][fmt] == 0 and cls not in excused:
                failures.append(f"{cls}: no {fmt} file with it loaded in Keras with the same results")
    loaded = sum(m + f for m, f in per_format.values())
    print("\nper format: " + ", ".join(f"{fmt} {per_format[fmt][0]} match, {per_format[fmt][1]} do not"
                                       for fmt in FORMATS))
    print(f"files loaded by Keras: {loaded}; refused as expected: {sum(refusals.values())} "
          f"({', '.join(f'{w}: {n}' for w, n in sorted(refusals.items()))})")
    print(f"worst relative difference (float32 models): {worst:.3g}; config keys compared: {keys_compared}")
    print("differences allowed as Keras 3.15's behaviour:")
    for rule, (k, l, why) in CONFIG_EXCEPTIONS.items():
        print(f"  {rule[0]} {rule[1]}: {allowances[('keras', rule)]} times - {why}")
    print(f"  int axis as a list ({', '.join(sorted(c for c, _ in LIST_AXIS))}): "
          f"{sum(n for r, n in allowances.items() if r[0] == 'keras' and r[1] in LIST_AXIS)} times")
    print("KNOWN LAMINA DIFFERENCES (Keras reads lamina's form; to fix in lamina):")
    for rule, why in LAMINA_DIFFERENCES.items():
        print(f"  {rule[0]} {rule[1]}: {allowances[('lamina', rule)]} times - {why}")
    if loaded < args.min_files:
        failures.append(f"only {loaded} files were loaded (expected at least {args.min_files})")
    if failures:
        print(f"\n{len(failures)} FAILURES:")
        for f in failures:
            print("  " + f)
        return 1
    print("all files match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
