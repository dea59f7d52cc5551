// SPDX-License-Identifier: Apache-2.0
// examples/fashion_mnist_common.hpp — what the Fashion-MNIST trainers (and the benchmarks that time
// them) share: the data as each model wants it, the two models, and the learning-rate schedule,
// so that "the CNN" means the same network in every example, benchmark and README figure.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <lamina/lamina.hpp>

namespace fashion_mnist {

using namespace lamina;

/// Pixels scaled to [0, 1]; `channels` adds the trailing channel axis the CNNs want.
struct Images {
  Tensor x_train, x_test;
};
inline Images scaled(const datasets::Split& train, const datasets::Split& test, bool channels) {
  const Shape shape = channels ? Shape{-1, 28, 28, 1} : Shape{-1, 28, 28};
  return {train.x.astype(float32).reshape(shape) / 255.0, test.x.astype(float32).reshape(shape) / 255.0};
}

/// Pixels standardised with the training set's mean and deviation: Adam converges faster on an
/// MLP than on [0, 1].
inline Images standardized(const datasets::Split& train, const datasets::Split& test) {
  Images images = scaled(train, test, false);
  const double mu = images.x_train.mean().item();
  const Tensor centred = images.x_train - mu;
  const double sd = std::sqrt((centred * centred).mean().item());
  return {centred / sd, (images.x_test - mu) / sd};
}

/// Flatten → Dense(512, relu) → Dropout(0.2) → Dense(10, softmax), compiled with Adam(1e-3).
inline Sequential mlp() {
  Sequential model({
      layers::Input({28, 28}),
      layers::Flatten(),
      layers::Dense(512, {.activation = "relu"}),
      layers::Dropout(0.2),
      layers::Dense(10, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  return model;
}

/// Conv2D(32, 3) → BN → ReLU → MaxPooling2D(2) → Conv2D(64, 3) → BN → ReLU → MaxPooling2D(2) →
/// Flatten → Dense(128, relu) → Dropout(0.3) → Dense(10, softmax), compiled with Adam(1e-3). The
/// convolutions have no bias: BatchNormalization's beta takes its place.
inline Sequential cnn() {
  Sequential model({
      layers::Input({28, 28, 1}),
      layers::Conv2D(32, 3, {.use_bias = false}),
      layers::BatchNormalization(),
      layers::Activation("relu"),
      layers::MaxPooling2D(2),
      layers::Conv2D(64, 3, {.use_bias = false}),
      layers::BatchNormalization(),
      layers::Activation("relu"),
      layers::MaxPooling2D(2),
      layers::Flatten(),
      layers::Dense(128, {.activation = "relu"}),
      layers::Dropout(0.3),
      layers::Dense(10, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  return model;
}

/// The model moved to the device named by the environment variable LAMINA_DEVICE ("cuda:0"),
/// where it then trains, evaluates and predicts (fit copies each batch there); unset: the CPU.
inline void to_chosen_device(Model& model) {
  const char* name = std::getenv("LAMINA_DEVICE");
  if (name && *name) model.to(Device::parse(name));
}

/// Prints the wall time of each epoch (the number the README and the benchmarks quote).
class EpochTimer : public Callback {
 public:
  void on_epoch_begin(int, const Logs&) override { start_ = std::chrono::steady_clock::now(); }
  void on_epoch_end(int epoch, const Logs&) override {
    std::chrono::duration<double> s = std::chrono::steady_clock::now() - start_;
    std::printf("epoch %d took %.1f s\n", epoch + 1, s.count());
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Halves the rate for each epoch from the third on: the weights settle instead of bouncing
/// around the minimum.
inline callbacks::LearningRateScheduler halve_late() {
  return callbacks::LearningRateScheduler([](int epoch, double lr) { return epoch >= 2 ? lr * 0.5 : lr; });
}

}  // namespace fashion_mnist
