// SPDX-License-Identifier: Apache-2.0
// Convolution layers: Conv1D, Conv2D (channels last or first, Keras's kernel layouts).
#include "common/json_int.hpp"
#include "lamina/layers/conv.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {

using spatial::pair_json;
using spatial::pair_str;

BaseConvLayer::BaseConvLayer(const char* cls, int rank, std::int64_t filters, Size2D kernel_size,
                             Size2D strides, const std::string& padding,
                             const std::string& data_format, Size2D dilation,
                             std::int64_t groups, lamina::Activation activation, bool use_bias,
                             Initializer kernel_initializer, Initializer bias_initializer,
                             std::string name)
    : Layer(std::move(name)),
      rank_(rank),
      filters_(filters),
      kernel_size_(kernel_size),
      strides_(strides),
      dilation_(dilation),
      padding_(Padding::valid),
      groups_(groups),
      activation_(std::move(activation)),
      use_bias_(use_bias),
      kernel_initializer_(std::move(kernel_initializer)),
      bias_initializer_(std::move(bias_initializer)) {
  const std::string c = cls;
  sizes::require_size(c, "filters", filters);
  spatial::check_window_args(c, rank, kernel_size, strides, dilation, false);
  sizes::require_size(c, "groups", groups);
  if (filters % groups != 0)
    throw ValueError(c + ": the number of filters must be divisible by groups, got filters=" +
                     std::to_string(filters) + ", groups=" + std::to_string(groups));
  padding_ = spatial::padding_for(c, padding, rank == 1);
  channels_first_ = spatial::channels_first(c, data_format);
}

void BaseConvLayer::check_input(const Shape& s) const {
  if (s.rank() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + s.str());
  const std::int64_t channels = s.back();
  if (channels <= 0) fail_shape("the channel dimension of the input must be known, got " + s.str());
  if (channels % groups_ != 0)
    fail_shape("input channels (" + std::to_string(channels) + ") must be divisible by groups (" +
               std::to_string(groups_) + "), got input " + s.str());
  if (kernel.defined() && channels != kernel.shape()[kernel.ndim() - 2] * groups_)
    fail_shape("expected " + std::to_string(kernel.shape()[kernel.ndim() - 2] * groups_) +
               " input channels, got input " + s.str());
}

Shape BaseConvLayer::compute_output_shape(const Shape& input_shape) {
  return spatial::in_channels_last(channels_first_, input_shape,
                                   [&](const Shape& s) { return output_shape_last(s); });
}

Shape BaseConvLayer::output_shape_last(const Shape& s) const {
  check_input(s);
  Shape out = s;
  out.back() = filters_;
  const std::int64_t h = rank_ == 2 ? s[1] : 1, w = s[rank_];
  const std::int64_t oh = conv_output_length(h, kernel_size_.h, strides_.h, padding_, dilation_.h);
  const std::int64_t ow = conv_output_length(w, kernel_size_.w, strides_.w, padding_, dilation_.w);
  if (oh == 0 || ow == 0)
    fail_shape("kernel_size " + pair_str(kernel_size_, rank_) + " with dilation_rate " +
               pair_str(dilation_, rank_) + " is larger than the input " + s.str() +
               " with 'valid' padding: the output would be empty");
  if (rank_ == 2) out[1] = oh;
  out[rank_] = ow;
  return out;
}

void BaseConvLayer::build(const Shape& input_shape) {
  compute_output_shape(input_shape);  // every shape check, before any weight exists
  const std::int64_t channels = input_shape[channels_first_ ? 1 : input_shape.size() - 1];
  const std::int64_t per_group = channels / groups_;
  Shape kshape = rank_ == 2 ? Shape{kernel_size_.h, kernel_size_.w, per_group, filters_}
                            : Shape{kernel_size_.w, per_group, filters_};
  const auto& r = regularization_;
  kernel = add_weight("kernel", kshape, kernel_initializer_, true, float32, r.kernel_regularizer,
                      r.kernel_constraint);
  if (use_bias_)
    bias = add_weight("bias", {filters_}, bias_initializer_, true, float32, r.bias_regularizer,
                      r.bias_constraint);
}

Tensor BaseConvLayer::call(const Tensor& input, bool) {
  const Tensor k = autocast(kernel), b = autocast(bias);
  Tensor y = spatial::in_channels_last(channels_first_, input, [&](const Tensor& x) {
    check_input(x.shape());
    Tensor in = x.dtype() == k.dtype() ? x : x.astype(k.dtype());
    const FusedActivation act = spatial::fused_part(activation_);
    Tensor out = rank_ == 2 ? conv2d(in, k, b, strides_, padding_, dilation_, groups_, act)
                            : conv1d(in, k, b, strides_.w, padding_, dilation_.w, groups_, act);
    return activation_.fused() ? out : activation_(out);
  });
  return regularize_activity(y, regularization_.activity_regularizer);
}

