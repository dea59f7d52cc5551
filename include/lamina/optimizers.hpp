// SPDX-License-Identifier: Apache-2.0
// lamina/optimizers.hpp — Keras's optimizers with Keras 3's defaults and update rules.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lamina/optimizers/schedules.hpp"
#include "lamina/ref.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// An optimizer's learning rate: a fixed number (`.learning_rate = 1e-3`) or a schedule of the
/// step (`.learning_rate = optimizers::schedules::CosineDecay(1e-3, 1000)`).
class LearningRate {
 public:
  LearningRate(double value) : value_(value) {}  // NOLINT
  template <std::derived_from<optimizers::schedules::LearningRateSchedule> S>
  LearningRate(S schedule) : schedule_(std::make_shared<S>(std::move(schedule))) {}  // NOLINT
  LearningRate(std::shared_ptr<optimizers::schedules::LearningRateSchedule> schedule)  // NOLINT
      : schedule_(std::move(schedule)) {}

  /// The schedule, or null for a fixed rate.
  const std::shared_ptr<optimizers::schedules::LearningRateSchedule>& schedule() const {
    return schedule_;
  }
  /// The rate at optimizer step `step` (the fixed value when there is no schedule).
  double at(std::int64_t step) const { return schedule_ ? (*schedule_)(step) : value_; }
  /// The initial rate (the schedule at step 0), for code that treats the rate as a number.
  operator double() const { return at(0); }  // NOLINT

 private:
  double value_ = 0.0;
  std::shared_ptr<optimizers::schedules::LearningRateSchedule> schedule_;
};

/// The options every Keras optimizer takes after its own, in Keras's order. Each optimizer's
/// options struct lists them (through this macro) so that designated initialisers can name them:
/// `Adam({.learning_rate = 1e-3, .clipnorm = 1.0, .use_ema = true})`. `weight_decay` precedes
/// them in each struct because AdamW moves it forward, as Keras does.
#define LAMINA_OPTIMIZER_COMMON_OPTIONS                                                      \
  std::optional<double> clipnorm{};      /**< clip each gradient to this L2 norm */         \
  std::optional<double> clipvalue{};     /**< clip gradient elements to [-v, v] */          \
  std::optional<double> global_clipnorm{}; /**< clip all gradients to this joint L2 norm */   \
  bool use_ema = false;                   /**< keep an exponential moving average of weights */ \
  double ema_momentum = 0.99;                                                                \
  std::optional<std::int64_t> ema_overwrite_frequency{}; /**< copy the EMA in every N steps */ \
  std::optional<std::int64_t> gradient_accumulation_steps{}; /**< update every N calls */     \
  std::string name{}; /**< Keras's optimizer name; empty: the class's default ("adam") */

/// The common options, gathered (see LAMINA_OPTIMIZER_COMMON_OPTIONS for their meaning).
struct OptimizerOptions {
  LearningRate learning_rate = 0.001;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// The common options out of any optimizer's options struct.
template <class O>
OptimizerOptions common_options(const O& o) {
  return {o.learning_rate,   o.weight_decay, o.clipnorm,
          o.clipvalue,       o.global_clipnorm, o.use_ema,
          o.ema_momentum,    o.ema_overwrite_frequency, o.gradient_accumulation_steps,
          o.name};
}

/// Copies the common options into any optimizer's options struct.
template <class O>
void set_common_options(O& o, const OptimizerOptions& c) {
  o.learning_rate = c.learning_rate;
  o.weight_decay = c.weight_decay;
  o.clipnorm = c.clipnorm;
  o.clipvalue = c.clipvalue;
  o.global_clipnorm = c.global_clipnorm;
  o.use_ema = c.use_ema;
  o.ema_momentum = c.ema_momentum;
  o.ema_overwrite_frequency = c.ema_overwrite_frequency;
  o.gradient_accumulation_steps = c.gradient_accumulation_steps;
  o.name = c.name;
}

/// Base of every optimizer (Keras 3's BaseOptimizer). apply_gradients() updates variables in place
/// (never on the tape). One step, as Keras does it:
///   1. gradient accumulation (if set): add the gradients to accumulators; every N-th call update
///      with their mean and reset them, otherwise stop here;
///   2. clipping: clipnorm per variable (g·c/max(‖g‖, c)), global_clipnorm over all gradients, or
///      clipvalue elementwise (at most one of the three);
///   3. decoupled weight decay: w −= w·weight_decay·lr;
///   4. the optimizer's own rule;
///   5. EMA (if use_ema): average = μ·average + (1 − μ)·w (μ = 0 at the first step), copied into
///      the weights every ema_overwrite_frequency steps and by finalize_variable_values();
///   6. the iteration counter advances.
/// The learning rate of a step is the schedule at the counter before it (Keras's `iterations`).
class Optimizer {
 public:
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = default;
  Optimizer& operator=(const Optimizer&) = default;

