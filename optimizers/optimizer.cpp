// SPDX-License-Identifier: Apache-2.0
// optimizers/optimizer.cpp — what every optimizer shares (Keras 3's BaseOptimizer): argument
// checks, state creation and naming, gradient accumulation, clipping, decoupled weight decay, the
// weights' moving average, the iteration counter and the common config.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "lamina/optimizers.hpp"
#include "update_rule.hpp"

namespace lamina {
namespace {

std::string number_text(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

double sum_of_squares(const Tensor& t) { return backend::of("clipnorm", t).sum_of_squares(t); }

// `value` rounded to `dtype` (float32 or float64), as the update loops round their constants: a
// scalar operand that the elementwise ops then use unchanged.
double in_dtype(double value, DType dtype) {
  return dtype == float32 ? static_cast<double>(static_cast<float>(value)) : value;
}

nlohmann::json optional_json(const std::optional<double>& x) {
  return x ? nlohmann::json(*x) : nlohmann::json(nullptr);
}
nlohmann::json optional_json(const std::optional<std::int64_t>& x) {
  return x ? nlohmann::json(*x) : nlohmann::json(nullptr);
}

}  // namespace

Optimizer::Optimizer(std::string class_name, std::string default_name, OptimizerOptions options)
    : class_name_(std::move(class_name)), common_(std::move(options)) {
  if (common_.name.empty()) common_.name = std::move(default_name);
  const std::string& who = class_name_;
  if (!common_.learning_rate.schedule()) {
    const double lr = common_.learning_rate.at(0);
    if (!std::isfinite(lr) || lr < 0)
      throw ValueError(who + ": learning_rate must be a finite number >= 0, got " +
                       number_text(lr));
  }
  const int clips = common_.clipnorm.has_value() + common_.clipvalue.has_value() +
                    common_.global_clipnorm.has_value();
  if (clips > 1)
    throw ValueError(who + ": only one of clipnorm, clipvalue and global_clipnorm can be set");
  if (common_.gradient_accumulation_steps == 0) common_.gradient_accumulation_steps.reset();
  if (common_.gradient_accumulation_steps && *common_.gradient_accumulation_steps < 2)
    throw ValueError(who + ": gradient_accumulation_steps must be an integer >= 2, got " +
                     std::to_string(*common_.gradient_accumulation_steps));
  if (common_.use_ema) {
    if (!(common_.ema_momentum >= 0.0 && common_.ema_momentum <= 1.0))
      throw ValueError(who + ": ema_momentum must be in [0, 1], got " +
                       number_text(common_.ema_momentum));
    if (common_.ema_overwrite_frequency && *common_.ema_overwrite_frequency < 1)
      throw ValueError(who + ": ema_overwrite_frequency must be an integer >= 1, got " +
                       std::to_string(*common_.ema_overwrite_frequency));
  }
}

Optimizer::~Optimizer() = default;

std::int64_t Optimizer::iterations() const {
  return common_.gradient_accumulation_steps ? iterations_ / *common_.gradient_accumulation_steps
                                             : iterations_;
}

double Optimizer::learning_rate() const { return common_.learning_rate.at(iterations_); }

void Optimizer::set_learning_rate(const LearningRate& lr) {
  if (common_.learning_rate.schedule() && !lr.schedule())
    throw TypeError(class_name_ +
                    ": this optimizer's learning_rate is a schedule, so it cannot be set to a "
                    "number; create the optimizer with a number to change it during training");
  if (!lr.schedule() && !(std::isfinite(lr.at(0)) && lr.at(0) >= 0))
    throw ValueError(class_name_ + ": learning_rate must be a finite number >= 0, got " +
                     number_text(lr.at(0)));
  common_.learning_rate = lr;
}

void Optimizer::build(const std::vector<Tensor>& vars, const std::vector<std::string>& paths) {
  if (built_) return;
  if (!paths.empty() && paths.size() != vars.size())
    throw ValueError(class_name_ + ".build: got " + std::to_string(paths.size()) +
                     " variable paths for " + std::to_string(vars.size()) + " variables");
  built_for_ = vars;
  paths_.clear();
  for (std::size_t i = 0; i < vars.size(); ++i)
    paths_.push_back(paths.empty() ? "variable_" + std::to_string(i) : paths[i]);
  // Keras creates each variable's average and accumulator together, before the rule's slots.
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (common_.use_ema) averages_.push_back(add_slot(i, "average"));
    if (common_.gradient_accumulation_steps)
      accumulators_.push_back(add_slot(i, "gradient_accumulator"));
  }
  build_slots(vars);
  built_ = true;
}

Tensor Optimizer::add_slot(std::size_t index, const std::string& slot, double initial) {
  const Tensor& like = built_for_.at(index);
  Tensor t = Tensor::full(like.shape(), initial, like.dtype(), like.device());
  std::string path = paths_.at(index);
  std::replace(path.begin(), path.end(), '/', '_');
  state_.emplace_back(common_.name + "/" + path + "_" + slot, t);
  return t;
}

void Optimizer::add_state(const std::string& slot, const Tensor& value) {
  state_.emplace_back(common_.name + "/" + slot, value);
}

void Optimizer::apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars) {
  if (grads.size() != vars.size())
    throw ValueError(class_name_ + ".apply_gradients: got " + std::to_string(grads.size()) +
                     " gradients for " + std::to_string(vars.size()) +
                     " variables; expected one gradient (or an undefined tensor) per variable");
  NoGradGuard no_grad;
  std::vector<Tensor> prepared(grads.size());
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const Tensor& var = vars[i];
    const std::string which = class_name_ + ".apply_gradients: variable " + std::to_string(i);
    if (!var.defined()) throw ValueError(which + " is undefined");
    if (!is_floating(var.dtype()))
      throw TypeError(which + " is " + dtype_name(var.dtype()) +
                      "; only float32 and float64 variables are trained");
    if (!grads[i].defined()) continue;
    if (grads[i].shape() != var.shape())
      throw ValueError(class_name_ + ".apply_gradients: gradient " + std::to_string(i) +
                       " has shape " + grads[i].shape().str() + " but its variable has shape " +
                       var.shape().str());
    // The update kernels read the gradient in the variable's dtype, on the variable's device.
    prepared[i] = grads[i].detach().to(var.device()).astype(var.dtype());
  }
  if (!built_) build(vars);
  if (vars.size() != built_for_.size())
    throw ValueError(class_name_ + ".apply_gradients: got " + std::to_string(vars.size()) +
                     " variables but the optimizer was built for " +
                     std::to_string(built_for_.size()) +
                     "; an optimizer serves one fixed list of variables");
  for (std::size_t i = 0; i < vars.size(); ++i)
    if (built_for_[i].shape() != vars[i].shape() || built_for_[i].dtype() != vars[i].dtype())
      throw ValueError(class_name_ + ".apply_gradients: variable " + std::to_string(i) + " (" +
                       paths_[i] + ") is " + vars[i].shape().str() + " " +
                       dtype_name(vars[i].dtype()) + " but the optimizer was built for " +
                       built_for_[i].shape().str() + " " + dtype_name(built_for_[i].dtype()));

  if (auto ready = accumulate(prepared)) {
    clip(*ready);
    const double lr = learning_rate();
    decay_weights(*ready, vars, lr);
    update(*ready, vars, lr, iterations() + 1);
  }
  if (common_.use_ema) update_ema(vars);
  ++iterations_;
}

