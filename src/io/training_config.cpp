// SPDX-License-Identifier: Apache-2.0
// src/io/training_config.cpp — compile arguments to and from Keras's training_config. Keras 2
// writes `lr` and float32-rounded hyper-parameters, tf.keras 2.11+ `Custom>Adam`, Keras 3
// serialized objects; all are read.
#include "io/training_config.hpp"

#include <iostream>

#include "engine/compiled_state.hpp"
#include "engine/model_impl.hpp"
#include "lamina/errors.hpp"

namespace lamina::io {
namespace {

using nlohmann::json;

// Keras's legacy writer keeps only class_name and config of the serialized optimizer.
json optimizer_config(const Optimizer& opt) {
  const json full = optimizers::serialize(opt);
  return {{"class_name", full.at("class_name")}, {"config", full.at("config")}};
}

// A loss or metric given as a name or as a serialized object ({"class_name", "config": {"name"}}).
std::string object_name(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object()) {
    const json c = j.value("config", json::object());
    if (c.is_object() && c.contains("name") && c["name"].is_string()) return c["name"].get<std::string>();
    if (j.contains("class_name") && j["class_name"].is_string())
      return to_snake_case(j["class_name"].get<std::string>());
  }
  throw ValueError("unreadable loss or metric entry " + j.dump());
}

Ref<Loss> make_loss(const json& j) {
  const std::string name = object_name(j);
  return Ref<Loss>(name);
}

void collect_metrics(const json& j, std::vector<MetricArg>& out, const std::string& file) {
  if (j.is_null()) return;
  if (j.is_array()) {
    for (const auto& e : j) collect_metrics(e, out, file);
    return;
  }
  const std::string name = object_name(j);
  try {
    // "accuracy" resolves against the loss at the first batch; other names resolve now.
    if (name != "accuracy" && name != "acc") Metric::from_name(name);
    out.emplace_back(name);
  } catch (const Error& e) {
    std::cerr << "lamina: " << file << ": metric '" << name << "' dropped: " << e.what() << "\n";
  }
}

}  // namespace

json training_config(const Model& model) {
  const ModelImpl& impl = model.impl();
  if (!impl.compiled) throw ValueError("model '" + impl.name() + "' is not compiled: it has no training config");
  const engine::CompiledState& m = *impl.compiled;
  const auto names = impl.output_names();
  json loss, metrics, weights = nullptr;
  bool weighted = false;
  for (double w : m.loss_weights) weighted = weighted || w != 1.0;
  auto metric_names = [&](std::size_t i) {
    json list = json::array();
    if (i < m.metric_args.size())
      for (const auto& a : m.metric_args[i]) list.push_back(a.metric() ? a.metric()->name() : a.name());
    return list;
  };
  if (names.size() == 1) {
    loss = m.losses.empty() || !m.losses[0] ? json(nullptr) : json(m.losses[0]->name());
    metrics = metric_names(0);
    if (weighted) weights = json::array({m.loss_weights[0]});
  } else {
    loss = json::object();
    metrics = json::object();
    if (weighted) weights = json::object();
    for (std::size_t i = 0; i < names.size(); ++i) {
      loss[names[i]] = i < m.losses.size() && m.losses[i] ? json(m.losses[i]->name()) : json(nullptr);
      metrics[names[i]] = metric_names(i);
      if (weighted) weights[names[i]] = m.loss_weights[i];
    }
  }
  return {{"loss", loss},
          {"loss_weights", weights},
          {"metrics", metrics},
          {"weighted_metrics", nullptr},
          {"optimizer_config", optimizer_config(*m.optimizer)}};
}

bool apply_training_config(Model& model, const json& config, const std::string& file) {
  CompileOptions options;
  try {
    if (!config.is_object()) throw ValueError("training_config is not a JSON object");
    if (config.contains("optimizer_config")) options.optimizer = optimizers::deserialize(config["optimizer_config"]);
    const json& loss = config.value("loss", json(nullptr));
    if (loss.is_array()) {
      std::vector<Ref<Loss>> list;
      for (const auto& l : loss) list.push_back(make_loss(l));
      options.loss = list;
    } else if (loss.is_object() && !loss.contains("class_name")) {
      std::map<std::string, Ref<Loss>> named;
      for (const auto& [k, v] : loss.items())
        if (!v.is_null()) named[k] = make_loss(v);
      options.loss = named;
    } else if (!loss.is_null()) {
      options.loss = make_loss(loss);
    }
    const json& lw = config.value("loss_weights", json(nullptr));
    if (lw.is_array()) options.loss_weights = lw.get<std::vector<double>>();
    if (lw.is_object()) options.loss_weights = lw.get<std::map<std::string, double>>();
    const json& metrics = config.value("metrics", json(nullptr));
    if (metrics.is_object()) {
      std::map<std::string, std::vector<MetricArg>> named;
      for (const auto& [k, v] : metrics.items()) collect_metrics(v, named[k], file);
      options.metrics = named;
    } else {
      std::vector<MetricArg> all;
      collect_metrics(metrics, all, file);
      options.metrics = all;
    }
    model.compile(options);
    return true;
  } catch (const Error& e) {
    std::cerr << "lamina: " << file << ": the model is loaded uncompiled: " << e.what() << "\n";
  } catch (const json::exception& e) {
    std::cerr << "lamina: " << file << ": the model is loaded uncompiled: malformed training_config ("
              << e.what() << ")\n";
  }
  return false;
}

}  // namespace lamina::io
