// SPDX-License-Identifier: Apache-2.0
// Trains a small CNN with BatchNormalization and Dropout on the real Fashion-MNIST (Debian's
// dataset-fashion-mnist), prints seconds per epoch, then reports the test accuracy. Its TensorBoard
// logs go to logs/ (`tensorboard --logdir logs`).
//
//   Conv2D(32, 3) → BN → ReLU → MaxPooling2D(2)
//   Conv2D(64, 3) → BN → ReLU → MaxPooling2D(2)
//   Flatten → Dense(128, relu) → Dropout(0.3) → Dense(10, softmax)
#include <chrono>
#include <cstdio>

#include <lamina/lamina.hpp>

#include "fashion_mnist_common.hpp"

using namespace lamina;

int main() {
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  auto [x_train, x_test] = fashion_mnist::scaled(train, test, /*channels=*/true);
  Sequential model = fashion_mnist::cnn();
  model.summary();
  fashion_mnist::to_chosen_device(model);  // LAMINA_DEVICE=cuda:0 trains on the GPU
  model.fit(x_train, train.y,
            {.batch_size = 128,
             .epochs = 5,
             .callbacks = {fashion_mnist::halve_late(), fashion_mnist::EpochTimer(),
                           callbacks::TensorBoard("logs", {.histogram_freq = 1})}});

  auto scores = model.evaluate(x_test, test.y, {.verbose = 0});
  std::printf("test loss: %.4f\ntest accuracy: %.4f\n", scores["loss"], scores["accuracy"]);
}
