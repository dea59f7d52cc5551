// SPDX-License-Identifier: Apache-2.0
// LearningRateScheduler: a user function of (epoch, lr) sets the rate before each epoch.
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "lamina/callbacks.hpp"
#include "lamina/errors.hpp"

namespace lamina::callbacks {

LearningRateScheduler::LearningRateScheduler(Schedule schedule, int verbose)
    : schedule_(std::move(schedule)), verbose_(verbose) {
  if (!schedule_) throw ValueError("LearningRateScheduler: the schedule function is empty");
}

void LearningRateScheduler::on_epoch_begin(int epoch, const Logs&) {
  auto optimizer = model().optimizer();
  if (!optimizer) throw ValueError("LearningRateScheduler: the model is not compiled");
  const double lr = schedule_(epoch, optimizer->learning_rate());
  if (!std::isfinite(lr) || lr < 0.0)
    throw ValueError("LearningRateScheduler: the schedule returned learning rate " +
                     std::to_string(lr) + " at epoch " + std::to_string(epoch) +
                     "; expected a finite value >= 0");
  optimizer->set_learning_rate(lr);
  if (verbose_ > 0)
    std::printf("\nEpoch %d: LearningRateScheduler setting learning rate to %g.\n", epoch + 1, lr);
}

void LearningRateScheduler::on_epoch_end(int, const Logs&) {
  auto optimizer = model().optimizer();
  if (!optimizer) throw ValueError("LearningRateScheduler: the model is not compiled");
  set_epoch_log("learning_rate", static_cast<float>(optimizer->learning_rate()));
}

}  // namespace lamina::callbacks
