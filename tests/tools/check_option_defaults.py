#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks that every data member of the public headers' aggregate structs has a default member
initializer. g++ -Wextra warns (-Wmissing-field-initializers) for each member without one that a
designated initializer leaves out, so `Dense(64, {.activation = "relu"})` would warn once per
option the user did not name.

  check_option_defaults.py include/lamina     # prints each offending member, exit 1 if any
"""
import pathlib
import re
import sys

STRUCT = re.compile(r"^\s*struct\s+(\w+)\s*(?::[^{]*)?\{\s*$")
# A data member: a declaration ending in ';' that is not a function, using, friend, static,
# typedef or nested type.
MEMBER = re.compile(r"^\s*(?!using\b|friend\b|static\b|typedef\b|return\b|struct\b|class\b|enum\b)"
                    r"[\w:<>,\s\*&\[\]]+?\s+\*?&?(\w+)\s*(\[[^\]]*\])?\s*;")


def top_level_split(text):
    """Splits at the commas outside <>, (), {} and []."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += c in "<({[" 
        depth -= c in ">)}]"
        if c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def without_template_arguments(text):
    """'std::function<void(int)> f;' -> 'std::function f;' (nested <> removed)."""
    out, depth = [], 0
    for c in text:
        if c == "<":
            depth += 1
        elif c == ">" and depth:
            depth -= 1
        elif not depth:
            out.append(c)
    return "".join(out)


def uninitialised(line):
    """The names declared on `line` without an initializer ('int a, b{};' gives ['a'])."""
    line = without_template_arguments(line)
    if "(" in line.split("=")[0].split("{")[0] or not line.strip().endswith(";"):
        return []  # a function, or not a whole declaration
    if not MEMBER.match(line) and not re.match(r"^\s*[\w:<>,\s\*&]+\s+\w+\s*\{", line):
        return []
    declarators = top_level_split(line.strip()[:-1])
    names = []
    for i, d in enumerate(declarators):
        if "=" in d or "{" in d:
            continue
        names.append(d.split()[-1].lstrip("*&") if i == 0 else d.strip())
    return names


def offenders(path):
    lines = path.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        m = STRUCT.match(lines[i])
        if not m:
            i += 1
            continue
        name, depth, j = m.group(1), 1, i + 1
        is_aggregate = True
        body = []
        while j < len(lines) and depth > 0:
            line = re.sub(r"//.*|/\*.*?\*/", "", lines[j])
            if depth == 1:
                body.append((j + 1, line))
            depth += line.count("{") - line.count("}")
            j += 1
        for _, line in body:
            # A user-declared constructor or a base class with one makes it no aggregate.
            if re.match(rf"^\s*(explicit\s+)?{name}\s*\(", line) or re.search(r"\bvirtual\b|\bprivate:|\bprotected:", line):
                is_aggregate = False
        if is_aggregate:
            for lineno, line in body:
                for member in uninitialised(line):
                    found.append(f"{path}:{lineno}: {name}::{member} has no default member initializer")
        i += 1
    return found


def main():
    roots = [pathlib.Path(a) for a in sys.argv[1:]] or [pathlib.Path("include/lamina")]
    problems = [p for root in roots for h in sorted(root.rglob("*.hpp")) for p in offenders(h)]
    for p in problems:
        print(p)
    print(f"{len(problems)} member(s) without a default member initializer")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
