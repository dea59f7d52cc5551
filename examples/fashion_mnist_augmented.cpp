// SPDX-License-Identifier: Apache-2.0
// Trains the Fashion-MNIST CNN (as examples/fashion_mnist_cnn.cpp) on an augmented input
// pipeline: shuffled, randomly mirrored and shifted (a 28x28 crop of the image padded by 2) on
// parallel map workers, batched and prefetched while the model trains. Reports the test accuracy.
#include <cstdio>

#include <lamina/lamina.hpp>

#include "fashion_mnist_common.hpp"

using namespace lamina;

int main() {
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  auto [x_train, x_test] = fashion_mnist::scaled(train, test, /*channels=*/true);

  auto augment = [](Tensor x, Tensor y) {
    x = image::random_flip_left_right(x);
    x = image::random_crop(x, 28, 28, {.padding = 2});
    return std::pair{x, y};
  };
  auto train_ds = Dataset::from_tensor_slices(x_train, train.y)
                      .shuffle(10'000, {.seed = 42})
                      .map(augment, {.num_parallel_calls = AUTOTUNE, .seed = 42})
                      .batch(128)
                      .prefetch(AUTOTUNE);
  auto test_ds = Dataset::from_tensor_slices(x_test, test.y).batch(256);

  Sequential model = fashion_mnist::cnn();
  model.fit(train_ds, {.epochs = 5, .callbacks = {fashion_mnist::halve_late()}});

  auto scores = model.evaluate(test_ds, {.verbose = 0});
  std::printf("test loss: %.4f\ntest accuracy: %.4f\n", scores["loss"], scores["accuracy"]);
}
