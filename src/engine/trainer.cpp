// SPDX-License-Identifier: Apache-2.0
// The trainer: the loops of fit, evaluate and predict around the model's steps, and the default
// steps.
#include "engine/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "autograd/grad_ready.hpp"
#include "engine/build_lock.hpp"
#include "engine/functional.hpp"
#include "engine/loss_scope.hpp"
#include "engine/model_impl.hpp"
#include "engine/replica.hpp"
#include "engine/subclassed.hpp"
#include "engine/training.hpp"
#include "lamina/callbacks.hpp"
#include "lamina/distribute.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/random.hpp"

namespace lamina::engine {

TrainerHooks::~TrainerHooks() = default;

namespace {
std::mutex& distribution_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::shared_ptr<Distribution>& distribution_slot() {
  static std::shared_ptr<Distribution> active;
  return active;
}
}  // namespace

std::shared_ptr<Distribution> active_distribution() {
  std::lock_guard<std::mutex> lock(distribution_mutex());
  return distribution_slot();
}

void set_active_distribution(std::shared_ptr<Distribution> distribution) {
  std::lock_guard<std::mutex> lock(distribution_mutex());
  distribution_slot() = std::move(distribution);
}

TrainerHooks& hooks_of(const ModelImpl& m) {
  static TrainerHooks identity;  // stateless: shared by every model without hooks
  return m.hooks ? *m.hooks : identity;
}

void set_trainer_hooks(const Model& model, std::shared_ptr<TrainerHooks> hooks) {
  model.impl().hooks = std::move(hooks);
}

Model& step_owner(Model& self) {
  Model* owner = self.impl().owner;
  return owner ? *owner : self;
}

double batch_samples(const Batch& data) {
  if (data.x.empty() || !data.x[0].defined() || data.x[0].ndim() == 0)
    throw ValueError("a step's data needs an input with a batch dimension");
  return static_cast<double>(data.x[0].shape()[0]);
}

// --- the steps -----------------------------------------------------------------------------------

std::vector<Tensor> step_forward(Model& self, const std::vector<Tensor>& x, bool training,
                                 std::vector<Tensor>& masks) {
  ModelImpl& m = self.impl();
  m.clear_losses();
  if (dynamic_cast<SubclassedImpl*>(&m)) {
    masks.assign(1, Tensor());
    if (x.size() != 1)
      throw ValueError(m.class_name() + " '" + m.name() + "': a subclassed model's call takes one input, got " +
                       std::to_string(x.size()));
    return {static_cast<SubclassedImpl&>(m).call_owner(step_owner(self), x[0], training)};
  }
  return m.forward_masked(x, {}, training, masks);
}

std::vector<Tensor> compute_gradients(ModelImpl& m, const Tensor& loss, const std::vector<Tensor>& weights) {
  TrainerHooks& hooks = hooks_of(m);
  // The optimizer's scale (LossScaleOptimizer under mixed_float16), then the hooks'.
  const Tensor scaled = hooks.scale_loss(m.compiled->optimizer->scale_loss(loss));
  for (const Tensor& w : weights) const_cast<Tensor&>(w).zero_grad();
  {
    const autograd::GradReadyScope ready(hooks.gradients_ready_hook(weights));
    scaled.backward();
  }
  std::vector<Tensor> grads;
  grads.reserve(weights.size());
  for (const Tensor& w : weights) grads.push_back(w.grad());
  hooks.reduce_gradients(grads);
  if (!hooks.unscale_gradients(grads)) return {};
  return grads;
}

namespace {

// Keras's optimizer updates any subset of the variables it was built for; lamina's serves one
// fixed list. Gradients for some of the model's trainable weights become gradients for all of
// them, undefined (skipped) for the rest.
bool spread_over_model(const ModelImpl& m, const std::vector<Tensor>& grads, const std::vector<Tensor>& weights,
                       std::vector<Tensor>& all_grads, std::vector<Tensor>& all_weights) {
  all_weights = m.trainable_weights();
  bool same = all_weights.size() == weights.size();
  for (std::size_t i = 0; same && i < weights.size(); ++i) same = all_weights[i].shares_storage(weights[i]);
  if (same) return false;
  all_grads.assign(all_weights.size(), Tensor());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    std::size_t k = 0;
    while (k < all_weights.size() && !all_weights[k].shares_storage(weights[i])) ++k;
    if (k == all_weights.size()) return false;  // not the model's: the optimizer takes the list as given
    all_grads[k] = i < grads.size() ? grads[i] : Tensor();
  }
  return true;
}

// The optimizer step on exactly these weights, then the constraints.
void apply_update(ModelImpl& m, Optimizer& optimizer, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& weights) {
  if (grads.empty()) return;  // the hooks skipped this step
  // As Keras, the optimizer is built before its first step, its slots named after the variables'
  // paths ("adam/dense_kernel_momentum").
  if (!optimizer.built()) optimizer.build(weights, variable_paths(m, weights));
  optimizer.apply_gradients(grads, weights);
  m.apply_constraints();  // Keras projects constrained weights after each update
}

}  // namespace

