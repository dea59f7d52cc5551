// SPDX-License-Identifier: Apache-2.0
// optimizers/registry.cpp — optimizers by Keras name and from Keras configs: get(), from_name(),
// serialize() and deserialize().
#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "common/registry.hpp"
#include "config_reader.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {

// loss_scale_optimizer.cpp: it wraps another optimizer's config rather than the common options.
std::shared_ptr<Optimizer> loss_scale_optimizer_from_config(const nlohmann::json& body);

namespace {

using detail::Reader;
using Factory = std::function<std::shared_ptr<Optimizer>(Reader&)>;

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The options every optimizer shares, where the config gives them; absent keys keep the class's
// defaults. Keras 2's "lr" is read as learning_rate; its "decay", and tf.keras's
// "is_legacy_optimizer" and "jit_compile", are ignored as Keras 3 ignores them.
template <class O>
void read_common(Reader& r, O& o) {
  nlohmann::json lr = r.raw("learning_rate");
  if (lr.is_null()) lr = r.raw("lr");
  if (lr.is_object())
    o.learning_rate = schedules::deserialize(lr);
  else if (lr.is_number())
    o.learning_rate = lr.get<double>();
  else if (!lr.is_null())
    throw ValueError(r.class_name() + ": learning_rate must be a number or a schedule, got " +
                     lr.dump());
  if (r.has("weight_decay")) o.weight_decay = r.optional("weight_decay");
  o.clipnorm = r.optional("clipnorm");
  o.clipvalue = r.optional("clipvalue");
  o.global_clipnorm = r.optional("global_clipnorm");
  o.use_ema = r.get("use_ema", false);
  o.ema_momentum = r.get("ema_momentum", 0.99);
  o.ema_overwrite_frequency = r.optional<std::int64_t>("ema_overwrite_frequency");
  o.gradient_accumulation_steps = r.optional<std::int64_t>("gradient_accumulation_steps");
  o.name = r.get<std::string>("name", "");
  if (!r.raw("loss_scale_factor").is_null())
    throw ValueError(r.class_name() +
                     ": loss_scale_factor is not supported (lamina trains without loss scaling)");
  for (const char* ignored : {"decay", "is_legacy_optimizer", "jit_compile"}) r.raw(ignored);
}

// A factory reading the common options, then the class's own with `read_own`.
template <class Opt, class O>
Factory factory(void (*read_own)(Reader&, O&)) {
  return [read_own](Reader& r) -> std::shared_ptr<Optimizer> {
    O o;
    read_common(r, o);
    read_own(r, o);
    return std::make_shared<Opt>(std::move(o));
  };
}

template <class O>
void read_adam_family(Reader& r, O& o) {
  o.beta_1 = r.get("beta_1", o.beta_1);
  o.beta_2 = r.get("beta_2", o.beta_2);
  o.epsilon = r.get("epsilon", o.epsilon);
  if constexpr (requires { o.amsgrad; }) o.amsgrad = r.get("amsgrad", o.amsgrad);
}

// Keyed by the lower-case class name (Keras's names are case-insensitive): the class name and
// its factory.
const Registry<std::pair<std::string, Factory>>& factories() {
  static const Registry<std::pair<std::string, Factory>> table = {
      {"adadelta", {"Adadelta", factory<Adadelta, AdadeltaOptions>([](Reader& r, AdadeltaOptions& o) {
          o.rho = r.get("rho", o.rho);
          o.epsilon = r.get("epsilon", o.epsilon);
        })}},
      {"adagrad", {"Adagrad", factory<Adagrad, AdagradOptions>([](Reader& r, AdagradOptions& o) {
                     o.initial_accumulator_value =
                         r.get("initial_accumulator_value", o.initial_accumulator_value);
                     o.epsilon = r.get("epsilon", o.epsilon);
                   })}},
      {"adam", {"Adam", factory<Adam, AdamOptions>(read_adam_family<AdamOptions>)}},
      {"adamax", {"Adamax", factory<Adamax, AdamaxOptions>(read_adam_family<AdamaxOptions>)}},
      {"adamw", {"AdamW", factory<AdamW, AdamWOptions>(read_adam_family<AdamWOptions>)}},
      {"ftrl", {"Ftrl", factory<Ftrl, FtrlOptions>([](Reader& r, FtrlOptions& o) {
                  o.learning_rate_power = r.get("learning_rate_power", o.learning_rate_power);
                  o.initial_accumulator_value =
                      r.get("initial_accumulator_value", o.initial_accumulator_value);
                  o.l1_regularization_strength =
                      r.get("l1_regularization_strength", o.l1_regularization_strength);
                  o.l2_regularization_strength =
                      r.get("l2_regularization_strength", o.l2_regularization_strength);
                  o.l2_shrinkage_regularization_strength = r.get(
                      "l2_shrinkage_regularization_strength", o.l2_shrinkage_regularization_strength);
                  o.beta = r.get("beta", o.beta);
                })}},
      {"lion", {"Lion", factory<Lion, LionOptions>([](Reader& r, LionOptions& o) {
                  o.beta_1 = r.get("beta_1", o.beta_1);
                  o.beta_2 = r.get("beta_2", o.beta_2);
                })}},
      {"nadam", {"Nadam", factory<Nadam, NadamOptions>(read_adam_family<NadamOptions>)}},
      {"rmsprop", {"RMSprop", factory<RMSprop, RMSpropOptions>([](Reader& r, RMSpropOptions& o) {
                     o.rho = r.get("rho", o.rho);
                     o.momentum = r.get("momentum", o.momentum);
                     o.epsilon = r.get("epsilon", o.epsilon);
                     o.centered = r.get("centered", o.centered);
                   })}},
      {"sgd", {"SGD", factory<SGD, SGDOptions>([](Reader& r, SGDOptions& o) {
                 o.momentum = r.get("momentum", o.momentum);
                 o.nesterov = r.get("nesterov", o.nesterov);
               })}},
  };
  return table;
}

const std::string& available() {
  static const std::string text = [] {
    return "available optimizers: " + factories().listing("'", " ");
  }();
  return text;
}

}  // namespace

