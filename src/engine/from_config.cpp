// SPDX-License-Identifier: Apache-2.0
// Rebuilding models from their Keras configs, in Keras 3's dialect and Keras 2's:
// Model::from_config over the layer registry (engine/layer_spec.hpp).
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/json_int.hpp"
#include "engine/config.hpp"
#include "engine/json_limits.hpp"
#include "engine/keras1.hpp"
#include "engine/layer_spec.hpp"
#include "engine/subclassed.hpp"
#include "lamina/errors.hpp"
#include "lamina/input.hpp"
#include "lamina/model.hpp"

namespace lamina {

namespace {

using json = nlohmann::json;
using engine::name_of;

// A layer config's "dtype" as a policy name: a name, Keras 3's {"class_name": "DTypePolicy",
// "config": {"name": ...}} (FloatDTypePolicy before 3.4) or Keras 2's {"class_name": "Policy", ...};
// quantized policies and anything else are refused naming the layer, the key and the value.
std::string policy_name_of(const json& dtype, const std::string& who) {
  if (dtype.is_string()) return dtype.get<std::string>();
  std::string policy_class;
  if (dtype.is_object() && dtype.contains("class_name") && dtype["class_name"].is_string())
    policy_class = dtype["class_name"].get<std::string>();
  const bool known = policy_class == "DTypePolicy" || policy_class == "FloatDTypePolicy" || policy_class == "Policy";
  if (!known || !dtype.contains("config") || !dtype["config"].is_object() || !dtype["config"].contains("name") ||
      !dtype["config"]["name"].is_string())
    throw ValueError(who + ": dtype=" + dtype.dump() +
                     " is not a dtype policy lamina reads (a name, or Keras's DTypePolicy or Policy object)");
  return dtype["config"]["name"].get<std::string>();
}

// The last steps of make_layer: the config's name and trainable flag.
std::shared_ptr<Layer> finish_layer(const std::shared_ptr<Layer>& layer, const json& config, const std::string& who) {
  if (!layer) throw ValueError(who + ": its registered factory returned no layer");
  if (const std::string name = name_of(config); !name.empty() && layer->name() != name) layer->set_name(name);
  if (config.contains("trainable") && config["trainable"].is_boolean())
    layer->set_trainable(config["trainable"].get<bool>());
  return layer;
}

std::shared_ptr<Layer> make_layer(const std::string& cls, const std::string& registered, const json& config) {
  LayerFactory factory = engine::find_layer_factory(cls, registered);
  const std::string who = cls + " '" + name_of(config) + "'";
  const engine::ConfigNesting nesting(who);  // wrappers come back here for the layers they wrap
  if (!factory) {
    if (cls == "Lambda")
      throw ValueError("Lambda layer '" + name_of(config) +
                       "' holds Python code, which lamina does not run (Keras refuses it too in "
                       "safe_mode); rebuild that part in C++ or register a replacement with "
                       "lamina::register_layer(\"Lambda\", ...)");
    throw ValueError("unknown layer class '" + cls + "'" +
                     (registered.empty() || registered == cls ? "" : " (registered as '" + registered + "')") +
                     " (layer '" + name_of(config) + "'); register it with lamina::register_layer");
  }
  std::shared_ptr<Layer> layer;
  try {
    layer = factory(config);  // first: its message about a missing or malformed key says more
    engine::check_config_keys(cls, config);
    // Keras's `dtype`: a policy name (normalized() unwrapped the policy objects); absent or null,
    // the global policy the layer took when it was made.
    if (layer && config.contains("dtype") && !config["dtype"].is_null()) {
      const std::string policy = policy_name_of(config["dtype"], who);
      // The categorical preprocessing layers' integer "dtype" is their output's, which their
      // factories read: no policy computes in integers.
      static const std::set<std::string> output_dtype = {"Discretization", "CategoryEncoding", "IntegerLookup", "Hashing"};
      if (output_dtype.count(cls) && (policy == "int32" || policy == "int64")) return finish_layer(layer, config, who);
      try {
        layer->set_dtype_policy(DTypePolicy(policy));
      } catch (const ValueError& e) {
        throw ValueError(who + ": dtype='" + policy + "': " + e.what());
      }
    }
  } catch (const json::exception& e) {
    throw ValueError(who + ": malformed config (" + e.what() + ")");
  } catch (const Error& e) {
    const std::string what = e.what();
    // Messages that already name the layer ('dense_1') keep their own wording.
    throw ValueError(what.find("'" + name_of(config) + "'") != std::string::npos ? what : who + ": " + what);
  }
  return finish_layer(layer, config, who);
}

std::string string_or_empty(const json& entry, const char* key) {
  return entry.contains(key) && entry[key].is_string() ? entry[key].get<std::string>() : std::string();
}

// --- dialects ------------------------------------------------------------------------------------

// Keras 2 marks itself by batch_input_shape, list-style inbound nodes, the class "Model" or a
// Sequential written as a bare list; a config with none of them reads as Keras 3's.
bool looks_like_keras2(const json& j) {
  if (j.is_object()) {
    if (j.contains("batch_input_shape")) return true;
    if (j.value("class_name", json()) == "Model") return true;
    if (j.contains("config") && j["config"].is_array()) return true;
    if (j.contains("inbound_nodes") && j["inbound_nodes"].is_array())
      for (const auto& node : j["inbound_nodes"])
        if (node.is_array()) return true;
    for (const auto& [k, v] : j.items())
      if ((v.is_object() || v.is_array()) && looks_like_keras2(v)) return true;
  } else if (j.is_array()) {
    for (const auto& v : j)
      if (looks_like_keras2(v)) return true;
  }
  return false;
}

json normalized(const std::string& cls, json config, int keras_major);

// A layer held inside another layer's config as {"class_name", "config"} (a wrapper's layer, an
// RNN's cell, the layers of a nested model), normalised like a top-level one: a Keras 2
// Bidirectional(LSTM(recurrent_activation="hard_sigmoid")) means Keras 2's formula too.
void normalize_nested(json& config, int keras_major) {
  auto entry = [&](json& e) {
    if (e.is_object() && e.contains("class_name") && e["class_name"].is_string() && e.contains("config") &&
        (e["config"].is_object() || e["config"].is_array()))
      e["config"] = normalized(e["class_name"].get<std::string>(), e["config"], keras_major);
  };
  for (const char* key : {"layer", "backward_layer", "cell"})
    if (config.contains(key)) entry(config[key]);
  for (const char* key : {"cells", "layers"})
    if (config.contains(key) && config[key].is_array())
      for (json& e : config[key]) entry(e);
}

// One layer's config in the form the factories read: dtype and activations as plain names, and
// Keras 2's meanings made explicit (its "hard_sigmoid" is 0.2·x + 0.5, Keras 3's is x/6 + 0.5;
// its GRU without "reset_after" predates the key, whose default was then False), in nested
// layers as well. Idempotent: a config normalised twice reads the same.
json normalized(const std::string& cls, json config, int keras_major) {
  if (config.is_array()) {  // a Keras <= 2.2.2 Sequential nested in a model
    for (json& e : config)
      if (e.is_object() && e.contains("class_name") && e.contains("config"))
        e["config"] = normalized(e["class_name"].get<std::string>(), e["config"], keras_major);
    return config;
  }
  if (!config.is_object()) throw ValueError("a layer config must be a JSON object, got " + config.dump());
  if (config.contains("dtype") && !config["dtype"].is_null())
    config["dtype"] = policy_name_of(config["dtype"], cls + " '" + name_of(config) + "'");
  for (const char* key : {"activation", "recurrent_activation"}) {
    if (!config.contains(key)) continue;
    json& a = config[key];
    // Objects standing for a named activation become that name; others stay for the layer's
    // factory to refuse by name.
    if (a.is_object())
      if (const auto name = engine::activation_name(a)) a = *name;
    if (keras_major == 2 && a == "hard_sigmoid") a = "hard_sigmoid_keras2";
  }
  if (keras_major == 2)
    if (const auto spec = engine::find_layer_spec(cls))
      for (const auto& [key, value] : spec->keras2_defaults.items())
        if (!config.contains(key)) config[key] = value;
  normalize_nested(config, keras_major);
  return config;
}

KerasTensor input_from_config(const json& c) {
  // Keras 3 writes batch_shape, Keras 2 batch_input_shape.
  const json& batch = c.contains("batch_shape") ? c.at("batch_shape") : c.at("batch_input_shape");
  Shape shape;
  for (std::size_t i = 1; i < batch.size(); ++i) shape.push_back(batch[i].is_null() ? -1 : json_int<std::int64_t>(batch[i]));
  InputOptions o;
  o.name = name_of(c);
  o.dtype = dtype_from_name(c.value("dtype", std::string("float32")));
  if (!batch.empty() && !batch[0].is_null()) o.batch_size = json_int<std::int64_t>(batch[0]);
  return Input(shape, o);
}

Model model_of(const json& given, int keras_major);

// --- refusals before anything is built ------------------------------------------------------------

// Keras 1's layer classes that Keras 2 renamed or removed, and config keys only Keras 1 wrote.
const std::set<std::string> kKeras1Classes = {
    "Convolution1D", "Convolution2D", "Convolution3D", "AtrousConvolution1D", "AtrousConvolution2D",
    "Deconvolution2D", "SeparableConvolution2D", "Merge", "MaxoutDense", "Highway", "TimeDistributedDense"};
// Config keys only Keras 1 wrote, with what Keras 2 calls them.
const std::map<std::string, std::string> kKeras1Keys = {
    {"output_dim", "units"},          {"nb_filter", "filters"},          {"nb_row", "kernel_size"},
    {"nb_col", "kernel_size"},        {"border_mode", "padding"},        {"subsample", "strides"},
    {"dim_ordering", "data_format"},  {"W_regularizer", "kernel_regularizer"}, {"input_dtype", "dtype"}};

// What a model config holds that lamina cannot build: the layers of unknown classes, and the
// first sign of Keras 1.
// Keras 3 records the operations (keras.ops) that a functional model applies to symbolic tensors as
// nodes of their own, of module "keras.src.ops.<family>": Embedding(mask_zero)'s NotEqual, Masking's
// NotEqual and Any, a merge's ExpandDims, LogicalOr and Concatenate (not the layer of that name).
bool is_keras_operation(const json& entry) {
  const std::string module = entry.is_object() ? string_or_empty(entry, "module") : std::string();
  return module.rfind("keras.src.ops.", 0) == 0 || module.rfind("keras.ops", 0) == 0;
}

// Every __keras_tensor__ inside a Keras 3 call's args, in order.
void collect_keras_tensors(const json& j, std::vector<json>& out) {
  if (j.is_object() && j.value("class_name", std::string()) == "__keras_tensor__") {
    out.push_back(j.at("config").at("keras_history"));
  } else if (j.is_array()) {
    for (const json& v : j) collect_keras_tensors(v, out);
  }
}

// The layers whose keras_history a part of a Keras 3 node names: the whole node, or only its
// `mask` keyword, or all but that keyword.
enum class NodePart { all, mask, all_but_mask };
std::vector<std::string> layers_read(const json& node, NodePart part) {
  std::vector<json> found;
  if (node.is_array()) {
    if (part != NodePart::mask)
      for (const json& h : node) found.push_back(h);
  } else if (node.is_object()) {
    if (part != NodePart::mask && node.contains("args")) collect_keras_tensors(node["args"], found);
    if (node.contains("kwargs") && node["kwargs"].is_object())
      for (const auto& [key, value] : node["kwargs"].items()) {
        const bool wanted = part == NodePart::all || (part == NodePart::mask) == (key == "mask");
        if (wanted) collect_keras_tensors(value, found);
      }
  }
  std::vector<std::string> names;
  for (const json& h : found)
    if (h.is_array() && !h.empty() && h[0].is_string()) names.push_back(h[0].get<std::string>());
  return names;
}

std::string entry_name(const json& entry) {
  return entry.contains("name") && entry["name"].is_string() ? entry["name"].get<std::string>()
                                                               : name_of(entry.at("config"));
}

// The layers of a functional config that only compute masks. Keras 3 hands each layer the mask of
// its input as the call's `mask` keyword and records the keras.ops of compute_mask that made it as
// nodes (in a .keras file with module "keras.src.ops.*", in a legacy .h5 without a module, where
// such a Concatenate looks like the layer). They are found by how they are used: what only `mask`
// keywords read, directly or through other such nodes, and the model does not output. lamina
// propagates masks itself (Layer::compute_mask, Keras's rules), so it leaves them out.
std::set<std::string> mask_only_layers(const json& config) {
  std::set<std::string> candidates, outputs;
  std::map<std::string, std::set<std::string>> read_as_data;  // layer -> the layers reading it as data
  std::set<std::string> read_as_mask;
  if (!config.is_object() || !config.contains("layers") || !config["layers"].is_array()) return {};
  for (const json& entry : config["layers"]) {
    if (!entry.is_object() || !entry.contains("config")) continue;
    const std::string name = entry_name(entry);
    if (entry.value("class_name", std::string()) != "InputLayer") candidates.insert(name);
    if (!entry.contains("inbound_nodes") || !entry["inbound_nodes"].is_array()) continue;
    for (const json& node : entry["inbound_nodes"]) {
      for (const std::string& read : layers_read(node, NodePart::all_but_mask)) read_as_data[read].insert(name);
      for (const std::string& read : layers_read(node, NodePart::mask)) read_as_mask.insert(read);
    }
  }
  std::function<void(const json&)> collect = [&](const json& spec) {
    if (spec.is_array() && !spec.empty() && spec[0].is_string()) outputs.insert(spec[0].get<std::string>());
    else if (spec.is_array() || spec.is_object())
      for (const auto& item : spec) collect(item);
  };
  if (config.contains("output_layers")) collect(config["output_layers"]);
  std::set<std::string> mask_only;
  for (const std::string& name : candidates)
    if (!outputs.count(name) && (read_as_mask.count(name) || read_as_data.count(name))) mask_only.insert(name);
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = mask_only.begin(); it != mask_only.end();) {
      bool data = false;
      for (const std::string& reader : read_as_data[*it]) data |= !mask_only.count(reader);
      if (data) {
        it = mask_only.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
  }
  return mask_only;
}

struct Unreadable {
  std::vector<std::string> unknown;  ///< "Foo 'foo_1'"
  std::string keras1;                ///< "Dense 'dense_1' uses Keras 1's key 'output_dim' (Keras 2: 'units')"
};

void scan_layers(const json& entries, Unreadable& found);

// One {"class_name", "config"} entry, with the layers it holds (those normalize_nested visits).
void scan_entry(const json& entry, Unreadable& found) {
  if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string()) return;
  const std::string cls = entry["class_name"].get<std::string>();
  const json& config = entry.contains("config") ? entry["config"] : json();
  if (cls == "Sequential" || cls == "Functional" || cls == "Model") {
    const json layers = config.is_array() ? config : config.is_object() ? config.value("layers", json::array()) : json();
    const std::set<std::string> masks = mask_only_layers(config);
    if (layers.is_array())
      for (const json& e : layers)
        if (!e.is_object() || !e.contains("config") || !masks.count(entry_name(e))) scan_entry(e, found);
    return;
  }
  if (cls == "InputLayer" || !config.is_object() || is_keras_operation(entry)) return;  // operations: mask_operations
  const std::string who = cls + " '" + name_of(config) + "'";
  const bool known = engine::find_layer_factory(cls, string_or_empty(entry, "registered_name")) != nullptr;
  if (found.keras1.empty()) {
    if (!known && kKeras1Classes.count(cls)) found.keras1 = who + " is of Keras 1's class " + cls;
    for (const auto& [key, value] : config.items()) {
      const auto it = kKeras1Keys.find(key);
      if (found.keras1.empty() && it != kKeras1Keys.end() && !(key == "output_dim" && cls == "Embedding"))
        found.keras1 = who + " uses Keras 1's key '" + key + "' (Keras 2: '" + it->second + "')";
    }
  }
  if (!known) found.unknown.push_back(cls + " '" + name_of(config) + "'");
  for (const char* key : {"layer", "backward_layer", "cell"})
    if (config.contains(key)) scan_entry(config[key], found);
  for (const char* key : {"cells", "layers"})
    if (config.contains(key)) scan_layers(config[key], found);
}

void scan_layers(const json& entries, Unreadable& found) {
  if (!entries.is_array()) return;
  for (const json& e : entries) scan_entry(e, found);
}

// Refuses a Keras 1 model, or one with several layers of unknown classes, naming them all at once
// (a single unknown class is left to make_layer, whose message says more about it).
void refuse_unreadable(const json& model) {
  Unreadable found;
  const std::string cls = model.is_object() ? string_or_empty(model, "class_name") : std::string();
  if (!cls.empty() && cls != "Sequential" && cls != "Functional" && cls != "Model") return;  // subclassed: model_of
  if (!cls.empty()) scan_entry(model, found);
  else if (model.is_object()) scan_layers(model.value("layers", json::array()), found);
  else scan_layers(model, found);
  if (!found.keras1.empty()) throw ValueError(engine::keras1_refusal(found.keras1));
  if (found.unknown.size() < 2) return;
  std::string list;
  for (const std::string& u : found.unknown) list += (list.empty() ? "" : ", ") + u;
  throw ValueError("Model.from_config: " + std::to_string(found.unknown.size()) + " layers have classes lamina does "
                   "not know: " + list + "; register them with lamina::register_layer");
}

// A layer entry of a model config: a nested model or a registered layer.
std::shared_ptr<Layer> layer_of(const json& entry, int keras_major) {
  const std::string cls = entry.at("class_name").get<std::string>();
  if (cls == "Functional" || cls == "Sequential" || cls == "Model") return static_cast<std::shared_ptr<Layer>>(model_of(entry, keras_major));
  return make_layer(cls, string_or_empty(entry, "registered_name"), normalized(cls, entry.at("config"), keras_major));
}

Model sequential_from_config(const json& config, int keras_major) {
  // Keras <= 2.2.2 writes a Sequential's config as the bare list of its layers.
  const json& entries = config.is_array() ? config : config.at("layers");
  Sequential model(config.is_array() ? std::string() : name_of(config));
  bool has_input = false;
  for (const json& entry : entries) {
    const json c = normalized(entry.at("class_name").get<std::string>(), entry.at("config"), keras_major);
    if (entry.at("class_name") == "InputLayer") {
      model.add(input_from_config(c));
      has_input = true;
      continue;
    }
    if (!has_input) {
      // Keras 2 keeps the input shape on the first layer (input_shape=...); Keras names that
      // input "<layer>_input". A model built with build(shape) records build_input_shape.
      json input;
      if (c.contains("batch_input_shape")) input = {{"batch_input_shape", c["batch_input_shape"]}};
      else if (config.is_object() && config.contains("build_input_shape") && !config["build_input_shape"].is_null())
        input = {{"batch_input_shape", config["build_input_shape"]}};
      if (!input.is_null()) {
        input["name"] = name_of(c) + "_input";
        input["dtype"] = c.value("dtype", std::string("float32"));
        model.add(input_from_config(input));
      }
      has_input = true;
    }
    model.add(layer_of(entry, keras_major));
  }
  return model;
}

// One connection: [layer, node_index, tensor_index] (Keras 2 nodes add a kwargs dict).
struct History {
  std::string layer;
  std::size_t node = 0, tensor = 0;
};

History history_of(const json& h, const std::string& model_name) {
  if (!h.is_array() || h.size() < 3 || !h[0].is_string() || !h[1].is_number_integer() ||
      !h[2].is_number_integer() || json_int<std::int64_t>(h[1]) < 0 || json_int<std::int64_t>(h[2]) < 0)
    throw ValueError("Functional '" + model_name + "': a connection must be [layer, node_index, tensor_index], got " + h.dump());
  return {h[0].get<std::string>(), json_int<std::size_t>(h[1]), json_int<std::size_t>(h[2])};
}

// The tensors a node reads: Keras 3 writes {"args": [tensor or [tensors]], "kwargs"} (a recurrent
// layer's initial states under kwargs "initial_state"); Keras 2 the list [[layer, node_index,
// tensor_index, kwargs], ...], initial states following the sequence.
std::vector<json> node_inputs(const json& node) {
  std::vector<json> out;
  if (node.is_array()) {
    for (const json& h : node) out.push_back(h);
  } else {
    collect_keras_tensors(node.at("args"), out);
    if (node.contains("kwargs") && node["kwargs"].contains("initial_state"))
      collect_keras_tensors(node["kwargs"]["initial_state"], out);
  }
  return out;
}

// A nested model that holds its own input (a Functional, or a Sequential starting with an
// InputLayer or an input shape): tf.keras's _should_skip_first_node.
bool has_own_input(const json& entry) {
  const std::string cls = entry.value("class_name", std::string());
  if (cls != "Functional" && cls != "Sequential" && cls != "Model") return false;
  const json& c = entry.at("config");
  if (c.is_object() && c.contains("input_layers")) return true;
  const json& layers = c.is_array() ? c : c.value("layers", json::array());
  if (!layers.is_array() || layers.empty() || !layers[0].is_object()) return false;
  return layers[0].value("class_name", std::string()) == "InputLayer" ||
         (layers[0].contains("config") && layers[0]["config"].contains("batch_input_shape"));
}

// Refuses, rather than compute something else, a keras.ops node that is not one of `mask_only`
// (its result read as data, or output), and a mask made from tensors that are not upstream of the
// layer's input, or given whole as a tensor the graph made (a mask given by hand).
void check_mask_operations(const json& config, const std::set<std::string>& mask_only, const std::string& model_name) {
  const auto refuse = [&](const std::string& what) {
    throw ValueError("Model.from_config '" + model_name + "': " + what +
                     "; lamina reads keras.ops nodes only where they compute the masks Keras propagates");
  };
  std::map<std::string, const json*> nodes;
  for (const json& entry : config.at("layers")) {
    const std::string name = entry_name(entry);
    nodes[name] = entry.contains("inbound_nodes") && entry["inbound_nodes"].is_array() ? &entry["inbound_nodes"] : nullptr;
    if (is_keras_operation(entry) && !mask_only.count(name))
      refuse("the operation '" + name + "' (" + entry.value("class_name", std::string()) +
             ") is read as data or output");
  }
  const auto reads = [&](const std::string& name, NodePart part) {
    std::vector<std::string> out;
    if (const auto it = nodes.find(name); it != nodes.end() && it->second)
      for (const json& node : *it->second)
        for (const std::string& r : layers_read(node, part)) out.push_back(r);
    return out;
  };
  for (const auto& [name, inbound] : nodes) {
    if (mask_only.count(name) || !inbound) continue;
    for (const json& node : *inbound) {
      const std::vector<std::string> mask = layers_read(node, NodePart::mask);
      if (mask.empty()) continue;
      std::set<std::string> upstream;
      for (std::vector<std::string> todo = layers_read(node, NodePart::all_but_mask); !todo.empty();) {
        const std::string up = todo.back();
        todo.pop_back();
        if (!upstream.insert(up).second) continue;
        for (const std::string& r : reads(up, NodePart::all)) todo.push_back(r);
      }
      std::set<std::string> seen;
      for (std::vector<std::string> chain = mask; !chain.empty();) {
        const std::string from = chain.back();
        chain.pop_back();
        if (!seen.insert(from).second) continue;
        if (mask_only.count(from)) {
          for (const std::string& r : reads(from, NodePart::all)) chain.push_back(r);
        } else if (std::find(mask.begin(), mask.end(), from) != mask.end()) {
          refuse("layer '" + name + "' is given the output of '" + from + "' as its mask");
        } else if (!upstream.count(from)) {
          refuse("layer '" + name + "' is given a mask made from '" + from + "', which is not upstream of its input");
        }
      }
    }
  }
}

Model functional_from_config(const json& config, int keras_major) {
  const std::string model_name = name_of(config);
  const std::set<std::string> mask_ops = mask_only_layers(config);
  check_mask_operations(config, mask_ops, model_name);
  // Each layer's outputs per call, in call order: [layer, node_index, tensor_index] points here.
  std::map<std::string, std::vector<std::vector<KerasTensor>>> outputs;
  std::map<std::string, std::shared_ptr<Layer>> made;
  struct Pending {
    std::string layer;
    const json* node;
  };
  std::vector<Pending> pending;
  std::set<std::string> skip_first;
  for (const json& entry : config.at("layers")) {
    const std::string name = entry_name(entry);
    if (entry.at("class_name") == "InputLayer") {
      outputs[name].push_back({input_from_config(normalized("InputLayer", entry.at("config"), keras_major))});
      continue;
    }
    if (mask_ops.count(name)) continue;
    made[name] = layer_of(entry, keras_major);
    if (keras_major == 2 && has_own_input(entry)) skip_first.insert(name);
    for (const json& node : entry.at("inbound_nodes")) pending.push_back({name, &node});
  }
  auto produced = [&](History h) -> const KerasTensor* {
    // Keras 2 counts a nested model's own input as its node 0: its calls here are nodes 1, 2...
    if (skip_first.count(h.layer) && h.node > 0) --h.node;
    auto it = outputs.find(h.layer);
    if (it == outputs.end() || h.node >= it->second.size()) return nullptr;
    const auto& call = it->second[h.node];
    if (h.tensor >= call.size())
      throw ValueError("Model.from_config '" + model_name + "': layer '" + h.layer + "' is read at output " +
                       std::to_string(h.tensor) + " of its call " + std::to_string(h.node) + ", which has " +
                       std::to_string(call.size()) + " output" + (call.size() == 1 ? "" : "s"));
    return &call[h.tensor];
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
        for (const json& h : node_inputs(*it->node)) {
          const KerasTensor* t = produced(history_of(h, model_name));
          if (!t) {
            ready = false;
            break;
          }
          in.push_back(*t);
        }
      if (!ready || in.empty()) {
        ++it;
        continue;
      }
      outputs[it->layer].push_back(made[it->layer]->outputs_of(in));
      it = pending.erase(it);
      progress = true;
    }
    if (!progress)
      throw ValueError("Model.from_config '" + model_name + "': layer '" + pending.front().layer +
                       "' reads a tensor that no layer in the config produces");
  }
  // input_layers / output_layers mirror what was passed to Model(): one [layer, node, tensor]
  // (Keras 3, single tensor), a list of them, or a dict keyed by name.
  auto io = [&](const json& spec, const char* what) -> SymbolicArg {
    auto tensor = [&](const json& h) {
      const History history = history_of(h, model_name);
      const KerasTensor* t = produced(history);
      if (!t)
        throw ValueError("Model.from_config '" + model_name + "': " + what + " '" + history.layer +
                         "' is not a layer of the config");
      return *t;
    };
    if (spec.is_object()) {
      std::map<std::string, KerasTensor> named;
      for (const auto& [key, h] : spec.items()) named.emplace(key, tensor(h));
      return named;
    }
    if (spec.is_array() && !spec.empty() && spec[0].is_string()) return tensor(spec);
    std::vector<KerasTensor> ts;
    for (const json& h : spec) ts.push_back(tensor(h));
    return ts;
  };
  return Model(io(config.at("input_layers"), "input"), io(config.at("output_layers"), "output"), model_name);
}

