// SPDX-License-Identifier: Apache-2.0
// Core layers: Dense, Activation, Dropout, Flatten, Reshape.
#include "common/json_int.hpp"
#include "lamina/layers/core.hpp"
#include "catalogue.hpp"

#include <optional>

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "dropout_noise.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/random.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {

namespace {
Shape with_batch(std::int64_t batch, const Shape& rest) {
  Shape s{batch};
  s.insert(s.end(), rest.begin(), rest.end());
  return s;
}

// Dimensions as written, in tuple notation: "(5, -1)" (Shape::str would print -1 as None).
std::string dims_str(const Shape& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

void require_rank_at_least(const Layer& layer, const Shape& s, int rank, const char* what) {
  if (s.rank() < rank)
    throw ShapeError(layer.class_name() + " '" + layer.name() + "': " + what + ", got " + s.str());
}
}  // namespace

// --- Dense ---------------------------------------------------------------------------------------

DenseLayer::DenseLayer(std::int64_t units, DenseOptions options)
    : Layer(options.name, options.dtype), units_(units), options_(std::move(options)) {
  sizes::require_size("Dense", "units", units);
}

void DenseLayer::build(const Shape& input_shape) {
  require_rank_at_least(*this, input_shape, 2, "input must have at least 2 dimensions (batch, features)");
  std::int64_t in = input_shape.back();
  if (in <= 0) fail_shape("the last dimension of the input must be known, got " + input_shape.str());
  kernel = add_weight("kernel", {in, units_}, options_.kernel_initializer, true, float32,
                      options_.kernel_regularizer, options_.kernel_constraint);
  if (options_.use_bias)
    bias = add_weight("bias", {units_}, options_.bias_initializer, true, float32,
                      options_.bias_regularizer, options_.bias_constraint);
}

Shape DenseLayer::compute_output_shape(const Shape& input_shape) {
  require_rank_at_least(*this, input_shape, 2, "input must have at least 2 dimensions (batch, features)");
  if (kernel.defined() && input_shape.back() != kernel.shape()[0])
    fail_shape("expected last dimension " + std::to_string(kernel.shape()[0]) + ", got " +
               input_shape.str());
  Shape out = input_shape;
  out.back() = units_;
  return out;
}

Tensor DenseLayer::call(const Tensor& x, bool) {
  if (x.ndim() < 2 || x.shape().back() != kernel.shape()[0])
    fail_shape("expected input of shape " + Shape{-1, kernel.shape()[0]}.str() + ", got " +
               x.shape().str());
  const Tensor k = autocast(kernel), b = autocast(bias);
  Tensor in = x.dtype() == k.dtype() ? x : x.astype(k.dtype());
  Tensor out = options_.activation.fused()
                   ? dense(in, k, b, *options_.activation.fused())
                   : options_.activation(dense(in, k, b, FusedActivation::linear));
  return regularize_activity(out, options_.activity_regularizer);
}

nlohmann::json DenseLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["units"] = units_;
  c["activation"] = options_.activation.name();
  c["use_bias"] = options_.use_bias;
  c["kernel_initializer"] = engine::initializer_config(options_.kernel_initializer);
  c["bias_initializer"] = engine::initializer_config(options_.bias_initializer);
  const auto& o = options_;
  KernelBiasRegularization{o.kernel_regularizer, o.bias_regularizer, o.activity_regularizer,
                           o.kernel_constraint, o.bias_constraint}
      .to_config(c);
  return c;
}

Dense::Dense(std::int64_t units, DenseOptions options)
    : LayerHandle(std::make_shared<DenseLayer>(units, std::move(options))) {}

