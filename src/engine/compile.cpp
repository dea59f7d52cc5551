// SPDX-License-Identifier: Apache-2.0
// compile: per-output losses, loss weights and metrics; the argument types of Model(inputs,
// outputs) and fit's x/y; the loss and metric bookkeeping of a training step.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "engine/training.hpp"
#include "lamina/errors.hpp"
#include "lamina/model.hpp"
#include "lamina/ops.hpp"

namespace lamina {

TensorArg::TensorArg(const std::map<std::string, Tensor>& named) {
  for (const auto& [k, v] : named) {
    names_.push_back(k);
    tensors_.push_back(v);
  }
}

SymbolicArg::SymbolicArg(const std::map<std::string, KerasTensor>& named) {
  for (const auto& [k, v] : named) {
    names_.push_back(k);
    tensors_.push_back(v);
  }
}

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Index of `key` among the output names; ValueError naming them otherwise.
std::size_t output_index(const std::vector<std::string>& names, const std::string& key,
                         const char* what) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == key) return i;
  throw ValueError(std::string("compile: ") + what + " given for '" + key +
                   "', which is not an output of the model (outputs: " + join(names) + ")");
}

void check_metric_name(const MetricArg& a) {
  if (a.metric()) return;
  // "accuracy"/"acc" resolve later, from the shapes of the first batch.
  std::string lower = a.name();
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "accuracy" && lower != "acc") Metric::from_name(a.name());
}

}  // namespace

void Model::compile(const CompileOptions& options) {
  if (!impl_) throw ValueError("use of an empty Model handle");
  ModelImpl& m = *impl_;
  if (!options.optimizer) throw ValueError("compile: an optimizer is required");
  if (!options.loss) throw ValueError("compile: a loss is required (e.g. .loss = \"mse\")");
  const std::vector<std::string> names = m.output_names();
  const std::size_t n = names.size();

  std::vector<std::shared_ptr<Loss>> losses(n);
  const LossArg& loss = options.loss;
  if (loss.single()) {
    for (auto& l : losses) l = loss.single().ptr();
  } else if (!loss.positional().empty()) {
    if (loss.positional().size() != n)
      throw ValueError("compile: " + std::to_string(loss.positional().size()) +
                       " losses given for " + std::to_string(n) + " outputs (" + join(names) + ")");
    for (std::size_t i = 0; i < n; ++i) losses[i] = loss.positional()[i].ptr();
  } else {
    for (const auto& [key, l] : loss.named()) losses[output_index(names, key, "a loss")] = l.ptr();
  }

  std::vector<double> weights(n, 1.0);
  if (!options.loss_weights.positional().empty()) {
    if (options.loss_weights.positional().size() != n)
      throw ValueError("compile: " + std::to_string(options.loss_weights.positional().size()) +
                       " loss_weights given for " + std::to_string(n) + " outputs (" + join(names) + ")");
    weights = options.loss_weights.positional();
  }
  for (const auto& [key, w] : options.loss_weights.named())
    weights[output_index(names, key, "a loss weight")] = w;

  // Unknown metric names fail here, as in Keras, not after the first training step. Weighted
  // metrics follow the plain ones in each output's list.
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

  m.optimizer = options.optimizer.ptr();
  // Keras's auto_scale_loss: float16 gradients underflow without loss scaling.
  if (m.dtype_policy().name() == "mixed_float16" &&
      !dynamic_cast<optimizers::LossScaleOptimizer*>(m.optimizer.get()))
    m.optimizer = std::make_shared<optimizers::LossScaleOptimizer>(m.optimizer);
  m.losses = std::move(losses);
  m.loss_weights = std::move(weights);
  m.metric_args = std::move(metric_args);
  m.metrics.assign(n, {});
  m.output_loss_trackers.clear();
  if (n > 1)
    for (const auto& name : names) m.output_loss_trackers.emplace_back(name + "_loss");
  m.compiled = true;
}

namespace engine {

std::vector<Tensor> arrange(const TensorArg& arg, const std::vector<std::string>& names,
                            const std::string& what, const char* kind, bool allow_missing) {
  const std::string plural = std::string(kind) + "s";
  if (arg.names().empty()) {
    if (arg.tensors().size() != names.size())
      throw ValueError(what + ": the model has " + std::to_string(names.size()) + " " +
                       (names.size() == 1 ? kind : plural) + " (" + join(names) + ") but " +
                       std::to_string(arg.tensors().size()) + " arrays were given");
    return arg.tensors();
  }
  std::vector<Tensor> out(names.size());
  for (std::size_t k = 0; k < arg.names().size(); ++k) {
    std::size_t i = 0;
    while (i < names.size() && names[i] != arg.names()[k]) ++i;
    if (i == names.size())
      throw ValueError(what + ": '" + arg.names()[k] + "' is not an " + kind + " of the model (" +
                       plural + ": " + join(names) + ")");
    out[i] = arg.tensors()[k];
  }
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!out[i].defined() && !allow_missing)
      throw ValueError(what + ": no array given for " + kind + " '" + names[i] + "'");
  return out;
}

