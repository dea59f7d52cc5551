#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The PyTorch side of bench/fashion_mnist.cpp: the same models, data, batch, optimizer and
thread count, with the same output format.

    /usr/bin/python3 bench/fashion_mnist_torch.py [--model mlp|cnn|lstm] [--batch N] [--epochs E] [--threads T]

mlp:  Flatten -> Linear(784, 512) relu -> Linear(512, 256) relu -> Linear(256, 10).
cnn:  Conv2d(1, 32, 3) relu -> MaxPool2d(2) -> Conv2d(32, 64, 3) relu -> MaxPool2d(2) -> Flatten ->
      Linear(1600, 128) relu -> Linear(128, 10), in PyTorch's native (fastest) NCHW layout.
lstm: nn.LSTM(28, 128) over the 28 rows of an image (batch_first), its last output ->
      Linear(128, 10); Adam lr 2e-3 as examples/fashion_mnist_lstm.cpp.
Softmax cross-entropy on the logits (what lamina's softmax + sparse_categorical_crossentropy
computes), Adam(lr 1e-3, eps 1e-7), Glorot-uniform kernels and zero biases as Keras initialises
them, a fresh shuffle each epoch and batches gathered by index as lamina's fit does. The reported
epoch time is the median over epochs 2..E (epoch 1 when E == 1).

Threads: PyTorch's fastest setting on a small machine is its own pool alone --
torch.set_num_threads(T) with its BLAS single-threaded (OPENBLAS_NUM_THREADS=1, MKL_NUM_THREADS=1,
OMP_NUM_THREADS=1 before `import torch`). Debian's torch calls OpenBLAS for Linear, and an
OpenBLAS that starts its own threads beside PyTorch's oversubscribes the cores: 2 to 5 times
slower on 2 cores (issue 23). The env variables a caller sets win (setdefault).
"""
import argparse
import gzip
import os
import resource
import statistics
import time


# torch.set_num_threads governs PyTorch's own pool but not the BLAS under it: BLAS threads are
# read from these when the library loads, so they are set before `import torch` (see above).
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


MODELS = ["mlp", "cnn", "lstm"]


def data_directory():
    return os.environ.get("LAMINA_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def images(x_u8, model):
    """[N, 1, 28, 28] floats in [0, 1] (NCHW, PyTorch's native layout); [N, 28, 28] for the LSTM."""
    x = torch.from_numpy(x_u8.astype(np.float32) / 255.0)
    return x if model == "lstm" else x.reshape(-1, 1, 28, 28)


class RowLSTM(torch.nn.Module):
    """The rows of an image as 28 timesteps -> LSTM(128) -> the last output -> Linear(128, 10)."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(28, 128, batch_first=True)
        self.head = torch.nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def build(model):
    """The PyTorch twin of bench/bench_models.hpp's `model`, initialised as Keras does."""
    nn = torch.nn
    if model == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(),
                            nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    elif model == "cnn":
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        net = RowLSTM()
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LSTM):  # Keras: Glorot-uniform input kernel, orthogonal recurrent, unit forget bias
            for name, w in m.named_parameters():
                if name.startswith("weight_ih"):
                    for gate in w.chunk(4, 0):
                        nn.init.xavier_uniform_(gate)
                elif name.startswith("weight_hh"):
                    for gate in w.chunk(4, 0):
                        nn.init.orthogonal_(gate)
                else:
                    nn.init.zeros_(w)
                    if name.startswith("bias_ih"):
                        w.data[m.hidden_size:2 * m.hidden_size] = 1.0  # PyTorch's gates: i, f, g, o
    return net


def load_images_labels(directory, split="train"):
    def read(name):
        path = os.path.join(directory, name)
        opener = gzip.open if os.path.exists(path) else open
        path = path if os.path.exists(path) else path[:-3]
        with opener(path, "rb") as f:
            return f.read()

    prefix = "train" if split == "train" else "t10k"
    raw_images = read(f"{prefix}-images-idx3-ubyte.gz")
    raw_labels = read(f"{prefix}-labels-idx1-ubyte.gz")
    x = np.frombuffer(raw_images, dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    y = np.frombuffer(raw_labels, dtype=np.uint8, offset=8)
    return x, y


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=MODELS, default="mlp")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)

    x_u8, y_u8 = load_images_labels(data_directory())
    x_train = images(x_u8, a.model)
    y_train = torch.from_numpy(y_u8.astype(np.int64))
    n = x_train.shape[0]

    model = build(a.model)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3 if a.model == "lstm" else 1e-3, eps=1e-7)

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
    print(f"RESULT framework=pytorch{torch.__version__.split('.')[0]} version={torch.__version__} model={a.model} "
          f"batch={a.batch} threads={threads} epoch_s={epoch_s:.4f} "
          f"images_per_s={n / epoch_s:.1f} peak_rss_mb={rss:.1f} loss={loss_mean:.4f}")


if __name__ == "__main__":
    main()
