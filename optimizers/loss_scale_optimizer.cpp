// SPDX-License-Identifier: Apache-2.0
// optimizers/loss_scale_optimizer.cpp — Keras 3's dynamic loss scaling
// (keras/src/optimizers/loss_scale_optimizer.py) around another optimizer.
#include <cmath>
#include <nlohmann/json.hpp>

#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {

namespace {

// The base keeps a learning rate of 0 and no options of its own (Keras: learning_rate=0.0).
OptimizerOptions own_options(const LossScaleOptimizerOptions& o) {
  OptimizerOptions c;
  c.learning_rate = 0.0;
  c.name = o.name;
  return c;
}

// Whether every gradient is finite, checked on the gradients' device (16-bit ones in float32).
bool all_finite(const std::vector<Tensor>& grads) {
  for (const Tensor& g : grads)
    if (g.defined() && !lamina::all_finite(g.dtype() == float64 ? g : g.astype(float32)))
      return false;
  return true;
}

}  // namespace

LossScaleOptimizer::LossScaleOptimizer(Ref<Optimizer> inner, LossScaleOptimizerOptions options)
    : Optimizer("LossScaleOptimizer", "loss_scale_optimizer", own_options(options)),
      inner_(inner.ptr()),
      options_(std::move(options)) {
  if (!inner_) throw ValueError("LossScaleOptimizer: the inner optimizer is missing");
  if (!(options_.initial_scale > 0) || !std::isfinite(options_.initial_scale))
    throw ValueError("LossScaleOptimizer: initial_scale must be a finite number > 0, got " +
                     std::to_string(options_.initial_scale));
  if (options_.dynamic_growth_steps < 1)
    throw ValueError("LossScaleOptimizer: dynamic_growth_steps must be an integer >= 1, got " +
                     std::to_string(options_.dynamic_growth_steps));
  if (options_.name.empty()) options_.name = keras_name();
}

void LossScaleOptimizer::build_slots(const std::vector<Tensor>& vars) {
  step_counter_ = Tensor::scalar(0.0, int64);
  dynamic_scale_ = Tensor::scalar(options_.initial_scale, float32);
  add_state("step_counter", step_counter_);
  add_state("dynamic_scale", dynamic_scale_);
  inner_->build(vars, variable_paths());
}

double LossScaleOptimizer::dynamic_scale() const {
  return dynamic_scale_.defined() ? dynamic_scale_.item() : options_.initial_scale;
}

std::int64_t LossScaleOptimizer::step_counter() const {
  return step_counter_.defined() ? static_cast<std::int64_t>(step_counter_.item()) : 0;
}

Tensor LossScaleOptimizer::scale_loss(const Tensor& loss) const { return loss * dynamic_scale(); }

void LossScaleOptimizer::apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars) {
  if (grads.size() != vars.size())
    throw ValueError("LossScaleOptimizer.apply_gradients: got " + std::to_string(grads.size()) +
                     " gradients for " + std::to_string(vars.size()) + " variables");
  if (!built()) build(vars);
  NoGradGuard no_grad;
  const double scale = dynamic_scale();
  if (!all_finite(grads)) {
    step_counter_.fill(0.0);
    dynamic_scale_.fill(scale * 0.5);
    return;
  }
  std::vector<Tensor> unscaled(grads.size());
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (grads[i].defined()) unscaled[i] = grads[i].detach() / scale;
  inner_->apply_gradients(unscaled, vars);
  if (step_counter() == options_.dynamic_growth_steps - 1) {
    step_counter_.fill(0.0);
    dynamic_scale_.fill(scale * 2.0);
  } else {
    step_counter_.fill(static_cast<double>(step_counter() + 1));
  }
}

void LossScaleOptimizer::update(const std::vector<Tensor>&, const std::vector<Tensor>&, double, std::int64_t) {
  // apply_gradients above replaces the base's step; the inner optimizer applies the rule.
}

