// SPDX-License-Identifier: Apache-2.0
// The Functional model: retracing the graph of layer calls, build-time checks, topological
// execution and Keras's config with inbound_nodes.
#include "engine/functional.hpp"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/layer_spec.hpp"
#include "lamina/errors.hpp"
#include "lamina/input.hpp"
#include "lamina/ops.hpp"

namespace lamina {

namespace {

std::pair<const void*, int> identity_of(const KerasTensor& t) {
  return {t.node ? static_cast<const void*>(t.node.get()) : static_cast<const void*>(t.layer.get()),
          t.tensor_index};
}


}  // namespace

FunctionalImpl::FunctionalImpl(const SymbolicArg& inputs, const SymbolicArg& outputs,
                               std::string model_name)
    : ModelImpl(std::move(model_name)), inputs_(inputs.tensors()), outputs_(outputs.tensors()) {
  const std::string who = "Functional '" + name() + "'";
  if (inputs_.empty()) throw ValueError(who + ": a model needs at least one input");
  if (outputs_.empty()) throw ValueError(who + ": a model needs at least one output");

  // Inputs: tensors straight from layers::Input, each once.
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    const KerasTensor& t = inputs_[i];
    if (!t.layer) throw ValueError(who + ": input " + std::to_string(i) + " is an empty symbolic tensor");
    if (t.node || !std::dynamic_pointer_cast<InputLayer>(t.layer))
      throw ValueError(who + ": inputs must be tensors returned by layers::Input; input " +
                       std::to_string(i) + " is the output of " + t.layer->class_name() + " '" +
                       t.layer->name() + "' " + t.shape.str());
    if (!slot_of_.emplace(identity_of(t), slot_count_++).second)
      throw ValueError(who + ": Input '" + t.layer->name() + "' is given twice as an input");
    input_names_.push_back(inputs.names().empty() ? t.layer->name() : inputs.names()[i]);
  }
  // Output names: the keys given, else the producing layers' names made unique as Keras 2 did
  // ("lstm", "lstm_1" for two outputs of one LSTM).
  std::map<std::string, int> taken;
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    if (!outputs_[i].layer)
      throw ValueError(who + ": output " + std::to_string(i) + " is an empty symbolic tensor");
    if (!outputs.names().empty()) {
      output_names_.push_back(outputs.names()[i]);
      continue;
    }
    const std::string base = outputs_[i].layer->name();
    std::string proposal = base;
    while (taken.count(proposal)) proposal = base + "_" + std::to_string(taken[base]++);
    taken.emplace(proposal, 1);
    output_names_.push_back(proposal);
  }

  // Retrace each output back to the inputs (depth first, post-order: a topological order).
  for (std::size_t i = 0; i < outputs_.size(); ++i) output_slots_.push_back(trace(outputs_[i], output_names_[i]));

  // Every input must feed some output.
  std::set<int> used(output_slots_.begin(), output_slots_.end());
  for (const Step& s : steps_) used.insert(s.in.begin(), s.in.end());
  for (std::size_t i = 0; i < inputs_.size(); ++i)
    if (!used.count(static_cast<int>(i)))
      throw ValueError(who + ": input '" + input_names_[i] + "' " + inputs_[i].shape.str() +
                       " is not connected to any output (outputs: " + engine::join_names(output_names_) + ")");

  // Layers: the InputLayers, then each called layer once, in execution order.
  std::map<const Layer*, Shape> first_output;
  for (const KerasTensor& t : inputs_) {
    t.layer->build_for(t.shape);  // an InputLayer is built from the start, as in Keras
    stack.push_back(t.layer);
    output_shapes.push_back(t.shape);
    first_output[t.layer.get()] = t.shape;
  }
  for (const Step& s : steps_) {
    const auto& layer = s.node->layer;
    if (layer.get() == this) throw ValueError(who + ": a model cannot contain itself");
    if (first_output.emplace(layer.get(), s.node->output_shapes[0]).second) {
      stack.push_back(layer);
      output_shapes.push_back(s.node->output_shapes[0]);
    }
  }
  std::map<std::string, const Layer*> by_name;
  for (const auto& l : stack) {
    auto [it, fresh] = by_name.emplace(l->name(), l.get());
    if (!fresh)
      throw ValueError(who + ": all layer names must be unique; '" + l->name() + "' names both a " +
                       it->second->class_name() + " and a " + l->class_name() +
                       " layer (give one of them another .name)");
  }
  if (inputs_.size() == 1) input_layer = std::dynamic_pointer_cast<InputLayer>(inputs_[0].layer);
}

