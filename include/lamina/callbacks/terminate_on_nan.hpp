// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/terminate_on_nan.hpp — stop at the first NaN or Inf loss.
#pragma once

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

/// Keras's TerminateOnNaN: when a training batch's loss is NaN or Inf, prints
/// "Batch <b>: Invalid loss, terminating training" and stops fit (raise_error: throws
/// lamina::Error instead). Beyond Keras, that batch's update is never applied: the model keeps
/// the weights (and the optimizer its state) of the last good step.
class TerminateOnNaN : public Callback {
 public:
  explicit TerminateOnNaN(bool raise_error = false) : raise_error_(raise_error) {}
  void on_train_begin(const Logs&) override;
  void on_train_batch_end(std::int64_t batch, const Logs& logs) override;

 private:
  bool raise_error_;
};

}  // namespace lamina::callbacks
