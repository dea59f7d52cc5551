#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The PyTorch side of bench/fashion_mnist.cpp: the same models, data, batch, optimizer and
thread count, with the same output format.

    /usr/bin/python3 bench/fashion_mnist_torch.py [--model mlp|cnn] [--batch N] [--epochs E] [--threads T]

mlp: Flatten -> Linear(784, 512) relu -> Linear(512, 256) relu -> Linear(256, 10).
cnn: Conv2d(1, 32, 3) relu -> MaxPool2d(2) -> Conv2d(32, 64, 3) relu -> MaxPool2d(2) -> Flatten ->
     Linear(1600, 128) relu -> Linear(128, 10), in PyTorch's native (fastest) NCHW layout.
Softmax cross-entropy on the logits (what lamina's softmax + sparse_categorical_crossentropy
computes), Adam(lr 1e-3, eps 1e-7), Glorot-uniform kernels and zero biases as Keras initialises
them, a fresh shuffle each epoch and batches gathered by index as lamina's fit does. The reported
epoch time is the median over epochs 2..E (epoch 1 when E == 1).
"""
import argparse
import gzip
import os
import resource
import statistics
import sys
import time


def _threads_from_argv(default=2):
    for i, a in enumerate(sys.argv[:-1]):
        if a == "--threads":
            return sys.argv[i + 1]
    return str(default)


# torch.set_num_threads governs PyTorch's OpenMP pool but not the OpenBLAS that Debian's torch
# calls for Linear: without this OpenBLAS starts one thread per core whatever --threads says.
# It is read when OpenBLAS loads, so it must be set before `import torch`.
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_from_argv())

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def load_images_labels(directory):
    def read(name):
        path = os.path.join(directory, name)
        opener = gzip.open if os.path.exists(path) else open
        path = path if os.path.exists(path) else path[:-3]
        with opener(path, "rb") as f:
            return f.read()

    images = read("train-images-idx3-ubyte.gz")
    labels = read("train-labels-idx1-ubyte.gz")
    x = np.frombuffer(images, dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    y = np.frombuffer(labels, dtype=np.uint8, offset=8)
    return x, y


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)

    directory = os.environ.get("LAMINA_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    x_u8, y_u8 = load_images_labels(directory)
    x_train = torch.from_numpy(x_u8.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y_train = torch.from_numpy(y_u8.astype(np.int64))
    n = x_train.shape[0]

    nn = torch.nn
    if a.model == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(),
                              nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    for m in model:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    seconds = []
    loss_mean = 0.0
    for _ in range(a.epochs):
        start = time.perf_counter()
        order = torch.randperm(n)
        total, seen = 0.0, 0
        for b in range(0, n, a.batch):
            idx = order[b:b + a.batch]
            xb, yb = x_train[idx], y_train[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        seconds.append(time.perf_counter() - start)
        loss_mean = total / seen

    for e, s in enumerate(seconds):
        print(f"epoch {e + 1}: {s:.3f} s")
    steady = seconds[1:] if len(seconds) > 1 else seconds
    epoch_s = statistics.median(steady)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    threads = torch.get_num_threads()
    print(f"PyTorch {torch.__version__} {a.model} batch {a.batch} threads {threads}: {epoch_s:.3f} s/epoch "
          f"(median of epochs {'2..E' if len(seconds) > 1 else '1'}), {n / epoch_s:.0f} images/s, "
          f"peak RSS {rss:.1f} MB, final loss {loss_mean:.4f}")
    print(f"RESULT framework=pytorch model={a.model} batch={a.batch} threads={threads} epoch_s={epoch_s:.4f} "
          f"images_per_s={n / epoch_s:.1f} peak_rss_mb={rss:.1f} loss={loss_mean:.4f}")


if __name__ == "__main__":
    main()
