// SPDX-License-Identifier: Apache-2.0
// Wrappers: Bidirectional and TimeDistributed.
#include "lamina/layers/wrappers.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/recurrent.hpp"

#include "build_on_call.hpp"

namespace lamina::layers {

namespace {
using json = nlohmann::json;

json serialize(const Layer& layer) {
  return {{"module", "keras.layers"}, {"class_name", layer.class_name()},
          {"config", layer.get_config()}, {"registered_name", nullptr}};
}

std::shared_ptr<Layer> deserialize(const json& j) {
  return layer_from_config(j.at("class_name").get<std::string>(), j.at("config"));
}

// Keras's Bidirectional sets its layers' zero_output_for_mask to return_sequences before saving
// them; lamina's Bidirectional zeroes masked steps itself, so the wrapped layer keeps the default.
std::shared_ptr<Layer> deserialize_wrapped_rnn(json j) {
  if (j.contains("config") && j["config"].is_object() && j["config"].contains("zero_output_for_mask"))
    j["config"]["zero_output_for_mask"] = false;
  return deserialize(j);
}

std::string without_prefix(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : s;
}

// A fresh recurrent layer from `layer`'s config with a new name (and direction if asked).
std::shared_ptr<RNNLayer> recreate(const RNNLayer& layer, const std::string& name, bool flip) {
  json c = layer.get_config();
  c["name"] = name;
  if (flip) c["go_backwards"] = !c.value("go_backwards", false);
  auto made = std::dynamic_pointer_cast<RNNLayer>(layer_from_config(layer.class_name(), c));
  if (!made) throw ValueError("Bidirectional: cannot recreate " + layer.class_name());
  return made;
}
}  // namespace

// --- Bidirectional -------------------------------------------------------------------------------

BidirectionalLayer::BidirectionalLayer(const std::shared_ptr<RNNLayer>& layer, BidirectionalOptions o)
    : Layer(o.name, o.dtype), merge_mode_(o.merge_mode) {
  if (!layer) throw ValueError("Bidirectional: the wrapped layer is empty");
  if (merge_mode_ != "concat" && merge_mode_ != "sum" && merge_mode_ != "mul" && merge_mode_ != "ave" &&
      merge_mode_ != "none")
    throw ValueError("Bidirectional: merge_mode must be \"concat\", \"sum\", \"mul\", \"ave\" or \"none\", got \"" +
                     merge_mode_ + "\"");
  forward_ = recreate(*layer, "forward_" + without_prefix(layer->name(), "forward_"), false);
  backward_ = o.backward_layer
                  ? o.backward_layer
                  : recreate(*layer, "backward_" + without_prefix(layer->name(), "forward_"), true);
  if (backward_->units() != forward_->units() ||
      backward_->options().return_sequences != forward_->options().return_sequences)
    throw ValueError("Bidirectional: the backward layer must match the forward one (units " +
                     std::to_string(forward_->units()) + ", return_sequences " +
                     (forward_->options().return_sequences ? "true" : "false") + ")");
}

Shape BidirectionalLayer::compute_output_shape(const Shape& s) {
  Shape out = forward_->compute_output_shape(s);
  backward_->compute_output_shape(s);
  if (merge_mode_ == "concat") out.back() *= 2;
  return out;
}

void BidirectionalLayer::build(const Shape& s) {
  forward_->build_for(s);
  backward_->build_for(s);
}

BidirectionalLayer::Outputs BidirectionalLayer::call_both(const Tensor& x, const Tensor& mask, bool training,
                                                          const std::vector<Tensor>& initial_state) {
  build_on(*this, x);
  const auto half = initial_state.begin() + static_cast<std::ptrdiff_t>(initial_state.size() / 2);
  auto f = forward_->call_with_state(x, mask, {initial_state.begin(), half}, training);
  auto b = backward_->call_with_state(x, mask, {half, initial_state.end()}, training);
  Outputs out{f.output, b.output, f.states};
  out.states.insert(out.states.end(), b.states.begin(), b.states.end());
  if (forward_->options().return_sequences) {
    out.backward = reverse_steps(out.backward);
    if (mask.defined()) {
      // Keras forces zero_output_for_mask on both directions when returning sequences.
      Shape per_step(static_cast<std::size_t>(out.forward.ndim()), 1);  // (batch, steps, 1, ...)
      per_step[0] = x.shape()[0];
      per_step[1] = x.shape()[1];
      Tensor m = mask.astype(out.forward.dtype()).reshape(per_step);
      out.forward = out.forward * m;
      out.backward = out.backward * m;
    }
  }
  return out;
}

namespace {
Tensor merge(const std::string& mode, const Tensor& f, const Tensor& b) {
  if (mode == "concat") return concatenate({f, b}, -1);
  if (mode == "sum") return f + b;
  if (mode == "mul") return f * b;
  return (f + b) * 0.5;
}
}  // namespace

Tensor BidirectionalLayer::call_masked(const Tensor& x, const Tensor& mask, bool training) {
  if (merge_mode_ == "none")
    throw ValueError("Bidirectional '" + name() + "': merge_mode \"none\" gives two outputs; use call_both()");
  Outputs o = call_both(x, mask, training);
  return merge(merge_mode_, o.forward, o.backward);
}

Tensor BidirectionalLayer::call(const Tensor& x, bool training) { return call_masked(x, Tensor(), training); }

Tensor BidirectionalLayer::compute_mask(const Tensor& x, const Tensor& mask) const {
  return forward_->compute_mask(x, mask);
}

std::size_t BidirectionalLayer::num_outputs() const {
  const std::size_t states = forward_->options().return_state ? 2 * forward_->cell()->state_count() : 0;
  return (merge_mode_ == "none" ? 2 : 1) + states;
}

void BidirectionalLayer::build_list(const std::vector<Shape>& shapes) {
  forward_->check_initial_state_shapes(shapes, 2 * forward_->cell()->state_count());
  build(shapes[0]);
}

std::vector<Shape> BidirectionalLayer::compute_output_shapes(const std::vector<Shape>& shapes) {
  forward_->check_initial_state_shapes(shapes, 2 * forward_->cell()->state_count());
  const Shape out = compute_output_shape(shapes[0]);
  std::vector<Shape> result(merge_mode_ == "none" ? 2 : 1, out);
  if (forward_->options().return_state)
    result.insert(result.end(), 2 * forward_->cell()->state_count(), forward_->state_shape(shapes[0]));
  return result;
}

std::vector<Tensor> BidirectionalLayer::call_outputs(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                                     bool training, std::vector<Tensor>& output_masks) {
  if (inputs.empty()) fail_shape("called on an empty list of tensors");
  const Tensor mask = masks.empty() ? Tensor() : masks[0];
  Outputs o = call_both(inputs[0], mask, training, {inputs.begin() + 1, inputs.end()});
  std::vector<Tensor> out;
  if (merge_mode_ == "none") out = {o.forward, o.backward};
  else out = {merge(merge_mode_, o.forward, o.backward)};
  const std::size_t sequences = out.size();
  if (forward_->options().return_state) out.insert(out.end(), o.states.begin(), o.states.end());
  output_masks.assign(out.size(), Tensor());
  for (std::size_t i = 0; i < sequences; ++i) output_masks[i] = compute_mask(inputs[0], mask);
  return out;
}

std::vector<Layer::Keras3Group> BidirectionalLayer::keras3_layout() const {
  return {{"vars", name()}, {"backward_layer", {}, {}, backward_.get()}, {"forward_layer", {}, {}, forward_.get()}};
}

json BidirectionalLayer::get_config() const {
  json c = Layer::get_config();
  c["merge_mode"] = merge_mode_ == "none" ? json(nullptr) : json(merge_mode_);
  c["layer"] = serialize(*forward_);
  c["backward_layer"] = serialize(*backward_);
  return c;
}

// --- TimeDistributed -----------------------------------------------------------------------------

TimeDistributedLayer::TimeDistributedLayer(std::shared_ptr<Layer> layer, std::string name)
    : Layer(std::move(name)), layer_(std::move(layer)) {
  if (!layer_) throw ValueError("TimeDistributed: the wrapped layer is empty");
}

namespace {
// (batch, steps, rest...) -> (batch·steps, rest...) with an unknown batch kept unknown.
Shape fold_steps(const Shape& s) {
  Shape inner{s[0] < 0 || s[1] < 0 ? -1 : s[0] * s[1]};
  inner.insert(inner.end(), s.begin() + 2, s.end());
  return inner;
}
}  // namespace

Shape TimeDistributedLayer::compute_output_shape(const Shape& s) {
  if (s.rank() < 3) fail_shape("input must be at least 3-D (batch, steps, ...), got " + s.str());
  Shape inner = layer_->compute_output_shape(fold_steps(s));
  Shape out{s[0], s[1]};
  out.insert(out.end(), inner.begin() + 1, inner.end());
  return out;
}

void TimeDistributedLayer::build(const Shape& s) {
  if (s.rank() < 3) fail_shape("input must be at least 3-D (batch, steps, ...), got " + s.str());
  Shape inner = fold_steps(s);
  inner[0] = -1;
  layer_->build_for(inner);
}

Tensor TimeDistributedLayer::call(const Tensor& x, bool training) {
  compute_output_shape(x.shape());
  Tensor y = layer_->call(x.reshape(fold_steps(x.shape())), training);
  Shape out{x.shape()[0], x.shape()[1]};
  out.insert(out.end(), y.shape().begin() + 1, y.shape().end());
  return y.reshape(out);
}

std::vector<Layer::Keras3Group> TimeDistributedLayer::keras3_layout() const {
  return {{"vars", name()}, {"layer", {}, {}, layer_.get()}};
}

json TimeDistributedLayer::get_config() const {
  json c = Layer::get_config();
  c["layer"] = serialize(*layer_);
  return c;
}

TimeDistributed::TimeDistributed(std::shared_ptr<Layer> layer, Name name)
    : LayerHandle(std::make_shared<TimeDistributedLayer>(std::move(layer), std::move(name))) {}

// --- from_config ---------------------------------------------------------------------------------

void register_wrapper_layers() {
  engine::register_layer_spec({
      .class_name = "Bidirectional",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        auto forward = std::dynamic_pointer_cast<RNNLayer>(deserialize_wrapped_rnn(c.at("layer")));
        if (!forward) throw ValueError("Bidirectional '" + engine::name_of(c) + "': the layer must be recurrent");
        BidirectionalOptions o{.merge_mode = c.value("merge_mode", json("concat")).is_null()
                                                 ? std::string("none")
                                                 : c.value("merge_mode", std::string("concat")),
                               .name = engine::name_of(c)};
        if (c.contains("backward_layer") && !c["backward_layer"].is_null())
          o.backward_layer = std::dynamic_pointer_cast<RNNLayer>(deserialize_wrapped_rnn(c["backward_layer"]));
        return std::make_shared<BidirectionalLayer>(forward, std::move(o));
      },
      .honoured_keys = {"layer", "backward_layer", "merge_mode"},
      .call_kwargs = {{"mask", nullptr}},
  });
  engine::register_layer_spec({
      .class_name = "TimeDistributed",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return std::make_shared<TimeDistributedLayer>(deserialize(c.at("layer")), engine::name_of(c));
      },
      .honoured_keys = {"layer"},
      .call_kwargs = {{"mask", nullptr}},
  });
}

}  // namespace lamina::layers