void apply_gradients(ModelImpl& m, Optimizer& optimizer, const std::vector<Tensor>& grads,
                     const std::vector<Tensor>& weights) {
  if (grads.empty()) return;
  std::vector<Tensor> all_grads, all_weights;
  if (spread_over_model(m, grads, weights, all_grads, all_weights)) apply_update(m, optimizer, all_grads, all_weights);
  else apply_update(m, optimizer, grads, weights);
}

namespace {

// The compiled metrics, on the metric inputs as the hooks gather them (the global batch under a
// distribution).
void update_step_metrics(ModelImpl& m, const Batch& data, const std::vector<Tensor>& preds,
                         const std::vector<Tensor>& masks) {
  MetricInputs in{data.y, preds, data.sample_weight, masks};
  hooks_of(m).gather_metric_inputs(in);
  update_metrics(m, in.y, in.preds, in.sample_weight, in.masks);
}

}  // namespace

StepLogs default_train_step(Model& self, const Batch& data) {
  ModelImpl& m = self.impl();
  CompiledState& c = *m.compiled;
  std::vector<Tensor> masks;  // the outputs' Keras masks weight the loss and the metrics
  const std::vector<Tensor> preds = step_forward(self, data.x, true, masks);
  const double samples = batch_samples(data);
  const Tensor loss = compute_loss(m, data.y, preds, masked_loss_weights(data.sample_weight, masks), samples);
  c.loss_tracker.update_state(loss, samples);
  // TerminateOnNaN: a NaN or Inf loss leaves the weights and optimizer untouched (the only case
  // where a step reads its loss back).
  if (!c.skip_nonfinite || hooks_of(m).on_every_replica(std::isfinite(loss.item()))) {
    const std::vector<Tensor> weights = m.trainable_weights();
    apply_update(m, *c.optimizer, compute_gradients(m, loss, weights), weights);
  }
  update_step_metrics(m, data, preds, masks);
  return self.get_metrics_result();
}

StepLogs default_test_step(Model& self, const Batch& data) {
  NoGradGuard no_grad;
  ModelImpl& m = self.impl();
  std::vector<Tensor> masks;
  const std::vector<Tensor> preds = step_forward(self, data.x, false, masks);
  const double samples = batch_samples(data);
  m.compiled->loss_tracker.update_state(
      compute_loss(m, data.y, preds, masked_loss_weights(data.sample_weight, masks), samples), samples);
  update_step_metrics(m, data, preds, masks);
  return self.get_metrics_result();
}

std::vector<Tensor> default_predict_step(Model& self, const Batch& data) {
  std::vector<Tensor> masks;
  return step_forward(self, data.x, false, masks);
}

