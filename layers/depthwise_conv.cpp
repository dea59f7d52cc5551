// SPDX-License-Identifier: Apache-2.0
// Depthwise and separable convolution layers: DepthwiseConv2D, SeparableConv2D (channels last or
// first, Keras's kernel layouts).
#include "common/json_int.hpp"
#include "lamina/layers/depthwise_conv.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {
namespace {
using json = nlohmann::json;

// Keras's depthwise layers call the depthwise kernel's arguments depthwise_*, where
// KernelBiasRegularization says kernel_*.
constexpr std::pair<const char*, const char*> kDepthwiseKeys[] = {
    {"depthwise_regularizer", "kernel_regularizer"},
    {"depthwise_constraint", "kernel_constraint"}};

json with_keys_renamed(json c, bool to_kernel) {
  for (const auto& [depthwise, kernel] : kDepthwiseKeys) {
    const char* from = to_kernel ? depthwise : kernel;
    const char* to = to_kernel ? kernel : depthwise;
    c[to] = c.contains(from) ? c[from] : json();
    c.erase(from);
  }
  return c;
}

}  // namespace

BaseDepthwiseLayer::BaseDepthwiseLayer(const std::string& cls, Size2D kernel_size, Size2D strides,
                                       const std::string& padding, const std::string& data_format,
                                       std::int64_t depth_multiplier,
                                       Size2D dilation, lamina::Activation activation,
                                       bool use_bias, std::string name)
    : Layer(std::move(name)),
      kernel_size_(kernel_size),
      strides_(strides),
      dilation_(dilation),
      padding_(Padding::valid),
      multiplier_(depth_multiplier),
      activation_(std::move(activation)),
      use_bias_(use_bias) {
  sizes::require_size(cls, "depth_multiplier", depth_multiplier);
  spatial::check_window_args(cls, 2, kernel_size, strides, dilation, true);
  padding_ = spatial::padding_for(cls, padding, false);
  channels_first_ = spatial::channels_first(cls, data_format);
}

Shape BaseDepthwiseLayer::compute_output_shape(const Shape& input_shape) {
  return spatial::in_channels_last(channels_first_, input_shape,
                                   [&](const Shape& s) { return output_shape_last(s); });
}

std::int64_t BaseDepthwiseLayer::input_channels(const Shape& input_shape) const {
  return input_shape[channels_first_ ? 1 : 3];
}

Shape BaseDepthwiseLayer::output_shape_last(const Shape& s) const {
  if (s.rank() != 4) fail_shape(spatial::input_requirement(2, channels_first_) + ", got " + s.str());
  if (s.back() <= 0) fail_shape("the channel dimension of the input must be known, got " + s.str());
  if (depthwise_kernel.defined() && s.back() != depthwise_kernel.shape()[2])
    fail_shape("expected " + std::to_string(depthwise_kernel.shape()[2]) +
               " input channels, got input " + s.str());
  const std::int64_t oh =
      conv_output_length(s[1], kernel_size_.h, strides_.h, padding_, dilation_.h);
  const std::int64_t ow =
      conv_output_length(s[2], kernel_size_.w, strides_.w, padding_, dilation_.w);
  if (oh == 0 || ow == 0)
    fail_shape("kernel_size " + spatial::pair_str(kernel_size_, 2) + " with dilation_rate " +
               spatial::pair_str(dilation_, 2) + " is larger than the input " + s.str() +
               " with 'valid' padding: the output would be empty");
  return {s[0], oh, ow, output_channels(s.back())};
}

Tensor BaseDepthwiseLayer::call(const Tensor& input, bool) {
  Tensor y = spatial::in_channels_last(channels_first_, input, [&](const Tensor& x) {
    output_shape_last(x.shape());
    Tensor in = x.dtype() == depthwise_kernel.dtype() ? x : x.astype(depthwise_kernel.dtype());
    Tensor out = convolve(in, spatial::fused_part(activation_));
    return activation_.fused() ? out : activation_(out);
  });
  return regularize_activity(y, regularization_.activity_regularizer);
}

nlohmann::json BaseDepthwiseLayer::base_config() const {
  nlohmann::json c = Layer::get_config();
  c["depth_multiplier"] = multiplier_;
  c["kernel_size"] = spatial::pair_json(kernel_size_, 2);
  c["strides"] = spatial::pair_json(strides_, 2);
  c["padding"] = padding_name(padding_);
  c["data_format"] = spatial::data_format_name(channels_first_);
  c["dilation_rate"] = spatial::pair_json(dilation_, 2);
  c["activation"] = activation_.name();
  c["use_bias"] = use_bias_;
  json r;
  regularization_.to_config(r);
  if (!r.contains("activity_regularizer")) r["activity_regularizer"] = nullptr;  // as Keras writes it
  c.update(with_keys_renamed(r, false));
  return c;
}

