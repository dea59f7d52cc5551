// Rebuilding models from their Keras configs: the layer registry and Model::from_config.
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "engine/config.hpp"
#include "engine/functional.hpp"
#include "lamina/errors.hpp"
#include "lamina/layers/core.hpp"
#include "lamina/layers/merge.hpp"
#include "lamina/model.hpp"

namespace lamina {

namespace {

using json = nlohmann::json;
using engine::initializer_of;
using engine::name_of;

template <class Handle>
std::shared_ptr<Layer> ptr_of(const Handle& h) {
  return h.ptr();
}

std::map<std::string, LayerFactory> builtin_factories() {
  std::map<std::string, LayerFactory> f;
  f["Dense"] = [](const json& c) {
    return ptr_of(layers::Dense(c.at("units").get<std::int64_t>(),
                                {.activation = c.value("activation", std::string("linear")),
                                 .use_bias = c.value("use_bias", true),
                                 .kernel_initializer = initializer_of(c, "kernel_initializer", "glorot_uniform"),
                                 .bias_initializer = initializer_of(c, "bias_initializer", "zeros"),
                                 .name = name_of(c)}));
  };
  f["Activation"] = [](const json& c) {
    return ptr_of(layers::Activation(c.at("activation").get<std::string>(), name_of(c)));
  };
  f["Dropout"] = [](const json& c) { return ptr_of(layers::Dropout(c.at("rate").get<double>(), name_of(c))); };
  f["Flatten"] = [](const json& c) { return ptr_of(layers::Flatten(name_of(c))); };
  f["Reshape"] = [](const json& c) {
    return ptr_of(layers::Reshape(Shape(c.at("target_shape").get<std::vector<std::int64_t>>()), name_of(c)));
  };
  f["Add"] = [](const json& c) { return ptr_of(layers::Add(name_of(c))); };
  f["Subtract"] = [](const json& c) { return ptr_of(layers::Subtract(name_of(c))); };
  f["Multiply"] = [](const json& c) { return ptr_of(layers::Multiply(name_of(c))); };
  f["Average"] = [](const json& c) { return ptr_of(layers::Average(name_of(c))); };
  f["Maximum"] = [](const json& c) { return ptr_of(layers::Maximum(name_of(c))); };
  f["Minimum"] = [](const json& c) { return ptr_of(layers::Minimum(name_of(c))); };
  f["Concatenate"] = [](const json& c) { return ptr_of(layers::Concatenate(c.value("axis", -1), name_of(c))); };
  f["Dot"] = [](const json& c) {
    const json& axes = c.at("axes");
    layers::DotOptions o{.normalize = c.value("normalize", false), .name = name_of(c)};
    if (axes.is_array()) return ptr_of(layers::Dot(std::pair{axes[0].get<int>(), axes[1].get<int>()}, o));
    return ptr_of(layers::Dot(axes.get<int>(), o));
  };
  return f;
}

std::mutex g_registry_mutex;
std::map<std::string, LayerFactory>& registry() {
  static std::map<std::string, LayerFactory> r = builtin_factories();
  return r;
}

KerasTensor input_from_config(const json& c) {
  // Keras 3 writes batch_shape, Keras 2 batch_input_shape.
  const json& batch = c.contains("batch_shape") ? c.at("batch_shape") : c.at("batch_input_shape");
  Shape shape;
  for (std::size_t i = 1; i < batch.size(); ++i) shape.push_back(batch[i].is_null() ? -1 : batch[i].get<std::int64_t>());
  layers::InputOptions o;
  o.name = name_of(c);
  o.dtype = dtype_from_name(c.value("dtype", std::string("float32")));
  if (!batch.empty() && !batch[0].is_null()) o.batch_size = batch[0].get<std::int64_t>();
  return layers::Input(shape, o);
}

// A layer entry of a model config: a nested model or a registered layer.
std::shared_ptr<Layer> layer_of(const json& entry) {
  const std::string cls = entry.at("class_name").get<std::string>();
  if (cls == "Functional" || cls == "Sequential" || cls == "Model")
    return Model::from_config(entry.at("config")).impl_ptr();
  return layer_from_config(cls, entry.at("config"));
}

Model sequential_from_config(const json& config) {
  Sequential model(name_of(config));
  for (const json& entry : config.at("layers")) {
    if (entry.at("class_name") == "InputLayer") model.add(input_from_config(entry.at("config")));
    else model.add(layer_of(entry));
  }
  return model;
}

}  // namespace

void register_layer(const std::string& class_name, LayerFactory factory) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  registry()[class_name] = std::move(factory);
}

