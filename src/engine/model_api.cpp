// SPDX-License-Identifier: Apache-2.0
// Model and Sequential handles: construction, symbolic calls, accessors and the Sequential stack.
#include "lamina/model.hpp"

#include <nlohmann/json.hpp>

#include "engine/compiled_state.hpp"
#include "engine/data_adapter.hpp"
#include "engine/functional.hpp"
#include "engine/loss_scope.hpp"
#include "engine/model_impl.hpp"
#include "engine/subclassed.hpp"
#include "engine/trainer.hpp"
#include "lamina/errors.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

namespace {

ModelImpl& checked(const std::shared_ptr<ModelImpl>& impl) {
  if (!impl) throw ValueError("use of an empty Model handle");
  return *impl;
}

}  // namespace

SymbolicArg::SymbolicArg(const std::map<std::string, KerasTensor>& named) {
  for (const auto& [k, v] : named) {
    names_.push_back(k);
    tensors_.push_back(v);
  }
}

// --- LayerItem -------------------------------------------------------------------------------------

LayerItem::LayerItem(const KerasTensor& input) : layer_(input.layer) {
  if (!layer_) throw ValueError("a KerasTensor without a producing layer cannot start a model");
}
LayerItem::LayerItem(const Model& model) : layer_(model.impl_ptr()) {}

// --- Model -----------------------------------------------------------------------------------------

Model::Model() = default;
Model::Model(std::shared_ptr<ModelImpl> impl) : impl_(std::move(impl)) {}
Model::Model(const Model& other) : impl_(other.impl_) {}

// The object that constructed a model stops being its owner when it goes: its overrides then no
// longer run for the other handles.
Model::~Model() {
  if (impl_ && impl_->owner == this) impl_->owner = nullptr;
}

Model& Model::operator=(const Model& other) {
  if (this == &other) return *this;
  if (impl_ && impl_->owner == this) impl_->owner = nullptr;
  impl_ = other.impl_;
  return *this;
}

Tensor Model::call(const Tensor& x, bool training) {
  ModelImpl& m = checked(impl_);
  if (dynamic_cast<SubclassedImpl*>(&m))
    throw ValueError("subclassed model '" + m.name() + "': " +
                     (m.owner ? "its class does not override call(inputs, training)"
                              : "the object that defines its call() no longer exists; keep the model "
                                "object alive while a copy of its handle is in use"));
  return m.forward({x}, training).at(0);
}

Model::operator std::shared_ptr<Layer>() const { return impl_; }

Tensor Model::predict_on_batch(const Tensor& x) {
  NoGradGuard no_grad;
  ModelImpl& m = checked(impl_);
  const engine::StatefulGuard stateful(m, "predict_on_batch");
  const engine::NoLossRecording no_losses;
  return m(x.to(engine::model_device(m)), false).to(Device::cpu());
}

Tensor Model::operator()(const Tensor& x, bool training) const { return checked(impl_)(x, training); }

Model& Model::to(Device device) {
  ModelImpl& m = checked(impl_);
  for (const Tensor& w : m.weights()) relocate(w, device);
  if (m.compiled && m.compiled->optimizer)
    for (const auto& [path, slot] : m.compiled->optimizer->variables()) relocate(slot, device);
  return *this;
}

Device Model::device() const { return engine::model_device(checked(impl_)); }

std::vector<Tensor> Model::operator()(const std::vector<Tensor>& xs, bool training) const {
  return checked(impl_).forward(xs, training);
}

KerasTensor Model::operator()(const KerasTensor& x) const { return checked(impl_)(x); }
KerasTensor Model::operator()(const std::vector<KerasTensor>& xs) const { return checked(impl_)(xs); }
std::vector<KerasTensor> Model::outputs_of(const KerasTensor& x) const { return checked(impl_).outputs_of(x); }
std::vector<KerasTensor> Model::outputs_of(const std::vector<KerasTensor>& xs) const {
  return checked(impl_).outputs_of(xs);
}

nlohmann::json Model::get_config() const { return checked(impl_).get_config(); }

std::vector<KerasTensor> Model::inputs() const { return checked(impl_).input_tensors(); }
std::vector<KerasTensor> Model::outputs() const { return checked(impl_).output_tensors(); }
std::vector<std::string> Model::input_names() const { return checked(impl_).input_names(); }
std::vector<std::string> Model::output_names() const { return checked(impl_).output_names(); }

Model::Model(const SymbolicArg& inputs, const SymbolicArg& outputs, Name name)
    : impl_(std::make_shared<FunctionalImpl>(inputs, outputs, std::move(name))) {
  impl_->owner = this;  // a subclass's overridden steps run for every handle
}

std::vector<std::shared_ptr<Layer>> Model::layers() const { return checked(impl_).stack; }

std::shared_ptr<Layer> Model::get_layer(const std::string& name) const {
  for (const auto& l : checked(impl_).stack)
    if (l->name() == name) return l;
  std::string known;
  for (const auto& l : impl_->stack) known += (known.empty() ? "" : ", ") + l->name();
  throw ValueError("no layer named '" + name + "' in model '" + impl_->name() + "' (layers: " +
                   known + ")");
}

std::shared_ptr<Layer> Model::get_layer(int index) const {
  const auto& stack = checked(impl_).stack;
  if (index < 0 || index >= static_cast<int>(stack.size()))
    throw ValueError("layer index " + std::to_string(index) + " is out of range: model '" +
                     impl_->name() + "' has " + std::to_string(stack.size()) + " layers");
  return stack[index];
}

const std::string& Model::name() const { return checked(impl_).name(); }
std::vector<Tensor> Model::weights() const { return checked(impl_).weights(); }
std::vector<Tensor> Model::trainable_weights() const { return checked(impl_).trainable_weights(); }
std::vector<Tensor> Model::get_weights() const { return checked(impl_).get_weights(); }
void Model::set_weights(const std::vector<Tensor>& v) { checked(impl_).set_weights(v); }
std::int64_t Model::count_params() const { return checked(impl_).count_params(); }
Shape Model::input_shape() const { return checked(impl_).known_input_shape(); }

Shape Model::output_shape() const {
  ModelImpl& m = checked(impl_);
  if (dynamic_cast<FunctionalImpl*>(&m)) {
    if (m.num_outputs() != 1)
      throw ValueError("model '" + m.name() + "' has " + std::to_string(m.num_outputs()) +
                       " outputs; read their shapes from outputs()");
    return m.output_tensors()[0].shape;
  }
  Shape in = m.known_input_shape();
  if (in.empty()) return {};
  return m.compute_output_shape(in);
}

std::shared_ptr<Optimizer> Model::optimizer() const {
  const ModelImpl& m = checked(impl_);
  return m.compiled ? m.compiled->optimizer : nullptr;
}
bool& Model::stop_training() { return checked(impl_).stop_training; }

// --- Sequential ------------------------------------------------------------------------------------

Sequential::Sequential(Name name) : Model(std::make_shared<ModelImpl>(std::move(name))) {
  impl_->name();
  impl_->owner = this;  // a subclass's overridden steps run for every handle
}

Sequential::Sequential(std::initializer_list<LayerItem> layers, Name name)
    : Sequential(std::move(name)) {
  for (const auto& l : layers) add(l);
}

Sequential::Sequential(const std::vector<LayerItem>& layers, Name name)
    : Sequential(std::move(name)) {
  for (const auto& l : layers) add(l);
}

void Sequential::add(const LayerItem& layer) { impl_->add(layer.layer()); }
void Sequential::pop() { impl_->pop(); }

}  // namespace lamina
