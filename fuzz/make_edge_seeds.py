# SPDX-License-Identifier: Apache-2.0
"""Hand-made hostile inputs for the libFuzzer harnesses (fuzz/README.md): deep JSON, UTF-8
attributes, external storage and links, virtual datasets, absurd sizes, zip oddities, malformed
.npy / IDX / CSV headers. Each lands in OUT/<harness>/ as a seed; fuzz/seeds.sh adds the
files lamina writes and the Keras files of tests/fixtures, and merges them into fuzz/corpus/.

    /work/venv-keras/bin/python fuzz/make_edge_seeds.py OUT   (needs h5py and numpy)
"""
import gzip
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KERAS_FILES = os.path.join(HERE, "..", "tests", "fixtures", "keras_files")
OUT = sys.argv[1]


def put(harness, name, data):
    os.makedirs(os.path.join(OUT, harness), exist_ok=True)
    with open(os.path.join(OUT, harness, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def deep(n, open_="[", close="]"):
    return open_ * n + close * n


# A small Keras-2 Sequential config in the dialect legacy .h5 files carry.
def dense_config(units=4, name="dense", extra=None):
    layer = {"class_name": "Dense", "config": {"name": name, "units": units, "activation": "relu",
                                               "use_bias": True, "batch_input_shape": [None, 3]}}
    if extra:
        layer["config"].update(extra)
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": [layer]}}


# --- model_json -------------------------------------------------------------------------------
put("model_json", "deep_list", deep(20000))
put("model_json", "deep_object", '{"a":' * 20000 + "1" + "}" * 20000)
put("model_json", "deep_in_config", json.dumps(dense_config())[:-2] + ',"x":' + deep(20000) + "}}")
for key, value in [("units", 2**60), ("units", -3), ("units", 1e300), ("units", "4")]:
    put("model_json", f"dense_{key}_{str(value)[:8]}", json.dumps(dense_config(value)))
huge = [("RepeatVector", {"n": 2**61}), ("Conv2D", {"filters": 2, "kernel_size": [2**31, 2]}),
        ("Embedding", {"input_dim": 2**62, "output_dim": 4}), ("Reshape", {"target_shape": [2**40, 2**40]}),
        ("Dense", {"units": 10**6})]
for cls, cfg in huge:
    layer = {"class_name": cls, "config": dict(cfg, name=cls.lower(), batch_input_shape=[None, 3, 3, 1])}
    put("model_json", f"huge_{cls}", json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [layer]}}))
put("model_json", "utf8_names", json.dumps(dense_config(name="dénse_层_\U0001F600"), ensure_ascii=False))
put("model_json", "bad_utf8", b'{"class_name": "Sequential", "config": {"name": "\xff\xfe", "layers": []}}')
put("model_json", "nan_big_numbers", '{"class_name": "Sequential", "config": {"name": 1e400, "layers": [NaN, -0, 18446744073709551616]}}')

# --- h5_model and weights_h5: mutations of a small Keras 2 file ------------------------------
base = os.path.join(KERAS_FILES, "k2_dl4j_mlp_softmax.model.h5")


def h5_variant(harness, name, edit, source=base):
    path = os.path.join(OUT, "_tmp.h5")
    shutil.copy(source, path)
    with h5py.File(path, "r+") as f:
        edit(f)
    with open(path, "rb") as f:
        put(harness, name, f.read())
    os.remove(path)


def set_config(cfg):
    return lambda f: f.attrs.__setitem__("model_config", cfg)


h5_variant("h5_model", "config_units_2e60", set_config(json.dumps(dense_config(2**60))))
h5_variant("h5_model", "config_units_1e6", set_config(json.dumps(dense_config(10**6))))
h5_variant("h5_model", "config_deep_json", set_config(deep(20000)))
# lamina and Keras 3 write UTF-8 strings; the probe must read them as the loader does.
h5_variant("h5_model", "utf8_config", set_config(json.dumps(dense_config(name="dénse_层"), ensure_ascii=False)))


def external_link(f):
    g = f["model_weights"]
    name = list(g.keys())[0]
    del g[name]
    g[name] = h5py.ExternalLink("/etc/passwd", "/x")


def soft_link_loop(f):
    g = f["model_weights"]
    name = list(g.keys())[0]
    del g[name]
    g[name] = h5py.SoftLink("/model_weights/" + name)


def first_dataset(f):
    names = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names[0]


def external_storage(f):
    name = first_dataset(f)
    shape, dtype = f[name].shape, f[name].dtype
    del f[name]
    f.create_dataset(name, shape=shape, dtype=dtype, external=[("/etc/passwd", 0, h5py.h5f.UNLIMITED)])


def virtual_dataset(f):
    name = first_dataset(f)
    shape, dtype = f[name].shape, f[name].dtype
    del f[name]
    layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
    layout[...] = h5py.VirtualSource("../other.h5", "data", shape=shape)
    f.create_virtual_dataset(name, layout)