std::optional<std::vector<Tensor>> Optimizer::accumulate(const std::vector<Tensor>& grads) {
  if (!common_.gradient_accumulation_steps) return grads;
  const std::int64_t steps = *common_.gradient_accumulation_steps;
  const bool update_step = (iterations_ + 1) % steps == 0;
  std::vector<Tensor> mean(grads.size());
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    Tensor acc = accumulators_[i];
    if (update_step)
      mean[i] = (grads[i] + acc) / in_dtype(static_cast<double>(steps), acc.dtype());
    else
      acc.assign(acc + grads[i]);
  }
  if (!update_step) return std::nullopt;
  for (Tensor& acc : accumulators_) acc.fill(0.0);
  return mean;
}

// Keras's clipping: clipnorm g·c/max(‖g‖, c) per gradient; global_clipnorm scales every gradient
// by c·min(1/‖G‖, 1/c) (NaN when the global norm is not finite); clipvalue clamps elements.
void Optimizer::clip(std::vector<Tensor>& grads) const {
  if (common_.clipnorm && *common_.clipnorm > 0) {
    const double c = *common_.clipnorm;
    for (Tensor& g : grads)
      if (g.defined()) g = g * in_dtype(c / std::max(std::sqrt(sum_of_squares(g)), c), g.dtype());
  } else if (common_.global_clipnorm && *common_.global_clipnorm > 0) {
    const double c = *common_.global_clipnorm;
    double total = 0.0;
    for (const Tensor& g : grads)
      if (g.defined()) total += sum_of_squares(g);
    const double norm = std::sqrt(total);
    const double scale = c * std::min(1.0 / norm, 1.0 / c) + (norm - norm);
    for (Tensor& g : grads)
      if (g.defined()) g = g * in_dtype(scale, g.dtype());
  } else if (common_.clipvalue && *common_.clipvalue > 0) {
    const double v = *common_.clipvalue;
    for (Tensor& g : grads)
      if (g.defined()) g = lamina::clip(g, -v, v);
  }
}

