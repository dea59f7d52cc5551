// SPDX-License-Identifier: Apache-2.0
// lamina/optimizers/schedules.hpp — Keras's learning-rate schedules: functions of the optimizer
// step (0-based, counted in optimizer updates, not epochs) usable as any optimizer's learning_rate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lamina::optimizers::schedules {

/// Base of every schedule (Keras's LearningRateSchedule). Subclass it for a custom schedule:
/// override operator() and, to make it serializable, class_name() and get_config().
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule();
  /// The learning rate at optimizer step `step` (0 before the first update).
  virtual double operator()(std::int64_t step) const = 0;
  /// Keras's class name ("ExponentialDecay").
  virtual std::string class_name() const = 0;
  /// Keras 3's config keys and values (the constructor arguments).
  virtual nlohmann::json get_config() const;
};

struct ExponentialDecayOptions {
  bool staircase = false;
  std::string name = "ExponentialDecay";
};

/// lr = initial_learning_rate · decay_rate^(step / decay_steps); staircase floors the exponent.
/// Throws ValueError unless decay_steps > 0.
class ExponentialDecay : public LearningRateSchedule {
 public:
  ExponentialDecay(double initial_learning_rate, std::int64_t decay_steps, double decay_rate,
                   ExponentialDecayOptions options = {});
  double operator()(std::int64_t step) const override;
  std::string class_name() const override { return "ExponentialDecay"; }
  nlohmann::json get_config() const override;

 private:
  double initial_learning_rate_;
  std::int64_t decay_steps_;
  double decay_rate_;
  ExponentialDecayOptions options_;
};

/// values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
/// values.back() after the last boundary. Throws ValueError unless values has one more entry than
/// boundaries and the boundaries increase strictly.
class PiecewiseConstantDecay : public LearningRateSchedule {
 public:
  PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values,
                         std::string name = "PiecewiseConstant");
  double operator()(std::int64_t step) const override;
  std::string class_name() const override { return "PiecewiseConstantDecay"; }
  nlohmann::json get_config() const override;

 private:
  std::vector<double> boundaries_;
  std::vector<double> values_;
  std::string name_;
};

struct PolynomialDecayOptions {
  double end_learning_rate = 0.0001;
  double power = 1.0;
  bool cycle = false;
  std::string name = "PolynomialDecay";
};

/// lr = (initial − end)·(1 − s/d)^power + end with s = min(step, d), d = decay_steps; with cycle,
/// d grows to decay_steps·ceil(step / decay_steps) (1 at step 0) instead of s being capped.
class PolynomialDecay : public LearningRateSchedule {
 public:
  PolynomialDecay(double initial_learning_rate, std::int64_t decay_steps,
                  PolynomialDecayOptions options = {});
  double operator()(std::int64_t step) const override;
  std::string class_name() const override { return "PolynomialDecay"; }
  nlohmann::json get_config() const override;

 private:
  double initial_learning_rate_;
  std::int64_t decay_steps_;
  PolynomialDecayOptions options_;
};

struct InverseTimeDecayOptions {
  bool staircase = false;
  std::string name = "InverseTimeDecay";
};

/// lr = initial_learning_rate / (1 + decay_rate · step / decay_steps) (staircase floors the ratio).
class InverseTimeDecay : public LearningRateSchedule {
 public:
  InverseTimeDecay(double initial_learning_rate, std::int64_t decay_steps, double decay_rate,
                   InverseTimeDecayOptions options = {});
  double operator()(std::int64_t step) const override;
  std::string class_name() const override { return "InverseTimeDecay"; }
  nlohmann::json get_config() const override;

 private:
  double initial_learning_rate_;
  std::int64_t decay_steps_;
  double decay_rate_;
  InverseTimeDecayOptions options_;
};

struct CosineDecayOptions {
  double alpha = 0.0;
  std::string name = "CosineDecay";
  std::optional<double> warmup_target{};  ///< none: no warm-up, decay from initial_learning_rate
  std::int64_t warmup_steps = 0;
};

/// Without warmup_target: lr = initial·((1 − α)·½(1 + cos(π·min(step, d)/d)) + α), d = decay_steps.
/// With it: a linear ramp from initial_learning_rate to warmup_target over warmup_steps, then the
/// same cosine from warmup_target over decay_steps.
class CosineDecay : public LearningRateSchedule {
 public:
  CosineDecay(double initial_learning_rate, std::int64_t decay_steps,
              CosineDecayOptions options = {});
  double operator()(std::int64_t step) const override;
  std::string class_name() const override { return "CosineDecay"; }
  nlohmann::json get_config() const override;

 private:
  double initial_learning_rate_;
  std::int64_t decay_steps_;
  CosineDecayOptions options_;
};

struct CosineDecayRestartsOptions {
  double t_mul = 2.0;  ///< each period lasts t_mul times the previous one
  double m_mul = 1.0;  ///< each restart starts at m_mul times the previous initial rate
  double alpha = 0.0;
  std::string name = "SGDRDecay";
};

/// SGDR: cosine decay over first_decay_steps, then warm restarts with periods growing by t_mul
/// and peaks shrinking by m_mul.
class CosineDecayRestarts : public LearningRateSchedule {
 public:
  CosineDecayRestarts(double initial_learning_rate, std::int64_t first_decay_steps,
                      CosineDecayRestartsOptions options = {});
  double operator()(std::int64_t step) const override;
  std::string class_name() const override { return "CosineDecayRestarts"; }
  nlohmann::json get_config() const override;

 private:
  double initial_learning_rate_;
  std::int64_t first_decay_steps_;
  CosineDecayRestartsOptions options_;
};

/// {"module": "keras.optimizers.schedules", "class_name", "config", "registered_name": null}.
nlohmann::json serialize(const LearningRateSchedule& schedule);
/// Rebuilds a schedule from {"class_name", "config"} (Keras 3 or tf.keras). Throws ValueError for
/// an unknown class or a bad config.
std::shared_ptr<LearningRateSchedule> deserialize(const nlohmann::json& config);

}  // namespace lamina::optimizers::schedules
