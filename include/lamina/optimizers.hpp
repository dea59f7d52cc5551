// lamina/optimizers.hpp — Keras's optimizers with Keras 3's defaults and update rules.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lamina/ref.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// Base of every optimizer. apply_gradients() updates variables in place (never on the tape) and
/// advances iterations(). Per-variable state ("slots") is created on the first call.
class Optimizer {
 public:
  Optimizer(std::string name, double learning_rate);
  virtual ~Optimizer();

  /// One step: vars[i] -= update(grads[i]). Sizes and shapes must match pairwise; a variable
  /// whose gradient is undefined is skipped. The variable list must stay the same across calls.
  void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars);

  std::int64_t iterations() const { return iterations_; }
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double lr) { learning_rate_ = lr; }
  /// Keras's class name ("Adam").
  const std::string& name() const { return name_; }
  /// State in a stable order, named as Keras names optimizer weights
  /// ("iteration", "learning_rate", then e.g. "adam/dense_kernel_momentum"... per slot).
  virtual std::vector<std::pair<std::string, Tensor>> variables() const;

  /// "sgd", "adam", "rmsprop"... (Keras names; the class names work too).
  static std::shared_ptr<Optimizer> from_name(const std::string& name);

 protected:
  /// Creates slots for `vars` (called once, before the first update).
  virtual void build(const std::vector<Tensor>& vars) = 0;
  /// Updates every variable with its gradient; `step` is iterations()+1 (1-based).
  virtual void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                      std::int64_t step) = 0;
  /// Slot tensors in variables() order, for subclasses to register.
  std::vector<std::pair<std::string, Tensor>> slots_;

 private:
  std::string name_;
  double learning_rate_;
  std::int64_t iterations_ = 0;
  bool built_ = false;
};

namespace optimizers {

struct SGDOptions {
  double learning_rate = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
};

/// Keras 3 rule: v = momentum·v − lr·g; w += v (nesterov: w += momentum·v − lr·g).
class SGD : public Optimizer {
 public:
  explicit SGD(SGDOptions options = {});
  const SGDOptions& options() const { return options_; }

 protected:
  void build(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
              std::int64_t step) override;

 private:
  SGDOptions options_;
  std::vector<Tensor> momentums_;
};

struct AdamOptions {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
};

/// Keras rule ("epsilon hat"): m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
/// w −= lr·sqrt(1−β2^t)/(1−β1^t) · m / (sqrt(v) + ε). All variables in one fused pass.
class Adam : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  void build(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
              std::int64_t step) override;

 private:
  AdamOptions options_;
  std::vector<Tensor> m_, v_, vhat_;
};

struct RMSpropOptions {
  double learning_rate = 0.001;
  double rho = 0.9;
  double momentum = 0.0;
  double epsilon = 1e-7;
  bool centered = false;
};

/// Keras 3 rule (epsilon inside the square root, unlike PyTorch): v = ρ·v + (1−ρ)·g²;
/// centered: a = ρ·a + (1−ρ)·g, d = v − a² + ε, else d = v + ε; Δ = lr·g/sqrt(d);
/// with momentum: m = μ·m + Δ, w −= m; else w −= Δ. Keras's compile() default.
/// Throws ValueError when rho or momentum is outside [0, 1].
class RMSprop : public Optimizer {
 public:
  explicit RMSprop(RMSpropOptions options = {});
  const RMSpropOptions& options() const { return options_; }

 protected:
  void build(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
              std::int64_t step) override;

 private:
  RMSpropOptions options_;
  std::vector<Tensor> velocities_, momentums_, average_gradients_;
};

std::shared_ptr<Optimizer> get(const std::string& name);

}  // namespace optimizers
}  // namespace lamina
