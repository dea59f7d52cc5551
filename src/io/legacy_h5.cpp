// SPDX-License-Identifier: Apache-2.0
// src/io/legacy_h5.cpp — Keras's legacy HDF5 layout (KERAS_FORMATS.md (a)). Reading follows
// load_weights_from_hdf5_group: layer_names, then each layer's weight_names as paths inside its
// group; by topology only layers with weights are zipped, by position.
#include "io/legacy_h5.hpp"

#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/deferred_init.hpp"
#include "engine/json_limits.hpp"
#include "engine/keras1.hpp"
#include "engine/layer_spec.hpp"
#include "engine/model_impl.hpp"
#include "engine/training.hpp"
#include "io/json_config.hpp"
#include "io/load_guard.hpp"
#include "io/optimizer_state.hpp"
#include "io/training_config.hpp"
#include "io/weight_transfer.hpp"
#include "lamina/errors.hpp"
#include "lamina/models.hpp"
#include "lamina/ops.hpp"
#include "tensor/sizes.hpp"

namespace lamina::io {
namespace {

struct SavedLayer {
  std::string name;
  h5::Group group;
  std::vector<std::string> weight_names;
};

// Keras 1 files keep other layer configs and weight layouts (Theano kernels, "convolution2d_1_W").
void refuse_keras1_file(const h5::Group& group) {
  if (!group.has_attr("keras_version")) return;
  const std::string version = group.read_string_attr("keras_version");
  if (engine::is_keras1_version(version)) group.fail("", engine::keras1_refusal("keras_version " + version));
}

std::vector<SavedLayer> saved_layers(const h5::Group& root) {
  refuse_keras1_file(root);
  std::vector<SavedLayer> out;
  for (const auto& name : root.read_chunked_list_attr("layer_names")) {
    h5::Group g = root.group(name);
    std::vector<std::string> weight_names = g.read_chunked_list_attr("weight_names");
    out.push_back({name, std::move(g), std::move(weight_names)});
  }
  return out;
}

// Empty when the saved layer fits `layer`; otherwise what differs.
std::string mismatch(const SavedLayer& saved, const Layer& layer, const std::vector<Tensor>& weights) {
  if (saved.weight_names.size() != weights.size())
    return describe(layer) + " has " + std::to_string(weights.size()) + " weights, the file's layer '" +
           saved.name + "' has " + std::to_string(saved.weight_names.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const auto info = saved.group.dataset_info(saved.weight_names[i]);
    if (info.shape != weights[i].shape())
      return describe(layer) + " weight " + std::to_string(i) + " ('" + saved.weight_names[i] +
             "') has shape " + info.shape.str() + " in the file, the layer expects " +
             weights[i].shape().str();
  }
  return {};
}

// --- Theano kernels --------------------------------------------------------------------------------
// Theano convolves where TensorFlow correlates. Keras 2 therefore flipped the spatial axes of
// these layers' kernels when it loaded a file whose `backend` attribute is "theano": weights[0],
// and ConvLSTM2D's recurrent kernel weights[1] (keras/engine/saving.py,
// preprocess_weights_for_loading and _need_convert_kernel; keras/utils/conv_utils.py,
// convert_kernel), looking through Bidirectional, TimeDistributed and nested models.

using Kernels = std::set<const void*>;  // the weights to flip, by identity

void collect_theano_kernels(const Layer& layer, Kernels& out) {
  const auto spec = engine::find_layer_spec(layer.class_name());
  if (spec && spec->theano_flipped_kernels > 0) {
    const std::vector<Tensor> w = layer.weights();
    const std::size_t n = std::min<std::size_t>(w.size(), static_cast<std::size_t>(spec->theano_flipped_kernels));
    for (std::size_t i = 0; i < n; ++i) out.insert(w[i].impl().get());
    return;
  }
  for (const auto& sub : layer.sublayers()) collect_theano_kernels(*sub, out);
}

Kernels theano_kernels(const h5::Group& group, const Model& model) {
  Kernels out;
  if (group.has_attr("backend") && group.read_string_attr("backend") == "theano")
    for (const auto& l : model.layers()) collect_theano_kernels(*l, out);
  return out;
}

// conv_utils.convert_kernel: every axis but the last two (in, out) reversed.
Tensor convert_kernel(const Tensor& kernel) {
  Tensor k = kernel;
  for (int axis = 0; axis + 2 < k.ndim(); ++axis) {
    std::vector<int> swap(static_cast<std::size_t>(k.ndim()));
    std::iota(swap.begin(), swap.end(), 0);
    std::swap(swap[0], swap[static_cast<std::size_t>(axis)]);
    const std::int64_t n = k.dim(axis);
    std::vector<std::int64_t> reversed(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) reversed[static_cast<std::size_t>(i)] = n - 1 - i;
    k = transpose(take(transpose(k, swap), Tensor::from_vector(reversed, {n})), swap);
  }
  return k;
}

void queue_layer(const SavedLayer& saved, const Layer& layer, const Kernels& flip,
                 WeightTransfer& transfer) {
  const std::vector<Tensor> weights = layer.weights();
  if (const std::string why = mismatch(saved, layer, weights); !why.empty()) saved.group.fail("", why);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    transfer.add(saved.group, saved.weight_names[i], weights[i],
                 describe(layer) + " weight " + std::to_string(i));
    if (flip.count(weights[i].impl().get())) transfer.convert_last(convert_kernel);
  }
}

void read_by_name(const std::vector<SavedLayer>& saved, Model& model, bool skip_mismatch,
                  const Kernels& flip, WeightTransfer& transfer) {
  std::map<std::string, std::shared_ptr<Layer>> index;
  for (const auto& layer : model.layers()) index[layer->name()] = layer;
  for (const auto& s : saved) {
    auto it = index.find(s.name);
    if (it == index.end()) continue;
    const std::string why = mismatch(s, *it->second, it->second->weights());
    if (!why.empty() && skip_mismatch) {
      std::cerr << "lamina: " << s.group.where() << ": skipping layer: " << why << "\n";
      continue;
    }
    queue_layer(s, *it->second, flip, transfer);
  }
}

void read_by_topology(const std::vector<SavedLayer>& saved, Model& model, const h5::Group& root,
                      const Kernels& flip, WeightTransfer& transfer) {
  std::vector<const SavedLayer*> with_weights;
  for (const auto& s : saved)
    if (!s.weight_names.empty()) with_weights.push_back(&s);
  std::vector<std::shared_ptr<Layer>> layers;
  for (const auto& l : model.layers())
    if (!l->weights().empty()) layers.push_back(l);
  if (layers.size() != with_weights.size())
    root.fail("", "layer count mismatch: the model has " + std::to_string(layers.size()) +
                      " layers with weights, the file has " + std::to_string(with_weights.size()));
  // The model of a file's own config has the file's layer names. Keras pairs them by position, in
  // its order of model.layers; lamina's order of a branching graph can differ from Keras's (two
  // branches from one tensor), so when every name matches, the names pair them.
  std::map<std::string, const SavedLayer*> saved_by_name;
  for (const SavedLayer* s : with_weights) saved_by_name[s->name] = s;
  bool same_names = saved_by_name.size() == with_weights.size();
  for (const auto& l : layers) same_names = same_names && saved_by_name.count(l->name());
  for (std::size_t i = 0; i < layers.size(); ++i)
    queue_layer(same_names ? *saved_by_name.at(layers[i]->name()) : *with_weights[i], *layers[i], flip, transfer);
}

nlohmann::json parse_json_attr(const h5::Group& root, const std::string& name) {
  const std::string text = root.read_string_attr(name);
  std::string error;
  nlohmann::json j = engine::parse_bounded_json(text, error);
  if (j.is_discarded()) root.fail("", "attribute '" + name + "': " + error);
  return j;
}

void restore_legacy_optimizer(Model& model, const h5::Group& root) {
  const h5::Group g = root.group("optimizer_weights");
  const auto names = g.read_chunked_list_attr("weight_names");
  try {
    const auto trainable = model.trainable_weights();
    read_optimizer_state(*model.optimizer(), trainable,
                         engine::variable_paths(model.impl(), trainable), g, names)
        .commit();
  } catch (const FileFormatError& e) {
    // Keras too treats optimizer state from other versions as best-effort.
    std::cerr << "lamina: the optimizer state was not restored: " << e.what() << "\n";
  }
}

}  // namespace

