// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/callback.hpp — the Callback base: Keras's hooks, the logs they receive, and
// where fit stands in its data (for callbacks that checkpoint or resume training).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "lamina/model.hpp"

namespace lamina {

/// Per-batch or per-epoch values by name ("loss", "accuracy", "val_loss"...), sorted by name as
/// Keras 3 shows them.
using Logs = std::map<std::string, double>;

/// Where fit stands in its data. fit derives each epoch's order from (shuffle_key, epoch) alone,
/// so (epoch, step, shuffle_key) plus the random stream's state pin down the rest of training.
struct TrainingState {
  int epoch = 0;                  ///< the epoch being run (0-based)
  std::int64_t step = 0;          ///< batches of that epoch already trained
  std::uint64_t shuffle_key = 0;  ///< fit draws it from the seeded stream when it starts
  /// Set by a callback (TerminateOnNaN): a step whose loss is NaN or Inf leaves the weights and
  /// the optimizer untouched, so training stops on the last good weights.
  bool skip_nonfinite_steps = false;
};

/// Keras's callback hooks. fit/evaluate/predict call them in the order the callbacks were given;
/// History and the progress bar are added automatically. Validation inside fit calls the test
/// hooks; epoch logs carry the validation values with a "val_" prefix.
class Callback {
 public:
  virtual ~Callback();
  /// The model being trained; valid inside the hooks. `model().stop_training() = true` ends fit
  /// after the current batch.
  Model& model() { return model_; }
  void set_model(const Model& model) { model_ = model; }
  /// {"epochs", "steps", "verbose"} as Keras's callback params.
  std::map<std::string, std::int64_t> params;
  /// fit's position in its data; null outside fit. A callback may rewrite it in on_train_begin
  /// to resume there (BackupAndRestore does).
  TrainingState* training_state() { return training_state_; }
  void set_training_state(TrainingState* state) { training_state_ = state; }

  virtual void on_train_begin(const Logs&) {}
  /// logs: the last epoch's logs.
  virtual void on_train_end(const Logs&) {}
  virtual void on_epoch_begin(int /*epoch*/, const Logs&) {}
  virtual void on_epoch_end(int /*epoch*/, const Logs&) {}
  virtual void on_train_batch_begin(std::int64_t /*batch*/, const Logs&) {}
  /// logs: the epoch's running averages after this batch.
  virtual void on_train_batch_end(std::int64_t /*batch*/, const Logs&) {}
  virtual void on_test_begin(const Logs&) {}
  virtual void on_test_end(const Logs&) {}
  virtual void on_test_batch_begin(std::int64_t /*batch*/, const Logs&) {}
  virtual void on_test_batch_end(std::int64_t /*batch*/, const Logs&) {}
  virtual void on_predict_begin(const Logs&) {}
  virtual void on_predict_end(const Logs&) {}
  virtual void on_predict_batch_begin(std::int64_t /*batch*/, const Logs&) {}
  virtual void on_predict_batch_end(std::int64_t /*batch*/, const Logs&) {}

  /// Whether on_train_batch_end / on_test_batch_end read their logs. fit and evaluate read a
  /// batch's logs (the loss, from the device it was computed on) only when a callback does; one
  /// that returns false is handed empty batch logs. Default: true.
  virtual bool reads_batch_logs() const { return true; }

  /// fit: the epoch logs this callback's on_epoch_end may add to (null outside that hook).
  void set_epoch_logs(Logs* logs) { epoch_logs_ = logs; }

 protected:
  /// Adds `key` to the epoch's logs from inside on_epoch_end, as a Keras callback writes into its
  /// logs dict: the callbacks after this one, History and the progress bar see it. Does nothing
  /// elsewhere.
  void set_epoch_log(const std::string& key, double value) {
    if (epoch_logs_) (*epoch_logs_)[key] = value;
  }

 private:
  Model model_;
  TrainingState* training_state_ = nullptr;
  Logs* epoch_logs_ = nullptr;
};

namespace callbacks {

/// When ModelCheckpoint and BackupAndRestore save: "epoch" (each epoch end) or every N batches.
class SaveFreq {
 public:
  /// "epoch"; throws ValueError for any other text.
  SaveFreq(const char* text);         // NOLINT(google-explicit-constructor)
  SaveFreq(const std::string& text);  // NOLINT(google-explicit-constructor)
  /// Every `batches` (> 0, else ValueError) training batches, counted across epochs.
  SaveFreq(int batches);              // NOLINT(google-explicit-constructor)
  bool per_epoch() const { return batches_ == 0; }
  std::int64_t batches() const { return batches_; }

 private:
  std::int64_t batches_ = 0;
};

}  // namespace callbacks
}  // namespace lamina
