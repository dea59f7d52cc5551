#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The model of bench/conv3d.cpp in Keras 3 on TensorFlow (CPU), same batch, size and thread count:
prints the median milliseconds of a forward pass (predict_on_batch) and of a training step
(train_on_batch) over --steps repetitions.

    /work/venv-keras/bin/python bench/conv3d_keras.py [--threads 2] [--steps 10] [--batch 8] [--size 16]
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--size", type=int, default=16)
a = p.parse_args()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(a.threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras  # noqa: E402

L = keras.layers
n = a.size
model = keras.Sequential([keras.Input((n, n, n, 1)),
                          L.Conv3D(8, 3, padding="same", activation="relu"), L.MaxPooling3D(2),
                          L.Conv3D(16, 3, padding="same", activation="relu"), L.MaxPooling3D(2),
                          L.GlobalAveragePooling3D(), L.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
x = np.random.default_rng(1).uniform(0, 1, (a.batch, n, n, n, 1)).astype(np.float32)
y = np.full((a.batch,), 3, np.int64)
model.train_on_batch(x, y)
model.predict_on_batch(x)


def median_ms(f):
    ms = []
    for _ in range(a.steps):
        t = time.perf_counter()
        f()
        ms.append((time.perf_counter() - t) * 1000)
    return sorted(ms)[len(ms) // 2]


forward = median_ms(lambda: model.predict_on_batch(x))
train = median_ms(lambda: model.train_on_batch(x, y))
print(f"RESULT keras_conv3d forward_ms={forward:.2f} train_step_ms={train:.2f} batch={a.batch} size={n} "
      f"threads={a.threads}")
