#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench/run.sh's tables: the medians of the RESULT lines it logged, as Markdown.

    tables.py train LOG THREADS MODEL   # s/epoch, ratios and peak RSS per batch size
    tables.py infer LOG THREADS         # predict images/s and one-image median / p99 µs per model

A RESULT line is `RESULT key=value ...` with framework=lamina|pytorch1|pytorch2|limit.
"""
import statistics
import sys

NAMES = {"lamina": "lamina", "pytorch1": "PyTorch 1.13", "pytorch2": "PyTorch 2.x"}


def read(path):
    return [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(path) if line.startswith("RESULT")]


def median(rows, key, **match):
    v = [float(r[key]) for r in rows if all(r.get(k) == str(m) for k, m in match.items())]
    return statistics.median(v) if v else float("nan")


def runs(rows, **match):
    return sum(all(r.get(k) == str(m) for k, m in match.items()) for r in rows)


def train(rows, threads, model):
    frameworks = [f for f in NAMES if any(r["framework"] == f for r in rows)]
    n = runs(rows, framework="lamina")
    batches = sorted({int(r["batch"]) for r in rows}, reverse=True)
    print(f"{model}, threads: {threads}; medians of {n // len(batches)} alternating runs; "
          "limit: OpenBLAS alone at the model's GEMM shapes\n")
    head = [f"{NAMES[f]} s/epoch" for f in frameworks] + ["limit s/epoch"]
    head += [f"lamina / {NAMES[f]}" for f in frameworks[1:]] + [f"{NAMES[f]} peak RSS MB" for f in frameworks]
    print("| batch | " + " | ".join(head) + " |")
    print("|---:|" + "---:|" * len(head))
    for b in batches:
        lam = median(rows, "epoch_s", framework="lamina", batch=b)
        limit = median(rows, "epoch_s", framework="limit", batch=b)
        cells = [f"{median(rows, 'epoch_s', framework=f, batch=b):.3f}" for f in frameworks]
        cells.append("" if limit != limit else f"{limit:.2f}")
        cells += [f"{lam / median(rows, 'epoch_s', framework=f, batch=b):.2f}" for f in frameworks[1:]]
        cells += [f"{median(rows, 'peak_rss_mb', framework=f, batch=b):.0f}" for f in frameworks]
        print(f"| {b} | " + " | ".join(cells) + " |")


def infer(rows, threads):
    frameworks = [f for f in NAMES if any(r["framework"] == f for r in rows)]
    models = list(dict.fromkeys(r["model"] for r in rows))
    n = runs(rows, framework="lamina") // len(models)
    print(f"inference, threads: {threads}; medians of {n} alternating runs; one image: median / p99 µs of "
          "2000 calls; limit: OpenBLAS alone at the forward GEMM shapes\n")
    head = [f"{NAMES[f]} predict img/s" for f in frameworks] + ["limit img/s"]
    head += [f"{NAMES[f]} one image µs" for f in frameworks] + ["limit µs"]
    print("| model | " + " | ".join(head) + " |")
    print("|---|" + "---:|" * len(head))
    for m in models:
        cells = [f"{median(rows, 'images_per_s', framework=f, model=m):.0f}" for f in frameworks]
        cells.append(f"{median(rows, 'images_per_s', framework='limit', model=m):.0f}")
        cells += [f"{median(rows, 'median_us', framework=f, model=m):.1f} / "
                  f"{median(rows, 'p99_us', framework=f, model=m):.0f}" for f in frameworks]
        cells.append(f"{median(rows, 'one_us', framework='limit', model=m):.1f}")
        print(f"| {m} | " + " | ".join(cells).replace("nan", "") + " |")


if __name__ == "__main__":
    what, log, threads = sys.argv[1:4]
    if what == "train":
        train(read(log), threads, sys.argv[4])
    else:
        infer(read(log), threads)
