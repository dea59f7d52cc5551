// SPDX-License-Identifier: Apache-2.0
// Transposed convolution layer: Conv2DTranspose (channels last or first, Keras's kernel layout).
#include "common/json_int.hpp"
#include "lamina/layers/conv_transpose.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {

Conv2DTransposeLayer::Conv2DTransposeLayer(std::int64_t filters, Size2D kernel_size,
                                           Conv2DTransposeOptions options)
    : Layer(options.name, options.dtype),
      filters_(filters),
      kernel_size_(kernel_size),
      options_(std::move(options)),
      regularization_{options_.kernel_regularizer, options_.bias_regularizer,
                      options_.activity_regularizer, options_.kernel_constraint,
                      options_.bias_constraint},
      padding_(Padding::valid) {
  const std::string c = "Conv2DTranspose";
  sizes::require_size(c, "filters", filters);
  spatial::check_window_args(c, 2, kernel_size, options_.strides, options_.dilation_rate, true);
  padding_ = spatial::padding_for(c, options_.padding, false);
  channels_first_ = spatial::channels_first(c, options_.data_format);
  if (const auto& op = options_.output_padding;
      op && (op->h < 0 || op->w < 0 || op->h >= options_.strides.h || op->w >= options_.strides.w))
    throw ValueError(c + ": output_padding must be >= 0 and < strides, got output_padding=" +
                     spatial::pair_str(*op, 2) +
                     ", strides=" + spatial::pair_str(options_.strides, 2));
}

void Conv2DTransposeLayer::check_input(const Shape& s) const {
  if (s.rank() != 4)
    fail_shape(spatial::input_requirement(2, channels_first_) + ", got " + s.str());
  if (s.back() <= 0) fail_shape("the channel dimension of the input must be known, got " + s.str());
  if (kernel.defined() && s.back() != kernel.shape()[3])
    fail_shape("expected " + std::to_string(kernel.shape()[3]) + " input channels, got input " +
               s.str());
}

Shape Conv2DTransposeLayer::compute_output_shape(const Shape& input_shape) {
  return spatial::in_channels_last(channels_first_, input_shape,
                                   [&](const Shape& s) { return output_shape_last(s); });
}

Shape Conv2DTransposeLayer::output_shape_last(const Shape& s) const {
  check_input(s);
  const auto& o = options_;
  auto op = [&](std::int64_t Size2D::*axis) -> std::optional<std::int64_t> {
    return o.output_padding ? std::optional<std::int64_t>((*o.output_padding).*axis) : std::nullopt;
  };
  return {s[0],
          conv_transpose_output_length(s[1], kernel_size_.h, o.strides.h, padding_, op(&Size2D::h),
                                       o.dilation_rate.h),
          conv_transpose_output_length(s[2], kernel_size_.w, o.strides.w, padding_, op(&Size2D::w),
                                       o.dilation_rate.w),
          filters_};
}

void Conv2DTransposeLayer::build(const Shape& input_shape) {
  compute_output_shape(input_shape);
  const std::int64_t channels = input_shape[channels_first_ ? 1 : 3];
  const auto& r = regularization_;
  kernel = add_weight("kernel", {kernel_size_.h, kernel_size_.w, filters_, channels},
                      options_.kernel_initializer, true, float32, r.kernel_regularizer,
                      r.kernel_constraint);
  if (options_.use_bias)
    bias = add_weight("bias", {filters_}, options_.bias_initializer, true, float32,
                      r.bias_regularizer, r.bias_constraint);
}

Tensor Conv2DTransposeLayer::call(const Tensor& input, bool) {
  const auto& o = options_;
  Tensor y = spatial::in_channels_last(channels_first_, input, [&](const Tensor& x) {
    check_input(x.shape());
    Tensor in = x.dtype() == kernel.dtype() ? x : x.astype(kernel.dtype());
    Tensor out = conv2d_transpose(in, kernel, bias, o.strides, padding_, o.output_padding,
                                  o.dilation_rate, spatial::fused_part(o.activation));
    return o.activation.fused() ? out : o.activation(out);
  });
  return regularize_activity(y, regularization_.activity_regularizer);
}

nlohmann::json Conv2DTransposeLayer::get_config() const {
  const auto& o = options_;
  nlohmann::json c = Layer::get_config();
  c["filters"] = filters_;
  c["kernel_size"] = spatial::pair_json(kernel_size_, 2);
  c["strides"] = spatial::pair_json(o.strides, 2);
  c["padding"] = padding_name(padding_);
  c["output_padding"] =
      o.output_padding ? spatial::pair_json(*o.output_padding, 2) : nlohmann::json(nullptr);
  c["data_format"] = spatial::data_format_name(channels_first_);
  c["dilation_rate"] = spatial::pair_json(o.dilation_rate, 2);
  c["activation"] = o.activation.name();
  c["use_bias"] = o.use_bias;
  c["kernel_initializer"] = engine::initializer_config(o.kernel_initializer);
  c["bias_initializer"] = engine::initializer_config(o.bias_initializer);
  regularization_.to_config(c);
  if (!c.contains("activity_regularizer")) c["activity_regularizer"] = nullptr;  // as Keras writes it
  return c;
}

Conv2DTranspose::Conv2DTranspose(std::int64_t filters, Size2D kernel_size,
                                 Conv2DTransposeOptions options)
    : LayerHandle(
          std::make_shared<Conv2DTransposeLayer>(filters, kernel_size, std::move(options))) {}

namespace {
using json = nlohmann::json;

}  // namespace

void register_conv_transpose_layers() {
  engine::register_layer_spec({
      .class_name = "Conv2DTranspose",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        const auto r = KernelBiasRegularization::from_config(c);
        Conv2DTransposeOptions o{
            .strides = spatial::pair_of(c, "strides", 2, 1),
            .padding = spatial::padding_of(c),
            .output_padding = std::nullopt,
            .data_format = spatial::data_format_of(c),
            .dilation_rate = spatial::pair_of(c, "dilation_rate", 2, 1),
            .activation = engine::activation_of(c, "activation", "linear"),
            .use_bias = c.value("use_bias", true),
            .kernel_initializer = engine::initializer_of(c, "kernel_initializer", "glorot_uniform"),
            .bias_initializer = engine::initializer_of(c, "bias_initializer", "zeros"),
            .kernel_regularizer = r.kernel_regularizer,
            .bias_regularizer = r.bias_regularizer,
            .activity_regularizer = r.activity_regularizer,
            .kernel_constraint = r.kernel_constraint,
            .bias_constraint = r.bias_constraint,
            .name = engine::name_of(c)};
        if (c.contains("output_padding") && !c["output_padding"].is_null())
          o.output_padding = spatial::pair_of(c, "output_padding", 2, 0);
        return Conv2DTranspose(json_int<std::int64_t>(c.at("filters"), "filters"),
                               spatial::pair_of(c, "kernel_size", 2, 1), std::move(o))
            .ptr();
      },
      .honoured_keys = keys::join({keys::conv(), {"output_padding"}}),
      .key_rules = {keys::ungrouped()},
      .theano_flipped_kernels = 1,
  });
}

}  // namespace lamina::layers