void Optimizer::decay_weights(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                              double lr) {
  if (!common_.weight_decay) return;
  const double wd = *common_.weight_decay;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i].defined()) continue;
    // factor = wd·lr multiplied in the variable's dtype, then w −= w·factor.
    Tensor w = vars[i];
    const double factor =
        w.dtype() == float32 ? static_cast<double>(static_cast<float>(wd) * static_cast<float>(lr))
                             : wd * lr;
    w.assign(w - w * factor);
  }
}

void Optimizer::update_ema(const std::vector<Tensor>& vars) {
  const double momentum = iterations() != 0 ? common_.ema_momentum : 0.0;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    // average = μ·average + (1 − μ)·w, with μ and 1 − μ computed in the variables' dtype.
    Tensor average = averages_[i];
    const bool single = average.dtype() == float32;
    const double mu = in_dtype(momentum, average.dtype());
    const double rest = single ? static_cast<double>(1.0f - static_cast<float>(mu)) : 1.0 - mu;
    average.assign(mu * average + rest * vars[i]);
  }
  if (common_.ema_overwrite_frequency && (iterations() + 1) % *common_.ema_overwrite_frequency == 0)
    finalize_variable_values(vars);
}

void Optimizer::finalize_variable_values(const std::vector<Tensor>& vars) {
  if (!common_.use_ema) return;
  if (vars.size() != averages_.size())
    throw ValueError(class_name_ + ".finalize_variable_values: got " + std::to_string(vars.size()) +
                     " variables but the optimizer keeps averages of " +
                     std::to_string(averages_.size()) + "; was it called on this model?");
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < vars.size(); ++i) Tensor(vars[i]).assign(averages_[i]);
}

std::vector<std::pair<std::string, Tensor>> Optimizer::variables() const {
  std::vector<std::pair<std::string, Tensor>> out = {
      {common_.name + "/iteration", Tensor::scalar(static_cast<double>(iterations_), int64)}};
  if (!common_.learning_rate.schedule())
    out.emplace_back(common_.name + "/learning_rate",
                     Tensor::scalar(common_.learning_rate.at(0), float32));
  out.insert(out.end(), state_.begin(), state_.end());
  return out;
}

void Optimizer::set_variables(const std::vector<Tensor>& values) {
  if (!built_)
    throw ValueError(class_name_ +
                     ".set_variables: the optimizer is not built; call build(variables) first");
  const auto current = variables();
  if (values.size() != current.size())
    throw ValueError(class_name_ + ".set_variables: got " + std::to_string(values.size()) +
                     " values for " + std::to_string(current.size()) + " variables");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!values[i].defined() || values[i].shape() != current[i].second.shape())
      throw ValueError(class_name_ + ".set_variables: '" + current[i].first + "' has shape " +
                       current[i].second.shape().str() + ", got " +
                       (values[i].defined() ? values[i].shape().str() : std::string("nothing")));
  NoGradGuard no_grad;
  iterations_ = static_cast<std::int64_t>(values[0].item());
  std::size_t next = 1;
  if (!common_.learning_rate.schedule()) {
    // The variable is float32 (as in Keras): keep the exact rate when it rounds to the same one.
    const double lr = values[next++].item();
    if (static_cast<float>(lr) != static_cast<float>(common_.learning_rate.at(0)))
      common_.learning_rate = lr;
  }
  for (std::size_t k = 0; k < state_.size(); ++k) state_[k].second.assign(values[next + k]);
}

nlohmann::json Optimizer::get_config() const {
  const auto& schedule = common_.learning_rate.schedule();
  return {{"name", common_.name},
          {"learning_rate", schedule ? optimizers::schedules::serialize(*schedule)
                                     : nlohmann::json(common_.learning_rate.at(0))},
          {"weight_decay", optional_json(common_.weight_decay)},
          {"clipnorm", optional_json(common_.clipnorm)},
          {"global_clipnorm", optional_json(common_.global_clipnorm)},
          {"clipvalue", optional_json(common_.clipvalue)},
          {"use_ema", common_.use_ema},
          {"ema_momentum", common_.ema_momentum},
          {"ema_overwrite_frequency", optional_json(common_.ema_overwrite_frequency)},
          {"loss_scale_factor", nullptr},
          {"gradient_accumulation_steps", optional_json(common_.gradient_accumulation_steps)}};
}

}  // namespace lamina

namespace lamina::optimizers::detail {

void apply_rule(const char* optimizer, backend::UpdateRule rule, const backend::UpdateParams& p,
                const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                const std::vector<std::vector<Tensor>>& slots) {
  std::vector<const Tensor*> all;
  for (const std::vector<Tensor>* list : {&grads, &vars})
    for (const Tensor& t : *list) all.push_back(&t);
  for (const std::vector<Tensor>& list : slots)
    for (const Tensor& t : list) all.push_back(&t);
  backend::of(optimizer, all).apply_update(rule, p, grads, vars, slots);
}

}  // namespace lamina::optimizers::detail
