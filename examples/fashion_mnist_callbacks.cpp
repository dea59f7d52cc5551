// SPDX-License-Identifier: Apache-2.0
// Trains the Fashion-MNIST MLP with Keras's callbacks: early stopping that keeps the best epoch,
// a best-only checkpoint, a learning rate that drops on a plateau, a CSV log, training curves in
// history.html, and a backup every 100 batches. Interrupt it (Ctrl-C, kill -9) and run it again
// from the same directory: it continues from the last backup (weights, optimizer, data order and
// random stream), as in Keras the other callbacks start counting afresh.
#include <cstdio>

#include <lamina/lamina.hpp>

#include "fashion_mnist_common.hpp"

using namespace lamina;

int main() {
  set_seed(42);
  auto [train, test] = datasets::fashion_mnist::load_data();
  auto [x_train, x_test] = fashion_mnist::scaled(train, test, /*channels=*/false);
  Sequential model = fashion_mnist::mlp();
  model.fit(x_train, train.y,
            {.batch_size = 128, .epochs = 12,
             .callbacks = {
                 callbacks::BackupAndRestore("fashion_mnist_backup", {.save_freq = 100}),
                 callbacks::EarlyStopping({.monitor = "val_loss", .patience = 3,
                                           .verbose = 1, .restore_best_weights = true}),
                 callbacks::ModelCheckpoint("fashion_mnist_best.weights.h5",
                                            {.save_best_only = true, .save_weights_only = true}),
                 callbacks::ReduceLROnPlateau({.factor = 0.5, .patience = 1, .verbose = 1}),
                 callbacks::CSVLogger("fashion_mnist_log.csv", {.append = true}),
                 callbacks::PlotHistory("fashion_mnist_history.html"),
             },
             .validation_split = 0.1});

  auto scores = model.evaluate(x_test, test.y, {.verbose = 0});
  std::printf("test loss: %.4f\ntest accuracy: %.4f\n", scores["loss"], scores["accuracy"]);
}