int FunctionalImpl::trace(const KerasTensor& t, const std::string& output_name) {
  if (auto it = slot_of_.find(identity_of(t)); it != slot_of_.end()) return it->second;
  if (!t.node) {
    if (std::dynamic_pointer_cast<InputLayer>(t.layer))
      throw ValueError("Functional '" + name() + "': graph disconnected: output '" + output_name +
                       "' depends on Input '" + t.layer->name() + "' " + t.shape.str() +
                       ", which is not among the model's inputs (" + engine::join_names(input_names_) + ")");
    throw ValueError("Functional '" + name() + "': output '" + output_name + "' depends on '" +
                     t.name + "', which was not produced by calling a layer on symbolic tensors");
  }
  std::vector<int> in;
  for (const KerasTensor& x : t.node->inputs) in.push_back(trace(x, output_name));
  // Every output of the call gets its slot now, so that a sibling output reuses this step.
  std::vector<int> out;
  for (std::size_t i = 0; i < t.node->output_shapes.size(); ++i) {
    out.push_back(slot_count_++);
    slot_of_.emplace(std::pair{static_cast<const void*>(t.node.get()), static_cast<int>(i)}, out.back());
  }
  steps_.push_back({t.node, std::move(in), out});
  return slot_of_.at(identity_of(t));
}

std::vector<Shape> FunctionalImpl::known_input_shapes() const {
  std::vector<Shape> shapes;
  for (const KerasTensor& t : inputs_) shapes.push_back(t.shape);
  return shapes;
}

void FunctionalImpl::check_inputs(const std::vector<Shape>& shapes) const {
  if (shapes.size() != inputs_.size())
    throw ValueError("Functional '" + name() + "' expects " + std::to_string(inputs_.size()) +
                     " inputs (" + engine::join_names(input_names_) + "), got " + std::to_string(shapes.size()));
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const Shape& want = inputs_[i].shape;
    bool ok = shapes[i].rank() == want.rank();
    for (int d = 1; ok && d < want.rank(); ++d) ok = want[d] < 0 || shapes[i][d] < 0 || want[d] == shapes[i][d];
    if (!ok)
      throw ShapeError("Functional '" + name() + "': input '" + input_names_[i] +
                       "' expected shape " + want.str() + ", got " + shapes[i].str());
  }
}

std::vector<Tensor> FunctionalImpl::forward_masked(const std::vector<Tensor>& xs, const std::vector<Tensor>& input_masks,
                                                   bool training, std::vector<Tensor>& output_masks) {
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) {
    Shape s = x.shape();
    if (!s.empty()) s[0] = -1;
    shapes.push_back(s);
  }
  check_inputs(shapes);
  std::vector<Tensor> slots(slot_count_);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const DType want = inputs_[i].dtype;
    slots[i] = is_floating(want) && xs[i].dtype() != want ? xs[i].astype(want) : xs[i];
  }
  std::vector<Tensor> args, arg_masks, outs, out_masks;
  std::vector<Tensor> masks(slot_count_);  // Keras's masks, from Embedding or Masking on
  for (std::size_t i = 0; i < input_masks.size() && i < xs.size(); ++i) masks[i] = input_masks[i];
  for (const Step& s : steps_) {
    Layer& layer = *s.node->layer;
    args.clear();
    arg_masks.clear();
    for (int i : s.in) {
      args.push_back(slots[i]);
      arg_masks.push_back(masks[i]);
    }
    out_masks.clear();
    outs = layer.call_outputs_with_policy(args, arg_masks, training, out_masks);
    if (outs.size() != s.out.size())
      throw ValueError(layer.class_name() + " '" + layer.name() + "' returned " + std::to_string(outs.size()) +
                       " tensors where its symbolic call had " + std::to_string(s.out.size()));
    for (std::size_t k = 0; k < outs.size(); ++k) {
      slots[s.out[k]] = std::move(outs[k]);
      masks[s.out[k]] = k < out_masks.size() ? out_masks[k] : Tensor();
    }
  }
  std::vector<Tensor> out;
  output_masks.clear();
  for (int i : output_slots_) {
    out.push_back(slots[i]);
    output_masks.push_back(masks[i]);
  }
  return out;
}

Tensor FunctionalImpl::call(const Tensor& x, bool training) { return call(std::vector<Tensor>{x}, training); }

Tensor FunctionalImpl::call(const std::vector<Tensor>& inputs, bool training) {
  if (outputs_.size() != 1)
    throw ValueError("Functional '" + name() + "' has " + std::to_string(outputs_.size()) +
                     " outputs (" + engine::join_names(output_names_) +
                     "); call it with a std::vector<Tensor> to get every output, or use predict_outputs");
  return forward(inputs, training)[0];
}

Shape FunctionalImpl::compute_output_shape(const Shape& input_shape) {
  return compute_output_shape_list({input_shape});
}

Shape FunctionalImpl::compute_output_shape_list(const std::vector<Shape>& input_shapes) {
  if (outputs_.size() != 1)
    throw ValueError("Functional '" + name() + "' has " + std::to_string(outputs_.size()) +
                     " outputs; ask for every output shape with compute_output_shapes");
  return compute_output_shapes(input_shapes)[0];
}

std::vector<Shape> FunctionalImpl::compute_output_shapes(const std::vector<Shape>& input_shapes) {
  check_inputs(input_shapes);
  std::vector<Shape> shapes;
  for (const KerasTensor& t : outputs_) {
    Shape out = t.shape;
    if (!out.empty() && !input_shapes.empty() && !input_shapes[0].empty()) out[0] = input_shapes[0][0];
    shapes.push_back(out);
  }
  return shapes;
}

