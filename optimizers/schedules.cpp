// SPDX-License-Identifier: Apache-2.0
// optimizers/schedules.cpp — Keras 3's learning-rate schedules (keras.optimizers.schedules), in
// double precision; Keras evaluates them in float32.
#include "lamina/optimizers/schedules.hpp"

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <numbers>

#include "common/registry.hpp"
#include "config_reader.hpp"
#include "lamina/errors.hpp"

namespace lamina::optimizers::schedules {
namespace {

void require_positive_steps(const char* cls, const char* arg, std::int64_t steps) {
  if (steps <= 0)
    throw ValueError(std::string(cls) + ": " + arg + " must be > 0, got " + std::to_string(steps));
}

// ½(1 + cos(π·fraction)), rescaled to [alpha, 1].
double cosine_factor(double fraction, double alpha) {
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * fraction));
  return (1.0 - alpha) * cosine + alpha;
}

// A JSON number written as an integer when it is one (Keras writes the Python ints it was given).
nlohmann::json number(double x) {
  if (std::floor(x) == x && std::abs(x) < 9e15) return static_cast<std::int64_t>(x);
  return x;
}

}  // namespace

LearningRateSchedule::~LearningRateSchedule() = default;

nlohmann::json LearningRateSchedule::get_config() const { return nlohmann::json::object(); }

// --- ExponentialDecay ----------------------------------------------------------------------------

ExponentialDecay::ExponentialDecay(double initial_learning_rate, std::int64_t decay_steps,
                                   double decay_rate, ExponentialDecayOptions options)
    : initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      decay_rate_(decay_rate),
      options_(std::move(options)) {
  require_positive_steps("ExponentialDecay", "decay_steps", decay_steps);
}

double ExponentialDecay::operator()(std::int64_t step) const {
  double p = static_cast<double>(step) / static_cast<double>(decay_steps_);
  if (options_.staircase) p = std::floor(p);
  return initial_learning_rate_ * std::pow(decay_rate_, p);
}

nlohmann::json ExponentialDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"decay_rate", decay_rate_},
          {"staircase", options_.staircase},
          {"name", options_.name}};
}

// --- PiecewiseConstantDecay ----------------------------------------------------------------------

PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<double> boundaries,
                                               std::vector<double> values, std::string name)
    : boundaries_(std::move(boundaries)), values_(std::move(values)), name_(std::move(name)) {
  if (boundaries_.size() + 1 != values_.size())
    throw ValueError("PiecewiseConstantDecay: values must have one more entry than boundaries, got " +
                     std::to_string(boundaries_.size()) + " boundaries and " +
                     std::to_string(values_.size()) + " values");
  for (std::size_t i = 1; i < boundaries_.size(); ++i)
    if (!(boundaries_[i - 1] < boundaries_[i]))
      throw ValueError("PiecewiseConstantDecay: boundaries must increase strictly, got " +
                       std::to_string(boundaries_[i - 1]) + " before " +
                       std::to_string(boundaries_[i]));
}

double PiecewiseConstantDecay::operator()(std::int64_t step) const {
  const double s = static_cast<double>(step);
  std::size_t i = 0;
  while (i < boundaries_.size() && s > boundaries_[i]) ++i;
  return values_[i];
}

nlohmann::json PiecewiseConstantDecay::get_config() const {
  nlohmann::json boundaries = nlohmann::json::array();
  for (double b : boundaries_) boundaries.push_back(number(b));
  return {{"boundaries", boundaries}, {"values", values_}, {"name", name_}};
}

// --- PolynomialDecay -----------------------------------------------------------------------------

PolynomialDecay::PolynomialDecay(double initial_learning_rate, std::int64_t decay_steps,
                                 PolynomialDecayOptions options)
    : initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      options_(std::move(options)) {
  require_positive_steps("PolynomialDecay", "decay_steps", decay_steps);
}

double PolynomialDecay::operator()(std::int64_t step) const {
  double s = static_cast<double>(step);
  double d = static_cast<double>(decay_steps_);
  if (options_.cycle)
    d *= step == 0 ? 1.0 : std::ceil(s / d);  // the first multiple of decay_steps >= step
  else
    s = std::min(s, d);
  return (initial_learning_rate_ - options_.end_learning_rate) *
             std::pow(1.0 - s / d, options_.power) +
         options_.end_learning_rate;
}