  /// One step: vars[i] updated with grads[i]. Sizes and shapes must match pairwise; a variable
  /// whose gradient is undefined is skipped. The step runs on the variables' device (one device
  /// for all; a gradient elsewhere is copied to its variable's), where the slots live too. The variable list must stay the one the optimizer
  /// was built with (the first call builds it). Throws ValueError / TypeError naming the optimizer.
  virtual void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars);
  /// The loss that backward() starts from (Keras's scale_loss): the loss itself, or multiplied by
  /// the loss scale (LossScaleOptimizer, which divides the gradients by it again).
  virtual Tensor scale_loss(const Tensor& loss) const { return loss; }

  /// Creates the state for `vars` (Keras's optimizer.build). `paths` are the variables' Keras
  /// paths ("dense/kernel"); they name the slots ("adam/dense_kernel_momentum"). Without paths
  /// variable i is called "variable_i". Does nothing when already built.
  void build(const std::vector<Tensor>& vars, const std::vector<std::string>& paths = {});
  bool built() const { return built_; }

  /// Completed updates (Keras's `iterations`: calls divided by gradient_accumulation_steps).
  virtual std::int64_t iterations() const;
  /// The learning rate the next step uses.
  virtual double learning_rate() const;
  /// Sets the learning rate (a number or a schedule). Throws TypeError when setting a number on
  /// an optimizer whose rate is a schedule (as Keras does).
  virtual void set_learning_rate(const LearningRate& lr);
  /// Keras's class name ("Adam").
  const std::string& name() const { return class_name_; }
  const std::string& class_name() const { return class_name_; }
  const OptimizerOptions& common() const { return common_; }

  /// State in Keras's order and names: "<name>/iteration" (raw call count, int64),
  /// "<name>/learning_rate" (float32; absent with a schedule), then EMA averages and gradient
  /// accumulators (if enabled) and the optimizer's slots ("adam/dense_kernel_momentum"...).
  /// Slots are the live tensors; the two scalars are copies (restore them with set_variables).
  virtual std::vector<std::pair<std::string, Tensor>> variables() const;
  /// Restores every variable from `values`, in variables() order (Keras's set_weights). Throws
  /// ValueError if the optimizer is not built, or naming the variable whose shape differs.
  virtual void set_variables(const std::vector<Tensor>& values);

  /// With use_ema, copies the moving averages into `vars` (the list the optimizer was built with);
  /// Keras's fit does this after the last epoch. Without EMA it does nothing.
  virtual void finalize_variable_values(const std::vector<Tensor>& vars);

  /// Keras 3's config: name, learning_rate (a number or a serialized schedule), the common
  /// options, then the optimizer's own.
  virtual nlohmann::json get_config() const;

  /// "sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "lion",
  /// "ftrl" with Keras's defaults (case-insensitive; class names work too).
  static std::shared_ptr<Optimizer> from_name(const std::string& name);

 protected:
  /// `default_name` is Keras's default `name` ("adam"; "SGD" for SGD).
  Optimizer(std::string class_name, std::string default_name, OptimizerOptions options);

