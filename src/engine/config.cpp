// SPDX-License-Identifier: Apache-2.0
#include "engine/config.hpp"

#include <optional>

#include "lamina/errors.hpp"

namespace lamina::engine {

using json = nlohmann::json;

json initializer_config(const Initializer& init) { return initializers::serialize(init); }

std::string name_of(const json& config) { return config.value("name", std::string()); }

namespace {
// Reads config[key] with `read`, naming the key and the value when it fails: a value lamina
// cannot read is refused, never replaced by a default.
template <class T, class Read>
T read_value(const json& config, const char* key, Read read) {
  try {
    return read(config[key]);
  } catch (const Error& e) {
    throw ValueError(std::string(key) + "=" + config[key].dump() + ": " + e.what());
  } catch (const json::exception& e) {
    throw ValueError(std::string(key) + "=" + config[key].dump() + ": " + e.what());
  }
}
}  // namespace

Initializer initializer_of(const json& config, const char* key, const char* fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  return read_value<Initializer>(config, key, [](const json& v) { return initializers::deserialize(v); });
}

Regularizer regularizer_of(const json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return {};
  return read_value<Regularizer>(config, key, [](const json& v) { return regularizers::deserialize(v); });
}

Constraint constraint_of(const json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return {};
  return read_value<Constraint>(config, key, [](const json& v) { return constraints::deserialize(v); });
}

namespace {
double number_or(const json& c, const char* key, double fallback) {
  return c.contains(key) && c[key].is_number() ? c[key].get<double>() : fallback;
}
bool null_or_absent(const json& c, const char* key) { return !c.contains(key) || c[key].is_null(); }
}  // namespace

std::optional<std::string> activation_name(const json& a) {
  if (a.is_null()) return "linear";
  if (a.is_string()) return a.get<std::string>();
  if (!a.is_object()) return std::nullopt;
  // A function reference: {"module": "keras.activations", "class_name": "function", "config": "relu"}.
  if (a.contains("config") && a["config"].is_string()) return a["config"].get<std::string>();
  if (!a.contains("class_name") || !a["class_name"].is_string()) return std::nullopt;
  // An activation layer given as the activation (activation=keras.layers.ReLU()): only the
  // arguments that equal a named activation have one.
  const std::string cls = a["class_name"].get<std::string>();
  const json c = a.contains("config") && a["config"].is_object() ? a["config"] : json::object();
  if (cls == "Activation" && c.contains("activation")) return activation_name(c["activation"]);
  if (cls == "ReLU") {
    if (number_or(c, "negative_slope", 0.0) != 0.0 || number_or(c, "threshold", 0.0) != 0.0) return std::nullopt;
    if (null_or_absent(c, "max_value")) return "relu";
    if (c["max_value"].is_number() && c["max_value"].get<double>() == 6.0) return "relu6";
    return std::nullopt;
  }
  // Keras 3 names LeakyReLU's slope negative_slope, tf.keras alpha (layer default 0.3).
  if (cls == "LeakyReLU" && number_or(c, "negative_slope", number_or(c, "alpha", 0.3)) == 0.2) return "leaky_relu";
  if (cls == "ELU" && number_or(c, "alpha", 1.0) == 1.0) return "elu";
  if (cls == "Softmax" && (null_or_absent(c, "axis") || c["axis"] == -1 || c["axis"] == json::array({-1})))
    return "softmax";
  return std::nullopt;
}

Activation activation_of(const json& config, const char* key, const char* fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const json& a = config[key];
  const std::optional<std::string> name = activation_name(a);
  if (!name) throw ValueError(std::string(key) + "=" + a.dump() + " is not an activation lamina has");
  return read_value<Activation>(config, key, [&](const json&) { return Activation(*name); });
}

}  // namespace lamina::engine