std::shared_ptr<Optimizer> get(const std::string& name) { return Optimizer::from_name(name); }

nlohmann::json serialize(const Optimizer& optimizer) {
  return {{"module", "keras.optimizers"},
          {"class_name", optimizer.class_name()},
          {"config", optimizer.get_config()},
          {"registered_name", nullptr}};
}

std::shared_ptr<Optimizer> deserialize(const nlohmann::json& config) {
  if (!config.is_object() || !config.contains("class_name") || !config["class_name"].is_string())
    throw ValueError("optimizer: expected {\"class_name\": ..., \"config\": {...}}, got " +
                     config.dump());
  std::string cls = config["class_name"];
  if (cls.rfind("Custom>", 0) == 0) cls = cls.substr(7);  // tf.keras 2.11+'s new optimizers
  if (cls == "LossScaleOptimizer")
    return loss_scale_optimizer_from_config(config.contains("config") ? config["config"] : nlohmann::json::object());
  const auto entry = factories().find(lowercase(cls));
  if (!entry) throw ValueError("unknown optimizer class '" + cls + "'; " + available());
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& body = config.contains("config") ? config["config"] : empty;
  if (!body.is_object())
    throw ValueError(entry->first + ": config must be an object, got " + body.dump());
  Reader reader(entry->first, body);
  auto optimizer = entry->second(reader);
  reader.finish();
  return optimizer;
}

}  // namespace lamina::optimizers

namespace lamina {

std::shared_ptr<Optimizer> Optimizer::from_name(const std::string& name) {
  const auto entry = optimizers::factories().find(optimizers::lowercase(name));
  if (!entry) {
    static const std::map<std::string, std::string> keras_only = {
        {"lamb", "Lamb"}, {"adafactor", "Adafactor"}, {"muon", "Muon"}};
    const std::string key = optimizers::lowercase(name);
    if (auto k = keras_only.find(key); k != keras_only.end())
      throw ValueError("optimizer '" + name + "': " + k->second +
                       " is not available in lamina; " + optimizers::available());
    throw ValueError("unknown optimizer '" + name + "'; " + optimizers::available());
  }
  const nlohmann::json empty = nlohmann::json::object();
  optimizers::detail::Reader reader(entry->first, empty);
  return entry->second(reader);
}

}  // namespace lamina