namespace {

ModelImpl& checked(const Model& self) {
  if (!self.defined()) throw ValueError("use of an empty Model handle");
  return self.impl();
}

void require_compiled(const ModelImpl& m, const char* what) {
  if (!m.compiled)
    throw ValueError(std::string(what) + ": the model must be compiled first (call compile())");
}

struct CallbackList {
  std::vector<std::shared_ptr<Callback>> list;
  template <class F>
  void each(F f) {
    for (auto& c : list) f(*c);
  }
  // A batch's logs, read from `step` only when a callback reads them (empty otherwise).
  Logs batch_logs(const StepLogs& step) const {
    for (const auto& c : list)
      if (c->reads_batch_logs()) return step.read();
    return {};
  }
};

// y must fit what each loss expects of its output: scores the first sample (inference mode, no
// tape, no random draws) so a wrong label shape fails before any training, naming both shapes.
void check_labels(Model& self, const char* what, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys) {
  NoGradGuard no_grad;
  ModelImpl& m = self.impl();
  std::vector<Tensor> masks;
  // One sample, on the model's device (the arrays stay on the host).
  const Batch first = on_model_device(m, Batch{slice_all(xs, 0, 1), slice_all(ys, 0, 1), {}});
  const std::vector<Tensor> preds = step_forward(self, first.x, false, masks);
  const std::vector<std::string> names = m.output_names();
  const CompiledState& c = *m.compiled;
  bool any = false;
  for (std::size_t i = 0; i < preds.size(); ++i) {
    if (!c.losses[i]) continue;
    if (!ys[i].defined())
      throw ValueError(std::string(what) + ": no target given for output '" + names[i] + "'");
    any = true;
    Shape out = preds[i].shape();
    if (!out.empty()) out[0] = -1;
    const std::string y_name = preds.size() > 1 ? "y['" + names[i] + "']" : std::string("y");
    const std::string context = std::string(what) + ": " + y_name + " of shape " + ys[i].shape().str() +
                                " does not fit the model's output " + out.str() + " under loss '" +
                                c.losses[i]->name() + "': ";
    try {
      (*c.losses[i])(first.y[i], preds[i]);
    } catch (const ShapeError& e) {
      throw ShapeError(context + e.what());
    } catch (const ValueError& e) {
      throw ValueError(context + e.what());
    }
  }
  if (!any) throw ValueError(std::string(what) + ": no output of the model has a loss");
}

// A Sequential without an Input builds on the first data it sees; a Functional model was built
// with its graph; a subclassed model builds on its first call.
void build_on(ModelImpl& m, const std::vector<Tensor>& xs) {
  if (dynamic_cast<FunctionalImpl*>(&m) || dynamic_cast<SubclassedImpl*>(&m)) return;
  NoGradGuard no_grad;
  auto lock = lock_building();
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) {
    Shape s = x.shape();
    s[0] = -1;
    shapes.push_back(s);
  }
  if (shapes.size() == 1) m.build_for(shapes[0]);
  else m.build_for_list(shapes);
}

// Which models are in a call that must not overlap another: training ones (fit, train_on_batch),
// and every model in any call (StatefulGuard): the thread in it — none once a second thread was
// let in, the model having no stateful layer — and how deeply its calls nest. A vector, not a
// map: it keeps its capacity, so entering and leaving a call allocates nothing.
struct ModelsInUse {
  struct InCall {
    const ModelImpl* model;
    std::thread::id thread;  // id(): shared by several threads
    int depth;
  };
  std::mutex mutex;
  std::set<const ModelImpl*> training;
  std::vector<InCall> calls;
  std::vector<InCall>::iterator find(const ModelImpl* m) {
    return std::find_if(calls.begin(), calls.end(), [m](const InCall& c) { return c.model == m; });
  }
};

ModelsInUse& in_use() {
  static ModelsInUse registry;
  return registry;
}

// fit, while the same model is already in fit or train_on_batch (another thread, or a callback),
// would race on its weights and optimizer state: refused for as long as this lives.
class TrainingGuard {
 public:
  TrainingGuard(const ModelImpl& m, const char* what) : m_(&m) {
    std::lock_guard<std::mutex> lock(in_use().mutex);
    if (!in_use().training.insert(m_).second)
      throw ValueError(std::string(what) + ": model '" + m.name() +
                       "' is already training (fit or train_on_batch in progress); one model trains "
                       "in one call at a time");
  }
  ~TrainingGuard() {
    std::lock_guard<std::mutex> lock(in_use().mutex);
    in_use().training.erase(m_);
  }
  TrainingGuard(const TrainingGuard&) = delete;
  TrainingGuard& operator=(const TrainingGuard&) = delete;

 private:
  const ModelImpl* m_;
};

// The first layer in `layer` (itself or nested) whose config says "stateful": true; empty if none.
// The config, not the class: every layer that keeps states writes that key, as Keras does. A
// custom layer whose get_config refuses (a lamina Error) has no config to say so.
std::string stateful_layer(const Layer& layer) {
  if (!dynamic_cast<const ModelImpl*>(&layer)) {
    nlohmann::json config;
    try {
      config = layer.get_config();
    } catch (const Error&) {
    }
    const auto it = config.find("stateful");
    if (it != config.end() && it->is_boolean() && it->get<bool>()) return layer.name();
  }
  for (const auto& sub : layer.sublayers())
    if (std::string name = stateful_layer(*sub); !name.empty()) return name;
  return {};
}

}  // namespace

// Whether the model has a stateful layer is asked only when a second thread enters a call on it:
// walking every layer's config on each call cost 15 % of a batch-1 predict_on_batch.
StatefulGuard::StatefulGuard(const ModelImpl& m, const char* what) {
  ModelsInUse& registry = in_use();
  const std::thread::id self = std::this_thread::get_id();
  std::lock_guard<std::mutex> lock(registry.mutex);
  const auto it = registry.find(&m);
  if (it == registry.calls.end()) {
    registry.calls.push_back({&m, self, 1});
  } else {
    if (it->thread != self && it->thread != std::thread::id()) {
      const std::string layer = stateful_layer(m);
      if (!layer.empty())
        throw ValueError(std::string(what) + ": model '" + m.name() + "' is in use by another thread, and its stateful layer '" +
                         layer + "' keeps its states from one call to the next; call a model with stateful layers from one "
                         "thread at a time");
      it->thread = std::thread::id();
    }
    ++it->depth;
  }
  m_ = &m;
}