nlohmann::json PolynomialDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"end_learning_rate", options_.end_learning_rate},
          {"power", options_.power},
          {"cycle", options_.cycle},
          {"name", options_.name}};
}

// --- InverseTimeDecay ----------------------------------------------------------------------------

InverseTimeDecay::InverseTimeDecay(double initial_learning_rate, std::int64_t decay_steps,
                                   double decay_rate, InverseTimeDecayOptions options)
    : initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      decay_rate_(decay_rate),
      options_(std::move(options)) {
  require_positive_steps("InverseTimeDecay", "decay_steps", decay_steps);
}

double InverseTimeDecay::operator()(std::int64_t step) const {
  double p = static_cast<double>(step) / static_cast<double>(decay_steps_);
  if (options_.staircase) p = std::floor(p);
  return initial_learning_rate_ / (1.0 + decay_rate_ * p);
}

nlohmann::json InverseTimeDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"decay_rate", decay_rate_},
          {"staircase", options_.staircase},
          {"name", options_.name}};
}

// --- CosineDecay ---------------------------------------------------------------------------------

CosineDecay::CosineDecay(double initial_learning_rate, std::int64_t decay_steps,
                         CosineDecayOptions options)
    : initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      options_(std::move(options)) {
  require_positive_steps("CosineDecay", "decay_steps", decay_steps);
  if (options_.warmup_steps < 0)
    throw ValueError("CosineDecay: warmup_steps must be >= 0, got " +
                     std::to_string(options_.warmup_steps));
}

double CosineDecay::operator()(std::int64_t step) const {
  const double d = static_cast<double>(decay_steps_);
  double s = static_cast<double>(step);
  if (!options_.warmup_target)  // Keras ignores warmup_steps without a warmup target
    return initial_learning_rate_ * cosine_factor(std::min(s, d) / d, options_.alpha);
  const double target = *options_.warmup_target;
  const double w = static_cast<double>(options_.warmup_steps);
  s = std::min(s, d + w);
  if (s < w) return (target - initial_learning_rate_) * (s / w) + initial_learning_rate_;
  return target * cosine_factor((s - w) / d, options_.alpha);
}

nlohmann::json CosineDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"alpha", options_.alpha},
          {"name", options_.name},
          {"warmup_target", options_.warmup_target ? nlohmann::json(*options_.warmup_target)
                                                   : nlohmann::json(nullptr)},
          {"warmup_steps", options_.warmup_steps}};
}

// --- CosineDecayRestarts -------------------------------------------------------------------------

CosineDecayRestarts::CosineDecayRestarts(double initial_learning_rate,
                                         std::int64_t first_decay_steps,
                                         CosineDecayRestartsOptions options)
    : initial_learning_rate_(initial_learning_rate),
      first_decay_steps_(first_decay_steps),
      options_(std::move(options)) {
  require_positive_steps("CosineDecayRestarts", "first_decay_steps", first_decay_steps);
}

// Period i lasts first·t_mul^i steps. With t_mul ≠ 1 the periods before restart i sum to
// first·(1 − t_mul^i)/(1 − t_mul), so the restart index of fraction f = step/first is
// floor(log(1 − f(1 − t_mul)) / log t_mul).
double CosineDecayRestarts::operator()(std::int64_t step) const {
  const double t_mul = options_.t_mul;
  double fraction = static_cast<double>(step) / static_cast<double>(first_decay_steps_);
  double restart;
  if (t_mul == 1.0) {
    restart = std::floor(fraction);
    fraction -= restart;
  } else {
    restart = std::floor(std::log(1.0 - fraction * (1.0 - t_mul)) / std::log(t_mul));
    const double before = (1.0 - std::pow(t_mul, restart)) / (1.0 - t_mul);
    fraction = (fraction - before) / std::pow(t_mul, restart);
  }
  const double peak = std::pow(options_.m_mul, restart);
  const double cosine = 0.5 * peak * (1.0 + std::cos(std::numbers::pi * fraction));
  return initial_learning_rate_ * ((1.0 - options_.alpha) * cosine + options_.alpha);
}

