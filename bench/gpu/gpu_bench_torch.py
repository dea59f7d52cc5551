#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The PyTorch (eager) side of bench/gpu/gpu_bench.cpp: the same models, batch, optimizer
(Adam 1e-3, eps 1e-7), synthetic data and timing, on one GPU, in float32 or under bf16 autocast.

    python3 bench/gpu/gpu_bench_torch.py --model mlp|cnn|resnet20 [--batch N] [--steps S]
                                         [--policy float32|mixed_bfloat16]

mlp: Flatten -> Linear(784, 512) relu -> Linear(512, 256) relu -> Linear(256, 10).
cnn: Conv2d(1, 32, 3) relu -> MaxPool2d(2) -> Conv2d(32, 64, 3) relu -> MaxPool2d(2) -> Flatten ->
     Linear(1600, 128) relu -> Linear(128, 10).
resnet20: conv3x3(16)-BN-relu, 3 stages x 3 basic blocks (16/32/64 filters, stride 2 and a 1x1
     conv-BN projection where the shape changes), global average pooling, Linear(64, 10).
Each step: a batch taken in order from tensors already on the GPU (lamina's fit copies its host
batches: that copy is part of lamina's time, not PyTorch's; the data stays on the GPU here, the
usual PyTorch setup). Prints one RESULT line with images/s and torch.cuda.max_memory_allocated.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = conv_bn(cin, cout, 3, stride)
        self.b = conv_bn(cout, cout, 3, 1)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.b(F.relu(self.a(x))) + self.shortcut(x))


def resnet20():
    layers = [conv_bn(3, 16, 3, 1), nn.ReLU()]
    cin = 16
    for stage, cout in enumerate((16, 32, 64)):
        for block in range(3):
            layers.append(Block(cin, cout, 2 if stage > 0 and block == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def model_of(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    return resnet20()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["mlp", "cnn", "resnet20"], default="mlp")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--policy", choices=["float32", "mixed_bfloat16"], default="float32")
    a = p.parse_args()
    dev = torch.device("cuda:0")
    torch.manual_seed(42)
    shape = (3, 32, 32) if a.model == "resnet20" else (1, 28, 28)
    n = a.batch * a.steps
    x = torch.rand((n,) + shape, device=dev)
    y = torch.randint(0, 10, (n,), device=dev)
    model = model_of(a.model).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    amp = a.policy == "mixed_bfloat16"

    def step(i):
        xb, yb = x[i * a.batch:(i + 1) * a.batch], y[i * a.batch:(i + 1) * a.batch]
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for i in range(3):  # warm-up: cuDNN autotuning off, allocator, Adam's state
        step(i)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(a.steps):
        loss = step(i)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20
    print(f"RESULT framework=torch model={a.model} batch={a.batch} policy={a.policy} device=cuda:0 steps={a.steps} "
          f"images_per_s={n / seconds:.1f} peak_gpu_mb={peak:.1f} loss={loss.item():.4f}")


if __name__ == "__main__":
    main()
