// SPDX-License-Identifier: Apache-2.0
// GroupNormalization, UnitNormalization and RMSNormalization: per-sample statistics composed from
// ops (reshape, mean, sqrt), so autodiff gives the backward.
#include <algorithm>
#include "common/json_int.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "axes_config.hpp"
#include "beta_gamma_config.hpp"
#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/layers/normalization.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

namespace {
using json = nlohmann::json;

void require_positive_epsilon(const char* cls, double epsilon) {
  if (!(epsilon > 0)) throw ValueError(std::string(cls) + ": epsilon must be positive, got " + std::to_string(epsilon));
}

// Keras computes these statistics in at least float32: 16-bit inputs are widened.
Tensor widened(const Tensor& x) {
  return x.dtype() == float32 || x.dtype() == float64 ? x : x.astype(float32);
}

// NumPy broadcasting of `from` onto `to` (from may have fewer axes).
bool broadcasts(const Shape& from, const Shape& to) {
  if (from.rank() > to.rank()) return false;
  for (int i = 1; i <= from.rank(); ++i) {
    const std::int64_t f = from[from.rank() - i], t = to[to.rank() - i];
    if (f != 1 && t >= 0 && f != t) return false;
  }
  return true;
}
}  // namespace

// --- GroupNormalization --------------------------------------------------------------------------

GroupNormalizationLayer::GroupNormalizationLayer(GroupNormalizationOptions options)
    : Layer(options.name, options.dtype), options_(std::move(options)) {
  if (options_.groups == 0 || options_.groups < -1)
    throw ValueError("GroupNormalization: groups must be positive, or -1 for one group per channel, got " +
                     std::to_string(options_.groups));
  require_positive_epsilon("GroupNormalization", options_.epsilon);
}

int GroupNormalizationLayer::check_input(const Shape& s) const {
  if (s.rank() < 2) fail_shape("input must have a batch and a channel axis, got " + s.str());
  const int a = axes_config::resolve(*this, options_.axis, s.rank())[0];
  const std::int64_t c = s[a];
  if (c <= 0) fail_shape("the dimension of axis " + std::to_string(options_.axis) + " must be known, got " + s.str());
  const std::int64_t g = options_.groups == -1 ? c : options_.groups;
  if (c % g != 0)
    fail_shape("the " + std::to_string(c) + " channels of input " + s.str() + " do not divide into " +
               std::to_string(g) + " groups");
  const Tensor& w = gamma.defined() ? gamma : beta;
  if (w.defined() && w.shape()[0] != c)
    fail_shape("expected " + std::to_string(w.shape()[0]) + " channels on axis " + std::to_string(options_.axis) +
               ", got " + s.str());
  return a;
}

void GroupNormalizationLayer::build(const Shape& input_shape) {
  const Shape c{input_shape[check_input(input_shape)]};
  auto& o = options_;
  if (o.groups == -1) o.groups = static_cast<int>(c[0]);  // as Keras, whose config then says so
  if (o.scale) gamma = add_weight("gamma", c, o.gamma_initializer, true, float32, o.gamma_regularizer, o.gamma_constraint);
  if (o.center) beta = add_weight("beta", c, o.beta_initializer, true, float32, o.beta_regularizer, o.beta_constraint);
}

Shape GroupNormalizationLayer::compute_output_shape(const Shape& input_shape) {
  check_input(input_shape);
  return input_shape;
}

// Keras's formula: the channel axis split into (groups, channels per group), statistics over
// every axis but the batch and the group, then x·inv + (beta − mean·inv), inv = gamma/sqrt(var + ε).
Tensor GroupNormalizationLayer::call(const Tensor& x, bool) {
  const int a = check_input(x.shape());
  const std::int64_t c = x.dim(a), g = options_.groups == -1 ? c : options_.groups;
  const Tensor in = widened(is_floating(x.dtype()) ? x : x.astype(float32));
  Shape grouped = x.shape(), along(static_cast<std::size_t>(x.ndim() + 1), 1);
  grouped[static_cast<std::size_t>(a)] = c / g;
  grouped.insert(grouped.begin() + a, g);
  along[static_cast<std::size_t>(a)] = g;
  along[static_cast<std::size_t>(a + 1)] = c / g;
  std::vector<int> reduce;
  for (int i = 1; i <= x.ndim(); ++i)
    if (i != a) reduce.push_back(i);
  const Tensor r = in.reshape(grouped);
  const Tensor mu = mean(r, reduce, true);
  const Tensor centred = r - mu;
  Tensor inv = 1.0 / sqrt(mean(centred * centred, reduce, true) + options_.epsilon);
  if (gamma.defined()) inv = inv * gamma.astype(in.dtype()).reshape(along);
  Tensor shift = -(mu * inv);
  if (beta.defined()) shift = shift + beta.astype(in.dtype()).reshape(along);
  const Tensor y = (r * inv + shift).reshape(x.shape());
  return is_floating(x.dtype()) && y.dtype() != x.dtype() ? y.astype(x.dtype()) : y;
}

json GroupNormalizationLayer::get_config() const {
  json c = Layer::get_config();
  const auto& o = options_;
  c["groups"] = o.groups;
  c["axis"] = o.axis;
  beta_gamma_to_config(o, c);
  return c;
}

GroupNormalization::GroupNormalization(GroupNormalizationOptions options)
    : LayerHandle(std::make_shared<GroupNormalizationLayer>(std::move(options))) {}

// --- UnitNormalization ---------------------------------------------------------------------------

