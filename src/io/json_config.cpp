// SPDX-License-Identifier: Apache-2.0
// Models as Keras JSON: Model::to_json (Keras 3's serialization) and models::model_from_json.
#include "io/json_config.hpp"

#include <iostream>

#include "io/load_guard.hpp"
#include "io/training_config.hpp"

#include "engine/config.hpp"
#include "engine/functional.hpp"
#include "engine/json_limits.hpp"
#include "engine/keras1.hpp"
#include "engine/layer_spec.hpp"
#include "engine/model_impl.hpp"
#include "engine/subclassed.hpp"
#include "lamina/errors.hpp"
#include "lamina/models.hpp"

namespace lamina {

namespace {

using json = nlohmann::json;

json shape_json(const Shape& s) {
  json j = json::array();
  for (auto d : s) j.push_back(d < 0 ? json(nullptr) : json(d));
  return j;
}

json dtype_policy(const std::string& name) {
  return {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", name}}},
          {"registered_name", nullptr}};
}

// Keras 3 writes a layer's dtype as a DTypePolicy object (an InputLayer's as a plain string).
json with_dtype_policy(json config) {
  if (config.contains("dtype") && config["dtype"].is_string())
    config["dtype"] = dtype_policy(config["dtype"].get<std::string>());
  return config;
}

// The input shapes a layer was first called on, from its entry in the model config: Keras's
// build_config for merge layers lists every input's shape.
json list_input_shapes(const json& entry) {
  json shapes = json::array();
  if (!entry.contains("inbound_nodes") || entry["inbound_nodes"].empty()) return nullptr;
  const json& args = entry["inbound_nodes"][0].at("args");
  if (args.empty() || !args[0].is_array()) return nullptr;
  for (const json& kt : args[0]) shapes.push_back(kt.at("config").at("shape"));
  return shapes;
}

json serialize_model_impl(const ModelImpl& model);

// One layer as Keras 3 serializes it. `entry` is the layer's entry in its model's get_config().
json serialize_layer(const Layer& layer, const json& entry) {
  if (const auto* nested = dynamic_cast<const ModelImpl*>(&layer)) return serialize_model_impl(*nested);
  const std::string cls = layer.class_name();
  // A class lamina implements is written as Keras writes it; any other is a user's
  // (register_layer), written as Keras writes custom objects.
  const auto spec = engine::find_layer_spec(cls);
  const bool keras = spec && !spec->keras_module.empty();
  json out = {{"module", keras ? json(spec->keras_module) : json(nullptr)},
              {"class_name", cls},
              {"config", cls == "InputLayer" ? entry.at("config") : with_dtype_policy(entry.at("config"))},
              {"registered_name", keras ? json(nullptr) : json(cls)}};
  if (layer.built() && spec && !spec->positional_inputs.empty() && entry.contains("inbound_nodes") &&
      !entry["inbound_nodes"].empty()) {
    // build(query_shape, value_shape, key_shape=None): Keras's build_config names each shape.
    json shapes = json::object();
    const json& args = entry["inbound_nodes"][0].at("args");
    for (std::size_t i = 0; i < args.size() && i < spec->positional_inputs.size(); ++i)
      shapes[spec->positional_inputs[i] + "_shape"] = args[i].at("config").at("shape");
    out["build_config"] = {{"shapes_dict", shapes}};
  } else if (layer.built() && (!spec || spec->build_config)) {
    json shapes = layer.takes_list() ? list_input_shapes(entry) : json(nullptr);
    out["build_config"] = {{"input_shape", shapes.is_null() ? shape_json(layer.input_shape()) : shapes}};
  }
  return out;
}

// Keras 3's form of a registered subclassed model: its object's get_config() under its
// registered name, and the input shape it was built for.
json serialize_subclassed(const SubclassedImpl& model) {
  if (!model.owner)
    throw ValueError("subclassed model '" + model.name() + "': the object that defines it no longer exists");
  const engine::ModelRegistration* reg = engine::registration_of(*model.owner);
  if (!reg)
    throw ValueError("subclassed model '" + model.name() + "' (class " + model.class_name() +
                     ") is not registered: register it with register_model<" + model.class_name() +
                     ">(\"" + model.class_name() + "\") (Keras's register_keras_serializable) to save "
                     "its architecture, or save its weights with save_weights");
  json out = {{"module", nullptr}, {"class_name", reg->class_name},
              {"config", with_dtype_policy(model.owner->get_config())},
              {"registered_name", reg->registered_name}};
  if (model.built()) out["build_config"] = {{"input_shape", shape_json(model.input_shape())}};
  return out;
}

json serialize_model_impl(const ModelImpl& model) {
  if (const auto* sub = dynamic_cast<const SubclassedImpl*>(&model)) return serialize_subclassed(*sub);
  json config = model.get_config();
  const bool functional = dynamic_cast<const FunctionalImpl*>(&model) != nullptr;
  // The config's layer entries, paired with the layer objects they describe.
  std::vector<std::shared_ptr<Layer>> objects;
  if (!functional && model.input_layer) objects.push_back(model.input_layer);
  for (const auto& l : model.stack) objects.push_back(l);
  json& entries = config.at("layers");
  if (entries.size() != objects.size())
    throw ValueError(model.class_name() + " '" + model.name() + "': its config lists " +
                     std::to_string(entries.size()) + " layers for " +
                     std::to_string(objects.size()) + " layer objects");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    json serialized = serialize_layer(*objects[i], entries[i]);
    // Functional entries keep their "name" and "inbound_nodes" next to the serialized object.
    for (const char* key : {"name", "inbound_nodes"})
      if (entries[i].contains(key)) serialized[key] = entries[i][key];
    entries[i] = std::move(serialized);
  }
  config["dtype"] = dtype_policy(model.dtype_policy().name());
  if (functional) {
    config.erase("dtype");  // Keras 3's Functional config carries none
    return {{"module", "keras.src.models.functional"}, {"class_name", "Functional"},
            {"config", config}, {"registered_name", "Functional"},
            {"build_config", {{"input_shape", nullptr}}}};
  }
  json out = {{"module", "keras"}, {"class_name", "Sequential"}, {"config", config},
              {"registered_name", nullptr}};
  Shape in = model.known_input_shape();
  if (!in.empty()) {
    out["config"]["build_input_shape"] = shape_json(in);
    out["build_config"] = {{"input_shape", shape_json(in)}};
  }
  return out;
}

}  // namespace

