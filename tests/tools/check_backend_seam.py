#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fails when code above the backend touches element memory or the CPU backend directly.

The ops, layers, losses, metrics and optimizers reach elements only through backend kernels
(src/backend/backend.hpp), so that they run on any device. This lists every place in those
trees that takes a raw element pointer (data<T>(), raw_data()) or includes a CPU-backend
header. Usage: check_backend_seam.py SOURCE_DIR
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
trees = ["src/ops", "src/losses", "src/metrics", "optimizers", "layers"]
pattern = re.compile(r"\.data<|->data<|\bdata<[A-Za-z_:]+>\(\)|raw_data\(|#include \"backend/cpu/")
hits = []
for tree in trees:
    for path in sorted((root / tree).rglob("*")):
        if path.suffix not in (".cpp", ".hpp"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and not line.lstrip().startswith("//"):
                hits.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
for h in hits:
    print(h)
print(f"{len(hits)} raw element accesses above the backend in {', '.join(trees)}")
sys.exit(1 if hits else 0)
