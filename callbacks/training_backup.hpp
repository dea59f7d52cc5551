// SPDX-License-Identifier: Apache-2.0
// callbacks/training_backup.hpp — BackupAndRestore's file: everything needed to continue training
// exactly, in one file so that one atomic rename replaces all of it.
//
// Layout: the 16 bytes "LAMINA-BACKUP-1\n", a little-endian uint64 header length, a JSON header
// (counters, random state, and per tensor its group, name, dtype, shape, offset and size), then
// the tensors' raw bytes in header order.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina::callbacks::detail {

struct TrainingBackup {
  int epoch = 0;            ///< the epoch to run next (or to continue)
  std::int64_t step = 0;    ///< batches of that epoch already trained
  std::uint64_t shuffle_key = 0;
  std::uint64_t random_seed = 0, random_counter = 0;
  double learning_rate = 0.0;  ///< exact double (the optimizer's variables hold it as float32)
  bool fixed_learning_rate = true;
  std::vector<Tensor> weights;  ///< Model::get_weights() order
  std::vector<std::pair<std::string, Tensor>> optimizer_variables;  ///< Optimizer::variables()
};

/// Writes `backup` to `path` atomically. Throws FileFormatError naming the file on failure.
void write_backup(const std::string& path, const TrainingBackup& backup);
/// Reads and validates a backup (magic, header, every tensor's extent and size) before returning
/// anything. Throws FileFormatError naming the file and what is wrong.
TrainingBackup read_backup(const std::string& path);

}  // namespace lamina::callbacks::detail
