// SPDX-License-Identifier: Apache-2.0
// The compiled state: compile's per-output losses, loss weights and metrics, and the loss and
// metric bookkeeping of a step.
#include "engine/compiled_state.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "engine/model_impl.hpp"
#include "engine/trainer.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina::engine {

namespace {

// Index of `key` among the output names; ValueError naming them otherwise.
std::size_t output_index(const std::vector<std::string>& names, const std::string& key,
                         const char* what) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == key) return i;
  throw ValueError(std::string("compile: ") + what + " given for '" + key +
                   "', which is not an output of the model (outputs: " + join_names(names) + ")");
}

void check_metric_name(const MetricArg& a) {
  if (a.metric()) return;
  // "accuracy"/"acc" resolve later, from the shapes of the first batch.
  std::string lower = a.name();
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "accuracy" && lower != "acc") Metric::from_name(a.name());
}

std::vector<std::shared_ptr<Loss>> resolve_losses(const std::vector<std::string>& names, const LossArg& loss) {
  const std::size_t n = names.size();
  std::vector<std::shared_ptr<Loss>> losses(n);
  if (loss.single()) {
    for (auto& l : losses) l = loss.single().ptr();
  } else if (!loss.positional().empty()) {
    if (loss.positional().size() != n)
      throw ValueError("compile: " + std::to_string(loss.positional().size()) +
                       " losses given for " + std::to_string(n) + " outputs (" + join_names(names) + ")");
    for (std::size_t i = 0; i < n; ++i) losses[i] = loss.positional()[i].ptr();
  } else {
    for (const auto& [key, l] : loss.named()) losses[output_index(names, key, "a loss")] = l.ptr();
  }
  return losses;
}

std::vector<double> resolve_loss_weights(const std::vector<std::string>& names, const LossWeights& given) {
  std::vector<double> weights(names.size(), 1.0);
  if (!given.positional().empty()) {
    if (given.positional().size() != names.size())
      throw ValueError("compile: " + std::to_string(given.positional().size()) +
                       " loss_weights given for " + std::to_string(names.size()) + " outputs (" +
                       join_names(names) + ")");
    weights = given.positional();
  }
  for (const auto& [key, w] : given.named()) weights[output_index(names, key, "a loss weight")] = w;
  return weights;
}

// Unknown metric names fail here, as in Keras, not after the first training step. Weighted
// metrics follow the plain ones in each output's list.
std::vector<std::vector<MetricArg>> resolve_metric_args(const std::vector<std::string>& names,
                                                        const CompileOptions& options) {
  const std::size_t n = names.size();
  std::vector<std::vector<MetricArg>> metric_args(n, options.metrics.all());
  for (const auto& [key, list] : options.metrics.named())
    metric_args[output_index(names, key, "metrics")] = list;
  std::vector<std::vector<MetricArg>> weighted(n, options.weighted_metrics.all());
  for (const auto& [key, list] : options.weighted_metrics.named())
    weighted[output_index(names, key, "weighted_metrics")] = list;
  for (std::size_t i = 0; i < n; ++i)
    for (MetricArg a : weighted[i]) metric_args[i].push_back(a.set_weighted(true));
  for (const auto& list : metric_args)
    for (const MetricArg& a : list) check_metric_name(a);
  return metric_args;
}

const CompileOptions& checked_options(const CompileOptions& options) {
  if (!options.optimizer) throw ValueError("compile: an optimizer is required");
  if (!options.loss) throw ValueError("compile: a loss is required (e.g. .loss = \"mse\")");
  return options;
}

// weight (N) or (N, T) (undefined: none) times a mask-derived weight (N, T) (undefined: none).
Tensor times_mask(const Tensor& weight, const Tensor& mask) {
  if (!mask.defined()) return weight;
  if (!weight.defined()) return mask;
  Shape s = weight.shape();
  while (s.rank() < mask.ndim()) s.push_back(1);
  return weight.astype(mask.dtype()).reshape(s) * mask;
}

}  // namespace

// --- LossTracker ---------------------------------------------------------------------------------

void LossTracker::update_state(const Tensor& value, double count) {
  NoGradGuard no_grad;
  const Tensor v = value.detach();
  Tensor term = (v.dtype() == float64 ? v : v.astype(float64)) * count;
  sum_ = sum_.defined() ? sum_ + term : term;
  count_ += count;
}

double LossTracker::result() const { return count_ == 0.0 ? 0.0 : sum_.item() / count_; }

void LossTracker::set_state(double sum, double count) {
  const Device device = sum_.defined() ? sum_.device() : Device::cpu();
  sum_ = Tensor::scalar(sum, float64).to(device);
  count_ = count;
}

void LossTracker::reset_state() {
  sum_ = Tensor();
  count_ = 0.0;
}

// --- CompiledState -------------------------------------------------------------------------------

CompiledState::CompiledState(const std::vector<std::string>& names, const CompileOptions& options)
    : optimizer(checked_options(options).optimizer.ptr()),
      losses(resolve_losses(names, options.loss)),
      loss_weights(resolve_loss_weights(names, options.loss_weights)),
      metric_args(resolve_metric_args(names, options)),
      metrics(names.size()) {
  if (names.size() > 1)
    for (const auto& name : names) output_loss_trackers.emplace_back(name + "_loss");
}