namespace {
// Dense's from_config, with its regularizers and constraints, and the keys Keras writes for it.
void register_dense() {
  engine::register_layer_spec({
      .class_name = "Dense",
      .factory = [](const nlohmann::json& c) -> std::shared_ptr<Layer> {
        const auto r = KernelBiasRegularization::from_config(c);
        return Dense(json_int<std::int64_t>(c.at("units"), "units"),
                     {.activation = engine::activation_of(c, "activation", "linear"),
                      .use_bias = c.value("use_bias", true),
                      .kernel_initializer = engine::initializer_of(c, "kernel_initializer", "glorot_uniform"),
                      .bias_initializer = engine::initializer_of(c, "bias_initializer", "zeros"),
                      .kernel_regularizer = r.kernel_regularizer,
                      .bias_regularizer = r.bias_regularizer,
                      .activity_regularizer = r.activity_regularizer,
                      .kernel_constraint = r.kernel_constraint,
                      .bias_constraint = r.bias_constraint,
                      .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = keys::join({{"units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
                                    "lora_alpha"},
                                   keys::kernel_bias()}),
      .key_rules = keys::no_quantization(),
  });
}
}  // namespace

// --- Activation ----------------------------------------------------------------------------------

ActivationLayer::ActivationLayer(lamina::Activation activation, std::string name)
    : Layer(std::move(name)), activation_(std::move(activation)) {}

Tensor ActivationLayer::call(const Tensor& x, bool) { return activation_(x); }

nlohmann::json ActivationLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["activation"] = activation_.name();
  return c;
}

Activation::Activation(lamina::Activation activation, Name name)
    : LayerHandle(std::make_shared<ActivationLayer>(std::move(activation), std::move(name))) {}

// --- Dropout -------------------------------------------------------------------------------------

DropoutLayer::DropoutLayer(double rate, DropoutOptions options)
    : Layer(options.name, options.dtype), rate_(rate), options_(std::move(options)) {
  dropout_noise::check("Dropout", rate, options_);
}

Tensor DropoutLayer::call(const Tensor& x, bool training) {
  if (!training || rate_ == 0) return x;
  const Shape mask_shape = dropout_noise::mask_shape(*this, x.shape(), options_);
  const dropout_noise::SeededDraws draws(options_.seed, draws_);
  return options_.noise_shape ? x * random::dropout_mask(mask_shape, rate_, x.dtype(), x.device()) : dropout(x, rate_);
}

nlohmann::json DropoutLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  dropout_noise::to_config(rate_, options_, c);
  return c;
}

Dropout::Dropout(double rate, Name name)
    : LayerHandle(std::make_shared<DropoutLayer>(rate, DropoutOptions{.name = std::move(name)})) {}
Dropout::Dropout(double rate, DropoutOptions options)
    : LayerHandle(std::make_shared<DropoutLayer>(rate, std::move(options))) {}

// --- Flatten -------------------------------------------------------------------------------------

FlattenLayer::FlattenLayer(std::string name, const std::string& data_format)
    : Layer(std::move(name)), channels_first_(spatial::channels_first("Flatten", data_format)) {}

Shape FlattenLayer::compute_output_shape(const Shape& input_shape) {
  require_rank_at_least(*this, input_shape, 1, "input must have a batch dimension");
  std::int64_t n = 1;
  for (int i = 1; i < input_shape.rank(); ++i) {
    if (input_shape[i] < 0) return {input_shape[0], -1};
    n = sizes::mul(n, input_shape[i], class_name() + " '" + name() + "'");
  }
  return {input_shape[0], n};
}

Tensor FlattenLayer::call(const Tensor& input, bool) {
  if (input.ndim() == 0) fail_shape("input must have a batch dimension, got " + input.shape().str());
  // As Keras: a channels_first input is flattened in channels_last order, so that a Dense after
  // it has the same kernel in both formats.
  const Tensor x = channels_first_ ? spatial::to_channels_last(input) : input;
  return x.reshape({x.shape()[0], x.shape()[0] == 0 ? 0 : -1});
}

nlohmann::json FlattenLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["data_format"] = spatial::data_format_name(channels_first_);
  return c;
}