void split_named(const ModelImpl& m, const TensorArg& element, const std::string& what, bool targets,
                 std::vector<Tensor>& x, std::vector<Tensor>& y, Tensor& w) {
  const std::vector<std::string> ins = m.input_names(), outs = m.output_names();
  const auto has = [](const std::vector<std::string>& names, const std::string& key) {
    return std::find(names.begin(), names.end(), key) != names.end();
  };
  std::map<std::string, Tensor> inputs, outputs;
  w = Tensor();
  for (std::size_t k = 0; k < element.names().size(); ++k) {
    const std::string& key = element.names()[k];
    const Tensor& t = element.tensors()[k];
    if (has(ins, key)) inputs[key] = t;
    else if (has(outs, key)) outputs[key] = t;
    else if (key == "sample_weight") w = t;
    else
      throw ValueError(what + ": the data's '" + key + "' is not an input (" + join(ins) +
                       ") or an output (" + join(outs) + ") of the model, nor 'sample_weight'");
  }
  x = arrange(TensorArg(inputs), ins, what, "input");
  if (!targets) {
    w = Tensor();
    return;
  }
  if (outputs.empty())
    throw ValueError(what + ": the data holds no target (it names none of the outputs: " + join(outs) + ")");
  y = arrange(TensorArg(outputs), outs, what, "output", true);
}

Tensor total_loss(const ModelImpl& m, const std::vector<Tensor>& ys, const std::vector<Tensor>& preds,
                  std::vector<double>& per_output, const std::vector<Tensor>& sample_weights) {
  per_output.assign(preds.size(), 0.0);
  Tensor total;
  for (std::size_t i = 0; i < preds.size(); ++i) {
    if (!m.losses[i]) continue;
    const Tensor w = i < sample_weights.size() ? sample_weights[i] : Tensor();
    Tensor l = (*m.losses[i])(ys[i], preds[i], w);
    per_output[i] = l.item();
    Tensor term = m.loss_weights[i] == 1.0 ? l : l * m.loss_weights[i];
    total = total.defined() ? total + term : term;
  }
  // Regularization penalties and add_loss losses join the minimised and the reported loss.
  for (const Tensor& extra : static_cast<const Layer&>(m).losses()) {
    Tensor term = extra.dtype() == total.dtype() ? extra : extra.astype(total.dtype());
    total = total + term;
  }
  return total;
}

namespace {
// weight (N) or (N, T) (undefined: none) times a mask-derived weight (N, T) (undefined: none).
Tensor times_mask(const Tensor& weight, const Tensor& mask) {
  if (!mask.defined()) return weight;
  if (!weight.defined()) return mask;
  Shape s = weight.shape();
  while (s.rank() < mask.ndim()) s.push_back(1);
  return weight.astype(mask.dtype()).reshape(s) * mask;
}
}  // namespace

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

void update_trackers(ModelImpl& m, const std::vector<Tensor>& ys, const std::vector<Tensor>& preds,
                     double loss, const std::vector<double>& per_output, double count,
                     const std::vector<Tensor>& sample_weights, const std::vector<Tensor>& masks) {
  NoGradGuard no_grad;
  m.loss_tracker.update(loss, count);
  for (std::size_t i = 0; i < m.output_loss_trackers.size(); ++i)
    if (m.losses[i]) m.output_loss_trackers[i].update(per_output[i], count);
  const std::vector<std::string> names = m.output_names();
  for (std::size_t i = 0; i < preds.size(); ++i) {
    if (!ys[i].defined()) continue;
    auto& list = m.metrics[i];
    if (list.empty() && !m.metric_args[i].empty()) {
      for (const MetricArg& a : m.metric_args[i]) {
        auto metric = a.metric() ? a.metric() : metrics::get(a.name(), ys[i].shape(), preds[i].shape());
        // A weighted metric named like a plain one is told apart as Keras 2 did.
        if (a.weighted() && !a.metric())
          for (const MetricArg& b : m.metric_args[i])
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
      list[j]->update_state(ys[i], pred, times_mask(m.metric_args[i][j].weighted() ? w : Tensor(), mask));
  }
}

void reset_metrics(ModelImpl& m) {
  m.loss_tracker.reset_state();
  for (auto& t : m.output_loss_trackers) t.reset_state();
  for (auto& list : m.metrics)
    for (auto& metric : list) metric->reset_state();
}

std::map<std::string, double> current_logs(const ModelImpl& m) {
  std::map<std::string, double> logs{{"loss", m.loss_tracker.result()}};
  for (std::size_t i = 0; i < m.output_loss_trackers.size(); ++i)
    if (m.losses[i]) logs[m.output_loss_trackers[i].name()] = m.output_loss_trackers[i].result();
  for (const auto& list : m.metrics)
    for (const auto& metric : list) logs[metric->name()] = metric->result();
  return logs;
}

}  // namespace engine
}  // namespace lamina