UnitNormalizationLayer::UnitNormalizationLayer(Axes axis, std::string name)
    : Layer(std::move(name)), axis_(std::move(axis)) {
  if (axis_.values.empty()) throw ValueError("UnitNormalization: axis must name at least one axis");
}

Shape UnitNormalizationLayer::compute_output_shape(const Shape& input_shape) {
  axes_config::resolve(*this, axis_, input_shape.rank(), true);
  return input_shape;
}

// Keras 3's ops.normalize(order=2, epsilon=1e-12): x·min(1/sqrt(Σx²), 1/ε).
Tensor UnitNormalizationLayer::call(const Tensor& x_in, bool) {
  const std::vector<int> axes = axes_config::resolve(*this, axis_, x_in.ndim(), true);
  const Tensor x = is_floating(x_in.dtype()) ? x_in : x_in.astype(float32);
  const Tensor inv_norm = 1.0 / sqrt(sum(x * x, axes, true));
  return x * minimum(inv_norm, Tensor::scalar(1e12, x.dtype()));
}

json UnitNormalizationLayer::get_config() const {
  json c = Layer::get_config();
  c["axis"] = axes_config::to_json(axis_);
  return c;
}

UnitNormalization::UnitNormalization(Axes axis, Name name)
    : LayerHandle(std::make_shared<UnitNormalizationLayer>(std::move(axis), std::move(name))) {}

// --- RMSNormalization ----------------------------------------------------------------------------

RMSNormalizationLayer::RMSNormalizationLayer(RMSNormalizationOptions options)
    : Layer(options.name, options.dtype), options_(std::move(options)) {
  require_positive_epsilon("RMSNormalization", options_.epsilon);
  if (options_.axis.values.empty()) throw ValueError("RMSNormalization: axis must name at least one axis");
  // Keras sorts the axes as written (negative ones first) and lays the scale out in that order.
  std::sort(options_.axis.values.begin(), options_.axis.values.end());
}

std::vector<int> RMSNormalizationLayer::check_input(const Shape& s) const {
  const std::vector<int> axes = axes_config::resolve(*this, options_.axis, s.rank());
  Shape w;
  for (int a : axes) {
    if (s[a] <= 0) fail_shape("the dimension of axis " + std::to_string(a) + " must be known, got " + s.str());
    w.push_back(s[a]);
  }
  // Keras multiplies by the scale with NumPy broadcasting, from the last axis.
  if (!broadcasts(w, s))
    fail_shape("its scale " + w.str() + " (the dimensions of axis " + axes_config::to_json(options_.axis).dump() +
               ") does not broadcast against the input " + s.str() + " from the last axis, as Keras multiplies it");
  if (scale.defined() && scale.shape() != w)
    fail_shape("expected dimensions " + scale.shape().str() + " on the normalised axes, got " + s.str());
  return axes;
}

void RMSNormalizationLayer::build(const Shape& input_shape) {
  Shape w;
  for (int a : check_input(input_shape)) w.push_back(input_shape[a]);
  scale = add_weight("scale", w, "ones");
}

Shape RMSNormalizationLayer::compute_output_shape(const Shape& input_shape) {
  check_input(input_shape);
  return input_shape;
}

Tensor RMSNormalizationLayer::call(const Tensor& x, bool) {
  const std::vector<int> axes = check_input(x.shape());
  const Tensor in = widened(is_floating(x.dtype()) ? x : x.astype(float32));
  const Tensor y = in * (1.0 / sqrt(mean(in * in, axes, true) + options_.epsilon)) * autocast(scale).astype(in.dtype());
  return is_floating(x.dtype()) && y.dtype() != x.dtype() ? y.astype(x.dtype()) : y;
}

json RMSNormalizationLayer::get_config() const {
  json c = Layer::get_config();
  c["axis"] = axes_config::to_json(options_.axis);
  c["epsilon"] = options_.epsilon;
  return c;
}

RMSNormalization::RMSNormalization(RMSNormalizationOptions options)
    : LayerHandle(std::make_shared<RMSNormalizationLayer>(std::move(options))) {}

// --- from_config ---------------------------------------------------------------------------------

namespace {
using engine::name_of;

// Keras writes GroupNormalization's axis as an integer (older files a one-element list).
int single_axis(const json& c) {
  const Axes a = axes_config::from_json(c, "axis", -1);
  if (!a.single()) throw ValueError("axis=" + c["axis"].dump() + " must be a single axis");
  return a.values[0];
}

}  // namespace

void register_group_normalization_layers() {
  engine::register_layer_spec({
      .class_name = "GroupNormalization",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        GroupNormalizationOptions o{.groups = json_int<int>(c, "groups", 32), .axis = single_axis(c)};
        beta_gamma_from_config(c, o);
        return GroupNormalization(std::move(o)).ptr();
      },
      .honoured_keys = keys::join({keys::beta_gamma(), {"groups"}}),
  });
  engine::register_layer_spec({
      .class_name = "UnitNormalization",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return UnitNormalization(axes_config::from_json(c, "axis", -1), name_of(c)).ptr();
      },
      .honoured_keys = {"axis"},
      .build_config = false,
  });
  engine::register_layer_spec({
      .class_name = "RMSNormalization",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return RMSNormalization(
                   {.axis = axes_config::from_json(c, "axis", -1),
                    .epsilon = c.value("epsilon", 1e-6),
                    .name = name_of(c)})
            .ptr();
      },
      .honoured_keys = {"axis", "epsilon"},
  });
}

}  // namespace lamina::layers