void write_legacy_weights(h5::Group& group, const Model& model) {
  std::vector<std::string> layer_names;
  for (const auto& l : model.layers()) layer_names.push_back(l->name());
  group.write_chunked_list_attr("layer_names", layer_names);
  group.write_string_attr("backend", "tensorflow");
  group.write_string_attr("keras_version", kKerasVersion);
  for (const auto& l : model.layers()) {
    h5::Group g = group.create_group(l->name());
    const auto weights = legacy_weights(*l);
    std::vector<std::string> names;
    for (const auto& w : weights) names.push_back(w.path + ":0");
    g.write_chunked_list_attr("weight_names", names);
    for (std::size_t i = 0; i < weights.size(); ++i) g.write_dataset(names[i], weights[i].value);
  }
}

void read_legacy_weights(const h5::Group& group, Model& model, bool by_name, bool skip_mismatch) {
  const auto saved = saved_layers(group);
  const Kernels flip = theano_kernels(group, model);
  WeightTransfer transfer;
  if (by_name) {
    read_by_name(saved, model, skip_mismatch, flip, transfer);
  } else {
    read_by_topology(saved, model, group, flip, transfer);
  }
  transfer.commit();
}

void save_legacy_model(const Model& model, const std::string& path, const std::string& display_name) {
  h5::File file = h5::File::create(path, display_name);
  {
    h5::Group root = file.root();
    root.write_string_attr("backend", "tensorflow");
    root.write_string_attr("keras_version", kKerasVersion);
    nlohmann::json config = {{"class_name", model.impl().class_name()},
                             {"config", model.get_config()}};
    set_plain_call_kwargs(config);
    root.write_string_attr("model_config", config.dump());
    const auto& opt = model.optimizer();
    if (opt) root.write_string_attr("training_config", training_config(model).dump());
    h5::Group weights = root.create_group("model_weights");
    write_legacy_weights(weights, model);
    if (opt) {
      h5::Group g = root.create_group("optimizer_weights");
      const auto vars = optimizer_variables(*opt);
      std::vector<std::string> names;
      for (const auto& [name, value] : vars) names.push_back(name);
      g.write_chunked_list_attr("weight_names", names);
      for (std::size_t i = 0; i < vars.size(); ++i) g.write_dataset(names[i], vars[i].second);
    }
  }
  file.close();
}

