#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fails when the engine includes a layer header.

Dependencies point one way: layers build on the engine (Layer, Input, the layer registry), never
the reverse. A layer the engine needs to know about registers itself from its own .cpp. This lists
every include in src/engine of a layer header (lamina/layers/*.hpp, layers/*.hpp) or of
lamina/lamina.hpp, which holds them all. Usage: check_engine_includes.py SOURCE_DIR
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
tree = root / "src" / "engine"
pattern = re.compile(r'^\s*#\s*include\s*[<"](lamina/layers/|layers/|lamina/lamina\.hpp)')
hits = []
for path in sorted(tree.rglob("*")):
    if path.suffix not in (".cpp", ".hpp"):
        continue
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if pattern.search(line):
            hits.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
for h in hits:
    print(h)
print(f"{len(hits)} layer includes in src/engine")
sys.exit(1 if hits else 0)