  /// Creates the optimizer's own slots with add_slot (called once, from build()).
  virtual void build_slots(const std::vector<Tensor>& vars) = 0;
  /// The optimizer's rule on every variable with a gradient (undefined grads[i]: skip vars[i]).
  /// `lr` is this step's rate; `step` is iterations() + 1.
  virtual void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                      double lr, std::int64_t step) = 0;

  /// A new state tensor shaped like vars[index], on its device, filled with `initial`,
  /// registered in variables() as "<name>/<path>_<slot>".
  Tensor add_slot(std::size_t index, const std::string& slot, double initial = 0.0);
  /// Registers a state tensor that belongs to no single variable ("<name>/<slot>").
  void add_state(const std::string& slot, const Tensor& value);
  /// Keras's `name`: the config's "name" and the prefix of every variable name.
  const std::string& keras_name() const { return common_.name; }
  /// The variables' paths given to build() ("variable_i" where none were).
  const std::vector<std::string>& variable_paths() const { return paths_; }

 private:
  // The gradients to step with; none when this call only accumulates.
  std::optional<std::vector<Tensor>> accumulate(const std::vector<Tensor>& grads);
  void clip(std::vector<Tensor>& grads) const;
  void decay_weights(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr);
  void update_ema(const std::vector<Tensor>& vars);

  std::string class_name_;
  OptimizerOptions common_;
  std::int64_t iterations_ = 0;  // raw calls (Keras's _iterations)
  bool built_ = false;
  std::vector<Tensor> built_for_;  // shape and dtype reference of each variable
  std::vector<std::string> paths_;
  std::vector<std::pair<std::string, Tensor>> state_;
  std::vector<Tensor> averages_, accumulators_;
};

namespace optimizers {

struct SGDOptions {
  LearningRate learning_rate = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras 3 rule: m = μ·m − lr·g; w += m (nesterov: w += μ·m − lr·g). PyTorch keeps v = μ·v + g
/// and steps lr·v: the same weights while lr is constant. Slot "momentum" only when μ > 0.
/// Throws ValueError unless 0 <= momentum <= 1.
class SGD : public Optimizer {
 public:
  explicit SGD(SGDOptions options = {});
  const SGDOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  SGDOptions options_;
  std::vector<Tensor> momentums_;
};

struct AdamOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras rule ("epsilon hat"): m += (g − m)(1 − β1); v += (g² − v)(1 − β2) (amsgrad: v̂ = max(v̂, v)
/// used for v); w −= lr·sqrt(1 − β2^t)/(1 − β1^t) · m/(sqrt(v) + ε). PyTorch adds ε to the
/// bias-corrected sqrt(v̂_t) instead, i.e. its ε is Keras's ε/sqrt(1 − β2^t). Slots "momentum",
/// "velocity" per variable, then "velocity_hat" (amsgrad). All variables in one fused pass.
class Adam : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});
  const AdamOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  /// For AdamW: the same rule under another class name.
  Adam(std::string class_name, std::string default_name, AdamOptions options);
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  AdamOptions options_;
  std::vector<Tensor> m_, v_, vhat_;
};

