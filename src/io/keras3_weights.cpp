// SPDX-License-Identifier: Apache-2.0
// src/io/keras3_weights.cpp — Keras 3's H5IOStore layout. Keras walks the model: its own
// variables at /vars, then model.layers as a container whose keys are snake_case class names
// made unique per container (dense, dense_1, ...), each layer's variables at <key>/vars/<i>;
// layers held by a layer follow under the attribute that holds them (an RNN's weights are in
// <key>/cell/vars); nested models repeat the pattern under their key. A subclassed model's layers
// are found as Keras walks its attributes: sorted by name, `layers` among them, each layer saved
// where it is first met (dense_in/vars, then layers/batch_normalization/vars...).
#include "io/keras3_weights.hpp"

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "engine/model_impl.hpp"
#include "engine/subclassed.hpp"
#include "engine/training.hpp"
#include "io/hdf5.hpp"
#include "io/optimizer_state.hpp"
#include "io/weight_transfer.hpp"
#include "lamina/errors.hpp"

namespace lamina::io {
namespace {

struct VarsGroup {
  std::string path;  ///< "layers/dense/vars"
  const Layer* layer;
  std::string name;  ///< the `name` attribute Keras writes on the group
  std::vector<NamedWeight> weights;
};

std::string join(const std::string& prefix, const std::string& child) {
  return prefix.empty() ? child : prefix + "/" + child;
}

void walk(const ModelImpl& model, const std::string& prefix, std::vector<VarsGroup>& out);

// One layer at `path`: the groups it declares (Layer::keras3_layout), a held layer's under the
// attribute that holds it; a nested model as a model.
void emit(const Layer& layer, const std::string& path, std::vector<VarsGroup>& out) {
  if (const auto* sub = dynamic_cast<const ModelImpl*>(&layer)) return walk(*sub, path, out);
  for (const Layer::Keras3Group& g : layer.keras3_layout()) {
    if (g.layer) {
      emit(*g.layer, path + "/" + g.path, out);
      continue;
    }
    VarsGroup vg{path + "/" + g.path, &layer, g.name, {}};
    for (const Layer::Weight& w : g.variables) vg.weights.push_back({w.name, w.value});
    out.push_back(std::move(vg));
  }
}

// model.layers as Keras's container: keys from class names, made unique in the order of the list
// (counting layers already saved under an attribute, which are not saved again).
void walk_layers(const ModelImpl& model, const std::string& prefix, std::set<const Layer*>& visited,
                 std::vector<VarsGroup>& out) {
  std::map<std::string, int> used;
  for (const auto& layer : model.listed_layers()) {
    std::string key = to_snake_case(layer->class_name());
    if (auto it = used.find(key); it != used.end()) {
      key += "_" + std::to_string(++it->second);
    } else {
      used[key] = 0;
    }
    if (visited.insert(layer.get()).second) emit(*layer, join(prefix, "layers/" + key), out);
  }
}

// A subclassed model's layers as Keras 3 walks its attributes: in sorted order of their names,
// `layers` (every layer) among them, each layer saved once, where it is first met.
void walk_attributes(const SubclassedImpl& model, const std::string& prefix, std::vector<VarsGroup>& out) {
  std::map<std::string, const Layer*> sorted;
  for (const auto& [attribute, layer] : model.attributes()) sorted.emplace(attribute, layer.get());
  std::set<const Layer*> visited;
  bool layers_done = false;
  for (const auto& [attribute, layer] : sorted) {
    if (!layers_done && attribute > "layers") {
      walk_layers(model, prefix, visited, out);
      layers_done = true;
    }
    if (visited.insert(layer).second) emit(*layer, join(prefix, attribute), out);
  }
  if (!layers_done) walk_layers(model, prefix, visited, out);
}

void walk(const ModelImpl& model, const std::string& prefix, std::vector<VarsGroup>& out) {
  out.push_back({join(prefix, "vars"), &model, model.name(), {}});
  if (const auto* sub = dynamic_cast<const SubclassedImpl*>(&model)) return walk_attributes(*sub, prefix, out);
  std::set<const Layer*> visited;
  walk_layers(model, prefix, visited, out);
}

std::string short_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::size_t count_datasets(const h5::Group& g) {
  std::size_t n = 0;
  for (const auto& c : g.children()) n += g.has_dataset(c) ? 1 : 0;
  return n;
}

// Empty when the group's datasets fit the layer's weights; otherwise what differs.
std::string mismatch(const h5::Group& g, const VarsGroup& vg) {
  const std::size_t in_file = count_datasets(g);
  if (in_file != vg.weights.size())
    return " has " + std::to_string(vg.weights.size()) + " weights, the file has " +
           std::to_string(in_file) + (vg.weights.empty() ? " (is the model built?)" : "");
  for (std::size_t i = 0; i < vg.weights.size(); ++i) {
    const Shape& expected = vg.weights[i].value.shape();
    const h5::DatasetInfo info = g.dataset_info(std::to_string(i));
    if (info.shape != expected)
      return " weight " + std::to_string(i) + " (" + short_name(vg.weights[i].path) + ") has shape " +
             info.shape.str() + " in the file, the layer expects " + expected.str();
  }
  return {};
}

}  // namespace

void write_keras3_weights(const Model& model, const std::string& h5_path,
                          const std::string& display_name) {
  std::vector<VarsGroup> groups;
  walk(model.impl(), "", groups);
  h5::File file = h5::File::create(h5_path, display_name);
  {
    h5::Group root = file.root();
    for (const auto& vg : groups) {
      h5::Group g = root.create_group(vg.path);
      g.write_string_attr("name", vg.name);
      for (std::size_t i = 0; i < vg.weights.size(); ++i)
        g.write_dataset(std::to_string(i), vg.weights[i].value);
    }
    if (const auto& opt = model.optimizer()) {
      h5::Group g = root.create_group("optimizer/vars");
      g.write_string_attr("name", to_snake_case(opt->name()));
      const auto vars = optimizer_variables(*opt);
      for (std::size_t i = 0; i < vars.size(); ++i) g.write_dataset(std::to_string(i), vars[i].second);
    }
  }
  file.close();
}

void read_keras3_weights(Model& model, const std::string& h5_path, const std::string& display_name,
                         bool skip_mismatch) {
  std::vector<VarsGroup> groups;
  walk(model.impl(), "", groups);
  h5::File file = h5::File::open(h5_path, display_name);
  const h5::Group root = file.root();
  WeightTransfer transfer;
  for (const auto& vg : groups) {
    const std::string who = describe(*vg.layer);
    if (!root.has_group(vg.path)) {
      if (vg.weights.empty()) continue;
      root.fail(vg.path, who + ": missing group (the file was saved from a different model?)");
    }
    const h5::Group g = root.group(vg.path);
    if (const std::string why = mismatch(g, vg); !why.empty()) {
      if (!skip_mismatch) g.fail("", who + why);
      std::cerr << "lamina: " << g.where() << ": skipping " << who << why << "\n";
      continue;
    }
    for (std::size_t i = 0; i < vg.weights.size(); ++i)
      transfer.add(g, std::to_string(i), vg.weights[i].value,
                   who + " weight " + std::to_string(i) + " (" + short_name(vg.weights[i].path) + ")");
  }
  OptimizerRestore restore;
  if (const auto& opt = model.optimizer(); opt && root.has_group("optimizer/vars"))
    restore = read_optimizer_state(*opt, model.trainable_weights(),
                                   engine::variable_paths(model.impl(), model.trainable_weights()),
                                   root.group("optimizer/vars"));
  transfer.commit();
  restore.commit();
}

}  // namespace lamina::io
