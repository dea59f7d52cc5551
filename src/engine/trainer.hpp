// SPDX-License-Identifier: Apache-2.0
// src/engine/trainer.hpp — the trainer (Keras 3's Trainer): the loops of fit, evaluate and predict
// around the model's overridable steps, the default steps, and the hooks through which a
// distribution strategy or mixed precision join a step.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/compiled_state.hpp"
#include "engine/data_adapter.hpp"
#include "lamina/callbacks/callback.hpp"
#include "lamina/model.hpp"

namespace lamina {
class ModelImpl;
namespace autograd {
class GradReadyHook;
}
}  // namespace lamina

namespace lamina::engine {

/// The metric states a log is read from: copies of the loss trackers (the sums are tensors that
/// share storage with the trackers': replace them, do not write into them) and the compiled metrics.
struct MetricStates {
  std::vector<LossTracker> loss_trackers;
  std::vector<Metric*> metrics;
};

/// The tensors the compiled metrics are updated with after a step (update_metrics' arguments).
struct MetricInputs {
  std::vector<Tensor> y, preds, sample_weight, masks;
};

/// Extension points of a training step, for a distribution strategy and mixed precision. The train
/// step calls them in this order: scale_loss (before backward), reduce_gradients (the scaled
/// gradients, so every replica then sees the same values), unscale_gradients (skips the update when
/// it returns false, on every replica alike); reduce_metrics runs whenever a log is read. The
/// defaults change nothing.
class TrainerHooks {
 public:
  virtual ~TrainerHooks();
  /// The loss that backward starts from (a loss scale multiplies it).
  virtual Tensor scale_loss(const Tensor& loss) { return loss; }
  /// Before backward, the weights whose gradients it computes: the hook returned hears of each
  /// of their gradients as soon as backward has finished it (a distribution starts all-reducing a
  /// bucket of them then, overlapping backward); null (the default): none.
  virtual autograd::GradReadyHook* gradients_ready_hook(const std::vector<Tensor>& /*weights*/) { return nullptr; }
  /// Sums or averages the gradients over the replicas, in place.
  virtual void reduce_gradients(std::vector<Tensor>& /*grads*/) {}
  /// Undoes scale_loss on the gradients, in place; false when one is not finite (the optimizer
  /// step is then skipped).
  virtual bool unscale_gradients(std::vector<Tensor>& /*grads*/) { return true; }
  /// Combines the metric states over the replicas before their results are read.
  virtual void reduce_metrics(MetricStates& /*states*/) {}
  /// The metric inputs of a step as the metrics must see them (a distribution strategy gathers
  /// every replica's rows, so that the metrics see the global batch), in place.
  virtual void gather_metric_inputs(MetricInputs& /*inputs*/) {}
  /// Whether `local` holds on every replica (TerminateOnNaN's finite loss: the replicas skip a
  /// step together or not at all).
  virtual bool on_every_replica(bool local) { return local; }
};

/// What fit asks of a distribution strategy besides the step hooks (src/distribute implements
/// it). Every call is collective: all replicas make it, in the same order.
class Distribution : public TrainerHooks {
 public:
  virtual bool is_chief() const = 0;
  /// A fit starts (before any other call of it).
  virtual void begin_fit() {}
  /// fit's data for this replica: its rows of each global batch (or `global` itself when the
  /// data is already sharded).
  virtual std::shared_ptr<BatchSource> shard(std::shared_ptr<BatchSource> global) = 0;
  /// Rank 0's weights, optimizer variables and position in the data, on every replica.
  virtual void broadcast_state(ModelImpl& m, TrainingState& state) = 0;
  /// Around each train or test step: the global batch's samples (weighting this replica's
  /// gradients), then the loss trackers summed over the replicas.
  virtual void begin_step(ModelImpl& m, const Batch& local) = 0;
  virtual void end_step(ModelImpl& m) = 0;
  /// fit failed on this replica: the others are told, so they stop with an error naming it.
  virtual void failed(const std::exception& e) = 0;
  virtual int num_replicas() const = 0;
  /// `t` summed over the replicas, as a tensor on t's device (cross_replica_sum's transport).
  virtual Tensor all_reduce_sum(const Tensor& t) = 0;
  /// Every replica's rows of each of `local` (leading dimensions may differ between replicas),
  /// concatenated in rank order, on every replica (predict's outputs).
  virtual std::vector<Tensor> gather_rows(const std::vector<Tensor>& local) = 0;
};
/// The strategy fit trains through (distribute::set_distribution), or null.
std::shared_ptr<Distribution> active_distribution();
/// The engine's side of a public strategy (FitOptions::distribution); defined in src/distribute.
std::shared_ptr<Distribution> distribution_of(distribute::DataParallel& strategy);
void set_active_distribution(std::shared_ptr<Distribution> distribution);

/// The hooks of `m` (the identity hooks unless set).
TrainerHooks& hooks_of(const ModelImpl& m);
/// Installs `hooks` on the model (null: back to the identity hooks).
void set_trainer_hooks(const Model& model, std::shared_ptr<TrainerHooks> hooks);

/// The object whose steps and call() run for `self`: the object that constructed the model (a
/// user's subclass) while it lives, else `self`.
Model& step_owner(Model& self);

// The default steps (Model::train_step, test_step, predict_step) and the helpers they share with
// users' steps.
StepLogs default_train_step(Model& self, const Batch& data);
StepLogs default_test_step(Model& self, const Batch& data);
std::vector<Tensor> default_predict_step(Model& self, const Batch& data);
/// Keras's `self(x, training)` inside a step: every output; `masks` receives each output's mask.
std::vector<Tensor> step_forward(Model& self, const std::vector<Tensor>& x, bool training,
                                 std::vector<Tensor>& masks);
/// GradientTape.gradient through the hooks: scale, backward, reduce, unscale. Empty when the hooks
/// found a non-finite gradient.
std::vector<Tensor> compute_gradients(ModelImpl& m, const Tensor& loss, const std::vector<Tensor>& weights);
/// The optimizer step (building it with the weights' Keras paths first), then the constraints.
void apply_gradients(ModelImpl& m, Optimizer& optimizer, const std::vector<Tensor>& grads,
                     const std::vector<Tensor>& weights);
/// The samples in a batch (the first input's leading dimension).
double batch_samples(const Batch& data);

/// Held by every public call that runs a model (fit, evaluate, predict and their one-batch forms)
/// while it runs. When the model holds a stateful layer (Keras's "stateful": true in a layer's
/// config, as the recurrent layers write it), the states that layer keeps from call to call
/// belong to one sequence of calls, so a call from a second thread while one runs is refused
/// with a ValueError naming the model and the layer. The same thread may nest calls (a callback
/// of fit calling predict). Models without stateful layers are shared freely.
class StatefulGuard {
 public:
  StatefulGuard(const ModelImpl& m, const char* what);
  ~StatefulGuard();
  StatefulGuard(const StatefulGuard&) = delete;
  StatefulGuard& operator=(const StatefulGuard&) = delete;

 private:
  const ModelImpl* m_ = nullptr;
};

// The loops.
History fit(Model& self, const TensorArg& x, const TensorArg& y, const FitOptions& options);
History fit(Model& self, const DataArg& data, const FitOptions& options);
std::map<std::string, double> evaluate(Model& self, const TensorArg& x, const TensorArg& y,
                                       const EvaluateOptions& options);
std::map<std::string, double> evaluate(Model& self, const DataArg& data, const EvaluateOptions& options);
std::vector<Tensor> predict(Model& self, const TensorArg& x, const PredictOptions& options);
std::vector<Tensor> predict(Model& self, const DataArg& data, const PredictOptions& options);
std::map<std::string, double> train_on_batch(Model& self, const TensorArg& x, const TensorArg& y);
std::map<std::string, double> test_on_batch(Model& self, const TensorArg& x, const TensorArg& y);

}  // namespace lamina::engine