StatefulGuard::~StatefulGuard() {
  if (!m_) return;
  ModelsInUse& registry = in_use();
  std::lock_guard<std::mutex> lock(registry.mutex);
  const auto it = registry.find(m_);
  if (--it->depth == 0) registry.calls.erase(it);
}

namespace {

void check_epochs(const FitOptions& o) {
  if (o.epochs < 0 || o.initial_epoch < 0)
    throw ValueError("fit: epochs and initial_epoch must not be negative");
}

// Keras's order: the given callbacks, `history` (fit's), then the progress bar (when verbose), so
// that both see what the given ones add to the epoch logs ("learning_rate").
// Under a distribution, the replicas other than rank 0 leave out the rank-0-only callbacks and the
// progress bar.
void add_callbacks(CallbackList& cbs, const Model& self, int verbose,
                   const std::vector<CallbackArg>& given, int epochs, std::int64_t steps,
                   std::shared_ptr<Callback> history = nullptr, const Distribution* dist = nullptr) {
  const bool quiet = dist && !dist->is_chief();
  if (quiet) verbose = 0;
  for (const auto& c : given)
    if (!quiet || !distribute::is_chief_only(*c.get())) cbs.list.push_back(c.get());
  if (history) cbs.list.push_back(std::move(history));
  if (verbose > 0) cbs.list.push_back(std::make_shared<callbacks::ProgbarLogger>(verbose));
  for (auto& c : cbs.list) {
    c->set_model(self);
    c->params = {{"epochs", epochs}, {"steps", steps}, {"verbose", verbose}};
  }
}

// Runs test_step over a full pass (or `steps` batches) of `feed`, invoking the test hooks of `cbs`.
// dist: fit's distribution (each step's loss trackers are summed over the replicas), or null.
std::map<std::string, double> run_evaluation(Model& target, Feed& feed, std::int64_t steps, CallbackList& cbs,
                                             Distribution* dist = nullptr) {
  target.reset_metrics();
  cbs.each([](Callback& c) { c.on_test_begin({}); });
  feed.start_pass();
  std::optional<StepLogs> last;
  for (std::int64_t s = 0; steps <= 0 || s < steps; ++s) {
    std::optional<Batch> d = feed.next();
    if (!d) break;
    cbs.each([s](Callback& c) { c.on_test_batch_begin(s, {}); });
    {
      const StepDistributionScope in_step(dist);
      if (dist) dist->begin_step(target.impl(), *d);
      last = target.test_step(*d);
      if (dist) dist->end_step(target.impl());
    }
    const Logs logs = cbs.batch_logs(*last);
    cbs.each([&](Callback& c) { c.on_test_batch_end(s, logs); });
  }
  feed.end_pass();
  const Logs logs = last ? last->read() : target.get_metrics_result().read();
  cbs.each([&](Callback& c) { c.on_test_end(logs); });
  return logs;
}

// The distribution the call on `m` runs under (see distributed()), or null.
Distribution* call_distribution(const ModelImpl& m) {
  return m.hooks ? dynamic_cast<Distribution*>(m.hooks.get()) : nullptr;
}

// The data of a call as this replica reads it (the whole data without a distribution).
std::shared_ptr<BatchSource> sharded(const ModelImpl& m, const std::shared_ptr<BatchSource>& source) {
  Distribution* dist = call_distribution(m);
  return dist ? dist->shard(source) : source;
}

// Keras's validation_freq: an int every n epochs (counted from 1), or a list of epochs.
bool validates_after(const ValidationFreq& freq, int epoch) {
  const int one_based = epoch + 1;
  if (freq.every() > 0) return one_based % freq.every() == 0;
  return std::find(freq.epochs().begin(), freq.epochs().end(), one_based) != freq.epochs().end();
}

void check_validation_freq(const FitOptions& o) {
  // Keras divides by an int validation_freq; an empty list (never validate) is refused too, as
  // it cannot be told from 0 here and fit without validation_data says it better.
  if (o.validation_freq.every() < 0 || (o.validation_freq.every() == 0 && o.validation_freq.epochs().empty()))
    throw ValueError("fit: validation_freq must be >= 1 or a non-empty list of epochs, got " +
                     std::to_string(o.validation_freq.every()));
  if (o.validation_batch_size < 0)
    throw ValueError("fit: validation_batch_size must be >= 0, got " + std::to_string(o.validation_batch_size));
}

// Array validation data is batched by validation_batch_size, else by batch_size (Keras's
// `validation_batch_size or batch_size`).
std::int64_t validation_batch(const FitOptions& o) { return o.validation_batch_size > 0 ? o.validation_batch_size : o.batch_size; }

// fit's validation data as a Feed, checked against the (built) model.
std::unique_ptr<Feed> validation_feed(Model& target, const ValidationData& v, const FitOptions& o) {
  const char* what = "fit (validation_data)";
  ModelImpl& m = target.impl();
  std::unique_ptr<Feed> feed;
  if (v.arrays()) {
    const std::vector<Tensor> x_val = inputs_of(m, v.arrays()->first, what);
    const std::vector<Tensor> y_val = targets_of(m, v.arrays()->second, what);
    check_xy(what, x_val, y_val);
    check_input(m, what, x_val);
    feed = std::make_unique<Feed>(m, sharded(m, array_batches(x_val, y_val, validation_batch(o), false)), what, true);
  } else {
    if (!v.source()) throw ValueError(std::string(what) + ": an empty dataset handle");
    feed = std::make_unique<Feed>(m, sharded(m, v.source()), what, true);
    feed->steps(o.validation_steps, "validation_steps");
    check_input(m, what, feed->peek().x);
  }
  const Batch& first = feed->peek();
  check_labels(target, what, first.x, first.y);
  return feed;
}

// The epoch loop of fit for arrays and datasets alike; the model is built and the data checked.
History fit_loop(Model& self, Model& target, Feed& train, Feed* val, const FitOptions& o, TrainingState& state) {
  ModelImpl& m = self.impl();
  const std::int64_t steps = train.steps(o.steps_per_epoch, "steps_per_epoch");
  const std::vector<Tensor> weights = m.trainable_weights();
  if (!m.compiled->optimizer->built()) m.compiled->optimizer->build(weights, variable_paths(m, weights));

  auto history = std::make_shared<callbacks::HistoryCallback>();
  CallbackList cbs;
  Distribution* dist = call_distribution(m);
  add_callbacks(cbs, self, o.verbose, o.callbacks, o.epochs, steps, history, dist);

  // The data order is a function of (shuffle_key, epoch) and each step draws from the seeded
  // stream, so (epoch, step, key, stream state) is a position a callback can back up and resume:
  // BackupAndRestore rewrites `state` in on_train_begin.
  state = TrainingState{o.initial_epoch, 0, random::bits(random::reserve(1))};
  for (auto& c : cbs.list) c->set_training_state(&state);
  m.stop_training = false;
  cbs.each([](Callback& c) { c.on_train_begin({}); });
  // After on_train_begin, so that what BackupAndRestore restored on rank 0 reaches every replica.
  if (dist) dist->broadcast_state(m, state);
  const int first_epoch = state.epoch;
  const std::int64_t resume_step = state.step;
  Logs training_logs;
  for (int epoch = first_epoch; epoch < o.epochs && !m.stop_training; ++epoch) {
    state.epoch = epoch;
    state.step = 0;
    target.reset_metrics();
    cbs.each([epoch](Callback& c) { c.on_epoch_begin(epoch, {}); });
    if (o.steps_per_epoch == 0) train.end_pass();  // each epoch is one full pass
    // Resuming mid-epoch: pass over the batches trained before the backup.
    for (; epoch == first_epoch && state.step < resume_step; ++state.step) train.next_step(o.steps_per_epoch);
    std::optional<StepLogs> last;
    for (std::int64_t s = state.step; o.steps_per_epoch == 0 || s < o.steps_per_epoch; ++s) {
      std::optional<Batch> batch = train.next_step(o.steps_per_epoch);
      if (!batch) break;
      cbs.each([s](Callback& c) { c.on_train_batch_begin(s, {}); });
      m.compiled->skip_nonfinite = state.skip_nonfinite_steps;
      {
        const StepDistributionScope in_step(dist);
        if (dist) dist->begin_step(m, *batch);
        last = target.train_step(*batch);
        if (dist) dist->end_step(m);
      }
      state.step = s + 1;
      const Logs logs = cbs.batch_logs(*last);
      cbs.each([&](Callback& c) { c.on_train_batch_end(s, logs); });
      if (m.stop_training) break;
    }
    // The epoch's logs are its last step's, read before validation resets the metrics.
    Logs logs = last ? last->read() : Logs{};
    if (val && validates_after(o.validation_freq, epoch)) {
      // As Keras 3's fit: the callbacks see the validation's test hooks (the progress bar stays
      // silent there and shows the val_ values on the epoch's line).
      auto val_logs = run_evaluation(target, *val, o.validation_steps, cbs, dist);
      for (const auto& [k, v] : val_logs) logs["val_" + k] = v;
    }
    cbs.each([&](Callback& c) {
      c.set_epoch_logs(&logs);
      c.on_epoch_end(epoch, logs);
      c.set_epoch_logs(nullptr);
    });
    training_logs = logs;
  }
  // Keras's fit ends by copying the weights' moving averages in (use_ema); not before any update.
  if (o.epochs > 0 && m.compiled->optimizer->iterations() > 0) m.compiled->optimizer->finalize_variable_values(weights);
  cbs.each([&](Callback& c) { c.on_train_end(training_logs); });
  for (auto& c : cbs.list) c->set_training_state(nullptr);
  return history->history();
}

std::map<std::string, double> evaluate_loop(Model& self, Feed& feed, const EvaluateOptions& o) {
  const std::int64_t steps = feed.steps(o.steps, "steps");
  CallbackList cbs;
  Distribution* dist = call_distribution(self.impl());
  add_callbacks(cbs, self, o.verbose, o.callbacks, 1, steps, nullptr, dist);
  return run_evaluation(step_owner(self), feed, o.steps, cbs, dist);
}

// Every output over the batches of `feed`, concatenated along the batch axis.
std::vector<Tensor> predict_loop(Model& self, Feed& feed, const PredictOptions& o) {
  NoGradGuard no_grad;
  Model& target = step_owner(self);
  const std::int64_t steps = feed.steps(o.steps, "steps");
  CallbackList cbs;
  Distribution* dist = call_distribution(self.impl());
  add_callbacks(cbs, self, o.verbose, o.callbacks, 1, steps, nullptr, dist);
  cbs.each([](Callback& c) { c.on_predict_begin({}); });
  std::vector<std::vector<Tensor>> parts;
  feed.start_pass();
  for (std::int64_t s = 0; o.steps == 0 || s < o.steps; ++s) {
    std::optional<Batch> batch = feed.next();
    if (!batch) break;
    cbs.each([s](Callback& c) { c.on_predict_batch_begin(s, {}); });
    std::vector<Tensor> yb = target.predict_step(*batch);
    // Each replica predicted its rows of the batch: every replica gets the whole batch's, in order.
    if (dist) yb = dist->gather_rows(yb);
    parts.resize(yb.size());
    for (std::size_t i = 0; i < yb.size(); ++i) parts[i].push_back(yb[i]);
    cbs.each([s](Callback& c) { c.on_predict_batch_end(s, {}); });
  }
  cbs.each([](Callback& c) { c.on_predict_end({}); });
  std::vector<Tensor> out;
  // Predictions come back to the host, as Keras returns NumPy arrays.
  for (auto& p : parts) out.push_back((p.size() == 1 ? p[0] : concatenate(p, 0)).to(Device::cpu()));
  return out;
}

}  // namespace

