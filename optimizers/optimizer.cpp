// optimizers/optimizer.cpp — the shared step: argument checks, slot creation on first use, the
// iteration counter, and Keras's name lookup.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "check_variables.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina {

Optimizer::Optimizer(std::string name, double learning_rate)
    : name_(std::move(name)), learning_rate_(learning_rate) {
  if (!std::isfinite(learning_rate) || learning_rate < 0)
    throw ValueError(name_ + ": learning_rate must be a finite number >= 0, got " +
                     std::to_string(learning_rate));
}

Optimizer::~Optimizer() = default;

void Optimizer::apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars) {
  if (grads.size() != vars.size())
    throw ValueError(name_ + ".apply_gradients: got " + std::to_string(grads.size()) +
                     " gradients for " + std::to_string(vars.size()) +
                     " variables; expected one gradient (or an undefined tensor) per variable");
  NoGradGuard no_grad;
  std::vector<Tensor> prepared(grads.size());
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const Tensor& var = vars[i];
    if (!var.defined())
      throw ValueError(name_ + ".apply_gradients: variable " + std::to_string(i) + " is undefined");
    if (!is_floating(var.dtype()))
      throw TypeError(name_ + ".apply_gradients: variable " + std::to_string(i) + " is " +
                      dtype_name(var.dtype()) + "; only float32 and float64 variables are trained");
    if (var.device() != Device::cpu())
      throw ValueError(name_ + ".apply_gradients: variable " + std::to_string(i) + " is on " +
                       var.device().str() + "; optimizers update CPU variables only for now");
    if (!grads[i].defined()) continue;
    if (grads[i].shape() != var.shape())
      throw ValueError(name_ + ".apply_gradients: gradient " + std::to_string(i) + " has shape " +
                       grads[i].shape().str() + " but its variable has shape " + var.shape().str());
    // The update loops read the gradient raw, in the variable's dtype, on the CPU.
    prepared[i] = grads[i].detach().to(Device::cpu()).astype(var.dtype());
  }
  if (!built_) {
    build(vars);
    built_ = true;
  }
  update(prepared, vars, iterations_ + 1);
  ++iterations_;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::variables() const {
  std::vector<std::pair<std::string, Tensor>> out = {
      {"iteration", Tensor::scalar(static_cast<double>(iterations_), int64)},
      {"learning_rate", Tensor::scalar(learning_rate_, float32)},
  };
  out.insert(out.end(), slots_.begin(), slots_.end());
  return out;
}

std::shared_ptr<Optimizer> Optimizer::from_name(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (key == "sgd") return std::make_shared<optimizers::SGD>();
  if (key == "adam") return std::make_shared<optimizers::Adam>();
  if (key == "rmsprop") return std::make_shared<optimizers::RMSprop>();
  // Keras's other optimizers, by their class names, so the message can name them properly.
  static const std::map<std::string, std::string> keras_only = {
      {"adamw", "AdamW"},        {"adagrad", "Adagrad"},
      {"adadelta", "Adadelta"},  {"adamax", "Adamax"}, {"nadam", "Nadam"},
      {"ftrl", "Ftrl"},          {"lion", "Lion"},     {"lamb", "Lamb"},
      {"adafactor", "Adafactor"}};
  const std::string available = "available optimizers: 'sgd', 'adam', 'rmsprop'";
  if (auto k = keras_only.find(key); k != keras_only.end()) {
    throw ValueError("optimizer '" + name + "': " + k->second +
                     " is not available in lamina yet; " + available);
  }
  throw ValueError("unknown optimizer '" + name + "'; " + available);
}

namespace optimizers {
std::shared_ptr<Optimizer> get(const std::string& name) { return Optimizer::from_name(name); }
}  // namespace optimizers

}  // namespace lamina
