// SPDX-License-Identifier: Apache-2.0
// Fashion-MNIST with an LSTM: each image is read as a sequence of 28 rows (timesteps) of 28 pixels
// (features). Prints seconds per epoch and ends with the test accuracy.
#include <chrono>
#include <cstdio>

#include <lamina/lamina.hpp>

#include "fashion_mnist_common.hpp"  // to_chosen_device

using namespace lamina;

int main() {
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  Tensor x_train = train.x.astype(float32).reshape({-1, 28, 28}) / 255.0;
  Tensor x_test = test.x.astype(float32).reshape({-1, 28, 28}) / 255.0;

  Sequential model({
      layers::Input({28, 28}),
      layers::LSTM(128),
      layers::Dense(10, {.activation = "softmax"}),
  });
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 2e-3}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  model.summary();
  fashion_mnist::to_chosen_device(model);  // LAMINA_DEVICE=cuda:0 trains on the GPU
  const int epochs = 4;
  auto start = std::chrono::steady_clock::now();
  model.fit(x_train, train.y, {.batch_size = 128, .epochs = epochs, .verbose = 2});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("seconds per epoch: %.1f\n", seconds / epochs);

  auto scores = model.evaluate(x_test, test.y, {.batch_size = 256, .verbose = 0});
  std::printf("test loss: %.4f\ntest accuracy: %.4f\n", scores["loss"], scores["accuracy"]);
}