bool FunctionalImpl::sequential_like() const {
  if (inputs_.size() != 1 || outputs_.size() != 1) return false;
  std::set<const Layer*> seen;
  int previous = 0;  // the input's slot
  for (const Step& s : steps_) {
    if (s.in.size() != 1 || s.out.size() != 1 || s.in[0] != previous || !seen.insert(s.node->layer.get()).second)
      return false;
    previous = s.out[0];
  }
  return true;
}

std::string FunctionalImpl::connections(const Layer& layer) const {
  std::string out;
  for (const Step& s : steps_) {
    if (s.node->layer.get() != &layer) continue;
    for (const KerasTensor& t : s.node->inputs)
      out += (out.empty() ? "" : ", ") + t.layer->name() + "[" +
             std::to_string(t.node ? t.node->node_index : 0) + "][" + std::to_string(t.tensor_index) + "]";
  }
  return out.empty() ? "-" : out;
}

std::vector<Shape> FunctionalImpl::output_shapes_of(const Layer& layer) const {
  for (const Step& s : steps_)
    if (s.node->layer.get() == &layer) return s.node->output_shapes;
  for (const KerasTensor& t : inputs_)
    if (t.layer.get() == &layer) return {t.shape};
  return {};
}

// --- config ------------------------------------------------------------------------------------------

namespace {

nlohmann::json shape_json(const Shape& s) {
  nlohmann::json j = nlohmann::json::array();
  for (auto d : s) j.push_back(d < 0 ? nlohmann::json(nullptr) : nlohmann::json(d));
  return j;
}

// Node indices count this model's calls of each layer only (Keras's node_reindexing_map), so
// that a config rebuilt on fresh layers finds every node.
using NodeIndex = std::map<const Node*, int>;

nlohmann::json history_of(const KerasTensor& t, const NodeIndex& index) {
  auto it = t.node ? index.find(t.node.get()) : index.end();
  return {t.layer->name(), it == index.end() ? 0 : it->second, t.tensor_index};
}

// Keras 3's serialised KerasTensor inside inbound_nodes.
nlohmann::json keras_tensor_json(const KerasTensor& t, const NodeIndex& index) {
  return {{"class_name", "__keras_tensor__"},
          {"config", {{"shape", shape_json(t.shape)}, {"dtype", dtype_name(t.dtype)},
                      {"keras_history", history_of(t, index)}}}};
}

}  // namespace

nlohmann::json FunctionalImpl::get_config() const {
  NodeIndex index;
  std::map<const Layer*, int> calls;
  for (const Step& s : steps_) index[s.node.get()] = calls[s.node->layer.get()]++;
  nlohmann::json layers_json = nlohmann::json::array();
  for (const auto& layer : stack) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const Step& s : steps_) {
      if (s.node->layer != layer) continue;
      nlohmann::json args = nlohmann::json::array(), kwargs = nlohmann::json::object();
      const auto& inputs = s.node->inputs;
      const auto spec = engine::find_layer_spec(layer->class_name());
      if (spec && !spec->positional_inputs.empty()) {
        // call(query, value, key=None): Keras records each tensor as its own positional argument.
        for (const KerasTensor& t : inputs) args.push_back(keras_tensor_json(t, index));
      } else if (layer->takes_list()) {
        nlohmann::json list = nlohmann::json::array();
        for (const KerasTensor& t : inputs) list.push_back(keras_tensor_json(t, index));
        args.push_back(list);
      } else {
        args.push_back(keras_tensor_json(inputs[0], index));
        // A single-input layer called with more tensors is a recurrent one given its initial
        // states, which Keras 3 records as the initial_state keyword.
        if (inputs.size() > 1) {
          nlohmann::json states = nlohmann::json::array();
          for (std::size_t i = 1; i < inputs.size(); ++i) states.push_back(keras_tensor_json(inputs[i], index));
          kwargs["initial_state"] = states;
        }
      }
      nodes.push_back({{"args", args}, {"kwargs", kwargs}});
    }
    const bool is_model = std::dynamic_pointer_cast<ModelImpl>(layer) != nullptr;
    // Keras resolves module + class_name: a nested Sequential is keras.Sequential (Keras's legacy
    // .h5 reader refuses keras.src.models.functional.Sequential).
    const char* model_module = layer->class_name() == "Sequential" ? "keras" : "keras.src.models.functional";
    layers_json.push_back({{"module", is_model ? model_module : "keras.layers"},
                           {"class_name", layer->class_name()},
                           {"config", layer->get_config()},
                           {"registered_name", nullptr},
                           {"name", layer->name()},
                           {"inbound_nodes", nodes}});
  }
  auto io = [&](const std::vector<KerasTensor>& ts) {
    nlohmann::json j = nlohmann::json::array();
    for (const KerasTensor& t : ts) j.push_back(history_of(t, index));
    return j;
  };
  return {{"name", name()}, {"trainable", trainable()}, {"layers", layers_json},
          {"input_layers", io(inputs_)}, {"output_layers", io(outputs_)}};
}

}  // namespace lamina
