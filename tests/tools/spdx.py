#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks that every lamina source file (C++, CUDA, Python, shell, CMake) carries the line
"SPDX-License-Identifier: Apache-2.0" in its first lines; --fix adds it where missing (after a
shebang). Test data (tests/fixtures/keras_files, which keep their own licences) is not ours.

  spdx.py [--fix] [ROOT]       # exit 1 when a file lacks the line (without --fix)
"""
import pathlib
import subprocess
import sys

TAG = "SPDX-License-Identifier: Apache-2.0"
SLASH = {".cpp", ".hpp", ".h", ".cu", ".cuh"}
HASH = {".py", ".sh", ".cmake"}
NOT_OURS = ("tests/fixtures/keras_files/",)


def comment_prefix(rel):
    name = rel.name
    if rel.suffix in SLASH or name == "version.hpp.in":
        return "// "
    if rel.suffix in HASH or name in ("CMakeLists.txt", "laminaConfig.cmake.in"):
        return "# "
    if rel.parts[0] == ".ci" and rel.suffix in ("", ".py"):
        return "# "
    return None


def files(root):
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, text=True, check=True).stdout.split()
        return [pathlib.Path(f) for f in out]
    except (OSError, subprocess.CalledProcessError):  # a copy without .git (.ci/test's mirror)
        return [p.relative_to(root) for p in root.rglob("*")
                if p.is_file() and not p.relative_to(root).parts[0].startswith(("build", ".git"))]


def main():
    fix = "--fix" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--fix"]
    root = pathlib.Path(args[0] if args else ".")
    missing = []
    for rel in sorted(files(root)):
        path = root / rel
        prefix = comment_prefix(rel)
        if prefix is None or str(rel).startswith(NOT_OURS) or not path.is_file():
            continue
        text = path.read_text()
        if TAG in "\n".join(text.splitlines()[:3]):
            continue
        if not fix:
            missing.append(str(rel))
            continue
        line = prefix + TAG + "\n"
        if text.startswith("#!"):
            first, _, rest = text.partition("\n")
            text = first + "\n" + line + rest
        else:
            text = line + text
        path.write_text(text)
        print(f"tagged {rel}")
    for m in missing:
        print(f"{m}: no '{TAG}' line")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
