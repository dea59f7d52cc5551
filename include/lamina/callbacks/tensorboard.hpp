// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks/tensorboard.hpp — Keras's TensorBoard callback: event files TensorBoard reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "lamina/callbacks/callback.hpp"

namespace lamina::callbacks {

/// When TensorBoard writes batch-level scalars: "epoch" (never), "batch" (every batch) or every
/// N training batches.
class UpdateFreq {
 public:
  /// "epoch" or "batch"; throws ValueError for any other text.
  UpdateFreq(const char* text);         // NOLINT(google-explicit-constructor)
  UpdateFreq(const std::string& text);  // NOLINT(google-explicit-constructor)
  /// Every `batches` (> 0, else ValueError) training batches, counted across epochs.
  UpdateFreq(int batches);              // NOLINT(google-explicit-constructor)
  bool per_epoch() const { return batches_ == 0; }
  std::int64_t batches() const { return batches_; }

 private:
  std::int64_t batches_ = 0;
};

/// Keras 3's arguments and defaults (after log_dir).
struct TensorBoardOptions {
  /// Every how many epochs (0-based epoch % freq == 0) to write the weights' histograms; 0: never.
  int histogram_freq = 0;
  /// Write the model's Keras JSON (TensorBoard's "conceptual graph"), as Keras 3 does.
  bool write_graph = true;
  /// Weights as images: not supported; true throws ValueError.
  bool write_images = false;
  /// Also log "steps_per_second" (per epoch; "batch_steps_per_second" with batch updates).
  bool write_steps_per_second = false;
  UpdateFreq update_freq = "epoch";
  /// Profiling: not supported; anything but 0 throws ValueError.
  int profile_batch = 0;
  /// Embedding projector: not supported; anything but 0 throws ValueError.
  int embeddings_freq = 0;
};

/// Keras's TensorBoard callback. Writes TensorFlow 2 event files
/// (`events.out.tfevents.<time>.<host>.<pid>.<n>.v2`, new ones for each fit) that TensorBoard
/// reads, under `log_dir/train` and `log_dir/validation`, with Keras 3's tags and steps:
/// - train: "keras" (the model's JSON, step 0, with write_graph); "epoch_<name>" for each log that
///   is not a validation one plus "epoch_learning_rate" (step: the 0-based epoch); with
///   update_freq, "batch_<name>" at the global batch count (1-based, across epochs) every N
///   batches; with histogram_freq, "<weight path>/histogram" for every weight of every layer
///   ("sequential/dense/kernel/histogram", 30 buckets), step: the epoch;
/// - validation: "epoch_<name>" for each "val_<name>" log, and at the end of every evaluation
///   "evaluation_<name>_vs_iterations" at the optimizer's iteration count.
/// Scalars are stored as float32, as tf.summary.scalar does. One difference from Keras 3: with an
/// integer update_freq Keras 3 drops the epoch summaries, histograms and evaluation summaries of
/// an epoch whose batch count is not a multiple of it (its batch filter stays active); here they
/// are always written, as tf.keras did.
/// Throws ValueError for an option it does not support (see TensorBoardOptions) and, in the
/// hooks, when a file cannot be created or written.
class TensorBoard : public Callback {
 public:
  explicit TensorBoard(std::string log_dir = "logs", TensorBoardOptions options = {});
  TensorBoard(const TensorBoard& other);  ///< copies the settings, not the open files
  ~TensorBoard() override;

  void on_train_begin(const Logs&) override;
  void on_train_end(const Logs&) override;
  void on_epoch_begin(int epoch, const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_batch_begin(std::int64_t batch, const Logs&) override;
  void on_train_batch_end(std::int64_t batch, const Logs& logs) override;
  void on_test_begin(const Logs&) override;
  void on_test_end(const Logs& logs) override;
  /// Only with batch-level updates.
  bool reads_batch_logs() const override { return !options_.update_freq.per_epoch(); }

  const std::string& log_dir() const { return log_dir_; }

 private:
  struct Writers;
  Writers& writers();  ///< the current files, a fresh set when none is open
  void write_graph();
  void write_histograms(int epoch);

  std::string log_dir_;
  TensorBoardOptions options_;
  std::unique_ptr<Writers> writers_;
  bool in_fit_ = false;
  std::int64_t global_train_batch_ = 0;
  std::int64_t epoch_start_iterations_ = 0;
  double epoch_start_time_ = 0.0;
  double batch_start_time_ = 0.0;
};

}  // namespace lamina::callbacks