Tensor compute_loss(ModelImpl& m, const std::vector<Tensor>& ys, const std::vector<Tensor>& preds,
                    const std::vector<Tensor>& sample_weights, double count) {
  CompiledState& c = *m.compiled;
  Tensor total;
  for (std::size_t i = 0; i < preds.size(); ++i) {
    if (!c.losses[i]) continue;
    const Tensor w = i < sample_weights.size() ? sample_weights[i] : Tensor();
    Tensor l = (*c.losses[i])(ys[i], preds[i], w);
    if (i < c.output_loss_trackers.size()) c.output_loss_trackers[i].update_state(l, count);
    Tensor term = c.loss_weights[i] == 1.0 ? l : l * c.loss_weights[i];
    total = total.defined() ? total + term : term;
  }
  // Regularization penalties and add_loss losses join the minimised and the reported loss.
  for (const Tensor& extra : static_cast<const Layer&>(m).losses()) {
    if (!total.defined()) {
      total = extra;
      continue;
    }
    Tensor term = extra.dtype() == total.dtype() ? extra : extra.astype(total.dtype());
    total = total + term;
  }
  if (!total.defined())
    throw ValueError(m.class_name() + " '" + m.name() + "': no loss to compute (no output has a "
                     "loss and no layer added one); provide a loss in compile()");
  return total;
}

std::vector<Tensor> masked_loss_weights(const std::vector<Tensor>& sample_weights, const std::vector<Tensor>& masks) {
  NoGradGuard no_grad;
  std::vector<Tensor> out(std::max(sample_weights.size(), masks.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Tensor w = i < sample_weights.size() ? sample_weights[i] : Tensor();
    Tensor m = i < masks.size() && masks[i].defined() ? masks[i].astype(float32) : Tensor();
    // Keras: mask · total / (valid + epsilon), epsilon 1e-7.
    if (m.defined()) m = m * (static_cast<double>(m.numel()) / (sum(m).item() + 1e-7));
    out[i] = times_mask(w, m);
  }
  return out;
}

Tensor class_weights_to_sample_weights(const Tensor& y, const std::map<std::int64_t, double>& class_weight) {
  NoGradGuard no_grad;
  Tensor classes = y.ndim() > 1 && y.dim(-1) != 1 ? argmax(y, -1) : y.reshape({y.ndim() ? y.dim(0) : 1});
  std::vector<double> w;
  for (double c : classes.to_vector<double>()) {
    auto it = class_weight.find(static_cast<std::int64_t>(std::lround(c)));
    w.push_back(it == class_weight.end() ? 1.0 : it->second);
  }
  return Tensor::from_vector(w, {static_cast<std::int64_t>(w.size())});
}

void update_metrics(ModelImpl& m, const std::vector<Tensor>& ys, const std::vector<Tensor>& preds,
                    const std::vector<Tensor>& sample_weights, const std::vector<Tensor>& masks) {
  NoGradGuard no_grad;
  CompiledState& c = *m.compiled;
  const std::vector<std::string> names = m.output_names();
  for (std::size_t i = 0; i < preds.size() && i < ys.size(); ++i) {
    if (!ys[i].defined()) continue;
    auto& list = c.metrics[i];
    if (list.empty() && !c.metric_args[i].empty()) {
      for (const MetricArg& a : c.metric_args[i]) {
        auto metric = a.metric() ? a.metric() : metrics::get(a.name(), ys[i].shape(), preds[i].shape());
        // A weighted metric named like a plain one is told apart as Keras 2 did.
        if (a.weighted() && !a.metric())
          for (const MetricArg& b : c.metric_args[i])
            if (!b.weighted() && !b.metric() && b.name() == a.name())
              metric->set_name("weighted_" + metric->name());
        // Keras prefixes metrics with the output's name when there are several outputs.
        if (preds.size() > 1 && !a.metric()) metric->set_name(names[i] + "_" + metric->name());
        list.push_back(metric);
      }
    }
    Tensor pred = preds[i].detach();
    const Tensor w = i < sample_weights.size() ? sample_weights[i] : Tensor();
    const Tensor mask = i < masks.size() && masks[i].defined() ? masks[i].astype(float32) : Tensor();
    for (std::size_t j = 0; j < list.size(); ++j)
      list[j]->update_state(ys[i], pred, times_mask(c.metric_args[i][j].weighted() ? w : Tensor(), mask));
  }
}

void reset_metrics(ModelImpl& m) {
  CompiledState& c = *m.compiled;
  c.loss_tracker.reset_state();
  for (auto& t : c.output_loss_trackers) t.reset_state();
  for (auto& list : c.metrics)
    for (auto& metric : list) metric->reset_state();
}

std::map<std::string, double> current_logs(const ModelImpl& m) {
  const CompiledState& c = *m.compiled;
  MetricStates states;
  states.loss_trackers.push_back(c.loss_tracker);
  for (std::size_t i = 0; i < c.output_loss_trackers.size(); ++i)
    if (c.losses[i]) states.loss_trackers.push_back(c.output_loss_trackers[i]);
  for (const auto& list : c.metrics)
    for (const auto& metric : list) states.metrics.push_back(metric.get());
  hooks_of(m).reduce_metrics(states);
  std::map<std::string, double> logs;
  for (const LossTracker& t : states.loss_trackers) logs[t.name()] = t.result();
  for (const Metric* metric : states.metrics) logs[metric->name()] = metric->result();
  return logs;
}

}  // namespace lamina::engine
