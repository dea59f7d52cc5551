// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/reduce_lr_on_plateau.hpp — lower the learning rate when a metric stalls.
#pragma once

#include <string>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;        ///< new_lr = lr · factor; must be < 1
  int patience = 10;          ///< epochs without improvement before reducing
  int verbose = 0;            ///< 1: print each reduction
  std::string mode = "auto";  ///< "auto" ("acc" in the name: max, else min), "min" or "max"
  double min_delta = 1e-4;    ///< improvement threshold
  int cooldown = 0;           ///< epochs after a reduction during which waiting is suspended
  double min_lr = 0.0;        ///< lower bound of the learning rate
};

/// Keras's ReduceLROnPlateau: after `patience` epochs without an improvement of logs[monitor] by
/// more than min_delta, multiplies the optimizer's learning rate by `factor` (not below min_lr),
/// then waits `cooldown` epochs before counting again. Throws ValueError for factor >= 1 or an
/// unknown mode.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  bool reads_batch_logs() const override { return false; }
  const ReduceLROnPlateauOptions& options() const { return options_; }

 private:
  void reset();
  bool improves(double current) const;

  ReduceLROnPlateauOptions options_;
  bool higher_is_better_ = false;
  double best_ = 0.0;
  int wait_ = 0;
  int cooldown_counter_ = 0;
};

}  // namespace lamina::callbacks