nlohmann::json CosineDecayRestarts::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"first_decay_steps", first_decay_steps_},
          {"t_mul", options_.t_mul},
          {"m_mul", options_.m_mul},
          {"alpha", options_.alpha},
          {"name", options_.name}};
}

// --- serialization -------------------------------------------------------------------------------

nlohmann::json serialize(const LearningRateSchedule& schedule) {
  return {{"module", "keras.optimizers.schedules"},
          {"class_name", schedule.class_name()},
          {"config", schedule.get_config()},
          {"registered_name", nullptr}};
}

namespace {

using detail::Reader;
using Factory = std::function<std::shared_ptr<LearningRateSchedule>(Reader&)>;

// In the order error messages list them.
const Registry<Factory>& factories() {
  static const Registry<Factory> table = {
      {"ExponentialDecay",
       [](Reader& r) {
         return std::make_shared<ExponentialDecay>(
             r.get<double>("initial_learning_rate"), r.get<std::int64_t>("decay_steps"),
             r.get<double>("decay_rate"),
             ExponentialDecayOptions{.staircase = r.get("staircase", false),
                                     .name = r.get<std::string>("name", "ExponentialDecay")});
       }},
      {"PiecewiseConstantDecay",
       [](Reader& r) {
         return std::make_shared<PiecewiseConstantDecay>(
             r.get<std::vector<double>>("boundaries"), r.get<std::vector<double>>("values"),
             r.get<std::string>("name", "PiecewiseConstant"));
       }},
      {"PolynomialDecay",
       [](Reader& r) {
         const double initial = r.get<double>("initial_learning_rate");
         const auto steps = r.get<std::int64_t>("decay_steps");
         return std::make_shared<PolynomialDecay>(
             initial, steps,
             PolynomialDecayOptions{.end_learning_rate = r.get("end_learning_rate", 0.0001),
                                    .power = r.get("power", 1.0),
                                    .cycle = r.get("cycle", false),
                                    .name = r.get<std::string>("name", "PolynomialDecay")});
       }},
      {"InverseTimeDecay",
       [](Reader& r) {
         return std::make_shared<InverseTimeDecay>(
             r.get<double>("initial_learning_rate"), r.get<std::int64_t>("decay_steps"),
             r.get<double>("decay_rate"),
             InverseTimeDecayOptions{.staircase = r.get("staircase", false),
                                     .name = r.get<std::string>("name", "InverseTimeDecay")});
       }},
      {"CosineDecay",
       [](Reader& r) {
         const double initial = r.get<double>("initial_learning_rate");
         const auto steps = r.get<std::int64_t>("decay_steps");
         return std::make_shared<CosineDecay>(
             initial, steps,
             CosineDecayOptions{.alpha = r.get("alpha", 0.0),
                                .name = r.get<std::string>("name", "CosineDecay"),
                                .warmup_target = r.optional("warmup_target"),
                                .warmup_steps = r.get<std::int64_t>("warmup_steps", 0)});
       }},
      {"CosineDecayRestarts",
       [](Reader& r) {
         const double initial = r.get<double>("initial_learning_rate");
         const auto steps = r.get<std::int64_t>("first_decay_steps");
         return std::make_shared<CosineDecayRestarts>(
             initial, steps,
             CosineDecayRestartsOptions{.t_mul = r.get("t_mul", 2.0),
                                        .m_mul = r.get("m_mul", 1.0),
                                        .alpha = r.get("alpha", 0.0),
                                        .name = r.get<std::string>("name", "SGDRDecay")});
       }},
  };
  return table;
}

}  // namespace

std::shared_ptr<LearningRateSchedule> deserialize(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("class_name") || !config["class_name"].is_string())
    throw ValueError("learning-rate schedule: expected {\"class_name\": ..., \"config\": {...}}, got " +
                     config.dump());
  const std::string cls = config["class_name"];
  const auto make = factories().find(cls);
  if (!make) throw ValueError("unknown learning-rate schedule '" + cls + "'; available: " + factories().listing(""));
  const nlohmann::json empty = nlohmann::json::object();
  Reader reader(cls, config.contains("config") ? config["config"] : empty);
  auto schedule = (*make)(reader);
  reader.finish();
  return schedule;
}

}  // namespace lamina::optimizers::schedules
