# SPDX-License-Identifier: Apache-2.0
"""PyTorch's DataLoader doing bench/dataset_pipeline.cpp's work: shuffled Fashion-MNIST images,
random crop with padding 2 and random horizontal flip per image, batches of 128, on --threads
worker processes; prints elements/s (the median of --epochs passes)."""
import argparse
import gzip
import statistics
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def load_images(path="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    with gzip.open(path, "rb") as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return torch.from_numpy(data.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)


def load_labels(path="/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"):
    with gzip.open(path, "rb") as f:
        return torch.from_numpy(np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64))


class Augmented(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        img = torch.nn.functional.pad(self.x[i], (2, 2, 2, 2))
        top, left = torch.randint(0, 5, (2,)).tolist()
        img = img[:, top:top + 28, left:left + 28]
        if torch.rand(()) < 0.5:
            img = img.flip(-1)
        return img, self.y[i]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)
    loader = DataLoader(Augmented(load_images(), load_labels()), batch_size=128, shuffle=True,
                        num_workers=a.threads, persistent_workers=a.threads > 0, prefetch_factor=2)
    rates = []
    for _ in range(a.epochs):
        start = time.perf_counter()
        seen = sum(xb.shape[0] for xb, _ in loader)
        rates.append(seen / (time.perf_counter() - start))
    print(f"RESULT framework=pytorch what=pipeline threads={a.threads} "
          f"elements_per_s={statistics.median(rates):.0f}")


if __name__ == "__main__":
    main()
