// Convolution layers: Conv1D, Conv2D (channels last, Keras's kernel layouts).
#include "lamina/layers/conv.hpp"

#include <nlohmann/json.hpp>

#include "engine/config.hpp"
#include "lamina/errors.hpp"

namespace lamina::layers {

namespace {
std::string pair_str(Size2D s, int rank) {
  return rank == 1 ? "(" + std::to_string(s.w) + ",)"
                   : "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
}

nlohmann::json pair_json(Size2D s, int rank) {
  return rank == 1 ? nlohmann::json::array({s.w}) : nlohmann::json::array({s.h, s.w});
}
}  // namespace

BaseConvLayer::BaseConvLayer(const char* cls, int rank, std::int64_t filters, Size2D kernel_size,
                             Size2D strides, const std::string& padding, Size2D dilation,
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
  if (filters <= 0)
    throw ValueError(c + ": filters must be a positive integer, got " + std::to_string(filters));
  if (kernel_size.h <= 0 || kernel_size.w <= 0)
    throw ValueError(c + ": kernel_size must be positive, got " + pair_str(kernel_size, rank));
  if (strides.h <= 0 || strides.w <= 0)
    throw ValueError(c + ": strides must be positive, got " + pair_str(strides, rank));
  if (dilation.h <= 0 || dilation.w <= 0)
    throw ValueError(c + ": dilation_rate must be positive, got " + pair_str(dilation, rank));
  if (groups <= 0)
    throw ValueError(c + ": groups must be a positive integer, got " + std::to_string(groups));
  if (filters % groups != 0)
    throw ValueError(c + ": the number of filters must be divisible by groups, got filters=" +
                     std::to_string(filters) + ", groups=" + std::to_string(groups));
  try {
    padding_ = padding_from_name(padding);
  } catch (const ValueError& e) {
    throw ValueError(c + ": " + e.what());
  }
  if (padding_ == Padding::causal && rank != 1)
    throw ValueError(c + ": padding \"causal\" exists only for Conv1D");
}

void BaseConvLayer::check_input(const Shape& s) const {
  if (s.rank() != rank_ + 2)
    fail_shape(rank_ == 2 ? "input must be 4-D (batch, height, width, channels), got " + s.str()
                          : "input must be 3-D (batch, steps, channels), got " + s.str());
  const std::int64_t channels = s.back();
  if (channels <= 0) fail_shape("the channel dimension of the input must be known, got " + s.str());
  if (channels % groups_ != 0)
    fail_shape("input channels (" + std::to_string(channels) + ") must be divisible by groups (" +
               std::to_string(groups_) + "), got input " + s.str());
  if (kernel.defined() && channels != kernel.shape()[kernel.ndim() - 2] * groups_)
    fail_shape("expected " + std::to_string(kernel.shape()[kernel.ndim() - 2] * groups_) +
               " input channels, got input " + s.str());
}

Shape BaseConvLayer::compute_output_shape(const Shape& s) {
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
  const std::int64_t per_group = input_shape.back() / groups_;
  Shape kshape = rank_ == 2 ? Shape{kernel_size_.h, kernel_size_.w, per_group, filters_}
                            : Shape{kernel_size_.w, per_group, filters_};
  const auto& r = regularization_;
  kernel = add_weight("kernel", kshape, kernel_initializer_, true, float32, r.kernel_regularizer,
                      r.kernel_constraint);
  if (use_bias_)
    bias = add_weight("bias", {filters_}, bias_initializer_, true, float32, r.bias_regularizer,
                      r.bias_constraint);
}

Tensor BaseConvLayer::call(const Tensor& x, bool) {
  check_input(x.shape());
  Tensor in = x.dtype() == kernel.dtype() ? x : x.astype(kernel.dtype());
  auto fused = activation_.fused();
  const FusedActivation act = fused ? *fused : FusedActivation::linear;
  Tensor y = rank_ == 2 ? conv2d(in, kernel, bias, strides_, padding_, dilation_, groups_, act)
                        : conv1d(in, kernel, bias, strides_.w, padding_, dilation_.w, groups_, act);
  return regularize_activity(fused ? y : activation_(y), regularization_.activity_regularizer);
}

nlohmann::json BaseConvLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["filters"] = filters_;
  c["kernel_size"] = pair_json(kernel_size_, rank_);
  c["strides"] = pair_json(strides_, rank_);
  c["padding"] = padding_name(padding_);
  c["data_format"] = "channels_last";
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
    : BaseConvLayer("Conv2D", 2, filters, kernel_size, o.strides, o.padding, o.dilation_rate,
                    o.groups, std::move(o.activation), o.use_bias, std::move(o.kernel_initializer),
                    std::move(o.bias_initializer), std::move(o.name)) {
  regularization_ = {o.kernel_regularizer, o.bias_regularizer, o.activity_regularizer,
                     o.kernel_constraint, o.bias_constraint};
}

Conv2D::Conv2D(std::int64_t filters, Size2D kernel_size, Conv2DOptions options)
    : LayerHandle(std::make_shared<Conv2DLayer>(filters, kernel_size, std::move(options))) {}

Conv1DLayer::Conv1DLayer(std::int64_t filters, std::int64_t kernel_size, Conv1DOptions o)
    : BaseConvLayer("Conv1D", 1, filters, {1, kernel_size}, {1, o.strides}, o.padding,
                    {1, o.dilation_rate}, o.groups, std::move(o.activation), o.use_bias,
                    std::move(o.kernel_initializer), std::move(o.bias_initializer),
                    std::move(o.name)) {
  regularization_ = {o.kernel_regularizer, o.bias_regularizer, o.activity_regularizer,
                     o.kernel_constraint, o.bias_constraint};
}

Conv1D::Conv1D(std::int64_t filters, std::int64_t kernel_size, Conv1DOptions options)
    : LayerHandle(std::make_shared<Conv1DLayer>(filters, kernel_size, std::move(options))) {}

}  // namespace lamina::layers
