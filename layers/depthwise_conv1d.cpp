// SPDX-License-Identifier: Apache-2.0
// Depthwise and separable 1-D convolution layers: DepthwiseConv1D, SeparableConv1D (Keras's kernel
// layouts; channels_first by transposing at entry and exit).
#include "common/json_int.hpp"
#include "lamina/layers/depthwise_conv1d.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"
#include "volume_config.hpp"

namespace lamina::layers {

namespace {
volume::DataFormat format_of(bool channels_first) {
  return channels_first ? volume::DataFormat::channels_first : volume::DataFormat::channels_last;
}
}  // namespace

Depthwise1DLayer::Depthwise1DLayer(Spec spec) : Layer(spec.name, spec.dtype), spec_(std::move(spec)) {
  const std::string& c = spec_.cls;
  if (separable()) sizes::require_size(c, "filters", spec_.filters);
  sizes::require_size(c, "depth_multiplier", spec_.depth_multiplier);
  spatial::check_window_args(c, 1, {1, spec_.kernel_size}, {1, spec_.strides}, {1, spec_.dilation_rate}, true);
  padding_ = spatial::padding_for(c, spec_.padding, true);
  channels_first_ = volume::data_format_for(c, spec_.data_format) == volume::DataFormat::channels_first;
}

Shape Depthwise1DLayer::compute_output_shape(const Shape& given) {
  if (given.rank() != 3)
    fail_shape(std::string(channels_first_ ? "input must be 3-D (batch, channels, steps)"
                                           : "input must be 3-D (batch, steps, channels)") +
               ", got " + given.str());
  const Shape s = channels_first_ ? volume::permuted(given, true) : given;
  if (s[2] <= 0) fail_shape("the channel dimension of the input must be known, got " + given.str());
  if (depthwise_kernel.defined() && s[2] != depthwise_kernel.dim(1))
    fail_shape("expected " + std::to_string(depthwise_kernel.dim(1)) + " input channels, got input " + given.str());
  const std::int64_t steps =
      conv_output_length(s[1], spec_.kernel_size, spec_.strides, padding_, spec_.dilation_rate);
  if (steps == 0)
    fail_shape("kernel_size (" + std::to_string(spec_.kernel_size) + ",) with dilation_rate (" +
               std::to_string(spec_.dilation_rate) + ",) is larger than the input " + given.str() +
               " with 'valid' padding: the output would be empty");
  const Shape out{s[0], steps, separable() ? spec_.filters : s[2] * spec_.depth_multiplier};
  return channels_first_ ? volume::permuted(out, false) : out;
}

void Depthwise1DLayer::build(const Shape& input_shape) {
  compute_output_shape(input_shape);
  const std::int64_t in = channels_first_ ? input_shape[1] : input_shape[2], m = spec_.depth_multiplier;
  // Keras's order: depthwise_kernel, pointwise_kernel, bias.
  depthwise_kernel = add_weight("depthwise_kernel", {spec_.kernel_size, in, m}, spec_.depthwise_initializer, true,
                                float32, spec_.depthwise_regularizer, spec_.depthwise_constraint);
  if (separable())
    pointwise_kernel = add_weight("pointwise_kernel", {1, in * m, spec_.filters}, spec_.pointwise_initializer, true,
                                  float32, spec_.pointwise_regularizer, spec_.pointwise_constraint);
  if (spec_.use_bias)
    bias = add_weight("bias", {separable() ? spec_.filters : in * m}, spec_.bias_initializer, true, float32,
                      spec_.bias_regularizer, spec_.bias_constraint);
}

Tensor Depthwise1DLayer::call(const Tensor& given, bool) {
  compute_output_shape(given.shape());
  Tensor x = volume::input_as_channels_last(given, format_of(channels_first_));
  const Tensor dk = autocast(depthwise_kernel), b = autocast(bias);
  if (x.dtype() != dk.dtype()) x = x.astype(dk.dtype());
  const std::int64_t n = x.dim(0), c = x.dim(2), k = spec_.kernel_size;
  // The steps as an image of height 1; causal padding is (k − 1)·dilation zeros on the left.
  Tensor img = x.reshape({n, 1, x.dim(1), c});
  Padding padding = padding_;
  if (padding_ == Padding::causal) {
    img = zero_pad2d(img, 0, 0, (k - 1) * spec_.dilation_rate, 0);
    padding = Padding::valid;
  }
  const FusedActivation act = spatial::fused_part(spec_.activation);
  const Size2D strides{1, spec_.strides}, dilation{1, spec_.dilation_rate};
  const Tensor dk2 = dk.reshape({1, k, c, spec_.depth_multiplier});
  Tensor y = separable() ? depthwise_conv2d(img, dk2, Tensor(), strides, padding, dilation)
                         : depthwise_conv2d(img, dk2, b, strides, padding, dilation, act);
  if (separable()) {
    const Tensor pk = autocast(pointwise_kernel);
    y = conv2d(y, pk.reshape({1, 1, pk.dim(1), pk.dim(2)}), b, 1, Padding::valid, 1, 1, act);
  }
  y = y.reshape({n, y.dim(2), y.dim(3)});
  if (!spec_.activation.fused()) y = spec_.activation(y);
  return regularize_activity(volume::output_in_format(y, format_of(channels_first_)), spec_.activity_regularizer);
}

nlohmann::json Depthwise1DLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  if (separable()) c["filters"] = spec_.filters;
  c["depth_multiplier"] = spec_.depth_multiplier;
  c["kernel_size"] = nlohmann::json::array({spec_.kernel_size});
  c["strides"] = nlohmann::json::array({spec_.strides});
  c["padding"] = padding_name(padding_);
  c["data_format"] = volume::data_format_name(format_of(channels_first_));
  c["dilation_rate"] = nlohmann::json::array({spec_.dilation_rate});
  c["activation"] = spec_.activation.name();
  c["use_bias"] = spec_.use_bias;
  c["depthwise_initializer"] = engine::initializer_config(spec_.depthwise_initializer);
  c["bias_initializer"] = engine::initializer_config(spec_.bias_initializer);
  c["depthwise_regularizer"] = regularizers::serialize(spec_.depthwise_regularizer);
  c["bias_regularizer"] = regularizers::serialize(spec_.bias_regularizer);
  c["activity_regularizer"] = regularizers::serialize(spec_.activity_regularizer);
  c["depthwise_constraint"] = constraints::serialize(spec_.depthwise_constraint);
  c["bias_constraint"] = constraints::serialize(spec_.bias_constraint);
  if (separable()) {
    c["pointwise_initializer"] = engine::initializer_config(spec_.pointwise_initializer);
    c["pointwise_regularizer"] = regularizers::serialize(spec_.pointwise_regularizer);
    c["pointwise_constraint"] = constraints::serialize(spec_.pointwise_constraint);
  }
  return c;
}

