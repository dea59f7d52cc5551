#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Structural check of a Keras HDF5 file, written from KERAS_FORMATS.md independently of lamina:
does the file have the layout Keras's readers expect?

    check_keras_h5.py model   FILE.h5          legacy whole model (model.save("m.h5"))
    check_keras_h5.py weights FILE.h5          legacy weights only (save_weights("w.h5"))
    check_keras_h5.py keras3  FILE.weights.h5  Keras 3 layout (model.weights.h5)

Exits 0 and prints "ok" when the file passes, else prints the problems and exits 1.
Needs h5py (Debian: python3-h5py).
"""
import json
import sys

import h5py
import numpy as np

problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)
    return cond


def as_str(x):
    return x.decode("utf8") if isinstance(x, (bytes, np.bytes_)) else str(x)


def load_attributes(group, name):
    """Keras's load_attributes_from_hdf5_group: `name`, or `name0`, `name1`, ... concatenated."""
    if name in group.attrs:
        return [as_str(n) for n in group.attrs[name]]
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out.extend(as_str(n) for n in group.attrs[f"{name}{i}"])
        i += 1
    check(i > 0, f"{group.name}: no attribute {name}")
    return out


def check_attribute_sizes(group):
    for key in group.attrs:
        data = group.attrs[key]
        if isinstance(data, np.ndarray) and data.dtype.kind == "S":
            check(data.nbytes <= 64512, f"{group.name}: attribute {key} is {data.nbytes} bytes > 64512")


def check_legacy_weights(group):
    check_attribute_sizes(group)
    layer_names = load_attributes(group, "layer_names")
    check(len(set(layer_names)) == len(layer_names), f"{group.name}: duplicate layer names")
    for key in ("backend", "keras_version"):
        check(key in group.attrs, f"{group.name}: no {key} attribute")
    counts = []
    for name in layer_names:
        if not check(name in group, f"{group.name}: no group for layer {name}"):
            continue
        g = group[name]
        check_attribute_sizes(g)
        raw = g.attrs.get("weight_names", None)
        check(raw is not None or "weight_names0" in g.attrs, f"{g.name}: no weight_names")
        if raw is not None and len(raw) == 0:
            check(raw.dtype == np.float64, f"{g.name}: an empty weight_names is float64 in Keras files")
        names = load_attributes(g, "weight_names")
        for w in names:
            if check(w in g and isinstance(g[w], h5py.Dataset), f"{g.name}: no dataset {w}"):
                d = g[w]
                check(d.dtype == np.float32, f"{d.name}: dtype {d.dtype}, expected float32")
                check(d.chunks is None and d.compression is None, f"{d.name}: not contiguous")
        counts.append(len(names))
    return layer_names, counts


def check_model(path):
    f = h5py.File(path, "r")
    for key in ("keras_version", "backend", "model_config"):
        check(key in f.attrs, f"root: no {key} attribute")
    config = json.loads(as_str(f.attrs["model_config"]))
    check(config.get("class_name") in ("Sequential", "Functional", "Model"),
          f"model_config class_name {config.get('class_name')}")
    # Keras <= 2.2.2 wrote a Sequential's config as a bare list of layers.
    layers = config["config"] if isinstance(config["config"], list) else config["config"]["layers"]
    if "training_config" in f.attrs:
        tc = json.loads(as_str(f.attrs["training_config"]))
        check("loss" in tc and "optimizer_config" in tc, "training_config lacks loss or optimizer_config")
        check("class_name" in tc["optimizer_config"] and "config" in tc["optimizer_config"],
              "optimizer_config is not {class_name, config}")
    if not check("model_weights" in f, "no model_weights group"):
        return
    names, _ = check_legacy_weights(f["model_weights"])
    # Keras 3: a Sequential's layer_names leave out its InputLayer; Functional lists them.
    expected = [l["config"]["name"] for l in layers
                if not (config["class_name"] == "Sequential" and l["class_name"] == "InputLayer")]
    check(names == expected, f"layer_names {names} != the config's layers {expected}")
    if "optimizer_weights" in f:
        g = f["optimizer_weights"]
        for w in load_attributes(g, "weight_names"):
            check(w in g and isinstance(g[w], h5py.Dataset), f"optimizer_weights: no dataset {w}")


def check_keras3(path):
    f = h5py.File(path, "r")
    check("vars" in f, "no /vars group (the model's own variables)")
    if not check("layers" in f, "no /layers group"):
        return

    def walk(group):
        for key in group:
            g = group[key]
            if key == "vars":
                names = sorted(g.keys(), key=int)
                check(names == [str(i) for i in range(len(names))], f"{g.name}: datasets {names}")
                check("name" in g.attrs, f"{g.name}: no name attribute")
            elif isinstance(g, h5py.Group):
                walk(g)
    walk(f["layers"])
    if "optimizer" in f:
        v = f["optimizer/vars"]
        check(v["0"].dtype == np.int64 and v["0"].shape == (), "optimizer/vars/0 is not an int64 scalar")
        check(v["1"].dtype == np.float32 and v["1"].shape == (), "optimizer/vars/1 is not a float32 scalar")


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "model":
        check_model(path)
    elif kind == "weights":
        f = h5py.File(path, "r")
        check("model_config" not in f.attrs, "a weights-only file has no model_config")
        check_legacy_weights(f)
    elif kind == "keras3":
        check_keras3(path)
    else:
        sys.exit(f"unknown kind {kind}")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
