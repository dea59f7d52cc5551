// SPDX-License-Identifier: Apache-2.0
// EarlyStopping, with Keras 3's rules for patience, baseline and restoring the best weights.
#include "lamina/callbacks/early_stopping.hpp"

#include <cstdio>

#include "lamina/errors.hpp"
#include "monitor.hpp"

namespace lamina::callbacks {
EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  detail::check_mode("EarlyStopping", options_.mode);
  if (options_.patience < 0)
    throw ValueError("EarlyStopping: patience must be >= 0, got " + std::to_string(options_.patience));
}

void EarlyStopping::on_train_begin(const Logs&) {
  wait_ = 0;
  stopped_epoch_ = 0;
  best_epoch_ = 0;
  started_ = false;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(int epoch, const Logs& logs) {
  const detail::Monitor monitor("EarlyStopping", options_.monitor, options_.mode, options_.min_delta);
  if (!started_) {
    best_ = monitor.worst();  // also checks, on the first epoch, that the direction is known
    started_ = true;
  }
  const auto current = monitor.value(logs);
  if (!current || epoch < options_.start_from_epoch) return;
  if (options_.restore_best_weights && best_weights_.empty()) {
    best_weights_ = model().get_weights();
    best_epoch_ = epoch;
  }
  ++wait_;
  if (monitor.is_improvement(*current, best_)) {
    best_ = *current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights) best_weights_ = model().get_weights();
    // The count restarts only when the value beats the baseline as well as the best so far.
    if (!options_.baseline || monitor.is_improvement(*current, *options_.baseline)) wait_ = 0;
    return;
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model().stop_training() = true;
  }
}

void EarlyStopping::on_train_end(const Logs&) {
  if (stopped_epoch_ > 0 && options_.verbose > 0)
    std::printf("Epoch %d: early stopping\n", stopped_epoch_ + 1);
  if (options_.restore_best_weights && !best_weights_.empty()) {
    if (options_.verbose > 0)
      std::printf("Restoring model weights from the end of the best epoch: %d.\n", best_epoch_ + 1);
    model().set_weights(best_weights_);
  }
}

}  // namespace lamina::callbacks
