#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The PyTorch side of bench/infer.cpp: the same model (bench/fashion_mnist_torch.py's build), data,
thread count and measurements, under torch.inference_mode(), with the same output format.

    /usr/bin/python3 bench/infer_torch.py [--model mlp|cnn|lstm] [--threads T] [--rounds R] [--calls N] [--warmup W]

throughput: the 10,000 test images at batch 1000, images/s, median of R passes after a warm-up pass;
latency: model(one image) N times after W untimed calls: median, p99 and max in microseconds.
The threads are set as in fashion_mnist_torch.py (its import sets the BLAS variables first).
"""
import argparse
import statistics
import time

from fashion_mnist_torch import MODELS, build, data_directory, images, load_images_labels
import torch  # noqa: E402  (after fashion_mnist_torch, which sets the BLAS threads)


def quantile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=MODELS, default="mlp")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    x_u8, _ = load_images_labels(data_directory(), "test")
    x = images(x_u8, a.model)
    n = x.shape[0]
    model = build(a.model).eval()

    with torch.inference_mode():
        def predict():  # as Keras's predict: the batches' outputs, concatenated
            return torch.cat([model(x[b:b + 1000]) for b in range(0, n, 1000)])

        rates = []
        if a.rounds > 0:
            predict()
        for _ in range(a.rounds):
            start = time.perf_counter()
            predict()
            rates.append(n / (time.perf_counter() - start))
        one = x[:1].clone()
        for _ in range(a.warmup):
            model(one)
        us = []
        for _ in range(a.calls):
            start = time.perf_counter()
            model(one)
            us.append(1e6 * (time.perf_counter() - start))

    rate = statistics.median(rates) if rates else 0.0
    med, p99, top = quantile(us, 0.5), quantile(us, 0.99), max(us)
    major = torch.__version__.split(".")[0]
    print(f"PyTorch {torch.__version__} {a.model} threads {torch.get_num_threads()}: predict {rate:.0f} images/s "
          f"(batch 1000); one image median {med:.1f} µs, p99 {p99:.1f} µs, max {top:.0f} µs")
    print(f"RESULT framework=pytorch{major} version={torch.__version__} model={a.model} threads={torch.get_num_threads()} "
          f"images_per_s={rate:.1f} median_us={med:.2f} p99_us={p99:.2f} max_us={top:.1f}")


if __name__ == "__main__":
    main()
