// SPDX-License-Identifier: Apache-2.0
// ReduceLROnPlateau driven by scripted epoch logs; the learning rate after each epoch is derived
// by hand from Keras's counters (wait, cooldown) in the comments.
#include <catch2/catch.hpp>

#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>

#include "callbacks/scripted.hpp"
#include "support/capture.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::ReduceLROnPlateau;

namespace {

// The optimizer's learning rate after each scripted epoch.
std::vector<double> rates(ReduceLROnPlateau& cb, Model& m, const std::string& key,
                          const std::vector<double>& values) {
  std::vector<double> out;
  cb.set_model(m);
  cb.on_train_begin({});
  for (std::size_t e = 0; e < values.size(); ++e) {
    cb.on_epoch_end(static_cast<int>(e), {{key, values[e]}});
    out.push_back(m.optimizer()->learning_rate());
  }
  return out;
}

}  // namespace

TEST_CASE("ReduceLROnPlateau multiplies the rate by factor after patience flat epochs, "
          "waits out the cooldown and stops at min_lr", "[callbacks]") {
  Sequential m = tiny_model(1.0);
  ReduceLROnPlateau cb({.factor = 0.5, .patience = 2, .min_delta = 0.0, .cooldown = 1, .min_lr = 0.2});
  // e0 best 1.0; e1 wait 1; e2 wait 2: 1 -> 0.5, cooldown 1; e3 cooldown ends (wait 0 then 1);
  // e4 wait 2: 0.25; e5 wait 1; e6 wait 2: max(0.125, 0.2) = 0.2; e7 wait 1; e8 wait 2 but the
  // rate is already min_lr: unchanged.
  CHECK(rates(cb, m, "val_loss", std::vector<double>(9, 1.0)) ==
        std::vector<double>{1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2});
}

TEST_CASE("ReduceLROnPlateau resets its wait on an improvement larger than min_delta",
          "[callbacks]") {
  Sequential m = tiny_model(1.0);
  ReduceLROnPlateau cb({.factor = 0.1, .patience = 2, .min_delta = 0.05});
  // e1 improves by 0.2 (reset); e2 by 0.04 < min_delta (wait 1); e3 by 0.1 (reset);
  // e4, e5 flat: wait 1, 2 -> 0.1.
  CHECK(rates(cb, m, "val_loss", {1.0, 0.8, 0.76, 0.66, 0.66, 0.66}) ==
        std::vector<double>{1.0, 1.0, 1.0, 1.0, 1.0, 0.1});
}

TEST_CASE("ReduceLROnPlateau's auto mode maximises a monitor whose name holds 'acc'",
          "[callbacks]") {
  Sequential m = tiny_model(1.0);
  ReduceLROnPlateau rising({.monitor = "val_accuracy", .factor = 0.5, .patience = 1});
  CHECK(rates(rising, m, "val_accuracy", {0.5, 0.6, 0.7}) == std::vector<double>{1.0, 1.0, 1.0});
  ReduceLROnPlateau falling({.monitor = "val_accuracy", .factor = 0.5, .patience = 1});
  CHECK(rates(falling, m, "val_accuracy", {0.7, 0.6}) == std::vector<double>{1.0, 0.5});
  m.optimizer()->set_learning_rate(1.0);
  ReduceLROnPlateau max({.monitor = "val_score", .factor = 0.5, .patience = 1, .mode = "max"});
  CHECK(rates(max, m, "val_score", {1.0, 0.5}) == std::vector<double>{1.0, 0.5});
}

TEST_CASE("ReduceLROnPlateau prints each reduction with verbose 1 and refuses factor >= 1",
          "[callbacks]") {
  Sequential m = tiny_model(0.01);
  ReduceLROnPlateau cb({.factor = 0.5, .patience = 1, .verbose = 1});
  StdoutCapture capture;
  rates(cb, m, "val_loss", {1.0, 1.0});
  check_lines(capture.finish(), {"", "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.005."});
  CHECK_THROWS_WITH(ReduceLROnPlateau({.factor = 1.0}),
                    Catch::StartsWith("ReduceLROnPlateau does not support a factor >= 1.0"));
  CHECK_THROWS_AS(ReduceLROnPlateau({.mode = "lowest"}), ValueError);
}
