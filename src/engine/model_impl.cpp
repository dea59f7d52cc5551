// SPDX-License-Identifier: Apache-2.0
// ModelImpl: the layer stack, shape inference at add time, and the forward pass.
#include "engine/model_impl.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "engine/build_lock.hpp"
#include "engine/functional.hpp"
#include "engine/training.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina {

Shape ModelImpl::known_input_shape() const {
  if (input_layer) return input_layer->batch_shape();
  if (built()) return input_shape();
  return {};
}

void ModelImpl::add(const std::shared_ptr<Layer>& layer) {
  if (!layer) throw ValueError("Sequential '" + name() + "': cannot add a null layer");
  if (auto input = std::dynamic_pointer_cast<InputLayer>(layer)) {
    if (input_layer || !stack.empty())
      throw ValueError("Sequential '" + name() + "': an Input can only be the first layer");
    input_layer = input;
    build_for(input->batch_shape());
    return;
  }
  if (layer.get() == this) throw ValueError("Sequential '" + name() + "': cannot add a model to itself");
  if (layer->num_outputs() != 1)
    throw ValueError("Sequential '" + name() + "': all layers in a Sequential model should have a single "
                     "output tensor; " + layer->class_name() + " '" + layer->name() + "' returns " +
                     std::to_string(layer->num_outputs()) + " (use the Functional API)");
  for (const auto& l : stack)
    if (l->name() == layer->name())
      throw ValueError("Sequential '" + name() + "': all layers must have unique names; '" +
                       layer->name() + "' is already in the model");
  stack.push_back(layer);
  Shape in = known_input_shape();
  if (in.empty()) return;
  try {
    Shape prev = output_shapes.empty() ? in : output_shapes.back();
    output_shapes.push_back(layer->build_for(prev));
  } catch (...) {
    stack.pop_back();
    throw;
  }
}

void ModelImpl::pop() {
  if (stack.empty()) throw ValueError("Sequential '" + name() + "': pop() on a model with no layers");
  stack.pop_back();
  if (output_shapes.size() > stack.size()) output_shapes.pop_back();
}

void ModelImpl::build_stack(const Shape& input_shape) {
  output_shapes.clear();
  Shape s = input_shape;
  for (const auto& layer : stack) {
    s = layer->build_for(s);
    output_shapes.push_back(s);
  }
}

void ModelImpl::build(const Shape& input_shape) { build_stack(input_shape); }

Shape ModelImpl::compute_output_shape(const Shape& input_shape) {
  if (output_shapes.size() != stack.size()) build_stack(input_shape);
  return output_shapes.empty() ? input_shape : output_shapes.back();
}

Tensor ModelImpl::call(const Tensor& x, bool training) {
  Tensor unused;
  return run_stack(x, Tensor(), training, unused);
}

Tensor ModelImpl::run_stack(const Tensor& x, Tensor mask, bool training, Tensor& output_mask) {
  Shape expected = known_input_shape();
  if (!expected.empty()) {
    bool ok = x.ndim() == expected.rank();
    for (int i = 1; ok && i < x.ndim(); ++i) ok = expected[i] < 0 || expected[i] == x.shape()[i];
    if (!ok)
      throw ShapeError(class_name() + " '" + name() + "': expected input of shape " +
                       expected.str() + ", got " + x.shape().str());
  }
  if (auto lock = engine::lock_building(); output_shapes.size() != stack.size()) {
    Shape s = x.shape();
    if (!s.empty()) s[0] = -1;
    build_stack(s);
  }
  Tensor h = x;
  if (input_layer && is_floating(input_layer->dtype()) && h.dtype() != input_layer->dtype())
    h = h.astype(input_layer->dtype());
  // Keras's mask, carried from the layer that makes it (Embedding, Masking).
  for (const auto& layer : stack) {
    Tensor next = layer->call_with_policy(h, mask, training);
    mask = layer->compute_mask(h, mask);
    h = std::move(next);
  }
  output_mask = mask;
  return h;
}

std::vector<Tensor> ModelImpl::forward(const std::vector<Tensor>& inputs, bool training) {
  clear_losses();  // an outermost call starts a fresh set of activity losses, as in Keras
  std::vector<Tensor> unused;
  return forward_masked(inputs, {}, training, unused);
}

std::vector<Tensor> ModelImpl::forward_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& input_masks,
                                              bool training, std::vector<Tensor>& output_masks) {
  if (inputs.size() != 1)
    throw ValueError(class_name() + " '" + name() + "' takes one input, got " +
                     std::to_string(inputs.size()));
  if (!built()) {
    auto lock = engine::lock_building();
    Shape s = inputs[0].shape();
    if (!s.empty()) s[0] = -1;
    build_for(s);
  }
  output_masks.assign(1, Tensor());
  return {run_stack(inputs[0], input_masks.empty() ? Tensor() : input_masks[0], training, output_masks[0])};
}

std::vector<std::string> ModelImpl::input_names() const {
  return {input_layer ? input_layer->name() : std::string("input")};
}

std::vector<std::string> ModelImpl::output_names() const {
  return {stack.empty() ? name() : stack.back()->name()};
}

std::vector<KerasTensor> ModelImpl::input_tensors() const {
  if (!input_layer) throw ValueError(class_name() + " '" + name() + "' has no Input yet, so no inputs");
  return {KerasTensor{input_layer->batch_shape(), input_layer->dtype(), input_layer->name(),
                      input_layer, nullptr}};
}

std::vector<KerasTensor> ModelImpl::output_tensors() const {
  if (!input_layer) throw ValueError(class_name() + " '" + name() + "' has no Input yet, so no outputs");
  if (stack.empty()) return input_tensors();
  Shape out = output_shapes.empty() ? input_layer->batch_shape() : output_shapes.back();
  return {KerasTensor{out, float32, stack.back()->name(), stack.back(), nullptr}};
}

nlohmann::json ModelImpl::get_config() const {
  nlohmann::json layers_json = nlohmann::json::array();
  if (input_layer)
    layers_json.push_back({{"module", "keras.layers"}, {"class_name", "InputLayer"},
                           {"config", input_layer->get_config()}, {"registered_name", nullptr}});
  for (const auto& l : stack)
    layers_json.push_back({{"module", "keras.layers"}, {"class_name", l->class_name()},
                           {"config", l->get_config()}, {"registered_name", nullptr}});
  return {{"name", name()}, {"trainable", trainable()}, {"dtype", dtype_policy().name()},
          {"layers", layers_json}};
}

namespace engine {

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

namespace {

void collect_paths(const Layer& layer, const std::string& scope,
                   std::vector<std::pair<Tensor, std::string>>& out) {
  const bool functional = dynamic_cast<const FunctionalImpl*>(&layer) != nullptr;
  const std::string inner = functional ? scope : scope + layer.name() + "/";
  for (const auto& w : layer.own_weights()) out.emplace_back(w.value, inner + w.name);
  for (const auto& sub : layer.sublayers()) collect_paths(*sub, inner, out);
}

}  // namespace

std::vector<std::string> variable_paths(const ModelImpl& m, const std::vector<Tensor>& weights) {
  std::vector<std::pair<Tensor, std::string>> named;
  collect_paths(m, "", named);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    auto it = std::find_if(named.begin(), named.end(),
                           [&](const auto& n) { return n.first.shares_storage(weights[i]); });
    out.push_back(it != named.end() ? it->second : "variable_" + std::to_string(i));
  }
  return out;
}

}  // namespace engine
}  // namespace lamina