namespace {

// A call (fit, evaluate, predict) under its options' distribution, else the active one (if any):
// its hooks join the steps for the call, and an error on this replica is announced to the others
// before it propagates.
template <class F>
auto distributed(Model& self, const char* what, const DistributionRef& chosen, F run) -> decltype(run()) {
  const std::shared_ptr<Distribution> dist = chosen ? engine::distribution_of(*chosen.get()) : active_distribution();
  if (!dist) return run();
  ModelImpl& m = checked(self);
  if (m.hooks == dist) return run();  // a call nested in one under the same distribution (a callback's evaluate)
  if (m.hooks)
    throw ValueError(std::string(what) + ": model '" + m.name() +
                     "' already has trainer hooks; a distribution cannot add its own");
  struct Restore {
    ModelImpl& m;
    ~Restore() { m.hooks = nullptr; }
  } restore{m};
  m.hooks = dist;
  try {
    dist->begin_fit();
    return run();
  } catch (const std::exception& e) {
    dist->failed(e);
    throw;
  }
}

History fit_on_arrays(Model& self, const TensorArg& x_arg, const TensorArg& y_arg, const FitOptions& o) {
  ModelImpl& m = checked(self);
  require_compiled(m, "fit");
  const TrainingGuard training(m, "fit");
  const StatefulGuard stateful(m, "fit");
  const std::lock_guard<std::recursive_mutex> metrics(m.compiled->metrics_mutex);
  Model& target = step_owner(self);
  const std::vector<Tensor> x = inputs_of(m, x_arg, "fit"), y = targets_of(m, y_arg, "fit");
  check_xy("fit", x, y);
  check_batch_size("fit", o.batch_size);
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    throw ValueError("fit: validation_split must be in [0, 1), got " + std::to_string(o.validation_split));
  check_epochs(o);
  check_validation_freq(o);

  // The last fraction is held out, before any shuffling (as Keras does).
  const std::int64_t total = x[0].shape()[0];
  const std::vector<Tensor> yw = with_sample_weight(m, "fit", y, o.sample_weight, o.class_weight, total);
  std::vector<Tensor> x_train = x, y_train = yw, x_val, y_val;
  if (!o.validation_data && o.validation_split > 0) {
    const auto split = static_cast<std::int64_t>(std::floor(static_cast<double>(total) * (1.0 - o.validation_split)));
    if (split == 0 || split == total)
      throw ValueError("fit: validation_split " + std::to_string(o.validation_split) + " of " +
                       std::to_string(total) + " samples leaves an empty training or validation set");
    x_train = slice_all(x, 0, split);
    y_train = slice_all(yw, 0, split);
    x_val = slice_all(x, split, total);
    y_val = slice_all(yw, split, total);
  }

  // Build on the data's shape before collecting weights.
  check_input(m, "fit", x);
  build_on(m, x_train);
  check_labels(target, "fit", x_train, y_train);
  TrainingState state;
  Feed train(m, sharded(m, array_batches(x_train, y_train, o.batch_size, o.shuffle, &state)), "fit", true, o.class_weight);
  std::unique_ptr<Feed> val;
  if (o.validation_data) {
    val = validation_feed(target, *o.validation_data, o);
  } else if (!x_val.empty()) {
    check_labels(target, "fit (validation_data)", x_val, y_val);
    val = std::make_unique<Feed>(m, sharded(m, array_batches(x_val, y_val, validation_batch(o), false)),
                                 "fit (validation_data)", true);
  }
  return fit_loop(self, target, train, val.get(), o, state);
}

History fit_on_data(Model& self, const DataArg& data, const FitOptions& o) {
  ModelImpl& m = checked(self);
  require_compiled(m, "fit");
  const TrainingGuard training(m, "fit");
  const StatefulGuard stateful(m, "fit");
  const std::lock_guard<std::recursive_mutex> metrics(m.compiled->metrics_mutex);
  Model& target = step_owner(self);
  check_epochs(o);
  check_validation_freq(o);
  if (o.validation_split != 0)
    throw ValueError("fit: validation_split works on arrays only; give a dataset's validation "
                     "data as validation_data (for example ds.take(n) and ds.skip(n))");
  if (o.sample_weight.defined())
    throw ValueError("fit: sample_weight works on arrays only; a dataset gives its weights as (x, y, w)");
  with_sample_weight(m, "fit", {}, Tensor(), o.class_weight, 0);
  Feed train(m, sharded(m, source_of(data, "fit")), "fit", true, o.class_weight);
  train.steps(o.steps_per_epoch, "steps_per_epoch");
  const Batch& first = train.peek();
  check_input(m, "fit", first.x);
  build_on(m, first.x);
  check_labels(target, "fit", first.x, first.y);
  std::unique_ptr<Feed> val;
  if (o.validation_data) val = validation_feed(target, *o.validation_data, o);
  TrainingState state;
  return fit_loop(self, target, train, val.get(), o, state);
}

}  // namespace

