// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/model_checkpoint.hpp — save the model (or its weights) during training.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  int verbose = 0;               ///< 1: print each save (or why not)
  bool save_best_only = false;   ///< save only when logs[monitor] improves on the best so far
  bool save_weights_only = false;
  std::string mode = "auto";     ///< "auto", "min" or "max"
  SaveFreq save_freq = "epoch";  ///< "epoch" or every N batches
  /// The best value to beat before the first save (save_best_only).
  std::optional<double> initial_value_threshold{};
  /// How a file is written: (model, path, weights_only). Empty: Model::save / save_weights.
  std::function<void(Model& model, const std::string& path, bool weights_only)> saver{};
};

/// Keras's ModelCheckpoint. `filepath` may hold Python format fields filled from the epoch
/// (1-based), the batch (1-based, batch-frequency saves) and the logs:
/// "ckpt-{epoch:02d}-{val_loss:.4f}.h5" -> "ckpt-03-0.2871.h5". Supported specs: [0][width]
/// [.precision][d|f|e|g|%] and none. Parent directories are created.
/// Throws ValueError: a full-model path not ending in ".keras" or ".h5", a weights path not
/// ending in ".h5" (Keras 3 writes ".weights.h5"), an unknown mode; when saving, a field
/// missing from the logs or a malformed field (naming the template).
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {});
  void on_train_begin(const Logs&) override;
  void on_epoch_begin(int epoch, const Logs&) override;
  void on_train_batch_end(std::int64_t batch, const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  /// Only when saving every N batches (the file name and the monitored value may use them).
  bool reads_batch_logs() const override;

  /// The template filled for this epoch (0-based), batch (0-based; -1: none) and logs.
  std::string file_path(int epoch, std::int64_t batch, const Logs& logs) const;
  /// The best monitored value so far (save_best_only).
  std::optional<double> best() const { return best_; }

 private:
  void save(int epoch, std::int64_t batch, const Logs& logs);

  std::string filepath_;
  ModelCheckpointOptions options_;
  std::optional<double> best_;
  int current_epoch_ = 0;
  std::int64_t batches_since_save_ = 0;
  std::int64_t last_batch_seen_ = 0;
};

}  // namespace lamina::callbacks