std::shared_ptr<Layer> layer_from_config(const std::string& class_name, const json& config) {
  LayerFactory factory;
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto it = registry().find(class_name);
    if (it == registry().end())
      throw ValueError("unknown layer class '" + class_name + "' (layer '" + name_of(config) +
                       "'); register it with lamina::register_layer");
    factory = it->second;
  }
  auto layer = factory(config);
  if (config.contains("trainable")) layer->set_trainable(config["trainable"].get<bool>());
  return layer;
}

Model Model::from_config(const json& given) {
  // Accept to_json()'s wrapper {"class_name": "Functional", "config": {...}} as well.
  const json& config = given.contains("class_name") && given.contains("config") ? given.at("config") : given;
  if (!config.contains("input_layers")) return sequential_from_config(config);
  const std::string model_name = name_of(config);
  // Each layer's outputs in call order: keras_history [layer, node_index, tensor_index] points here.
  std::map<std::string, std::vector<KerasTensor>> outputs;
  std::map<std::string, std::shared_ptr<Layer>> made;
  struct Pending {
    std::string layer;
    const json* node;
  };
  std::vector<Pending> pending;
  for (const json& entry : config.at("layers")) {
    const std::string name = entry.contains("name") ? entry["name"].get<std::string>() : name_of(entry.at("config"));
    if (entry.at("class_name") == "InputLayer") {
      outputs[name].push_back(input_from_config(entry.at("config")));
      continue;
    }
    made[name] = layer_of(entry);
    for (const json& node : entry.at("inbound_nodes")) pending.push_back({name, &node});
  }
  // keras_history [layer, node_index, tensor_index] of each tensor a node reads: Keras 3 writes
  // {"args": [tensor or [tensors]], "kwargs"}, with tensors as __keras_tensor__ objects; Keras 2
  // writes the node as [[layer, node_index, tensor_index, kwargs], ...].
  auto histories_of = [](const json& node) {
    std::vector<json> out;
    if (node.is_array()) {
      for (const json& h : node) out.push_back(h);
      return out;
    }
    const json& arg = node.at("args").at(0);
    if (arg.is_array())
      for (const json& kt : arg) out.push_back(kt.at("config").at("keras_history"));
    else
      out.push_back(arg.at("config").at("keras_history"));
    return out;
  };
  auto resolve = [&](const json& h, bool& ready) -> KerasTensor {
    auto it = outputs.find(h.at(0).get<std::string>());
    const auto index = h.at(1).get<std::size_t>();
    if (it == outputs.end() || index >= it->second.size()) {
      ready = false;
      return {};
    }
    return it->second[index];
  };
  // Keras's order: a node runs once every tensor it reads exists; a pass that makes no progress
  // means a connection to a layer or node that is not in the config.
  while (!pending.empty()) {
    bool progress = false;
    for (auto it = pending.begin(); it != pending.end();) {
      // A layer's nodes must run in their own order.
      bool ready = true;
      for (auto jt = pending.begin(); jt != it; ++jt) ready &= jt->layer != it->layer;
      std::vector<KerasTensor> in;
      if (ready)
        for (const json& h : histories_of(*it->node)) in.push_back(resolve(h, ready));
      if (!ready || in.empty()) {
        ++it;
        continue;
      }
      Layer& layer = *made[it->layer];
      outputs[it->layer].push_back(layer.takes_list() ? layer(in) : layer(in[0]));
      it = pending.erase(it);
      progress = true;
    }
    if (!progress)
      throw ValueError("Model.from_config '" + model_name + "': layer '" + pending.front().layer +
                       "' reads a tensor that no layer in the config produces");
  }
  auto io = [&](const json& list, const char* what) {
    std::vector<KerasTensor> ts;
    for (const json& h : list) {
      auto it = outputs.find(h[0].get<std::string>());
      const auto index = h[1].get<std::size_t>();
      if (it == outputs.end() || index >= it->second.size())
        throw ValueError("Model.from_config '" + model_name + "': " + what + " '" +
                         h[0].get<std::string>() + "' is not a layer of the config");
      ts.push_back(it->second[index]);
    }
    return ts;
  };
  return Model(io(config.at("input_layers"), "input"), io(config.at("output_layers"), "output"), model_name);
}

}  // namespace lamina