std::vector<std::pair<std::string, Tensor>> LossScaleOptimizer::variables() const {
  auto out = Optimizer::variables();
  if (built())
    for (auto& v : inner_->variables()) out.push_back(std::move(v));
  return out;
}

void LossScaleOptimizer::set_variables(const std::vector<Tensor>& values) {
  if (!built())
    throw ValueError("LossScaleOptimizer.set_variables: the optimizer is not built; call "
                     "build(variables) first");
  const auto own = Optimizer::variables();
  const std::size_t inner_count = inner_->variables().size();
  if (values.size() != own.size() + inner_count)
    throw ValueError("LossScaleOptimizer.set_variables: got " + std::to_string(values.size()) +
                     " values for " + std::to_string(own.size() + inner_count) + " variables");
  for (std::size_t i = 0; i < own.size(); ++i)
    if (!values[i].defined() || values[i].shape() != own[i].second.shape())
      throw ValueError("LossScaleOptimizer.set_variables: '" + own[i].first + "' has shape " +
                       own[i].second.shape().str() + ", got " +
                       (values[i].defined() ? values[i].shape().str() : std::string("nothing")));
  // Its own iteration and learning rate stay 0, as in Keras; the scale state is restored.
  NoGradGuard no_grad;
  step_counter_.assign(values[own.size() - 2]);
  dynamic_scale_.assign(values[own.size() - 1]);
  inner_->set_variables(std::vector<Tensor>(values.begin() + static_cast<std::ptrdiff_t>(own.size()), values.end()));
}

nlohmann::json LossScaleOptimizer::get_config() const {
  return {{"name", keras_name()},
          {"inner_optimizer", serialize(*inner_)},
          {"initial_scale", options_.initial_scale},
          {"dynamic_growth_steps", options_.dynamic_growth_steps}};
}

std::shared_ptr<Optimizer> loss_scale_optimizer_from_config(const nlohmann::json& body) {
  const std::string who = "LossScaleOptimizer";
  if (!body.is_object()) throw ValueError(who + ": config must be an object, got " + body.dump());
  if (!body.contains("inner_optimizer")) throw ValueError(who + ": config is missing 'inner_optimizer'");
  LossScaleOptimizerOptions o;
  // Keras 3 reads the keys older versions wrote only at their defaults (and refuses dynamic=False).
  const nlohmann::json defaults = {{"weight_decay", nullptr}, {"clipnorm", nullptr},
                                   {"global_clipnorm", nullptr}, {"clipvalue", nullptr},
                                   {"use_ema", false}, {"ema_momentum", 0.99},
                                   {"ema_overwrite_frequency", nullptr}, {"loss_scale_factor", nullptr},
                                   {"gradient_accumulation_steps", nullptr}, {"dynamic", true}};
  for (const auto& item : body.items()) {
    // Named references, not a structured binding: clang before 16 cannot capture those in a lambda.
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    const auto number = [&] {
      if (!value.is_number()) throw ValueError(who + ": config '" + key + "' must be a number, got " + value.dump());
      return value.get<double>();
    };
    if (key == "name") {
      if (!value.is_null()) o.name = value.get<std::string>();
    } else if (key == "inner_optimizer") {
      continue;
    } else if (key == "initial_scale") {
      o.initial_scale = number();
    } else if (key == "dynamic_growth_steps") {
      const double steps = number();
      if (steps != std::floor(steps)) throw ValueError(who + ": dynamic_growth_steps must be an integer, got " + value.dump());
      o.dynamic_growth_steps = static_cast<std::int64_t>(steps);
    } else if (defaults.contains(key)) {
      if (value != defaults[key])
        throw ValueError(who + ": " + key + "=" + value.dump() + " is not supported (set it on the inner optimizer)");
    } else {
      throw ValueError(who + ": unknown config key '" + key + "'");
    }
  }
  return std::make_shared<LossScaleOptimizer>(deserialize(body["inner_optimizer"]), std::move(o));
}

}  // namespace lamina::optimizers
