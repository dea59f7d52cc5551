// SPDX-License-Identifier: Apache-2.0
// src/constraints/constraints.cpp — MaxNorm, MinMaxNorm, NonNeg, UnitNorm and their Keras names
// and configs.
#include "lamina/constraints.hpp"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/registry.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina {

Constraint::Constraint(const char* name) : Constraint(constraints::get(name)) {}
Constraint::Constraint(const std::string& name) : Constraint(constraints::get(name)) {}
Constraint::Constraint(std::string class_name, std::map<std::string, double> config, Fn fn)
    : class_name_(std::move(class_name)), config_(std::move(config)), fn_(std::move(fn)) {}

Tensor Constraint::operator()(const Tensor& w) const {
  if (!fn_) throw ValueError("an empty Constraint was called");
  return fn_(w);
}

namespace constraints {

namespace {

constexpr double kEpsilon = 1e-7;  // Keras's backend epsilon

// The L2 norms of w along axis, kept as a broadcastable axis of size 1.
Tensor norms(const std::string& cls, const Tensor& w, int axis) {
  if (axis < -w.ndim() || axis >= w.ndim())
    throw ShapeError(cls + ": axis " + std::to_string(axis) + " does not exist in a weight of shape " +
                     w.shape().str());
  return sqrt(sum(square(w), {axis}, true));
}

}  // namespace

Constraint MaxNorm(double max_value, int axis) {
  return {"MaxNorm", {{"max_value", max_value}, {"axis", axis}}, [=](const Tensor& w) {
            Tensor n = norms("MaxNorm", w, axis);
            return w * (clip(n, 0.0, max_value) / (n + kEpsilon));
          }};
}

Constraint MinMaxNorm(double min_value, double max_value, double rate, int axis) {
  return {"MinMaxNorm",
          {{"min_value", min_value}, {"max_value", max_value}, {"rate", rate}, {"axis", axis}},
          [=](const Tensor& w) {
            Tensor n = norms("MinMaxNorm", w, axis);
            Tensor desired = clip(n, min_value, max_value) * rate + n * (1.0 - rate);
            return w * (desired / (n + kEpsilon));
          }};
}

Constraint NonNeg() {
  return {"NonNeg", {}, [](const Tensor& w) { return maximum(w, Tensor::scalar(0.0, w.dtype())); }};
}

Constraint UnitNorm(int axis) {
  return {"UnitNorm", {{"axis", axis}}, [=](const Tensor& w) {
            return w / (norms("UnitNorm", w, axis) + kEpsilon);
          }};
}

namespace {

using Factory = Constraint (*)(const nlohmann::json& config);

double number(const nlohmann::json& c, const char* key, double fallback) {
  return c.contains(key) && c[key].is_number() ? c[key].get<double>() : fallback;
}

int axis_of(const char* cls, const nlohmann::json& c) {
  if (c.contains("axis") && !c["axis"].is_null() && !c["axis"].is_number_integer())
    throw ValueError(std::string(cls) + ": lamina supports a single integer axis, got " + c["axis"].dump());
  return static_cast<int>(number(c, "axis", 0));
}

// Keras's constraint classes from their configs (absent keys take Keras's defaults), found by
// class name or by Keras's function name.
const Registry<Factory>& registry() {
  static const Registry<Factory> known = {
      {"MaxNorm", [](const nlohmann::json& c) { return MaxNorm(number(c, "max_value", 2.0), axis_of("MaxNorm", c)); },
       {"max_norm"}},
      {"MinMaxNorm",
       [](const nlohmann::json& c) {
         return MinMaxNorm(number(c, "min_value", 0.0), number(c, "max_value", 1.0), number(c, "rate", 1.0),
                           axis_of("MinMaxNorm", c));
       },
       {"min_max_norm"}},
      {"NonNeg", [](const nlohmann::json&) { return NonNeg(); }, {"non_neg"}},
      {"UnitNorm", [](const nlohmann::json& c) { return UnitNorm(axis_of("UnitNorm", c)); }, {"unit_norm"}},
  };
  return known;
}

}  // namespace

Constraint get(const std::string& name) {
  if (const auto make = registry().find(name)) return (*make)(nlohmann::json::object());
  throw ValueError("unknown constraint '" + name + "'; available: 'max_norm', 'min_max_norm', "
                   "'non_neg', 'unit_norm' (and the class names)");
}

nlohmann::json serialize(const Constraint& c) {
  if (!c) return nullptr;
  nlohmann::json config = nlohmann::json::object();
  for (const auto& [k, v] : c.config()) config[k] = k == "axis" ? nlohmann::json(static_cast<int>(v)) : nlohmann::json(v);
  return {{"module", "keras.constraints"},
          {"class_name", c.class_name()},
          {"config", config},
          {"registered_name", nullptr}};
}

Constraint deserialize(const nlohmann::json& value) {
  if (value.is_null()) return {};
  if (value.is_string()) return get(value.get<std::string>());
  if (!value.is_object() || !value.contains("class_name"))
    throw ValueError("a constraint must be null, a name or {\"class_name\", \"config\"}, got " + value.dump());
  const std::string cls = value["class_name"].get<std::string>();
  if (const auto make = registry().find_listed(cls)) return (*make)(value.value("config", nlohmann::json::object()));
  throw ValueError("unknown constraint class '" + cls + "'; lamina knows MaxNorm, MinMaxNorm, NonNeg and UnitNorm");
}

}  // namespace constraints
}  // namespace lamina
