#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compiles every C++ block of README.md against an installed lamina, as a user would, with
`g++ -std=c++20 -Wall -Wextra -Werror $(pkg-config --cflags --libs lamina)`, and runs the
complete programs (the blocks with a main()).

A block that is a fragment is wrapped in `#include <lamina/lamina.hpp>`, `using namespace
lamina;` and a main(). What a fragment uses without declaring it comes from an HTML comment (not
shown on the rendered page) right before the block:

    <!-- readme-check: declare Tensor x_train, y_train; Sequential model; -->
    <!-- readme-check: top-level -->      (the block goes outside main: types, functions)
    <!-- readme-check: compile-only -->   (a complete program that is compiled but not run)

  check_readme_snippets.py --readme README.md --prefix /tmp/prefix [--examples examples]
                           [--cxx g++] [--work DIR]

With --examples, every examples/*.cpp is compiled the same way (not run: they train for minutes).

The prefix is an installed lamina (cmake --install); its lib/pkgconfig/lamina.pc gives the flags.
Exit status 0 when every block compiles (and every complete program runs and exits 0).
"""
import argparse
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile

BLOCK = re.compile(r"((?:[ \t]*<!-- readme-check:.*?-->[ \t]*\n)*)[ \t]*```cpp\n(.*?)```", re.S)
DIRECTIVE = re.compile(r"<!-- readme-check:\s*(.*?)\s*-->")


def blocks(readme):
    text = readme.read_text()
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start(2))
        yield line, DIRECTIVE.findall(m.group(1)), m.group(2)


def source_for(code, directives):
    if re.search(r"\bint\s+main\s*\(", code):
        return code, "compile-only" not in directives
    declare = "\n".join("  " + d[len("declare"):].strip() for d in directives if d.startswith("declare"))
    head = "#include <lamina/lamina.hpp>\nusing namespace lamina;\n"
    if "top-level" in directives:
        return f"{head}{code}\nint main() {{}}\n", False
    # The fragment's statements are compiled, not run: the declared names are empty.
    return f"{head}int main() {{\n{declare}\n{code}\n}}\n", False


def pkg_config(prefix, *args):
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = ":".join(str(p) for p in pathlib.Path(prefix).glob("**/pkgconfig"))
    out = subprocess.run(["pkg-config", *args, "lamina"], env=env, check=True, capture_output=True, text=True)
    return shlex.split(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--readme", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--cxx", default="g++")
    ap.add_argument("--examples", default=None)
    ap.add_argument("--work", default=None)
    args = ap.parse_args()

    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="lamina_readme_"))
    work.mkdir(parents=True, exist_ok=True)
    cflags = pkg_config(args.prefix, "--cflags")
    libs = pkg_config(args.prefix, "--libs")
    libdir = [f[2:] for f in libs if f.startswith("-L")]
    rpath = [f"-Wl,-rpath,{d}" for d in libdir]

    failures, compiled, ran = [], 0, 0
    found = list(blocks(pathlib.Path(args.readme)))
    for i, (line, directives, code) in enumerate(found):
        source, run = source_for(code, directives)
        src = work / f"block_{i}_line_{line}.cpp"
        exe = work / f"block_{i}"
        src.write_text(source)
        cmd = [args.cxx, "-std=c++20", "-Wall", "-Wextra", "-Werror", *cflags, str(src), "-o", str(exe), *libs, *rpath]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            failures.append(f"README.md:{line}: does not compile:\n{' '.join(cmd)}\n{r.stderr}")
            continue
        compiled += 1
        if run:
            r = subprocess.run([str(exe)], capture_output=True, text=True, cwd=work, timeout=900)
            if r.returncode != 0:
                failures.append(f"README.md:{line}: exits {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
                continue
            ran += 1
            print(f"README.md:{line}: ran; last line: {r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''}")
    print(f"{compiled} C++ block(s) of README.md compiled with -Wall -Wextra -Werror, {ran} program(s) ran")
    examples = sorted(pathlib.Path(args.examples).glob("*.cpp")) if args.examples else []
    for src in examples:
        exe = work / f"example_{src.stem}"
        cmd = [args.cxx, "-std=c++20", "-Wall", "-Wextra", "-Werror", *cflags, str(src), "-o", str(exe), *libs, *rpath]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            failures.append(f"{src}: does not compile:\n{' '.join(cmd)}\n{r.stderr}")
    if examples:
        print(f"{len(examples)} example(s) compiled with -Wall -Wextra -Werror")
    for f in failures:
        print(f, file=sys.stderr)
    if not found:
        print("no C++ block found", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
