// SPDX-License-Identifier: Apache-2.0
// EarlyStopping driven by scripted epoch logs; each expected stop is derived by hand from
// Keras 3's rule: wait += 1 each monitored epoch, reset on an improvement (that also beats the
// baseline), stop when wait >= patience on an epoch without improvement.
#include <catch2/catch.hpp>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>

#include "callbacks/scripted.hpp"
#include "support/capture.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::EarlyStopping;

TEST_CASE("EarlyStopping stops once patience epochs pass without improvement", "[callbacks]") {
  Sequential m = tiny_model();
  // best 1.0 (e0), 0.8 (e1); e2 0.9 wait 1; e3 0.85 wait 2 = patience: stop at epoch 3.
  EarlyStopping es({.patience = 2});
  CHECK(run_epochs(es, m, "val_loss", {1.0, 0.8, 0.9, 0.85, 0.7, 0.6}) == 4);
  CHECK(es.stopped_epoch() == 3);
  CHECK(es.best_epoch() == 1);
  CHECK(es.best() == 0.8);
  CHECK(weight_tag(m) == 3.0f);  // without restore_best_weights the last weights stay

  EarlyStopping patience0({.monitor = "loss"});
  CHECK(run_epochs(patience0, m, "loss", {1.0, 1.0, 0.5}) == 2);  // equal is no improvement
}

TEST_CASE("EarlyStopping counts a change below min_delta as no improvement", "[callbacks]") {
  Sequential m = tiny_model();
  // e1: 0.9 is 0.1 below the best, less than min_delta 0.15: wait 1 = patience.
  EarlyStopping es({.min_delta = -0.15, .patience = 1});  // the sign is ignored, as in Keras
  CHECK(run_epochs(es, m, "val_loss", {1.0, 0.9, 0.6}) == 2);
  EarlyStopping loose({.min_delta = 0.05, .patience = 1});
  CHECK(run_epochs(loose, m, "val_loss", {1.0, 0.9, 0.8, 0.79}) == 4);  // stops at e3 (0.01 < 0.05)
  CHECK(loose.stopped_epoch() == 3);
}

TEST_CASE("EarlyStopping maximises accuracies in auto mode and obeys an explicit mode",
          "[callbacks]") {
  Sequential m = tiny_model();
  EarlyStopping acc({.monitor = "val_accuracy", .patience = 1});
  CHECK(run_epochs(acc, m, "val_accuracy", {0.5, 0.6, 0.55, 0.9}) == 3);
  CHECK(acc.best_epoch() == 1);
  EarlyStopping max({.monitor = "val_score", .mode = "max"});
  CHECK(run_epochs(max, m, "val_score", {1.0, 2.0, 3.0, 2.5, 4.0}) == 4);
  EarlyStopping min({.monitor = "val_accuracy", .mode = "min"});
  CHECK(run_epochs(min, m, "val_accuracy", {0.5, 0.6}) == 2);
  CHECK(min.stopped_epoch() == 1);
}

TEST_CASE("EarlyStopping with restore_best_weights sets the best epoch's weights at the end",
          "[callbacks]") {
  Sequential m = tiny_model();
  EarlyStopping es({.patience = 2, .restore_best_weights = true});
  CHECK(run_epochs(es, m, "val_loss", {0.9, 0.7, 0.8, 0.75, 0.1}) == 4);
  CHECK(weight_tag(m) == 1.0f);  // epoch 1's weights, though epoch 3 ran last

  // No epoch ever improves on the first: its weights are the best.
  EarlyStopping first({.monitor = "val_accuracy", .patience = 2, .restore_best_weights = true});
  CHECK(run_epochs(first, m, "val_accuracy", {0.9, 0.5, 0.4}) == 3);
  CHECK(weight_tag(m) == 0.0f);

  // Training that ends without a stop also restores.
  EarlyStopping no_stop({.patience = 5, .restore_best_weights = true});
  CHECK(run_epochs(no_stop, m, "val_loss", {0.5, 0.3, 0.4}) == 3);
  CHECK(no_stop.stopped_epoch() == 0);
  CHECK(weight_tag(m) == 1.0f);
}

TEST_CASE("EarlyStopping with a baseline keeps counting until the baseline is beaten",
          "[callbacks]") {
  Sequential m = tiny_model();
  // Improvements above the baseline 0.5 do not reset wait: e0 wait 1, e1 wait 2 (improves, no
  // stop check), e2 wait 3 without improvement: stop, and restore epoch 1 (the best).
  EarlyStopping es({.patience = 2, .baseline = 0.5, .restore_best_weights = true});
  CHECK(run_epochs(es, m, "val_loss", {0.9, 0.8, 0.85, 0.1}) == 3);
  CHECK(weight_tag(m) == 1.0f);
  // Beating the baseline resets the count: e1 0.4 < 0.5, so e2 and e3 make wait 1 and 2.
  EarlyStopping beaten({.patience = 2, .baseline = 0.5});
  CHECK(run_epochs(beaten, m, "val_loss", {0.9, 0.4, 0.45, 0.45, 0.3}) == 4);
}

TEST_CASE("EarlyStopping ignores the epochs before start_from_epoch", "[callbacks]") {
  Sequential m = tiny_model();
  EarlyStopping warm({.patience = 1, .start_from_epoch = 2});
  // Monitoring starts at e2 (best 0.9); e3 0.95 is the first without improvement.
  CHECK(run_epochs(warm, m, "val_loss", {0.5, 0.9, 0.9, 0.95, 0.1}) == 4);
  EarlyStopping cold({.patience = 1});
  CHECK(run_epochs(cold, m, "val_loss", {0.5, 0.9, 0.9, 0.95, 0.1}) == 2);
}

TEST_CASE("EarlyStopping prints the stop and the restore with verbose 1", "[callbacks]") {
  Sequential m = tiny_model();
  EarlyStopping es({.patience = 1, .verbose = 1, .restore_best_weights = true});
  StdoutCapture capture;
  run_epochs(es, m, "val_loss", {0.5, 0.6});
  check_lines(capture.finish(), {"Epoch 2: early stopping",
                                 "Restoring model weights from the end of the best epoch: 1."});
}

TEST_CASE("EarlyStopping rejects an unknown mode and a metric whose direction it cannot tell",
          "[callbacks]") {
  CHECK_THROWS_WITH(EarlyStopping({.mode = "up"}),
                    "EarlyStopping: mode must be 'auto', 'min' or 'max', got 'up'");
  Sequential m = tiny_model();
  EarlyStopping es({.monitor = "val_widgets"});
  CHECK_THROWS_AS(run_epochs(es, m, "val_widgets", {1.0}), ValueError);
  es.on_train_begin({});
  CHECK_THROWS_WITH(es.on_epoch_end(0, {{"val_widgets", 1.0}}),
                    Catch::Contains("monitor=val_widgets") && Catch::Contains("mode"));
  // A missing key is a warning, not a stop.
  EarlyStopping missing({.patience = 0});
  CHECK(run_epochs(missing, m, "loss", {1.0, 2.0, 3.0}) == 3);
}

TEST_CASE("EarlyStopping ends a real fit whose loss stops falling", "[callbacks]") {
  Sequential m = tiny_model(0.0);  // learning rate 0: the loss never changes
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor y = Tensor::from_vector(std::vector<float>{1, 0}, {2, 1});
  History h = m.fit(x, y, {.epochs = 10, .verbose = 0,
                           .callbacks = {EarlyStopping({.monitor = "loss", .patience = 2})}});
  CHECK(h.epoch == std::vector<int>{0, 1, 2});
}