nlohmann::json BaseConvLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["filters"] = filters_;
  c["kernel_size"] = pair_json(kernel_size_, rank_);
  c["strides"] = pair_json(strides_, rank_);
  c["padding"] = padding_name(padding_);
  c["data_format"] = spatial::data_format_name(channels_first_);
  c["dilation_rate"] = pair_json(dilation_, rank_);
  c["groups"] = groups_;
  c["activation"] = activation_.name();
  c["use_bias"] = use_bias_;
  c["kernel_initializer"] = engine::initializer_config(kernel_initializer_);
  c["bias_initializer"] = engine::initializer_config(bias_initializer_);
  regularization_.to_config(c);
  if (!c.contains("activity_regularizer")) c["activity_regularizer"] = nullptr;  // Keras's conv writes it
  return c;
}

// --- Conv2D / Conv1D -------------------------------------------------------------------------

Conv2DLayer::Conv2DLayer(std::int64_t filters, Size2D kernel_size, Conv2DOptions o)
    : BaseConvLayer("Conv2D", 2, filters, kernel_size, o.strides, o.padding, o.data_format,
                    o.dilation_rate, o.groups, std::move(o.activation), o.use_bias, std::move(o.kernel_initializer),
                    std::move(o.bias_initializer), std::move(o.name)) {
  regularization_ = {o.kernel_regularizer, o.bias_regularizer, o.activity_regularizer,
                     o.kernel_constraint, o.bias_constraint};
  apply_dtype_option(*this, o.dtype);
}

Conv2D::Conv2D(std::int64_t filters, Size2D kernel_size, Conv2DOptions options)
    : LayerHandle(std::make_shared<Conv2DLayer>(filters, kernel_size, std::move(options))) {}

Conv1DLayer::Conv1DLayer(std::int64_t filters, std::int64_t kernel_size, Conv1DOptions o)
    : BaseConvLayer("Conv1D", 1, filters, {1, kernel_size}, {1, o.strides}, o.padding,
                    o.data_format, {1, o.dilation_rate}, o.groups, std::move(o.activation), o.use_bias,
                    std::move(o.kernel_initializer), std::move(o.bias_initializer),
                    std::move(o.name)) {
  regularization_ = {o.kernel_regularizer, o.bias_regularizer, o.activity_regularizer,
                     o.kernel_constraint, o.bias_constraint};
  apply_dtype_option(*this, o.dtype);
}

Conv1D::Conv1D(std::int64_t filters, std::int64_t kernel_size, Conv1DOptions options)
    : LayerHandle(std::make_shared<Conv1DLayer>(filters, kernel_size, std::move(options))) {}

namespace {
using json = nlohmann::json;

// What Conv1D's and Conv2D's configs share; strides and dilation_rate differ in type.
template <class Options>
Options conv_options_of(const json& c) {
  Options o;
  o.padding = spatial::padding_of(c);
  o.data_format = spatial::data_format_of(c);
  o.groups = json_int<std::int64_t>(c, "groups", std::int64_t{1});
  spatial::read_kernel_bias_arguments(c, o);
  return o;
}

}  // namespace

void register_conv_layers() {
  engine::register_layer_spec({
      .class_name = "Conv2D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        auto o = conv_options_of<Conv2DOptions>(c);
        o.strides = spatial::pair_of(c, "strides", 2, 1);
        o.dilation_rate = spatial::pair_of(c, "dilation_rate", 2, 1);
        return Conv2D(json_int<std::int64_t>(c.at("filters"), "filters"), spatial::pair_of(c, "kernel_size", 2, 1),
                      std::move(o))
            .ptr();
      },
      .honoured_keys = keys::conv(),
      .theano_flipped_kernels = 1,
  });
  engine::register_layer_spec({
      .class_name = "Conv1D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        auto o = conv_options_of<Conv1DOptions>(c);
        o.strides = spatial::pair_of(c, "strides", 1, 1).w;
        o.dilation_rate = spatial::pair_of(c, "dilation_rate", 1, 1).w;
        return Conv1D(json_int<std::int64_t>(c.at("filters"), "filters"), spatial::pair_of(c, "kernel_size", 1, 1).w,
                      std::move(o))
            .ptr();
      },
      .honoured_keys = keys::conv(),
      .theano_flipped_kernels = 1,
  });
}

}  // namespace lamina::layers
