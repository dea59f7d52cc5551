// SPDX-License-Identifier: Apache-2.0
// bench/bench_models.hpp — the benchmark models (and command-line helpers), shared by the training (fashion_mnist.cpp) and
// inference (infer.cpp) benchmarks so that "the MLP" and "the CNN" of every README table are the
// same network; bench/fashion_mnist_torch.py builds their PyTorch twins.
//   mlp:  Flatten → Dense(512, relu) → Dense(256, relu) → Dense(10) (cross-entropy from logits)
//   cnn:  Conv2D(32, 3, relu) → MaxPooling2D(2) → Conv2D(64, 3, relu) → MaxPooling2D(2) →
//         Flatten → Dense(128, relu) → Dense(10, softmax)
//   lstm: the row-LSTM of examples/fashion_mnist_lstm.cpp: each image is 28 timesteps of 28
//         pixels → LSTM(128) → Dense(10, softmax), Adam(2e-3)
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include <lamina/lamina.hpp>

namespace bench {

using namespace lamina;

inline Sequential mlp() {
  Sequential model({
      layers::Input({28, 28, 1}),
      layers::Flatten(),
      layers::Dense(512, {.activation = "relu"}),
      layers::Dense(256, {.activation = "relu"}),
      layers::Dense(10),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3, .epsilon = 1e-7}),
                 .loss = losses::SparseCategoricalCrossentropy({.from_logits = true})});
  return model;
}

inline Sequential cnn() {
  Sequential model({
      layers::Input({28, 28, 1}),
      layers::Conv2D(32, 3, {.activation = "relu"}),
      layers::MaxPooling2D(2),
      layers::Conv2D(64, 3, {.activation = "relu"}),
      layers::MaxPooling2D(2),
      layers::Flatten(),
      layers::Dense(128, {.activation = "relu"}),
      layers::Dense(10, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3, .epsilon = 1e-7}),
                 .loss = "sparse_categorical_crossentropy"});
  return model;
}

inline Sequential lstm() {
  Sequential model({
      layers::Input({28, 28}),
      layers::LSTM(128),
      layers::Dense(10, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 2e-3, .epsilon = 1e-7}),
                 .loss = "sparse_categorical_crossentropy"});
  return model;
}

/// The value after `--name` on the command line, or `fallback`.
inline long arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
  return fallback;
}

inline std::string text_arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

inline bool known(const std::string& which) { return which == "mlp" || which == "cnn" || which == "lstm"; }

inline Sequential build(const std::string& which) {
  return which == "mlp" ? mlp() : which == "cnn" ? cnn() : lstm();
}

/// The images as `which` reads them: [N, 28, 28, 1] for the MLP and CNN, [N, 28, 28] rows as
/// timesteps for the LSTM, scaled to [0, 1].
/// Converted a block of rows at a time into the float tensor, so the peak holds the data once as
/// float plus the uint8 source, not astype's float copy and the divided float copy too (188 MB
/// more for Fashion-MNIST's 60k images); the caller drops the uint8 source after.
inline Tensor images(const Tensor& x_u8, const std::string& which) {
  const std::int64_t n = x_u8.shape()[0];
  const Shape shape = which == "lstm" ? Shape{n, 28, 28} : Shape{n, 28, 28, 1};
  Tensor out = Tensor::empty(shape);
  constexpr std::int64_t kRows = 1024;
  for (std::int64_t b = 0; b < n; b += kRows) {
    const std::int64_t e = std::min(n, b + kRows);
    Shape block = shape;
    block[0] = e - b;
    out.slice(b, e).assign(x_u8.slice(b, e).reshape(block).astype(float32) / 255.0f);
  }
  return out;
}

}  // namespace bench