Model load_legacy_model(const std::string& path, bool compile) {
  h5::File file = h5::File::open(path);
  const h5::Group root = file.root();
  refuse_keras1_file(root);
  if (!root.has_attr("model_config"))
    root.fail("", "no model_config attribute: a weights-only file? Build the model and use "
                  "load_weights");
  const nlohmann::json config = parse_json_attr(root, "model_config");
  Model model;
  engine::DeferredInit deferred;  // model_weights overwrites the initializers' values
  try {
    // The architecture is built before its weights are compared with the file's: its size is
    // bounded by the file's first, so that a small file cannot make it allocate gigabytes.
    const sizes::WeightBudget budget(weight_limit_for(std::filesystem::file_size(path)));
    model = models::model_from_json(config.dump());
  } catch (const Error& e) {
    throw FileFormatError(file.display() + ": " + e.what());
  }
  read_legacy_weights(root.group("model_weights"), model, false, false);
  deferred.finish();
  if (compile && root.has_attr("training_config") &&
      apply_training_config(model, parse_json_attr(root, "training_config"), file.display()) &&
      root.has_group("optimizer_weights"))
    restore_legacy_optimizer(model, root);
  return model;
}

bool has_legacy_layout(const std::string& path) {
  h5::File file = h5::File::open(path);
  const h5::Group root = file.root();
  return root.has_attr("layer_names") || root.has_attr("layer_names0") ||
         root.has_group("model_weights");
}

void save_legacy_weights(const Model& model, const std::string& path, const std::string& display_name) {
  h5::File file = h5::File::create(path, display_name);
  {
    h5::Group root = file.root();
    write_legacy_weights(root, model);
  }
  file.close();
}

void load_legacy_weights(Model& model, const std::string& path, bool by_name, bool skip_mismatch) {
  h5::File file = h5::File::open(path);
  const h5::Group root = file.root();
  refuse_keras1_file(root);
  // Keras reads a whole-model file's model_weights group as well as a weights-only file.
  if (!root.has_attr("layer_names") && root.has_group("model_weights")) {
    read_legacy_weights(root.group("model_weights"), model, by_name, skip_mismatch);
  } else {
    read_legacy_weights(root, model, by_name, skip_mismatch);
  }
}

}  // namespace lamina::io
