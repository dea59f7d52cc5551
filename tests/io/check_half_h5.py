#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks how a 16-bit dataset is stored, with h5py, as Keras 3 / h5py store them:

    check_half_h5.py FILE DATASET float16  BITS...   IEEE half float type ('<f2')
    check_half_h5.py FILE DATASET bfloat16 BITS...   2-byte opaque type; with --marked also the
                                                     attribute dtype = "bfloat16" (.weights.h5)

BITS are the expected 16-bit patterns, in row-major order. Exits 0 and prints "ok", else prints
the problem and exits 1. Needs h5py and numpy only (bfloat16 is read as raw 2-byte data).
"""
import sys

import h5py
import numpy as np


def main():
    args = sys.argv[1:]
    marked = "--marked" in args
    args = [a for a in args if a != "--marked"]
    path, name, kind, want = args[0], args[1], args[2], [int(b) for b in args[3:]]
    with h5py.File(path, "r") as f:
        ds = f[name]
        tid = ds.id.get_type()
        if kind == "float16":
            if ds.dtype != np.dtype("<f2"):
                return fail(f"{name}: dtype {ds.dtype}, expected <f2")
            got = ds[()].view(np.uint16).ravel().tolist()
        else:
            if tid.get_class() != h5py.h5t.OPAQUE or tid.get_size() != 2:
                return fail(f"{name}: HDF5 class {tid.get_class()} size {tid.get_size()}, expected 2-byte opaque")
            if marked and ds.attrs.get("dtype") not in ("bfloat16", b"bfloat16"):
                return fail(f"{name}: attribute dtype {ds.attrs.get('dtype')!r}, expected 'bfloat16'")
            got = np.frombuffer(ds[()].tobytes(), dtype="<u2").tolist()
        if got != want:
            return fail(f"{name}: bits {got}, expected {want}")
    print("ok")
    return 0


def fail(message):
    print(message)
    return 1


if __name__ == "__main__":
    sys.exit(main())
