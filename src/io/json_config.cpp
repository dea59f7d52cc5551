// SPDX-License-Identifier: Apache-2.0
// Models as Keras JSON: Model::to_json (Keras 3's serialization) and models::model_from_json.
#include "io/json_config.hpp"

#include <iostream>
#include <set>

#include "io/load_guard.hpp"
#include "io/training_config.hpp"

#include "engine/config.hpp"
#include "engine/functional.hpp"
#include "engine/json_limits.hpp"
#include "engine/model_impl.hpp"
#include "engine/subclassed.hpp"
#include "lamina/errors.hpp"
#include "lamina/models.hpp"

namespace lamina {

namespace {

using json = nlohmann::json;

// Classes of keras.layers: written with "module": "keras.layers" and no registered name. Any other
// class is a user's (register_layer) and is written as Keras writes custom objects.
bool is_keras_layer(const std::string& cls) {
  static const std::set<std::string> known = {
      "InputLayer", "Dense", "EinsumDense", "Activation", "Dropout", "SpatialDropout1D",
      "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
      "Flatten", "Reshape", "Permute", "RepeatVector", "Cropping1D", "Cropping2D", "Cropping3D",
      "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "UpSampling1D", "UpSampling2D",
      "UpSampling3D", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
      "Concatenate", "Dot", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
      "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
      "SeparableConv2D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
      "AveragePooling2D", "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
      "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
      "GlobalAveragePooling3D", "BatchNormalization", "LayerNormalization", "GroupNormalization",
      "UnitNormalization", "RMSNormalization", "Embedding", "SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell",
      "GRUCell", "RNN", "StackedRNNCells", "Bidirectional", "TimeDistributed", "ConvLSTM1D",
      "ConvLSTM2D", "ConvLSTM3D", "Attention", "AdditiveAttention", "MultiHeadAttention",
      "GroupQueryAttention", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU", "Masking",
      "Identity", "ActivityRegularization", "Rescaling", "Normalization", "Resizing",
      "CenterCrop"};
  return known.count(cls) > 0;
}

// Keras records build_config only for layers that override build(); layers built at
// construction (weightless ones without a build step) have none.
bool writes_build_config(const std::string& cls) {
  static const std::set<std::string> prebuilt = {
      "InputLayer", "Dropout", "Activation", "GaussianNoise", "GaussianDropout", "AlphaDropout",
      "ActivityRegularization", "ReLU", "LeakyReLU", "ELU", "Softmax", "MaxPooling1D",
      "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
      "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D",
      "GlobalAveragePooling2D", "GlobalAveragePooling3D", "Identity", "Masking", "UnitNormalization",
      "ThresholdedReLU"};
  return prebuilt.count(cls) == 0;
}

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

// Keras 3's Layer.__call__ (keras/src/layers/layer.py, steps 5 and 6) adds to a plain call's
// kwargs `training` when call()'s default for it is not None, and `mask` (the upstream mask, null
// without one) when call() takes a `mask` and a single tensor argument.
json plain_call_kwargs(const std::string& cls) {
  // call(self, inputs, training=False)
  static const std::set<std::string> training_false = {
      "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
      "GaussianDropout", "AlphaDropout"};
  // call(self, sequences, initial_state=None, mask=None, training=False)
  static const std::set<std::string> recurrent = {"SimpleRNN", "LSTM", "GRU", "RNN"};
  // call(self, inputs, training=None, mask=None) and the like
  static const std::set<std::string> mask_only = {
      "BatchNormalization", "Bidirectional", "TimeDistributed", "GlobalAveragePooling1D",
      "Softmax", "Sequential", "Functional", "Model"};
  json kwargs = json::object();
  if (training_false.count(cls) || recurrent.count(cls)) kwargs["training"] = false;
  if (mask_only.count(cls) || recurrent.count(cls)) kwargs["mask"] = nullptr;
  return kwargs;
}

json serialize_model_impl(const ModelImpl& model);

// One layer as Keras 3 serializes it. `entry` is the layer's entry in its model's get_config().
json serialize_layer(const Layer& layer, const json& entry) {
  if (const auto* nested = dynamic_cast<const ModelImpl*>(&layer)) return serialize_model_impl(*nested);
  const std::string cls = layer.class_name();
  const bool keras = is_keras_layer(cls);
  json out = {{"module", keras ? json("keras.layers") : json(nullptr)},
              {"class_name", cls},
              {"config", cls == "InputLayer" ? entry.at("config") : with_dtype_policy(entry.at("config"))},
              {"registered_name", keras ? json(nullptr) : json(cls)}};
  if (layer.built() && cls == "MultiHeadAttention" && entry.contains("inbound_nodes") &&
      !entry["inbound_nodes"].empty()) {
    // build(query_shape, value_shape, key_shape=None): Keras's build_config names each shape.
    json shapes = json::object();
    const char* names[] = {"query_shape", "value_shape", "key_shape"};
    const json& args = entry["inbound_nodes"][0].at("args");
    for (std::size_t i = 0; i < args.size() && i < 3; ++i) shapes[names[i]] = args[i].at("config").at("shape");
    out["build_config"] = {{"shapes_dict", shapes}};
  } else if (layer.built() && writes_build_config(cls)) {
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
    const json plain = plain_call_kwargs(model_config["class_name"].get<std::string>());
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

}  // namespace models
}  // namespace lamina
