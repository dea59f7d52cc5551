#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Mirrors a git working tree's files (tracked and untracked-but-not-ignored, as they are on disk)
into DEST, removing the files there that the tree no longer has; build folders inside DEST and
unchanged files (same size and mtime) are left alone, so that builds in DEST stay incremental.

  copy_tree.py SRC DEST
"""
import os
import pathlib
import shutil
import subprocess
import sys


def tree_files(src):
    try:
        out = subprocess.run(["git", "-C", str(src), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             check=True, capture_output=True).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything but builds
        names = [str(p.relative_to(src)) for p in src.rglob("*") if p.is_file() and not is_build(p.relative_to(src))]
    return {n for n in names if (src / n).is_file() and not (src / n).is_symlink()}


def is_build(rel):
    return rel.parts and (rel.parts[0] == "build" or rel.parts[0].startswith("build-") or rel.parts[0] == ".git")


def main():
    src, dest = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2]).resolve()
    files = tree_files(src)
    dest.mkdir(parents=True, exist_ok=True)
    for p in list(dest.rglob("*")):
        rel = p.relative_to(dest)
        if p.is_file() and not is_build(rel) and str(rel) not in files:
            p.unlink()
    for name in files:
        s, d = src / name, dest / name
        st = s.stat()
        if d.is_file():
            dt = d.stat()
            if dt.st_size == st.st_size and int(dt.st_mtime) == int(st.st_mtime):
                continue
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s, d)
    print(f"lamina ci: {len(files)} files mirrored into {dest}")


if __name__ == "__main__":
    main()
