#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fails when a Catch2 test name would break CTest's discovery.

catch_discover_tests hands the names to CMake as a list: a ';' splits a name and a '[' or ']'
opens a bracket argument that swallows every later name into one test that matches nothing, so
those tests silently stop running under ctest. Usage: check_test_names.py path/to/lamina_tests
"""
import subprocess
import sys

# Catch2 exits with the number of tests listed, so the status is not an error.
names = subprocess.run([sys.argv[1], "--list-test-names-only"], check=False, capture_output=True,
                       text=True).stdout.splitlines()
bad = [n for n in names if any(c in n for c in "[];")]
for n in bad:
    print(f"test name with '[', ']' or ';' (breaks ctest discovery): {n}")
print(f"{len(names)} test names checked")
sys.exit(1 if bad or not names else 0)