struct AdamWOptions {
  LearningRate learning_rate = 0.001;
  std::optional<double> weight_decay = 0.004;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Adam with decoupled weight decay (w −= w·weight_decay·lr before the Adam step), as Keras and
/// PyTorch's AdamW both do; only Adam's ε placement differs from PyTorch. Throws ValueError
/// without a weight_decay.
class AdamW : public Adam {
 public:
  explicit AdamW(AdamWOptions options = {});
};

struct RMSpropOptions {
  LearningRate learning_rate = 0.001;
  double rho = 0.9;
  double momentum = 0.0;
  double epsilon = 1e-7;
  bool centered = false;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras 3 rule (epsilon inside the square root, unlike PyTorch): v = ρ·v + (1−ρ)·g²;
/// centered: a = ρ·a + (1−ρ)·g, d = v − a² + ε, else d = v + ε; Δ = lr·g/sqrt(d);
/// with momentum: m = μ·m + Δ, w −= m; else w −= Δ. Keras's compile() default. Slots: every
/// "velocity", then every "momentum" (μ > 0), then every "average_gradient" (centered).
/// Throws ValueError when rho or momentum is outside [0, 1].
class RMSprop : public Optimizer {
 public:
  explicit RMSprop(RMSpropOptions options = {});
  const RMSpropOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  RMSpropOptions options_;
  std::vector<Tensor> velocities_, momentums_, average_gradients_;
};

struct AdagradOptions {
  LearningRate learning_rate = 0.001;
  double initial_accumulator_value = 0.1;
  double epsilon = 1e-7;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras rule: a += g²; w −= lr·g/sqrt(a + ε). PyTorch divides by sqrt(a) + ε and starts a at 0.
/// Slot "accumulator". Throws ValueError for a negative initial_accumulator_value.
class Adagrad : public Optimizer {
 public:
  explicit Adagrad(AdagradOptions options = {});
  const AdagradOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  AdagradOptions options_;
  std::vector<Tensor> accumulators_;
};

struct AdadeltaOptions {
  LearningRate learning_rate = 0.001;
  double rho = 0.95;
  double epsilon = 1e-7;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras rule (the same as PyTorch's): a = ρ·a + (1−ρ)·g²; Δ = −sqrt(d + ε)/sqrt(a + ε)·g;
/// d = ρ·d + (1−ρ)·Δ²; w += lr·Δ. PyTorch's defaults differ (lr 1.0, ε 1e-6). Slots
/// "accumulated_grad", "accumulated_delta_var" per variable.
class Adadelta : public Optimizer {
 public:
  explicit Adadelta(AdadeltaOptions options = {});
  const AdadeltaOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  AdadeltaOptions options_;
  std::vector<Tensor> accumulated_grads_, accumulated_deltas_;
};

struct AdamaxOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras rule: m += (g − m)(1 − β1); u = max(β2·u, |g|); w −= lr·m/((1 − β1^t)(u + ε)). PyTorch
/// puts ε inside the max (u = max(β2·u, |g| + ε)). Slots "momentum", "norm" per variable.
class Adamax : public Optimizer {
 public:
  explicit Adamax(AdamaxOptions options = {});
  const AdamaxOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  AdamaxOptions options_;
  std::vector<Tensor> m_, u_;
};

struct NadamOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras rule (Dozat): μ_t = β1(1 − ½·0.96^t), Π_t = μ_1⋯μ_t; m, v as in Adam;
/// m̂ = μ_{t+1}·m/(1 − Π_t·μ_{t+1}) + (1 − μ_t)·g/(1 − Π_t); v̂ = v/(1 − β2^t);
/// w −= lr·m̂/(sqrt(v̂) + ε). PyTorch's NAdam is the same with momentum_decay = 1 (its default
/// 0.004 makes μ_t = β1(1 − ½·0.96^(0.004·t))). Slots "momentum", "velocity" per variable, then
/// the scalar "u_product" (Π_t).
class Nadam : public Optimizer {
 public:
  explicit Nadam(NadamOptions options = {});
  const NadamOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  NadamOptions options_;
  std::vector<Tensor> m_, v_;
  Tensor u_product_;
};

struct LionOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.99;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras rule (Chen et al. 2023): w −= lr·sign(β1·m + (1 − β1)·g); then m = β2·m + (1 − β2)·g.
/// PyTorch has no Lion. Slot "momentum". Throws ValueError unless 0 < beta_1 <= 1.
class Lion : public Optimizer {
 public:
  explicit Lion(LionOptions options = {});
  const LionOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  LionOptions options_;
  std::vector<Tensor> momentums_;
};

struct FtrlOptions {
  LearningRate learning_rate = 0.001;
  double learning_rate_power = -0.5;
  double initial_accumulator_value = 0.1;
  double l1_regularization_strength = 0.0;
  double l2_regularization_strength = 0.0;
  double l2_shrinkage_regularization_strength = 0.0;
  double beta = 0.0;
  std::optional<double> weight_decay{};
  LAMINA_OPTIMIZER_COMMON_OPTIONS
};

/// Keras rule (McMahan et al. 2013), with p = −learning_rate_power:
///   g' = g + 2·l2_shrinkage·w;  n' = n + g²;  z += g' − (n'^p − n^p)/lr · w;
///   w = (clip(z, −l1, l1) − z) / (n'^p/lr + 2·(l2 + β/(2·lr)));  n = n'.
/// PyTorch has no FTRL. Slots "accumulator" (starting at initial_accumulator_value), "linear" per
/// variable. Throws ValueError for a positive learning_rate_power or negative strengths.
class Ftrl : public Optimizer {
 public:
  explicit Ftrl(FtrlOptions options = {});
  const FtrlOptions& options() const { return options_; }
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  FtrlOptions options_;
  std::vector<Tensor> accumulators_, linears_;
};

struct LossScaleOptimizerOptions {
  double initial_scale = 32768.0;          ///< 2^15, Keras's default
  std::int64_t dynamic_growth_steps = 2000;  ///< finite steps before the scale doubles
  std::string name{};                       ///< empty: "loss_scale_optimizer"
};

/// Keras 3's dynamic loss scaling around another optimizer, for float16 training (compile wraps
/// the optimizer in one under the "mixed_float16" policy, as Keras does). scale_loss() multiplies
/// the loss by the scale; apply_gradients() then
///   - if every gradient is finite: divides them by the scale, lets the inner optimizer step, and
///     doubles the scale when this was the dynamic_growth_steps-th finite step in a row;
///   - else: skips the step (weights and inner state untouched) and halves the scale.
/// State, in Keras's order and names: "<name>/iteration" and "<name>/learning_rate" (unused: 0),
/// "<name>/step_counter" (int64: finite steps since the scale last changed),
/// "<name>/dynamic_scale" (float32), then the inner optimizer's variables. The learning rate and
/// the iteration count are the inner optimizer's. Throws ValueError for a non-positive
/// initial_scale or dynamic_growth_steps, or a missing inner optimizer.
class LossScaleOptimizer : public Optimizer {
 public:
  explicit LossScaleOptimizer(Ref<Optimizer> inner, LossScaleOptimizerOptions options = {});
  const std::shared_ptr<Optimizer>& inner_optimizer() const { return inner_; }
  const LossScaleOptimizerOptions& options() const { return options_; }
  /// The current loss scale (initial_scale until built).
  double dynamic_scale() const;
  /// Finite steps since the scale last changed.
  std::int64_t step_counter() const;

  void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars) override;
  Tensor scale_loss(const Tensor& loss) const override;
  std::int64_t iterations() const override { return inner_->iterations(); }
  double learning_rate() const override { return inner_->learning_rate(); }
  void set_learning_rate(const LearningRate& lr) override { inner_->set_learning_rate(lr); }
  std::vector<std::pair<std::string, Tensor>> variables() const override;
  void set_variables(const std::vector<Tensor>& values) override;
  void finalize_variable_values(const std::vector<Tensor>& vars) override {
    inner_->finalize_variable_values(vars);
  }
  /// {"name", "inner_optimizer": serialized, "initial_scale", "dynamic_growth_steps"}, as Keras 3.
  nlohmann::json get_config() const override;

 protected:
  void build_slots(const std::vector<Tensor>& vars) override;
  void update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
              std::int64_t step) override;

 private:
  std::shared_ptr<Optimizer> inner_;
  LossScaleOptimizerOptions options_;
  Tensor step_counter_;   // int64 scalar
  Tensor dynamic_scale_;  // float32 scalar
};

/// By Keras name, with Keras's defaults (Optimizer::from_name).
std::shared_ptr<Optimizer> get(const std::string& name);
/// {"module": "keras.optimizers", "class_name", "config", "registered_name": null}.
nlohmann::json serialize(const Optimizer& optimizer);
/// Rebuilds an optimizer from {"class_name", "config"}: Keras 3's form, tf.keras's
/// ("Custom>Adam", "is_legacy_optimizer", "jit_compile") and Keras 2's ("lr", "decay": 0) are read.
/// Throws ValueError for an unknown class or an unknown or unsupported config key.
std::shared_ptr<Optimizer> deserialize(const nlohmann::json& config);

}  // namespace optimizers
}  // namespace lamina
