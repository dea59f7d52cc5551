// SPDX-License-Identifier: Apache-2.0
// tests/support/keras_export.hpp — lamina -> Keras: the files lamina's tests write, kept for real
// Keras to load (tests/tools/check_lamina_files_in_keras.py, run by .ci/test's "keras" step).
//
// A test that has a model and an input calls, after checking the model:
//
//   lamina::testing::export_for_keras("family_case", model, x);        // one input
//   lamina::testing::export_for_keras("family_case", model, {a, b});   // several, in inputs() order
//
// Without LAMINA_KERAS_EXPORT this does nothing (and costs nothing). With LAMINA_KERAS_EXPORT=<dir>
// it writes, for the name (a unique file stem: prefix it with the test's family):
//   <dir>/<name>.keras           model.save (Keras 3's zip)
//   <dir>/<name>.h5              model.save (Keras's legacy HDF5)
//   <dir>/<name>.weights.h5      model.save_weights, with <name>.config.json (model.to_json()):
//                                Keras rebuilds the model from the JSON and loads these weights
//   <dir>/<name>.entry.json      the index entry: the inputs, lamina's outputs for them
//                                (inference), every layer's config as lamina writes it (nested
//                                models' layers with their path of names), the layer classes used
//   <dir>/lamina_classes.json    every layer class lamina has (the config-key audit's classes),
//                                so the checker can tell which ones no test exported
// `formats` drops formats a model cannot be written in (a subclassed model without .keras).
// Give every model its own name; a second export under a name overwrites the first.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <lamina/model.hpp>
#include <nlohmann/json.hpp>

#include "engine/layer_spec.hpp"

namespace lamina::testing {

struct KerasExportFormats {
  bool keras = true;    ///< <name>.keras
  bool h5 = true;       ///< <name>.h5
  bool weights = true;  ///< <name>.weights.h5 + <name>.config.json
};

/// The folder LAMINA_KERAS_EXPORT names (created if missing), or empty when it is unset.
inline std::string keras_export_dir() {
  const char* dir = std::getenv("LAMINA_KERAS_EXPORT");
  if (!dir || !*dir) return {};
  std::filesystem::create_directories(dir);
  return dir;
}

/// Registered classes that no lamina file can carry, and why: every other registered class must
/// be in some exported model (tests/io/test_keras_export.cpp checks it).
inline const std::map<std::string, std::string>& classes_never_written() {
  static const std::map<std::string, std::string> skip = {
      {"Model", "read only (tf.keras 2 and Keras 3 subclassed-model files); lamina writes a graph model as "
                "Functional"},
  };
  return skip;
}

/// The registered classes the exported models must cover, sorted.
inline std::vector<std::string> keras_exported_classes() {
  std::vector<std::string> out;
  for (const std::string& cls : engine::layer_spec_classes())
    if (!classes_never_written().count(cls)) out.push_back(cls);
  return out;
}

namespace keras_export_detail {

inline nlohmann::json tensor_json(const Tensor& t) {
  nlohmann::json shape = nlohmann::json::array();
  for (auto d : t.shape()) shape.push_back(d);
  // NaN goes out as null (JSON has no NaN); the checker reads null back as NaN.
  return {{"shape", shape}, {"dtype", dtype_name(t.dtype())}, {"values", t.astype(float64).to_vector<double>()}};
}

// Every layer of a model's Keras JSON with its path of layer names; nested models are walked into
// (their own entry too: Keras's get_config of a nested model is compared like any layer's).
inline void collect_layers(const nlohmann::json& model, nlohmann::json path, nlohmann::json& out) {
  for (const nlohmann::json& layer : model.at("config").at("layers")) {
    nlohmann::json here = path;
    here.push_back(layer.at("config").at("name"));
    out.push_back({{"path", here}, {"class_name", layer.at("class_name")}, {"config", layer.at("config")}});
    if (layer.at("config").contains("layers")) collect_layers(layer, here, out);
  }
}

// Every class of the layer registry anywhere in the JSON: wrapped layers, cells, activation
// layers given as an activation and the models themselves count.
inline void collect_classes(const nlohmann::json& j, std::set<std::string>& out) {
  if (j.is_object()) {
    if (j.contains("class_name") && j["class_name"].is_string() && j.contains("config") &&
        engine::find_layer_spec(j["class_name"].get<std::string>()))
      out.insert(j["class_name"].get<std::string>());
    for (const auto& [key, value] : j.items()) collect_classes(value, out);
  } else if (j.is_array()) {
    for (const nlohmann::json& v : j) collect_classes(v, out);
  }
}

}  // namespace keras_export_detail

/// Writes the model in every format with its index entry (see the top of this file) when
/// LAMINA_KERAS_EXPORT is set; `inputs` in the order of model.inputs().
inline void export_for_keras(const std::string& name, const Model& model, const std::vector<Tensor>& inputs,
                             KerasExportFormats formats = {}) {
  const std::string dir = keras_export_dir();
  if (dir.empty()) return;
  namespace d = keras_export_detail;
  const std::string stem = dir + "/" + name;
  const nlohmann::json config = nlohmann::json::parse(model.to_json());
  nlohmann::json entry = {{"name", name}, {"files", nlohmann::json::object()}};
  if (formats.keras) {
    model.save(stem + ".keras");
    entry["files"]["keras"] = name + ".keras";
  }
  if (formats.h5) {
    model.save(stem + ".h5");
    entry["files"]["h5"] = name + ".h5";
  }
  if (formats.weights) {
    model.save_weights(stem + ".weights.h5");
    std::ofstream(stem + ".config.json") << config.dump(1);
    entry["files"]["weights"] = name + ".weights.h5";
    entry["files"]["config"] = name + ".config.json";
  }
  entry["inputs"] = nlohmann::json::array();
  for (const Tensor& x : inputs) entry["inputs"].push_back(d::tensor_json(x));
  entry["outputs"] = nlohmann::json::array();
  for (const Tensor& y : model(inputs, false)) entry["outputs"].push_back(d::tensor_json(y));
  entry["layers"] = nlohmann::json::array();
  d::collect_layers(config, nlohmann::json::array(), entry["layers"]);
  std::set<std::string> classes;
  d::collect_classes(config, classes);
  entry["classes"] = classes;
  std::ofstream(stem + ".entry.json") << entry.dump();
  std::ofstream(dir + "/lamina_classes.json") << nlohmann::json(keras_exported_classes()).dump();
}

inline void export_for_keras(const std::string& name, const Model& model, const Tensor& x,
                             KerasExportFormats formats = {}) {
  export_for_keras(name, model, std::vector<Tensor>{x}, formats);
}

}  // namespace lamina::testing
