// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/csv_logger.hpp — one CSV row per epoch.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

struct CSVLoggerOptions {
  std::string separator = ",";
  bool append = false;  ///< continue an existing file (no second header) instead of overwriting
};

/// Keras's CSVLogger: a header "epoch,<keys sorted by name>" from the first epoch's logs, then
/// one row per epoch: the 0-based epoch and each value in its shortest round-trip form ("NA"
/// for a key missing that epoch). Each row is flushed as it is written. Throws ValueError naming
/// the file when it cannot be opened.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, CSVLoggerOptions options = {});
  CSVLogger(const CSVLogger& other);  ///< copies the settings, not an open file
  ~CSVLogger() override;
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  bool reads_batch_logs() const override { return false; }
  void on_train_end(const Logs&) override;

 private:
  void close();

  std::string filename_;
  CSVLoggerOptions options_;
  std::FILE* file_ = nullptr;
  bool write_header_ = true;
  std::vector<std::string> keys_;
};

}  // namespace lamina::callbacks
