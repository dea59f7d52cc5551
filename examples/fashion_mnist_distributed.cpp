// SPDX-License-Identifier: Apache-2.0
// The Fashion-MNIST CNN of fashion_mnist_cnn.cpp, trained data-parallel over MPI processes:
//
//   mpirun -np 2 ./build/fashion_mnist_distributed
//
// Every rank holds the model; each step of 128 images (the global batch) gives each rank its
// share, the gradients are averaged by all-reduce, and every rank applies the same update. Rank 0
// prints the progress bar, the epoch times and the test accuracy.
#include <chrono>
#include <cstdio>

#include <lamina/distribute.hpp>
#include <lamina/lamina.hpp>

#include "fashion_mnist_common.hpp"

using namespace lamina;

int main() {
  distribute::DataParallel strategy;  // reads rank and size from MPI
  // One thread per rank: the ranks share the machine's cores (on a 2-core machine, 2 ranks).
  set_num_threads(1);
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  auto [x_train, x_test] = fashion_mnist::scaled(train, test, /*channels=*/true);
  Sequential model = fashion_mnist::cnn();  // rank 0's initial weights are broadcast by fit
  if (strategy.is_chief()) std::printf("training on %d ranks\n", strategy.num_replicas());
  const auto start = std::chrono::steady_clock::now();
  model.fit(x_train, train.y,
            {.batch_size = 128,
             .epochs = 6,
             .callbacks = {fashion_mnist::halve_late(), distribute::chief_only(std::make_shared<fashion_mnist::EpochTimer>())},
             .distribution = strategy});
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  // Each rank evaluates its half of every batch; every rank gets the whole test set's scores.
  auto scores = model.evaluate(x_test, test.y, {.verbose = 0, .distribution = strategy});
  if (strategy.is_chief()) {
    std::printf("training took %.1f s\ntest loss: %.4f\ntest accuracy: %.4f\n", took.count(), scores["loss"],
                scores["accuracy"]);
  }
}
