// SPDX-License-Identifier: Apache-2.0
// src/engine/layer_spec.hpp — what a layer class of keras.layers declares about itself, from its
// own .cpp: how it is made from a Keras config, which of the config's keys it honours, and how
// Keras serializes it. The engine and src/io ask these specs instead of keeping tables of class
// names; the Keras 3 paths of a layer's weights come from the layer object itself
// (Layer::keras3_variables).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/config.hpp"
#include "lamina/layer.hpp"

namespace lamina::engine {

/// One Keras class that lamina implements, registered under its class name.
struct LayerSpec {
  std::string class_name;
  /// Makes the layer from its Keras config; null for a class that the model reader builds itself
  /// (InputLayer, the models).
  LayerFactory factory{};
  /// The config-key audit (check_config_keys): the keys the factory reads besides the base
  /// Layer's, or that do not change its results...
  std::set<std::string> honoured_keys{};
  /// ...and the keys implemented only at Keras's default.
  std::vector<KeyRule> key_rules{};
  /// False for a class without an audit (InputLayer and the models: their readers check them).
  bool audited = true;
  /// Keras's module for the class, written in Keras 3 configs; empty for a class Keras 3 does
  /// not have (tf.keras 2's LocallyConnected), written as Keras writes custom objects.
  std::string keras_module = "keras.layers";
  /// Whether Keras records a build_config for the class: it does for layers that override
  /// build(), not for those built at construction.
  bool build_config = true;
  /// What Keras 3's Layer.__call__ adds to a plain call's kwargs: `training` when call()'s
  /// default for it is not None, `mask` (null) when call() takes a mask.
  nlohmann::json call_kwargs = nlohmann::json::object();
  /// The names of call()'s tensor arguments for a layer that takes them one by one
  /// (MultiHeadAttention: query, value, key): Keras 3 records each input as its own positional
  /// argument, and its build_config as a shapes_dict of "<name>_shape".
  std::vector<std::string> positional_inputs{};
  /// Keys a Keras 2 config may leave out whose Keras 2 default differs from Keras 3's (GRU's
  /// reset_after was False before the key existed): the model reader fills them in.
  nlohmann::json keras2_defaults = nlohmann::json::object();
  /// How many of weights() Keras 2 flips along their spatial axes when it loads a file saved by
  /// its Theano backend (Theano convolves where TensorFlow correlates): the kernel of the
  /// convolutions, and ConvLSTM2D's recurrent kernel too.
  int theano_flipped_kernels = 0;
};

/// Registers a class (from its family's register_*_layers, which layers/catalogue.cpp calls before
/// the registry's first use): its spec, and its factory
/// as register_layer would. A user's later register_layer(class_name, ...) replaces the factory
/// only; the spec stays.
void register_layer_spec(LayerSpec spec);
/// The spec of a Keras class name lamina implements; null for any other (a user's class).
std::shared_ptr<const LayerSpec> find_layer_spec(const std::string& class_name);
/// Every class with a spec (the built-ins, InputLayer and the models included), sorted: what the
/// lamina -> Keras check must cover.
std::vector<std::string> layer_spec_classes();
/// The factory for a config entry: under its registered name ("package>Name", Keras 3's custom
/// objects) when there is one, else under its class name; null when neither is registered.
LayerFactory find_layer_factory(const std::string& class_name, const std::string& registered_name);

}  // namespace lamina::engine