History fit(Model& self, const TensorArg& x, const TensorArg& y, const FitOptions& o) {
  return distributed(self, "fit", o.distribution, [&] { return fit_on_arrays(self, x, y, o); });
}

History fit(Model& self, const DataArg& data, const FitOptions& o) {
  return distributed(self, "fit", o.distribution, [&] { return fit_on_data(self, data, o); });
}

namespace {

std::map<std::string, double> evaluate_arrays(Model& self, const TensorArg& x_arg, const TensorArg& y_arg,
                                              const EvaluateOptions& o) {
  ModelImpl& m = checked(self);
  require_compiled(m, "evaluate");
  const StatefulGuard stateful(m, "evaluate");
  const std::lock_guard<std::recursive_mutex> metrics(m.compiled->metrics_mutex);
  const std::vector<Tensor> x = inputs_of(m, x_arg, "evaluate"), y = targets_of(m, y_arg, "evaluate");
  check_xy("evaluate", x, y);
  check_batch_size("evaluate", o.batch_size);
  check_input(m, "evaluate", x);
  check_labels(step_owner(self), "evaluate", x, y);
  const std::vector<Tensor> yw = with_sample_weight(m, "evaluate", y, o.sample_weight, {}, x[0].shape()[0]);
  Feed feed(m, sharded(m, array_batches(x, yw, o.batch_size, false)), "evaluate", true);
  return evaluate_loop(self, feed, o);
}

std::map<std::string, double> evaluate_data(Model& self, const DataArg& data, const EvaluateOptions& o) {
  ModelImpl& m = checked(self);
  require_compiled(m, "evaluate");
  const StatefulGuard stateful(m, "evaluate");
  const std::lock_guard<std::recursive_mutex> metrics(m.compiled->metrics_mutex);
  Feed feed(m, sharded(m, source_of(data, "evaluate")), "evaluate", true);
  feed.steps(o.steps, "steps");
  const Batch& first = feed.peek();
  check_input(m, "evaluate", first.x);
  check_labels(step_owner(self), "evaluate", first.x, first.y);
  return evaluate_loop(self, feed, o);
}

std::vector<Tensor> predict_arrays(Model& self, const TensorArg& x_arg, const PredictOptions& o) {
  ModelImpl& m = checked(self);
  const StatefulGuard stateful(m, "predict");
  const NoLossRecording no_losses;
  const std::vector<Tensor> x = inputs_of(m, x_arg, "predict");
  check_xy("predict", x, {});
  check_batch_size("predict", o.batch_size);
  check_input(m, "predict", x);
  Feed feed(m, sharded(m, array_batches(x, {}, o.batch_size, false)), "predict", false);
  return predict_loop(self, feed, o);
}

std::vector<Tensor> predict_data(Model& self, const DataArg& data, const PredictOptions& o) {
  ModelImpl& m = checked(self);
  const StatefulGuard stateful(m, "predict");
  const NoLossRecording no_losses;
  Feed feed(m, sharded(m, source_of(data, "predict")), "predict", false);
  feed.steps(o.steps, "steps");
  check_input(m, "predict", feed.peek().x);
  return predict_loop(self, feed, o);
}

}  // namespace