namespace {

// The parts both option structs have, in a Spec.
template <class Options>
Depthwise1DLayer::Spec spec_of(const char* cls, std::int64_t filters, std::int64_t kernel_size, Options& o) {
  Depthwise1DLayer::Spec s;
  s.cls = cls;
  s.filters = filters;
  s.kernel_size = kernel_size;
  s.strides = o.strides;
  s.dilation_rate = o.dilation_rate;
  s.depth_multiplier = o.depth_multiplier;
  s.padding = o.padding;
  s.data_format = o.data_format;
  s.activation = std::move(o.activation);
  s.use_bias = o.use_bias;
  s.depthwise_initializer = std::move(o.depthwise_initializer);
  s.bias_initializer = std::move(o.bias_initializer);
  s.depthwise_regularizer = o.depthwise_regularizer;
  s.bias_regularizer = o.bias_regularizer;
  s.activity_regularizer = o.activity_regularizer;
  s.depthwise_constraint = o.depthwise_constraint;
  s.bias_constraint = o.bias_constraint;
  s.name = std::move(o.name);
  s.dtype = std::move(o.dtype);
  return s;
}

}  // namespace

DepthwiseConv1D::DepthwiseConv1D(std::int64_t kernel_size, DepthwiseConv1DOptions o)
    : LayerHandle(std::make_shared<Depthwise1DLayer>(spec_of("DepthwiseConv1D", 0, kernel_size, o))) {}

