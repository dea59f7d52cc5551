// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/backup_and_restore.hpp — survive a crash or a kill and continue exactly.
#pragma once

#include <cstdint>
#include <string>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

struct BackupAndRestoreOptions {
  SaveFreq save_freq = "epoch";   ///< back up at each epoch end, or every N training batches
  bool delete_checkpoint = true;  ///< remove the backup when fit ends normally
};

/// Keras's BackupAndRestore, made exact. Backs up, atomically (temporary file, fsync, rename),
/// into `backup_dir`/training.backup: the model's weights, the optimizer's state, the epoch and
/// step reached, fit's shuffle key and lamina's random stream. When fit starts and a backup
/// exists, it restores all of it and fit continues from that epoch and step. A program that sets
/// its seed, is killed at any moment (SIGKILL included) and is run again with the same thread
/// count finishes with bit for bit the weights an uninterrupted run gives on the CPU. A kill
/// during a backup leaves the previous one. The resumed epoch's training metrics average the
/// batches run after the resume only.
/// Throws FileFormatError naming the file when the backup is damaged or does not fit the model
/// (weights or optimizer of other shapes); ValueError when the model is not compiled.
class BackupAndRestore : public Callback {
 public:
  explicit BackupAndRestore(std::string backup_dir, BackupAndRestoreOptions options = {});
  void on_train_begin(const Logs&) override;
  void on_train_batch_end(std::int64_t batch, const Logs&) override;
  void on_epoch_end(int epoch, const Logs&) override;
  bool reads_batch_logs() const override { return false; }
  void on_train_end(const Logs&) override;

  /// The backup file's path.
  std::string backup_path() const;
  /// Whether the last on_train_begin restored a backup.
  bool restored() const { return restored_; }

 private:
  void save(int epoch, std::int64_t step);

  std::string backup_dir_;
  BackupAndRestoreOptions options_;
  std::int64_t batches_since_save_ = 0;
  bool restored_ = false;
};

}  // namespace lamina::callbacks