// --- DepthwiseConv2D -----------------------------------------------------------------------------

DepthwiseConv2DLayer::DepthwiseConv2DLayer(Size2D kernel_size, DepthwiseConv2DOptions o)
    : BaseDepthwiseLayer("DepthwiseConv2D", kernel_size, o.strides, o.padding, o.data_format,
                         o.depth_multiplier,
                         o.dilation_rate, std::move(o.activation), o.use_bias, std::move(o.name)),
      depthwise_initializer_(std::move(o.depthwise_initializer)),
      bias_initializer_(std::move(o.bias_initializer)) {
  apply_dtype_option(*this, o.dtype);
  regularization_ = {o.depthwise_regularizer, o.bias_regularizer, o.activity_regularizer,
                     o.depthwise_constraint, o.bias_constraint};
}

void DepthwiseConv2DLayer::build(const Shape& input_shape) {
  compute_output_shape(input_shape);
  const std::int64_t in = input_channels(input_shape);
  const auto& r = regularization_;
  depthwise_kernel =
      add_weight("depthwise_kernel", {kernel_size_.h, kernel_size_.w, in, multiplier_},
                 depthwise_initializer_, true, float32, r.kernel_regularizer, r.kernel_constraint);
  if (use_bias_)
    bias = add_weight("bias", {in * multiplier_}, bias_initializer_, true, float32,
                      r.bias_regularizer, r.bias_constraint);
}

Tensor DepthwiseConv2DLayer::convolve(const Tensor& x, FusedActivation act) const {
  return depthwise_conv2d(x, depthwise_kernel, bias, strides_, padding_, dilation_, act);
}

nlohmann::json DepthwiseConv2DLayer::get_config() const {
  nlohmann::json c = base_config();
  c["depthwise_initializer"] = engine::initializer_config(depthwise_initializer_);
  c["bias_initializer"] = engine::initializer_config(bias_initializer_);
  return c;
}

DepthwiseConv2D::DepthwiseConv2D(Size2D kernel_size, DepthwiseConv2DOptions options)
    : LayerHandle(std::make_shared<DepthwiseConv2DLayer>(kernel_size, std::move(options))) {}

// --- SeparableConv2D -----------------------------------------------------------------------------

SeparableConv2DLayer::SeparableConv2DLayer(std::int64_t filters, Size2D kernel_size,
                                           SeparableConv2DOptions o)
    : BaseDepthwiseLayer("SeparableConv2D", kernel_size, o.strides, o.padding, o.data_format,
                         o.depth_multiplier,
                         o.dilation_rate, std::move(o.activation), o.use_bias, std::move(o.name)),
      filters_(filters),
      depthwise_initializer_(std::move(o.depthwise_initializer)),
      pointwise_initializer_(std::move(o.pointwise_initializer)),
      bias_initializer_(std::move(o.bias_initializer)),
      pointwise_regularizer_(o.pointwise_regularizer),
      pointwise_constraint_(o.pointwise_constraint) {
  apply_dtype_option(*this, o.dtype);
  regularization_ = {o.depthwise_regularizer, o.bias_regularizer, o.activity_regularizer,
                     o.depthwise_constraint, o.bias_constraint};
  sizes::require_size("SeparableConv2D", "filters", filters);
}

void SeparableConv2DLayer::build(const Shape& input_shape) {
  compute_output_shape(input_shape);
  const std::int64_t in = input_channels(input_shape);
  const auto& r = regularization_;
  // Keras's order: depthwise_kernel, pointwise_kernel, bias.
  depthwise_kernel =
      add_weight("depthwise_kernel", {kernel_size_.h, kernel_size_.w, in, multiplier_},
                 depthwise_initializer_, true, float32, r.kernel_regularizer, r.kernel_constraint);
  pointwise_kernel =
      add_weight("pointwise_kernel", {1, 1, in * multiplier_, filters_}, pointwise_initializer_,
                 true, float32, pointwise_regularizer_, pointwise_constraint_);
  if (use_bias_)
    bias = add_weight("bias", {filters_}, bias_initializer_, true, float32, r.bias_regularizer,
                      r.bias_constraint);
}

