// SPDX-License-Identifier: Apache-2.0
// Model subclassing: the model whose forward pass is the user's call(), and the registry of
// subclasses that .keras files can hold.
#include "common/json_int.hpp"
#include "engine/subclassed.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <typeinfo>

#include "engine/build_lock.hpp"
#include "lamina/errors.hpp"

namespace lamina {

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::type_index, engine::ModelRegistration> by_type;
};

Registry& registry() {
  static Registry r;
  return r;
}

// The C++ class's own name, without namespaces or template arguments ("TwoLayers").
std::string cpp_class_name(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : type.name();
  std::free(demangled);
  name = name.substr(0, name.find('<'));
  const auto colons = name.rfind("::");
  return colons == std::string::npos ? name : name.substr(colons + 2);
}

const Model& object_of(const Model& model) {
  const Model* owner = model.impl().owner;
  return owner ? *owner : model;
}

}  // namespace

// --- SubclassedImpl ------------------------------------------------------------------------------

std::string SubclassedImpl::class_name() const {
  if (!owner) return "Model";
  if (const auto* r = engine::registration_of(*owner)) return r->class_name;
  return cpp_class_name(typeid(*owner));
}

Model& SubclassedImpl::owner_or_throw() const {
  if (!owner)
    throw ValueError("subclassed model '" + name() + "': the object that defines its call() no longer "
                     "exists; keep the model object alive while a copy of its handle is in use");
  return *owner;
}

void SubclassedImpl::track(const std::string& attribute, std::shared_ptr<Layer> layer) {
  if (!layer) throw ValueError("Model::track('" + attribute + "'): a null layer");
  if (attribute.empty() || attribute == "layers")
    throw ValueError("Model::track: '" + attribute + "' cannot name a layer attribute (Keras's "
                     "model.layers holds every layer)");
  for (const auto& [name, l] : attributes_)
    if (name == attribute) throw ValueError("Model::track: attribute '" + attribute + "' is already tracked");
  attributes_.emplace_back(attribute, layer);
  stack.push_back(std::move(layer));
}

Tensor SubclassedImpl::call_owner(Model& object, const Tensor& x, bool training) {
  if (!built()) {
    auto lock = engine::lock_building();
    if (!built()) {
      Tensor out = object.call(x, training);
      Shape out_shape = out.shape(), in_shape = x.shape();
      if (!out_shape.empty()) out_shape[0] = -1;
      if (!in_shape.empty()) in_shape[0] = -1;
      traced_output_ = out_shape;
      build_for(in_shape);  // build() finds the traced shape: no second call
      return out;
    }
  }
  return object.call(x, training);
}

void SubclassedImpl::build(const Shape& input_shape) {
  if (traced_output_) return;
  traced_output_ = compute_output_shape(input_shape);
}

Shape SubclassedImpl::compute_output_shape(const Shape& input_shape) {
  // Summary lists each tracked layer's output for the input it was built for.
  output_shapes.clear();
  for (const auto& layer : stack) {
    if (!layer->built()) break;
    try {
      output_shapes.push_back(layer->compute_output_shape(layer->input_shape()));
    } catch (const Error&) {
      break;  // a layer called on several inputs: its shape is shown as unknown
    }
  }
  if (traced_output_ && built() && input_shape == this->input_shape()) return *traced_output_;
  Shape one = input_shape;
  for (int i = 0; i < one.rank(); ++i)
    if (one[i] < 0) {
      if (i > 0)
        throw ValueError("subclassed model '" + name() + "': cannot build for input shape " +
                         input_shape.str() + " with an unknown dimension besides the batch");
      one[i] = 1;
    }
  NoGradGuard no_grad;
  Shape out = owner_or_throw().call(Tensor::zeros(one), false).shape();
  if (!out.empty()) out[0] = -1;
  return out;
}

Tensor SubclassedImpl::call(const Tensor& x, bool training) { return call_owner(owner_or_throw(), x, training); }

std::vector<Tensor> SubclassedImpl::forward_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>&,
                                                   bool training, std::vector<Tensor>& output_masks) {
  if (inputs.size() != 1)
    throw ValueError(class_name() + " '" + name() + "' takes one input, got " + std::to_string(inputs.size()));
  output_masks.assign(1, Tensor());
  return {call(inputs[0], training)};
}

nlohmann::json SubclassedImpl::get_config() const {
  return {{"name", name()}, {"trainable", trainable()}, {"dtype", "float32"}};
}

std::vector<KerasTensor> SubclassedImpl::input_tensors() const {
  throw ValueError("subclassed model '" + name() + "' has no symbolic inputs (its graph is its call())");
}

std::vector<KerasTensor> SubclassedImpl::output_tensors() const {
  throw ValueError("subclassed model '" + name() + "' has no symbolic outputs (its graph is its call())");
}

// --- Model's subclassing members ------------------------------------------------------------------

Model::Model(SubclassOptions options) : impl_(std::make_shared<SubclassedImpl>(std::move(options.name))) {
  impl_->owner = this;
}

void Model::track_layer(const std::string& attribute, std::shared_ptr<Layer> layer) {
  auto* sub = dynamic_cast<SubclassedImpl*>(impl_.get());
  if (!sub)
    throw ValueError("Model::track('" + attribute + "'): only a subclassed model (constructed with "
                     "SubclassOptions) tracks layers; add them to a Sequential or call them on tensors");
  sub->track(attribute, std::move(layer));
}

Model adopt_model(std::shared_ptr<Model> model) {
  if (!model || !model->defined()) throw ValueError("register_model: the factory made no model");
  ModelImpl* impl = model->impl_ptr().get();
  // The handle shares ownership of the object: the model's call() lives as long as the handle.
  return Model(std::shared_ptr<ModelImpl>(std::move(model), impl));
}

void register_model(const std::string& class_name, const std::string& package, std::type_index type,
                    ModelFactory factory) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.by_type[type] = {class_name, package + ">" + class_name, std::move(factory)};
}

namespace engine {

const ModelRegistration* registration_of(const Model& model) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto it = r.by_type.find(typeid(object_of(model)));
  return it == r.by_type.end() ? nullptr : &it->second;
}

const ModelRegistration* find_registration(const std::string& registered_name, const std::string& class_name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& [type, reg] : r.by_type)
    if (!registered_name.empty() && reg.registered_name == registered_name) return &reg;
  for (const auto& [type, reg] : r.by_type)
    if (registered_name.empty() && reg.class_name == class_name) return &reg;
  return nullptr;
}

Model subclassed_from_config(const ModelRegistration& registration, const nlohmann::json& serialized) {
  const nlohmann::json& config = serialized.at("config");
  Model model = registration.factory(config);
  ModelImpl& m = model.impl();
  if (config.contains("name") && config["name"].is_string()) m.set_name(config["name"].get<std::string>());
  if (config.contains("trainable") && config["trainable"].is_boolean()) m.set_trainable(config["trainable"].get<bool>());
  const nlohmann::json build = serialized.value("build_config", nlohmann::json(nullptr));
  if (build.is_object() && build.contains("input_shape") && build["input_shape"].is_array()) {
    Shape shape;
    for (const auto& d : build["input_shape"]) shape.push_back(d.is_null() ? -1 : json_int<std::int64_t>(d));
    auto lock = lock_building();
    m.build_for(shape);
  }
  return model;
}

}  // namespace engine
}  // namespace lamina