// A model from its config, given bare or wrapped as {"class_name", "config"} (to_json, nested
// models, h5 model_config).
Model model_of(const json& given, int keras_major) {
  const bool wrapped = given.is_object() && given.contains("class_name") && given.contains("config");
  const json& config = wrapped ? given.at("config") : given;
  const engine::ConfigNesting nesting("Model.from_config");
  if (wrapped) {
    const std::string cls = given.at("class_name").get<std::string>();
    if (cls != "Sequential" && cls != "Functional" && cls != "Model") {
      const std::string registered = string_or_empty(given, "registered_name");
      if (const auto* reg = engine::find_registration(registered, cls)) return engine::subclassed_from_config(*reg, given);
      throw ValueError("model class '" + cls + "'" + (registered.empty() ? "" : " (registered as '" + registered + "')") +
                       " is a subclassed Keras model, whose layers exist only in its Python code; "
                       "lamina rebuilds Sequential and Functional models (build it in C++ and load "
                       "the weights, or register a C++ subclass with register_model)");
    }
  }
  if (config.is_object() && config.contains("input_layers")) return functional_from_config(config, keras_major);
  if (config.is_array() || (config.is_object() && config.contains("layers")))
    return sequential_from_config(config, keras_major);
  throw ValueError("not a model config: expected a Sequential's \"layers\" or a Functional's "
                   "\"input_layers\", got keys " + (config.is_object() ? [&] {
                     std::string keys;
                     for (const auto& [k, v] : config.items()) keys += (keys.empty() ? "" : ", ") + k;
                     return keys;
                   }() : config.type_name()));
}

}  // namespace

std::shared_ptr<Layer> layer_from_config(const std::string& class_name, const json& config) {
  return make_layer(class_name, {}, config);
}

namespace engine {

std::string keras1_refusal(const std::string& evidence) {
  return "this model was saved by Keras 1 (" + evidence + "), whose layer configs and weight layouts "
                   "lamina does not read; load it with Keras 2 (which converts Keras 1 models) and save it again "
                   "with model.save() to get a file lamina reads";
}

Model model_from_config(const json& config, int keras_major) {
  require_bounded_depth(config, "Model.from_config");
  const std::string version = config.is_object() ? string_or_empty(config, "keras_version") : std::string();
  if (is_keras1_version(version)) throw ValueError(keras1_refusal("keras_version " + version));
  if (keras_major == 0) keras_major = !version.empty() ? (version[0] == '3' ? 3 : 2) : looks_like_keras2(config) ? 2 : 3;
  refuse_unreadable(config);
  return model_of(config, keras_major);
}

}  // namespace engine

Model Model::from_config(const json& given) {
  try {
    return engine::model_from_config(given, 0);
  } catch (const json::exception& e) {
    throw ValueError(std::string("Model.from_config: malformed model config (") + e.what() + ")");
  }
}

}  // namespace lamina