// Under a distribution, evaluate and predict shard each batch as fit does: evaluate's logs are the
// whole data's, predict returns every replica's rows on every replica.
std::map<std::string, double> evaluate(Model& self, const TensorArg& x, const TensorArg& y, const EvaluateOptions& o) {
  return distributed(self, "evaluate", o.distribution, [&] { return evaluate_arrays(self, x, y, o); });
}

std::map<std::string, double> evaluate(Model& self, const DataArg& data, const EvaluateOptions& o) {
  return distributed(self, "evaluate", o.distribution, [&] { return evaluate_data(self, data, o); });
}

std::vector<Tensor> predict(Model& self, const TensorArg& x, const PredictOptions& o) {
  return distributed(self, "predict", o.distribution, [&] { return predict_arrays(self, x, o); });
}

std::vector<Tensor> predict(Model& self, const DataArg& data, const PredictOptions& o) {
  return distributed(self, "predict", o.distribution, [&] { return predict_data(self, data, o); });
}

std::map<std::string, double> train_on_batch(Model& self, const TensorArg& x_arg, const TensorArg& y_arg) {
  ModelImpl& m = checked(self);
  require_compiled(m, "train_on_batch");
  const TrainingGuard training(m, "train_on_batch");
  const StatefulGuard stateful(m, "train_on_batch");
  const std::lock_guard<std::recursive_mutex> metrics(m.compiled->metrics_mutex);
  const std::vector<Tensor> x = inputs_of(m, x_arg, "train_on_batch");
  const std::vector<Tensor> y = targets_of(m, y_arg, "train_on_batch");
  check_xy("train_on_batch", x, y);
  check_input(m, "train_on_batch", x);
  build_on(m, x);
  Model& target = step_owner(self);
  target.reset_metrics();
  m.compiled->skip_nonfinite = false;
  return target.train_step(on_model_device(m, Batch{x, y, {}})).read();
}

std::map<std::string, double> test_on_batch(Model& self, const TensorArg& x_arg, const TensorArg& y_arg) {
  ModelImpl& m = checked(self);
  require_compiled(m, "test_on_batch");
  const StatefulGuard stateful(m, "test_on_batch");
  const std::lock_guard<std::recursive_mutex> metrics(m.compiled->metrics_mutex);
  const std::vector<Tensor> x = inputs_of(m, x_arg, "test_on_batch");
  const std::vector<Tensor> y = targets_of(m, y_arg, "test_on_batch");
  check_xy("test_on_batch", x, y);
  check_input(m, "test_on_batch", x);
  Model& target = step_owner(self);
  target.reset_metrics();
  return target.test_step(on_model_device(m, Batch{x, y, {}})).read();
}

}  // namespace lamina::engine