SeparableConv1D::SeparableConv1D(std::int64_t filters, std::int64_t kernel_size, SeparableConv1DOptions o)
    : LayerHandle([&] {
        sizes::require_size("SeparableConv1D", "filters", filters);
        auto s = spec_of("SeparableConv1D", filters, kernel_size, o);
        s.pointwise_initializer = std::move(o.pointwise_initializer);
        s.pointwise_regularizer = o.pointwise_regularizer;
        s.pointwise_constraint = o.pointwise_constraint;
        return std::make_shared<Depthwise1DLayer>(std::move(s));
      }()) {}

namespace {
using json = nlohmann::json;

Depthwise1DLayer::Spec spec_of_config(const json& c, const char* cls, bool separable) {
  const auto at = [&](const char* key) { return c.contains(key) ? c[key] : json(); };
  Depthwise1DLayer::Spec s;
  s.cls = cls;
  if (separable) {
    s.filters = json_int<std::int64_t>(c.at("filters"), "filters");
    sizes::require_size(cls, "filters", s.filters);
  }
  s.kernel_size = spatial::pair_of(c, "kernel_size", 1, {1, 1}).w;
  s.strides = spatial::pair_of(c, "strides", 1, {1, 1}).w;
  s.dilation_rate = spatial::pair_of(c, "dilation_rate", 1, {1, 1}).w;
  s.depth_multiplier = json_int<std::int64_t>(c, "depth_multiplier", std::int64_t{1});
  s.padding = spatial::padding_of(c);
  s.data_format = volume::data_format_of(c);
  s.activation = engine::activation_of(c, "activation", "linear");
  s.use_bias = c.value("use_bias", true);
  s.depthwise_initializer = engine::initializer_of(c, "depthwise_initializer", "glorot_uniform");
  s.pointwise_initializer = engine::initializer_of(c, "pointwise_initializer", "glorot_uniform");
  s.bias_initializer = engine::initializer_of(c, "bias_initializer", "zeros");
  s.depthwise_regularizer = regularizers::deserialize(at("depthwise_regularizer"));
  s.pointwise_regularizer = regularizers::deserialize(at("pointwise_regularizer"));
  s.bias_regularizer = regularizers::deserialize(at("bias_regularizer"));
  s.activity_regularizer = regularizers::deserialize(at("activity_regularizer"));
  s.depthwise_constraint = constraints::deserialize(at("depthwise_constraint"));
  s.pointwise_constraint = constraints::deserialize(at("pointwise_constraint"));
  s.bias_constraint = constraints::deserialize(at("bias_constraint"));
  s.name = engine::name_of(c);
  return s;
}

}  // namespace

void register_depthwise_conv1d_layers() {
  // data_format is honoured, channels_first included.
  engine::register_layer_spec({
      .class_name = "DepthwiseConv1D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return std::make_shared<Depthwise1DLayer>(spec_of_config(c, "DepthwiseConv1D", false));
      },
      .honoured_keys = keys::join({keys::depthwise(), {"data_format"}}),
      .key_rules = {keys::ungrouped()},
  });
  engine::register_layer_spec({
      .class_name = "SeparableConv1D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return std::make_shared<Depthwise1DLayer>(spec_of_config(c, "SeparableConv1D", true));
      },
      .honoured_keys = keys::join({keys::separable(), {"data_format"}}),
      .key_rules = {keys::ungrouped()},
  });
}

}  // namespace lamina::layers