Tensor SeparableConv2DLayer::convolve(const Tensor& x, FusedActivation act) const {
  Tensor depthwise = depthwise_conv2d(x, depthwise_kernel, Tensor(), strides_, padding_, dilation_);
  return conv2d(depthwise, pointwise_kernel, bias, 1, Padding::valid, 1, 1, act);
}

nlohmann::json SeparableConv2DLayer::get_config() const {
  nlohmann::json c = base_config();
  c["filters"] = filters_;
  c["depthwise_initializer"] = engine::initializer_config(depthwise_initializer_);
  c["pointwise_initializer"] = engine::initializer_config(pointwise_initializer_);
  c["bias_initializer"] = engine::initializer_config(bias_initializer_);
  c["pointwise_regularizer"] = regularizers::serialize(pointwise_regularizer_);
  c["pointwise_constraint"] = constraints::serialize(pointwise_constraint_);
  return c;
}

SeparableConv2D::SeparableConv2D(std::int64_t filters, Size2D kernel_size,
                                 SeparableConv2DOptions options)
    : LayerHandle(
          std::make_shared<SeparableConv2DLayer>(filters, kernel_size, std::move(options))) {}

namespace {
using engine::initializer_of;

}  // namespace

void register_depthwise_conv_layers() {
  engine::register_layer_spec({
      .class_name = "DepthwiseConv2D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        const auto r = KernelBiasRegularization::from_config(with_keys_renamed(c, true));
        return DepthwiseConv2D(spatial::pair_of(c, "kernel_size", 2, 1),
                               {.strides = spatial::pair_of(c, "strides", 2, 1),
                                .padding = spatial::padding_of(c),
                                .data_format = spatial::data_format_of(c),
                                .depth_multiplier = json_int<std::int64_t>(c, "depth_multiplier", std::int64_t{1}),
                                .dilation_rate = spatial::pair_of(c, "dilation_rate", 2, 1),
                                .activation = engine::activation_of(c, "activation", "linear"),
                                .use_bias = c.value("use_bias", true),
                                .depthwise_initializer =
                                    initializer_of(c, "depthwise_initializer", "glorot_uniform"),
                                .bias_initializer = initializer_of(c, "bias_initializer", "zeros"),
                                .depthwise_regularizer = r.kernel_regularizer,
                                .bias_regularizer = r.bias_regularizer,
                                .activity_regularizer = r.activity_regularizer,
                                .depthwise_constraint = r.kernel_constraint,
                                .bias_constraint = r.bias_constraint,
                                .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = keys::depthwise(),
      .key_rules = {keys::ungrouped()},
  });
  engine::register_layer_spec({
      .class_name = "SeparableConv2D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        const auto r = KernelBiasRegularization::from_config(with_keys_renamed(c, true));
        const auto at = [&](const char* key) { return c.contains(key) ? c[key] : json(); };
        return SeparableConv2D(json_int<std::int64_t>(c.at("filters"), "filters"),
                               spatial::pair_of(c, "kernel_size", 2, 1),
                               {.strides = spatial::pair_of(c, "strides", 2, 1),
                                .padding = spatial::padding_of(c),
                                .data_format = spatial::data_format_of(c),
                                .dilation_rate = spatial::pair_of(c, "dilation_rate", 2, 1),
                                .depth_multiplier = json_int<std::int64_t>(c, "depth_multiplier", std::int64_t{1}),
                                .activation = engine::activation_of(c, "activation", "linear"),
                                .use_bias = c.value("use_bias", true),
                                .depthwise_initializer =
                                    initializer_of(c, "depthwise_initializer", "glorot_uniform"),
                                .pointwise_initializer =
                                    initializer_of(c, "pointwise_initializer", "glorot_uniform"),
                                .bias_initializer = initializer_of(c, "bias_initializer", "zeros"),
                                .depthwise_regularizer = r.kernel_regularizer,
                                .pointwise_regularizer = regularizers::deserialize(at("pointwise_regularizer")),
                                .bias_regularizer = r.bias_regularizer,
                                .activity_regularizer = r.activity_regularizer,
                                .depthwise_constraint = r.kernel_constraint,
                                .pointwise_constraint = constraints::deserialize(at("pointwise_constraint")),
                                .bias_constraint = r.bias_constraint,
                                .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = keys::separable(),
  });
}

}  // namespace lamina::layers
