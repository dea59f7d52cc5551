// SPDX-License-Identifier: Apache-2.0
// src/regularizers/regularizers.cpp — L1, L2, L1L2 penalties and their Keras names and configs.
#include "lamina/regularizers.hpp"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/registry.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina {

Regularizer::Regularizer(const char* name) : Regularizer(regularizers::get(name)) {}
Regularizer::Regularizer(const std::string& name) : Regularizer(regularizers::get(name)) {}
Regularizer::Regularizer(std::string class_name, std::map<std::string, double> config, Fn fn)
    : class_name_(std::move(class_name)), config_(std::move(config)), fn_(std::move(fn)) {}

Tensor Regularizer::operator()(const Tensor& x) const {
  if (!fn_) throw ValueError("an empty Regularizer was called");
  return fn_(x);
}

namespace regularizers {

namespace {
double checked_factor(const char* cls, const char* key, double v) {
  if (!(v >= 0))
    throw ValueError(std::string(cls) + ": " + key + " must be a non-negative number, got " +
                     std::to_string(v));
  return v;
}
}  // namespace

Regularizer L1(double l1) {
  checked_factor("L1", "l1", l1);
  return {"L1", {{"l1", l1}}, [l1](const Tensor& x) { return sum(abs(x)) * l1; }};
}

Regularizer L2(double l2) {
  checked_factor("L2", "l2", l2);
  return {"L2", {{"l2", l2}}, [l2](const Tensor& x) { return sum(square(x)) * l2; }};
}

Regularizer L1L2(double l1, double l2) {
  checked_factor("L1L2", "l1", l1);
  checked_factor("L1L2", "l2", l2);
  return {"L1L2", {{"l1", l1}, {"l2", l2}}, [l1, l2](const Tensor& x) {
            Tensor penalty = Tensor::scalar(0.0, x.dtype());
            if (l1 != 0) penalty = penalty + sum(abs(x)) * l1;
            if (l2 != 0) penalty = penalty + sum(square(x)) * l2;
            return penalty;
          }};
}

namespace {

using Factory = Regularizer (*)(const nlohmann::json& config);

double factor(const nlohmann::json& c, const char* key, double fallback) {
  return c.contains(key) && c[key].is_number() ? c[key].get<double>() : fallback;
}

// Keras's regularizer classes from their configs (absent factors take Keras's defaults), found
// by class name or by their lower-case names.
const Registry<Factory>& registry() {
  static const Registry<Factory> known = {
      {"L1", [](const nlohmann::json& c) { return L1(factor(c, "l1", 0.01)); }, {"l1"}},
      {"L2", [](const nlohmann::json& c) { return L2(factor(c, "l2", 0.01)); }, {"l2"}},
      {"L1L2", [](const nlohmann::json& c) { return L1L2(factor(c, "l1", 0.0), factor(c, "l2", 0.0)); }, {"l1l2"}},
  };
  return known;
}

}  // namespace

Regularizer get(const std::string& name) {
  // Keras's function l1_l2 defaults both factors to 0.01, its class L1L2 to 0.
  if (name == "l1_l2") return L1L2(0.01, 0.01);
  if (const auto make = registry().find(name)) return (*make)(nlohmann::json::object());
  throw ValueError("unknown regularizer '" + name + "'; available: 'l1', 'l2', 'l1_l2' (and the class "
                   "names 'L1', 'L2', 'L1L2')");
}

nlohmann::json serialize(const Regularizer& r) {
  if (!r) return nullptr;
  nlohmann::json config = nlohmann::json::object();
  for (const auto& [k, v] : r.config()) config[k] = v;
  return {{"module", "keras.regularizers"},
          {"class_name", r.class_name()},
          {"config", config},
          {"registered_name", nullptr}};
}

Regularizer deserialize(const nlohmann::json& value) {
  if (value.is_null()) return {};
  if (value.is_string()) return get(value.get<std::string>());
  if (!value.is_object() || !value.contains("class_name"))
    throw ValueError("a regularizer must be null, a name or {\"class_name\", \"config\"}, got " + value.dump());
  const std::string cls = value["class_name"].get<std::string>();
  if (const auto make = registry().find_listed(cls)) return (*make)(value.value("config", nlohmann::json::object()));
  throw ValueError("unknown regularizer class '" + cls + "'; lamina knows L1, L2 and L1L2");
}

}  // namespace regularizers
}  // namespace lamina
