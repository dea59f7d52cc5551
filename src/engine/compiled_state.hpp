// SPDX-License-Identifier: Apache-2.0
// src/engine/compiled_state.hpp — what compile() sets up and a step uses: the optimizer, the
// per-output losses and their weights, the metrics and the loss trackers, with the loss and metric
// bookkeeping of a step (Keras 3's CompileLoss / CompileMetrics and the trainer's loss tracker).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lamina/losses.hpp"
#include "lamina/metrics.hpp"
#include "lamina/model.hpp"
#include "lamina/optimizers.hpp"

namespace lamina {
class ModelImpl;
}

namespace lamina::engine {

/// The running weighted mean of a loss (Keras's loss tracker, a metrics::Mean). The sum stays a
/// float64 tensor beside the loss, so a step never waits to read the loss back: result() reads it,
/// once per log. Sums exactly as metrics::Mean does (the loss as a double, times the count).
class LossTracker {
 public:
  explicit LossTracker(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  /// Adds a scalar `value` (any float dtype) with weight `count` (the batch's samples).
  void update_state(const Tensor& value, double count);
  /// The mean so far (0 before any update); reads the sum from its device.
  double result() const;
  void reset_state();
  /// The state, as a distribution strategy reduces it: the weighted sum (a float64 scalar tensor,
  /// undefined before any update) and the total weight.
  const Tensor& sum() const { return sum_; }
  double count() const { return count_; }

 private:
  std::string name_;
  Tensor sum_;
  double count_ = 0.0;
};

/// The state of compile(): what the trainer's steps compute the loss and the logs with.
struct CompiledState {
  /// Resolves compile's options against the model's outputs `output_names`. Throws ValueError
  /// for an unknown output key, a wrong count, a missing optimizer or loss, or an unknown metric.
  CompiledState(const std::vector<std::string>& output_names, const CompileOptions& options);

  std::shared_ptr<Optimizer> optimizer;
  /// Per output (null: the output is not trained), its weight, its metrics.
  std::vector<std::shared_ptr<Loss>> losses;
  std::vector<double> loss_weights;
  std::vector<std::vector<MetricArg>> metric_args;
  std::vector<std::vector<std::shared_ptr<Metric>>> metrics;  ///< resolved on the first batch
  LossTracker loss_tracker{"loss"};
  std::vector<LossTracker> output_loss_trackers;  ///< "<output>_loss", several outputs only
  /// Set by fit from its TrainingState before each step (TerminateOnNaN): the default train step
  /// reads the loss and skips the update when it is NaN or Inf.
  bool skip_nonfinite = false;
  /// Held by fit, evaluate, train_on_batch and test_on_batch for their whole run: the metrics and
  /// trackers above are one set per compiled model, so such calls from several threads take turns
  /// rather than mix their sums. Recursive: a callback of fit may call evaluate.
  std::recursive_mutex metrics_mutex;
};

/// The total loss Σ weight·loss over the outputs with a loss, plus the model's layer losses
/// (regularization penalties, add_loss) as Keras adds them. Updates the per-output loss trackers
/// (several outputs) with each output's unweighted loss, `count` samples. sample_weights: per
/// output (undefined or empty: unweighted). Nothing is read back from the device.
Tensor compute_loss(ModelImpl& m, const std::vector<Tensor>& ys, const std::vector<Tensor>& preds,
                    const std::vector<Tensor>& sample_weights, double count);

/// Keras's apply_mask for the losses: each output's mask (undefined: none) becomes a weight,
/// scaled by entries / unmasked entries so that sum_over_batch_size averages over the unmasked
/// entries only, times that output's sample weights when given.
std::vector<Tensor> masked_loss_weights(const std::vector<Tensor>& sample_weights, const std::vector<Tensor>& masks);

/// Keras's class_weight_to_sample_weights: per sample, the weight of its class (the label, or the
/// argmax of a one-hot row), 1 for classes not listed.
Tensor class_weights_to_sample_weights(const Tensor& y, const std::map<std::int64_t, double>& class_weight);

/// Resolves the metrics (on the first batch, from the shapes), then updates them with one batch.
/// sample_weights (per output) reach the weighted_metrics only, as in Keras; masks (per output,
/// from forward_masked) weight every metric, as Keras's metrics read the output's mask.
void update_metrics(ModelImpl& m, const std::vector<Tensor>& ys, const std::vector<Tensor>& preds,
                    const std::vector<Tensor>& sample_weights = {}, const std::vector<Tensor>& masks = {});
void reset_metrics(ModelImpl& m);
/// "loss", then "<output>_loss" and "<output>_<metric>" (several outputs) or "<metric>" (one),
/// read now (through the trainer hooks' reduce_metrics).
std::map<std::string, double> current_logs(const ModelImpl& m);

}  // namespace lamina::engine