Flatten::Flatten(Name name) : LayerHandle(std::make_shared<FlattenLayer>(std::move(name))) {}
Flatten::Flatten(FlattenOptions o)
    : LayerHandle(std::make_shared<FlattenLayer>(std::move(o.name), o.data_format)) {}

// --- Reshape -------------------------------------------------------------------------------------

ReshapeLayer::ReshapeLayer(Shape target_shape, std::string name)
    : Layer(std::move(name)), target_shape_(std::move(target_shape)) {
  int unknown = 0;
  for (auto d : target_shape_) {
    if (d == -1) ++unknown;
    else if (d <= 0 || d > sizes::kMaxDimension)
      throw ValueError("Reshape: target dimensions must be positive (at most " +
                       std::to_string(sizes::kMaxDimension) + ") or -1, got " +
                       dims_str(target_shape_));
  }
  if (unknown > 1)
    throw ValueError("Reshape: at most one target dimension may be -1, got " +
                     dims_str(target_shape_));
}

Shape ReshapeLayer::compute_output_shape(const Shape& input_shape) {
  require_rank_at_least(*this, input_shape, 1, "input must have a batch dimension");
  std::int64_t in = 1;
  bool known = true;
  for (int i = 1; i < input_shape.rank(); ++i) {
    if (input_shape[i] < 0) known = false;
    else in = sizes::mul(in, input_shape[i], class_name() + " '" + name() + "'");
  }
  Shape out = with_batch(input_shape[0], target_shape_);
  std::int64_t prod = 1;
  int unknown_at = -1;
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i] == -1) unknown_at = static_cast<int>(i);
    else prod = sizes::mul(prod, out[i], class_name() + " '" + name() + "'");
  }
  if (!known) return out;
  if (unknown_at >= 0) {
    if (in % prod != 0)
      fail_shape("cannot reshape input " + input_shape.str() + " to target " +
                 dims_str(target_shape_));
    out[unknown_at] = in / prod;
  } else if (prod != in) {
    fail_shape("total size of the target shape " + dims_str(target_shape_) + " (" +
               std::to_string(prod) + ") does not match the input " + input_shape.str() + " (" +
               std::to_string(in) + ")");
  }
  return out;
}

Tensor ReshapeLayer::call(const Tensor& x, bool) {
  Shape s = with_batch(x.ndim() ? x.shape()[0] : 1, target_shape_);
  return x.reshape(s);
}

nlohmann::json ReshapeLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["target_shape"] = target_shape_;
  return c;
}

Reshape::Reshape(Shape target_shape, Name name)
    : LayerHandle(std::make_shared<ReshapeLayer>(std::move(target_shape), std::move(name))) {}

// --- from_config -------------------------------------------------------------------------------

namespace {
using json = nlohmann::json;

void register_core() {
  engine::register_layer_spec({
      .class_name = "Activation",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Activation(engine::activation_of(c, "activation", "linear"), engine::name_of(c)).ptr();
      },
      .honoured_keys = {"activation"},
      .build_config = false,
  });
  engine::register_layer_spec({
      .class_name = "Dropout",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Dropout(c.at("rate").get<double>(), dropout_noise::options_of(c)).ptr();
      },
      .honoured_keys = {"rate", "noise_shape", "seed"},
      .build_config = false,
      .call_kwargs = {{"training", false}},
  });
  engine::register_layer_spec({
      .class_name = "Flatten",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        const bool set = c.contains("data_format") && !c["data_format"].is_null();
        return Flatten(FlattenOptions{.data_format = set ? c["data_format"].get<std::string>() : "channels_last",
                                      .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = {"data_format"},
  });
  engine::register_layer_spec({
      .class_name = "Reshape",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Reshape(Shape(json_ints<std::int64_t>(c.at("target_shape"), "target_shape")), engine::name_of(c)).ptr();
      },
      .honoured_keys = {"target_shape"},
  });
}
}  // namespace

void register_core_layers() {
  register_dense();
  register_core();
}

}  // namespace lamina::layers