namespace io {

void set_plain_call_kwargs(json& model_config) {
  if (model_config.is_array()) {
    for (json& v : model_config) set_plain_call_kwargs(v);
    return;
  }
  if (!model_config.is_object()) return;
  if (model_config.contains("inbound_nodes") && model_config["inbound_nodes"].is_array() &&
      model_config.contains("class_name") && model_config["class_name"].is_string()) {
    // Keras 3's Layer.__call__ (keras/src/layers/layer.py, steps 5 and 6) adds these to a plain
    // call's kwargs; the class declares which (engine::LayerSpec::call_kwargs).
    const auto spec = engine::find_layer_spec(model_config["class_name"].get<std::string>());
    const json plain = spec ? spec->call_kwargs : json::object();
    for (json& node : model_config["inbound_nodes"]) {
      if (!node.is_object() || !node.contains("args")) continue;
      json& kwargs = node["kwargs"];
      if (!kwargs.is_object()) kwargs = json::object();
      // A call given more tensors (initial_state=...) keeps them; Keras adds a mask only when
      // call() got a single tensor argument.
      const bool more_tensors = !kwargs.empty();
      for (const auto& [key, value] : plain.items())
        if (!kwargs.contains(key) && !(key == "mask" && more_tensors)) kwargs[key] = value;
    }
  }
  for (const char* key : {"config", "layers"})
    if (model_config.contains(key)) set_plain_call_kwargs(model_config[key]);
}

json serialize_model(const Model& model) {
  json out = serialize_model_impl(model.impl());
  set_plain_call_kwargs(out);
  if (model.impl().compiled) out["compile_config"] = compile_config(model);
  return out;
}

json compile_config(const Model& model) {
  const json training = training_config(model);
  return {{"optimizer", optimizers::serialize(*model.optimizer())},
          {"loss", training.at("loss")},
          {"loss_weights", training.at("loss_weights")},
          {"metrics", training.at("metrics")},
          {"weighted_metrics", nullptr},
          {"run_eagerly", false},
          {"steps_per_execution", 1},
          {"jit_compile", false}};
}

bool apply_compile_config(Model& model, const json& config, const std::string& file) {
  if (config.is_null() || (config.is_object() && config.empty())) return false;
  if (!config.is_object()) {
    std::cerr << "lamina: " << file << ": compile_config is not a JSON object; the model is loaded uncompiled\n";
    return false;
  }
  // Keras 3's compile_config is training_config with the optimizer serialized under "optimizer".
  json training = config;
  training.erase("optimizer");
  if (config.contains("optimizer") && !config["optimizer"].is_null()) training["optimizer_config"] = config["optimizer"];
  return apply_training_config(model, training, file);
}

Model model_from_file_config(const json& config, const std::string& source,
                             const std::string& keras_version) {
  const int major = keras_version.empty() ? 0 : (keras_version[0] == '3' ? 3 : 2);
  if (engine::is_keras1_version(keras_version))
    throw FileFormatError(source + ": " + engine::keras1_refusal("keras_version " + keras_version));
  try {
    return engine::model_from_config(config, major);
  } catch (const Error& e) {
    throw FileFormatError(source + ": " + e.what());
  } catch (const json::exception& e) {
    throw FileFormatError(source + ": malformed model config (" + e.what() + ")");
  }
}

}  // namespace io

std::string Model::to_json(int indent) const { return io::serialize_model(*this).dump(indent); }

namespace models {

namespace {

Model model_from_json_text(const std::string& text) {
  std::string error;
  json parsed = engine::parse_bounded_json(text, error);
  if (parsed.is_discarded()) throw ValueError("model_from_json: " + error);
  if (!parsed.is_object() || !parsed.contains("class_name") || !parsed.contains("config"))
    throw ValueError(
        "model_from_json: expected a model's JSON {\"class_name\": ..., \"config\": ...} as "
        "to_json writes it");
  try {
    return engine::model_from_config(parsed, 0);
  } catch (const json::exception& e) {
    throw ValueError(std::string("model_from_json: malformed model config (") + e.what() + ")");
  }
}

}  // namespace

Model model_from_json(const std::string& text) {
  return io::guard_load<ValueError>("model_from_json", [&] { return model_from_json_text(text); });
}

Model clone_model(const Model& model) {
  // Keras 3's clone_model rebuilds each layer from its config (names kept) and rewires the graph;
  // the serialized architecture is exactly that, and covers the registered subclassed models
  // that Keras clones through serialization too.
  return io::guard_load<ValueError>("clone_model", [&] { return engine::model_from_config(io::serialize_model(model), 0); });
}

}  // namespace models
}  // namespace lamina
