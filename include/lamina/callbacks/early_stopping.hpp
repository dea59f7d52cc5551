// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/early_stopping.hpp — stop training when a monitored metric stops improving.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;  ///< a change smaller than |min_delta| is no improvement
  int patience = 0;        ///< epochs without improvement before stopping
  int verbose = 0;         ///< 1: print when stopping and restoring
  std::string mode = "auto";  ///< "auto", "min" or "max"
  std::optional<double> baseline{};  ///< stop unless the model beats it within `patience` epochs
  bool restore_best_weights = false;  ///< at the end, go back to the best epoch's weights
  int start_from_epoch = 0;           ///< warm-up epochs that are not monitored
};

/// Keras's EarlyStopping: at each epoch end compares logs[monitor] with the best so far; after
/// `patience` epochs without improvement sets model().stop_training(). With
/// restore_best_weights, on_train_end sets the weights of the best epoch (the weights of the
/// first monitored epoch when none improved). Throws ValueError for an unknown mode, and at the
/// first epoch end when mode "auto" cannot tell the metric's direction.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  bool reads_batch_logs() const override { return false; }
  void on_train_end(const Logs&) override;

  /// The epoch (0-based) at which training was stopped; 0 when it was not.
  int stopped_epoch() const { return stopped_epoch_; }
  /// The best epoch (0-based) and its monitored value.
  int best_epoch() const { return best_epoch_; }
  double best() const { return best_; }
  const EarlyStoppingOptions& options() const { return options_; }

 private:
  EarlyStoppingOptions options_;
  int wait_ = 0;
  int stopped_epoch_ = 0;
  int best_epoch_ = 0;
  double best_ = 0.0;
  bool started_ = false;
  std::vector<Tensor> best_weights_;
};

}  // namespace lamina::callbacks