def absurd_dataset(f):
    name = first_dataset(f)
    del f[name]
    f.create_dataset(name, shape=(2**20, 2**20), dtype="f4", chunks=(1, 1024), fillvalue=1.0)


def lzf_filter(f):
    name = first_dataset(f)
    data = f[name][()]
    del f[name]
    f.create_dataset(name, data=data, compression="lzf")


for harness in ("h5_model", "weights_h5"):
    h5_variant(harness, "external_link", external_link)
    h5_variant(harness, "soft_link_loop", soft_link_loop)
    h5_variant(harness, "external_storage", external_storage)
    h5_variant(harness, "virtual_dataset", virtual_dataset)
    h5_variant(harness, "absurd_dataset", absurd_dataset)
    h5_variant(harness, "lzf_filter", lzf_filter)

# --- keras_model: zip oddities around a small Keras 3 archive ---------------------------------
with zipfile.ZipFile(os.path.join(KERAS_FILES, "k3_churn_mlp.keras")) as z:
    entries = {n: z.read(n) for n in z.namelist()}


def archive(name, members, compression=zipfile.ZIP_DEFLATED, comment=b""):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        z.comment = comment
        for member, data in members:
            z.writestr(member, data)
    put("keras_model", name, buf.getvalue())
    return buf.getvalue()


items = list(entries.items())
cfg = json.loads(entries["config.json"])
archive("stored", items, zipfile.ZIP_STORED)
archive("duplicate_config", items + [("config.json", b"{}")])
archive("missing_weights", [(n, d) for n, d in items if n != "model.weights.h5"])
archive("dotdot_entry", [("../config.json" if n == "config.json" else n, d) for n, d in items])
archive("deep_config", [(n, deep(20000).encode() if n == "config.json" else d) for n, d in items])
archive("config_bomb", [(n, b" " * (64 << 20) + d if n == "config.json" else d) for n, d in items])
archive("comment", items, comment=b"x" * 60000)
archive("directory_entries", [("config.json/", b"")] + items)
huge_cfg = json.loads(json.dumps(cfg))
for layer in huge_cfg["config"]["layers"]:
    if layer.get("class_name") == "Dense":
        layer["config"]["units"] = 2**60
        break
archive("units_2e60", [(n, json.dumps(huge_cfg).encode() if n == "config.json" else d) for n, d in items])
# A declared uncompressed size that lies (the central directory's copy of config.json's size).
blob = bytearray(archive("lying_size", items, zipfile.ZIP_STORED))
cd = blob.rfind(b"PK\x01\x02")
while cd >= 0:
    name_len = struct.unpack_from("<H", blob, cd + 28)[0]
    if blob[cd + 46:cd + 46 + name_len] == b"config.json":
        struct.pack_into("<I", blob, cd + 24, 0xFFFFFFF0)
    cd = blob.rfind(b"PK\x01\x02", 0, cd)
put("keras_model", "lying_size", bytes(blob))

# --- npy ------------------------------------------------------------------------------------


def npy(header, data=b"", version=(1, 0)):
    h = header.encode("latin1" if version < (3, 0) else "utf-8")
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    size = struct.pack("<H", len(h)) if version == (1, 0) else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes(version) + size + h + data


put("npy", "absurd_shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"))
put("npy", "overflow_product", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967297), }"))
put("npy", "negative_dim", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (-1, 2), }", b"\0" * 8))
put("npy", "object_dtype", npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8))
put("npy", "many_dims", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (" + "1, " * 64 + "), }", b"\0" * 4))
put("npy", "header_len_huge", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{")
put("npy", "utf8_v3", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'é': 1, }", b"\0" * 4, (3, 0)))
put("npy", "truncated", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", b"\0" * 5))

# --- idx --------------------------------------------------------------------------------------
put("idx", "rank_255", bytes([0, 0, 8, 255]) + b"\0\0\0\1" * 4)
put("idx", "huge_dims", bytes([0, 0, 0x0E, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
put("idx", "gzip_bomb", gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 200 << 20) + b"\0" * (8 << 20)))
put("idx", "short", bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 3) + b"\0" * 11)

# --- csv --------------------------------------------------------------------------------------
put("csv", "plain", "a,b,c\n1,2,3\n4.5,-6e3,7\n")
put("csv", "quotes", 'a,"b ""q"", x",c\n"1",2,"3\n"\n')
put("csv", "unbalanced", 'a,b\n"1,2\n3,4\n')
put("csv", "ragged", "a,b,c\n1,2\n1,2,3,4\n")
put("csv", "nul_and_utf8", b"a,\xc3\xa9\n1,\x002\n\xff,3\n")
put("csv", "huge_numbers", "a\n1e400\n-1e-400\n99999999999999999999999\nnan\ninf\n")
put("csv", "wide", ",".join(f"c{i}" for i in range(5000)) + "\n" + ",".join("1" for _ in range(5000)) + "\n")
