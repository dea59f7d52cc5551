// SPDX-License-Identifier: Apache-2.0
// ReduceLROnPlateau with Keras's counters: wait, cooldown, and the "acc" rule of its auto mode.
#include "lamina/callbacks/reduce_lr_on_plateau.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "lamina/errors.hpp"
#include "monitor.hpp"

namespace lamina::callbacks {

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options) : options_(std::move(options)) {
  if (options_.factor >= 1.0)
    throw ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=" +
                     std::to_string(options_.factor));
  detail::check_mode("ReduceLROnPlateau", options_.mode);
  reset();
}

void ReduceLROnPlateau::reset() {
  // Unlike EarlyStopping, Keras decides this callback's auto direction by the substring "acc".
  higher_is_better_ = options_.mode == "max" ||
                      (options_.mode == "auto" && options_.monitor.find("acc") != std::string::npos);
  const double inf = std::numeric_limits<double>::infinity();
  best_ = higher_is_better_ ? -inf : inf;
  wait_ = 0;
  cooldown_counter_ = 0;
}

bool ReduceLROnPlateau::improves(double current) const {
  return higher_is_better_ ? current > best_ + options_.min_delta
                           : current < best_ - options_.min_delta;
}

void ReduceLROnPlateau::on_train_begin(const Logs&) { reset(); }

void ReduceLROnPlateau::on_epoch_end(int epoch, const Logs& logs) {
  auto optimizer = model().optimizer();
  if (!optimizer) throw ValueError("ReduceLROnPlateau: the model is not compiled");
  // As Keras: the epoch's rate (float32, as its variable), logged before any reduction.
  set_epoch_log("learning_rate", static_cast<float>(optimizer->learning_rate()));
  const auto value = detail::monitored_value("Learning rate reduction", options_.monitor, logs);
  if (!value) return;
  const double current = *value;
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (improves(current)) {
    best_ = current;
    wait_ = 0;
    return;
  }
  if (cooldown_counter_ > 0 || ++wait_ < options_.patience) return;
  const double old_lr = optimizer->learning_rate();
  // Keras compares with min_lr in float32, the precision of its learning-rate variable.
  if (old_lr > static_cast<float>(options_.min_lr)) {
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    optimizer->set_learning_rate(new_lr);
    if (options_.verbose > 0)
      std::printf("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %g.\n", epoch + 1, new_lr);
    cooldown_counter_ = options_.cooldown;
    wait_ = 0;
  }
}

}  // namespace lamina::callbacks
