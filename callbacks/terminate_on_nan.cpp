// SPDX-License-Identifier: Apache-2.0
// TerminateOnNaN: the engine skips the bad step's update (TrainingState::skip_nonfinite_steps);
// this callback reports it and stops.
#include "lamina/callbacks/terminate_on_nan.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "lamina/errors.hpp"

namespace lamina::callbacks {

void TerminateOnNaN::on_train_begin(const Logs&) {
  if (TrainingState* state = training_state()) state->skip_nonfinite_steps = true;
}

void TerminateOnNaN::on_train_batch_end(std::int64_t batch, const Logs& logs) {
  const auto it = logs.find("loss");
  if (it == logs.end() || std::isfinite(it->second)) return;
  if (raise_error_)
    throw Error("NaN or Inf loss encountered at batch " + std::to_string(batch) +
                ". Loss value: " + std::to_string(it->second) +
                ". Terminating training immediately.");
  std::printf("Batch %lld: Invalid loss, terminating training\n", static_cast<long long>(batch));
  std::fflush(stdout);
  model().stop_training() = true;
}

}  // namespace lamina::callbacks
