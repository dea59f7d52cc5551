// SPDX-License-Identifier: Apache-2.0
// The layer registry: the factories (built-in and the user's register_layer), the specs the
// built-in classes declare, and the config-key audit that reads them.
#include "engine/layer_spec.hpp"

#include <algorithm>
#include <mutex>

#include "common/registry.hpp"
#include "lamina/errors.hpp"

namespace lamina {

namespace layers {
// The built-in classes (layers/catalogue.cpp). The engine names the catalogue only here, so that a
// program linked against the static library keeps every class a file may name.
void register_catalogue();
}  // namespace layers

namespace {

using json = nlohmann::json;

Registry<LayerFactory>& factory_table() {
  static Registry<LayerFactory> r;
  return r;
}

// Specs are never replaced once registered, so pointers into them stay valid.
Registry<std::shared_ptr<const engine::LayerSpec>>& spec_table() {
  static Registry<std::shared_ptr<const engine::LayerSpec>> r;
  return r;
}

// Registers the built-ins once, before anything reads or writes the tables: a user's
// register_layer then replaces a built-in's factory, never the other way round. The flag lets the
// catalogue's own registrations through while it runs (other threads wait in call_once).
thread_local bool registering_builtins = false;

void ensure_builtins() {
  static std::once_flag once;
  if (registering_builtins) return;
  std::call_once(once, [] {
    registering_builtins = true;
    struct Reset {
      ~Reset() { registering_builtins = false; }
    } reset;
    // The engine's own classes: the model reader builds InputLayers and nested models from their
    // entries itself (no factory, no key audit). Keras builds an InputLayer at construction (no
    // build_config), and Keras's Model.call takes a mask.
    engine::register_layer_spec({.class_name = "InputLayer", .audited = false, .build_config = false});
    for (const char* cls : {"Sequential", "Functional", "Model"})
      engine::register_layer_spec({.class_name = cls, .audited = false, .call_kwargs = {{"mask", nullptr}}});
    layers::register_catalogue();
  });
}

Registry<LayerFactory>& factories() {
  ensure_builtins();
  return factory_table();
}

Registry<std::shared_ptr<const engine::LayerSpec>>& specs() {
  ensure_builtins();
  return spec_table();
}

// Keys of Keras's base Layer: name and bookkeeping, or the input shape a first layer carries
// (read by the model reader).
const std::set<std::string> kBase = {"name",       "trainable",   "dtype",     "batch_input_shape", "batch_shape",
                                     "batch_size", "input_shape", "input_dim", "autocast"};

// Keras's "off" values: a key lamina does not know that holds one of them asks for nothing.
bool is_off(const json& v) { return v.is_null() || v == false; }

}  // namespace

void register_layer(const std::string& class_name, LayerFactory factory) {
  factories().add(class_name, std::move(factory));
}

namespace engine {

void register_layer_spec(LayerSpec spec) {
  const std::string name = spec.class_name;
  if (spec.factory) factories().add(name, spec.factory);
  specs().add(name, std::make_shared<const LayerSpec>(std::move(spec)));
}

std::shared_ptr<const LayerSpec> find_layer_spec(const std::string& class_name) {
  return specs().find(class_name).value_or(nullptr);
}

std::vector<std::string> layer_spec_classes() {
  std::vector<std::string> out = specs().names();
  std::sort(out.begin(), out.end());
  return out;
}

LayerFactory find_layer_factory(const std::string& class_name, const std::string& registered_name) {
  for (const std::string& key : {registered_name, class_name})
    if (!key.empty())
      if (auto factory = factories().find(key); factory && *factory) return *factory;
  return nullptr;
}

const std::set<std::string>* config_keys_honoured(const std::string& class_name) {
  const auto spec = find_layer_spec(class_name);
  return spec && spec->audited ? &spec->honoured_keys : nullptr;
}

std::vector<KeyRule> config_key_rules(const std::string& class_name) {
  const auto spec = find_layer_spec(class_name);
  return spec ? spec->key_rules : std::vector<KeyRule>{};
}

void check_config_keys(const std::string& class_name, const json& config) {
  const auto spec = find_layer_spec(class_name);
  if (!spec || !spec->audited || !config.is_object()) return;  // a user's class reads its own config
  for (const auto& [key, value] : config.items()) {
    bool ruled = false;
    for (const KeyRule& r : spec->key_rules) {
      if (r.key != key) continue;
      ruled = true;
      bool ok = false;
      for (const json& a : r.accepted) ok |= a == value;
      if (!ok) throw ValueError(key + "=" + value.dump() + " is not supported: " + r.why);
    }
    if (ruled || kBase.count(key) || spec->honoured_keys.count(key) || is_off(value)) continue;
    throw ValueError(key + "=" + value.dump() + " is not a " + class_name +
                     " argument lamina implements, and ignoring it could change the results");
  }
}

}  // namespace engine
}  // namespace lamina
