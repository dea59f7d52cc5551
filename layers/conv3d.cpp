// SPDX-License-Identifier: Apache-2.0
// Volumetric and transposed 1-D convolution layers: Conv3D, Conv3DTranspose, Conv1DTranspose
// (Keras's kernel layouts; channels_first by transposing at entry and exit).
#include "common/json_int.hpp"
#include "lamina/layers/conv3d.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"
#include "volume_config.hpp"

namespace lamina::layers {

using volume::size_json;
using volume::size_str;

namespace {
// A 1-D layer's sizes in 3-D form.
Size3D as_volume(std::int64_t w) { return {1, 1, w}; }
Size3D as_volume(Size3D s) { return s; }
}  // namespace

ConvNDLayer::ConvNDLayer(Spec spec) : Layer(spec.name, spec.dtype), spec_(std::move(spec)) {
  const std::string& c = spec_.cls;
  const int r = spec_.rank;
  sizes::require_size(c, "filters", spec_.filters);
  volume::check_size(c, "kernel_size", spec_.kernel_size, r);
  volume::check_size(c, "strides", spec_.strides, r);
  volume::check_size(c, "dilation_rate", spec_.dilation_rate, r);
  sizes::require_size(c, "groups", spec_.groups);
  if (spec_.filters % spec_.groups != 0)
    throw ValueError(c + ": the number of filters must be divisible by groups, got filters=" +
                     std::to_string(spec_.filters) + ", groups=" + std::to_string(spec_.groups));
  const Size3D& s = spec_.strides;
  const Size3D& d = spec_.dilation_rate;
  if (spec_.transposed && std::max({s.d, s.h, s.w}) > 1 && std::max({d.d, d.h, d.w}) > 1)
    throw ValueError(c + ": strides > 1 is not supported together with dilation_rate > 1, got strides=" +
                     size_str(s, r) + " and dilation_rate=" + size_str(d, r));
  if (const auto& op = spec_.output_padding;
      op && (std::min({op->d, op->h, op->w}) < 0 || op->d >= s.d || op->h >= s.h || op->w >= s.w))
    throw ValueError(c + ": output_padding must be >= 0 and < strides, got output_padding=" + size_str(*op, r) +
                     ", strides=" + size_str(s, r));
  padding_ = spatial::padding_for(c, spec_.padding, false);
  channels_first_ = volume::data_format_for(c, spec_.data_format) == volume::DataFormat::channels_first;
}

void ConvNDLayer::check_input(const Shape& s) const {
  if (s.rank() != spec_.rank + 2)
    fail_shape((spec_.rank == 3 ? volume::volume_requirement(channels_first_)
                                : channels_first_ ? "input must be 3-D (batch, channels, steps)"
                                                  : "input must be 3-D (batch, steps, channels)") +
               std::string(", got ") + s.str());
  const std::int64_t channels = s.back(), groups = spec_.groups;
  if (channels <= 0) fail_shape("the channel dimension of the input must be known, got " + s.str());
  if (channels % groups != 0)
    fail_shape("input channels (" + std::to_string(channels) + ") must be divisible by groups (" +
               std::to_string(groups) + "), got input " + s.str());
  const std::int64_t built = !kernel.defined() ? channels
                             : spec_.transposed ? kernel.shape().back()
                                                : kernel.shape()[kernel.ndim() - 2] * groups;
  if (channels != built)
    fail_shape("expected " + std::to_string(built) + " input channels, got input " + s.str());
}

Shape ConvNDLayer::compute_output_shape(const Shape& given) {
  const Shape s = channels_first_ ? volume::permuted(given, true) : given;
  if (s.rank() != spec_.rank + 2) check_input(given);  // the message shows the input as given
  check_input(s);
  const int r = spec_.rank;
  const Size3D in = r == 3 ? Size3D{s[1], s[2], s[3]} : Size3D{1, 1, s[1]};
  const Size3D &k = spec_.kernel_size, &st = spec_.strides, &dil = spec_.dilation_rate;
  const auto& op = spec_.output_padding;
  auto length = [&](std::int64_t Size3D::*axis) {
    if (!spec_.transposed) return conv_output_length(in.*axis, k.*axis, st.*axis, padding_, dil.*axis);
    return conv_transpose_output_length(in.*axis, k.*axis, st.*axis, padding_,
                                        op ? std::optional<std::int64_t>((*op).*axis) : std::nullopt, dil.*axis);
  };
  const Size3D out{length(&Size3D::d), length(&Size3D::h), length(&Size3D::w)};
  if (out.d == 0 || out.h == 0 || out.w == 0)
    fail_shape("kernel_size " + size_str(k, r) + " with dilation_rate " + size_str(dil, r) +
               " is larger than the input " + given.str() + " with 'valid' padding: the output would be empty");
  Shape o{s[0]};
  for (std::int64_t v : volume::axes_of(out, r)) o.push_back(v);
  o.push_back(spec_.filters);
  return channels_first_ ? volume::permuted(o, false) : o;
}

void ConvNDLayer::build(const Shape& input_shape) {
  const Shape out = compute_output_shape(input_shape);  // every shape check, before any weight exists
  const std::int64_t in = channels_first_ ? input_shape[1] : input_shape.back();
  Shape kshape;
  for (std::int64_t v : volume::axes_of(spec_.kernel_size, spec_.rank)) kshape.push_back(v);
  if (spec_.transposed) {
    kshape.insert(kshape.end(), {spec_.filters, in});
  } else {
    kshape.insert(kshape.end(), {in / spec_.groups, spec_.filters});
  }
  const auto& r = spec_.regularization;
  kernel = add_weight("kernel", kshape, spec_.kernel_initializer, true, float32, r.kernel_regularizer,
                      r.kernel_constraint);
  if (spec_.use_bias)
    bias = add_weight("bias", {spec_.filters}, spec_.bias_initializer, true, float32, r.bias_regularizer,
                      r.bias_constraint);
  (void)out;
}

Tensor ConvNDLayer::call(const Tensor& given, bool) {
  const auto format = channels_first_ ? volume::DataFormat::channels_first : volume::DataFormat::channels_last;
  Tensor x = volume::input_as_channels_last(given, format);
  if (x.ndim() != spec_.rank + 2) check_input(given.shape());
  check_input(x.shape());
  Tensor k = autocast(kernel);
  const Tensor b = autocast(bias);
  if (x.dtype() != k.dtype()) x = x.astype(k.dtype());
  if (spec_.rank == 1) {  // (N, L, C) as (N, 1, 1, L, C); the kernel likewise gains two unit axes
    x = x.reshape({x.dim(0), 1, 1, x.dim(1), x.dim(2)});
    k = k.reshape({1, 1, k.dim(0), k.dim(1), k.dim(2)});
  }
  const FusedActivation act = spatial::fused_part(spec_.activation);
  Tensor y = spec_.transposed ? conv3d_transpose(x, k, b, spec_.strides, padding_, spec_.output_padding,
                                                 spec_.dilation_rate, act)
                              : conv3d(x, k, b, spec_.strides, padding_, spec_.dilation_rate, spec_.groups, act);
  if (spec_.rank == 1) y = y.reshape({y.dim(0), y.dim(3), y.dim(4)});
  if (!spec_.activation.fused()) y = spec_.activation(y);
  return regularize_activity(volume::output_in_format(y, format), spec_.regularization.activity_regularizer);
}

nlohmann::json ConvNDLayer::get_config() const {
  const int r = spec_.rank;
  nlohmann::json c = Layer::get_config();
  c["filters"] = spec_.filters;
  c["kernel_size"] = size_json(spec_.kernel_size, r);
  c["strides"] = size_json(spec_.strides, r);
  c["padding"] = padding_name(padding_);
  if (spec_.transposed)
    c["output_padding"] = spec_.output_padding ? size_json(*spec_.output_padding, r) : nlohmann::json(nullptr);
  c["data_format"] = channels_first_ ? "channels_first" : "channels_last";
  c["dilation_rate"] = size_json(spec_.dilation_rate, r);
  if (!spec_.transposed) c["groups"] = spec_.groups;
  c["activation"] = spec_.activation.name();
  c["use_bias"] = spec_.use_bias;
  c["kernel_initializer"] = engine::initializer_config(spec_.kernel_initializer);
  c["bias_initializer"] = engine::initializer_config(spec_.bias_initializer);
  spec_.regularization.to_config(c);
  if (!c.contains("activity_regularizer")) c["activity_regularizer"] = nullptr;  // as Keras writes it
  return c;
}

namespace {

// The parts every option struct has, in a Spec.
template <class Options>
ConvNDLayer::Spec spec_of(std::string cls, int rank, bool transposed, std::int64_t filters, Size3D kernel_size,
                          Options& o) {
  ConvNDLayer::Spec s;
  s.cls = std::move(cls);
  s.rank = rank;
  s.transposed = transposed;
  s.filters = filters;
  s.kernel_size = kernel_size;
  s.strides = as_volume(o.strides);
  s.dilation_rate = as_volume(o.dilation_rate);
  s.padding = o.padding;
  s.data_format = o.data_format;
  s.activation = std::move(o.activation);
  s.use_bias = o.use_bias;
  s.kernel_initializer = std::move(o.kernel_initializer);
  s.bias_initializer = std::move(o.bias_initializer);
  s.regularization = {o.kernel_regularizer, o.bias_regularizer, o.activity_regularizer, o.kernel_constraint,
                      o.bias_constraint};
  s.name = std::move(o.name);
  s.dtype = std::move(o.dtype);
  return s;
}

}  // namespace

Conv3D::Conv3D(std::int64_t filters, Size3D kernel_size, Conv3DOptions o)
    : LayerHandle([&] {
        auto s = spec_of("Conv3D", 3, false, filters, kernel_size, o);
        s.groups = o.groups;
        return std::make_shared<ConvNDLayer>(std::move(s));
      }()) {}

Conv3DTranspose::Conv3DTranspose(std::int64_t filters, Size3D kernel_size, Conv3DTransposeOptions o)
    : LayerHandle([&] {
        auto s = spec_of("Conv3DTranspose", 3, true, filters, kernel_size, o);
        s.output_padding = o.output_padding;
        return std::make_shared<ConvNDLayer>(std::move(s));
      }()) {}

Conv1DTranspose::Conv1DTranspose(std::int64_t filters, std::int64_t kernel_size, Conv1DTransposeOptions o)
    : LayerHandle([&] {
        auto s = spec_of("Conv1DTranspose", 1, true, filters, as_volume(kernel_size), o);
        if (o.output_padding) s.output_padding = Size3D{0, 0, *o.output_padding};
        return std::make_shared<ConvNDLayer>(std::move(s));
      }()) {}

namespace {
using json = nlohmann::json;

ConvNDLayer::Spec spec_of_config(const json& c, const char* cls, int rank, bool transposed) {
  ConvNDLayer::Spec s;
  s.cls = cls;
  s.rank = rank;
  s.transposed = transposed;
  s.filters = json_int<std::int64_t>(c.at("filters"), "filters");
  s.kernel_size = volume::size_of(c, "kernel_size", rank, 1);
  s.strides = volume::size_of(c, "strides", rank, 1);
  s.dilation_rate = volume::size_of(c, "dilation_rate", rank, 1);
  s.padding = spatial::padding_of(c);
  s.data_format = volume::data_format_of(c);
  if (c.contains("output_padding") && !c["output_padding"].is_null()) {
    s.output_padding = volume::size_of(c, "output_padding", rank, 0);
    if (rank == 1) s.output_padding->d = s.output_padding->h = 0;
  }
  s.groups = transposed ? 1 : json_int<std::int64_t>(c, "groups", std::int64_t{1});  // transposed: refused unless 1 (config_keys)
  s.activation = engine::activation_of(c, "activation", "linear");
  s.use_bias = c.value("use_bias", true);
  s.kernel_initializer = engine::initializer_of(c, "kernel_initializer", "glorot_uniform");
  s.bias_initializer = engine::initializer_of(c, "bias_initializer", "zeros");
  s.regularization = KernelBiasRegularization::from_config(c);
  s.name = engine::name_of(c);
  return s;
}

}  // namespace

void register_conv3d_layers() {
  struct Entry {
    const char* cls;
    int rank;
    bool transposed;
  };
  for (const Entry e : {Entry{"Conv3D", 3, false}, Entry{"Conv3DTranspose", 3, true}, Entry{"Conv1DTranspose", 1, true}})
    engine::register_layer_spec({
        .class_name = e.cls,
        .factory = [e](const json& c) -> std::shared_ptr<Layer> {
          return std::make_shared<ConvNDLayer>(spec_of_config(c, e.cls, e.rank, e.transposed));
        },
        // data_format is honoured, channels_first included.
        .honoured_keys = keys::join({keys::conv(), {"data_format"},
                                     e.transposed ? std::set<std::string>{"output_padding"} : std::set<std::string>{}}),
        .key_rules = e.transposed ? std::vector<engine::KeyRule>{keys::ungrouped()} : std::vector<engine::KeyRule>{},
        .theano_flipped_kernels = e.cls == std::string("Conv3D") ? 1 : 0,
    });
}

}  // namespace lamina::layers
