// SPDX-License-Identifier: Apache-2.0
// Activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax, ThresholdedReLU), Identity and
// AlphaDropout, each an op expression so that autodiff gives the backward.
#include "lamina/layers/activation.hpp"
#include "catalogue.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "axes_config.hpp"
#include "dropout_noise.hpp"
#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/activations.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

namespace {
using json = nlohmann::json;

void require_non_negative(const char* cls, const char* what, double v) {
  if (!(v >= 0)) throw ValueError(std::string(cls) + ": " + what + " must be >= 0, got " + std::to_string(v));
}

DType float_type(const Tensor& x) { return is_floating(x.dtype()) ? x.dtype() : float32; }
Tensor as_float(const Tensor& x) { return is_floating(x.dtype()) ? x : x.astype(float32); }
Tensor scalar_like(const Tensor& x, double v) { return Tensor::scalar(v, x.dtype()); }

// A number a config must hold as a number (null refused by name, as Keras refuses it).
double number_of(const json& c, const char* key, double fallback) {
  if (!c.contains(key)) return fallback;
  if (!c[key].is_number()) throw ValueError(std::string(key) + "=" + c[key].dump() + " must be a number");
  return c[key].get<double>();
}
}  // namespace

// --- ReLU ----------------------------------------------------------------------------------------

ReLULayer::ReLULayer(ReLUOptions options) : Layer(options.name), options_(std::move(options)) {
  if (options_.max_value) require_non_negative("ReLU", "max_value", *options_.max_value);
  require_non_negative("ReLU", "negative_slope", options_.negative_slope);
  require_non_negative("ReLU", "threshold", options_.threshold);
}

// Keras's ReLU.static_call, term for term, except that x at or below the threshold is tested as
// x <= threshold so that NaN fails the test and stays NaN.
Tensor ReLULayer::call(const Tensor& x_in, bool) {
  const Tensor x = as_float(x_in);
  const auto& o = options_;
  if (o.negative_slope != 0 && !o.max_value && o.threshold == 0) return activations::leaky_relu(x, o.negative_slope);
  Tensor y;
  bool clip_max = o.max_value.has_value();
  if (o.threshold != 0) {
    y = where(x <= o.threshold, scalar_like(x, 0.0), x);
  } else if (o.max_value && *o.max_value == 6.0) {
    y = clip(x, 0.0, 6.0);
    clip_max = false;
  } else {
    y = relu(x);
  }
  if (clip_max) y = clip(y, 0.0, *o.max_value);
  if (o.negative_slope != 0) y = y - o.negative_slope * relu(o.threshold - x);
  return y;
}

json ReLULayer::get_config() const {
  json c = Layer::get_config();
  c["max_value"] = options_.max_value ? json(*options_.max_value) : json(nullptr);
  c["negative_slope"] = options_.negative_slope;
  c["threshold"] = options_.threshold;
  return c;
}

ReLU::ReLU(ReLUOptions options) : LayerHandle(std::make_shared<ReLULayer>(std::move(options))) {}

// --- LeakyReLU -----------------------------------------------------------------------------------

LeakyReLULayer::LeakyReLULayer(double negative_slope, std::string name)
    : Layer(std::move(name)), negative_slope_(negative_slope) {
  require_non_negative("LeakyReLU", "negative_slope", negative_slope);
}

Tensor LeakyReLULayer::call(const Tensor& x, bool) { return activations::leaky_relu(as_float(x), negative_slope_); }

json LeakyReLULayer::get_config() const {
  json c = Layer::get_config();
  c["negative_slope"] = negative_slope_;
  return c;
}

LeakyReLU::LeakyReLU(double negative_slope, Name name)
    : LayerHandle(std::make_shared<LeakyReLULayer>(negative_slope, std::move(name))) {}

// --- PReLU ---------------------------------------------------------------------------------------

PReLULayer::PReLULayer(PReLUOptions options) : Layer(options.name, options.dtype), options_(std::move(options)) {}

Shape PReLULayer::alpha_shape(const Shape& s) const {
  if (s.rank() < 2) fail_shape("input must have a batch and a feature axis, got " + s.str());
  Shape a(s.begin() + 1, s.end());
  for (int axis : options_.shared_axes) {
    if (axis < 1 || axis >= s.rank())
      fail_shape("shared_axes entry " + std::to_string(axis) + " must name an axis after the batch of input " + s.str());
    a[static_cast<std::size_t>(axis - 1)] = 1;
  }
  for (auto d : a)
    if (d < 0) fail_shape("every axis that is not shared must have a known dimension, got " + s.str());
  return a;
}

void PReLULayer::build(const Shape& input_shape) {
  const auto& o = options_;
  alpha = add_weight("alpha", alpha_shape(input_shape), o.alpha_initializer, true, float32, o.alpha_regularizer,
                     o.alpha_constraint);
}

Shape PReLULayer::compute_output_shape(const Shape& input_shape) {
  const Shape a = alpha_shape(input_shape);
  if (alpha.defined() && a != alpha.shape())
    fail_shape("built for input " + this->input_shape().str() + ", got " + input_shape.str());
  return input_shape;
}

Tensor PReLULayer::call(const Tensor& x_in, bool) {
  compute_output_shape(x_in.shape());
  const Tensor x = as_float(x_in);
  Tensor a = autocast(alpha);
  if (a.dtype() != x.dtype()) a = a.astype(x.dtype());
  return relu(x) - a * relu(-x);  // Keras's pos + neg
}

json PReLULayer::get_config() const {
  json c = Layer::get_config();
  c["alpha_initializer"] = engine::initializer_config(options_.alpha_initializer);
  c["alpha_regularizer"] = regularizers::serialize(options_.alpha_regularizer);
  c["alpha_constraint"] = constraints::serialize(options_.alpha_constraint);
  c["shared_axes"] = options_.shared_axes.empty() ? json(nullptr) : json(options_.shared_axes);
  return c;
}

PReLU::PReLU(PReLUOptions options) : LayerHandle(std::make_shared<PReLULayer>(std::move(options))) {}

// --- ELU -----------------------------------------------------------------------------------------

ELULayer::ELULayer(double alpha, std::string name) : Layer(std::move(name)), alpha_(alpha) {
  if (!std::isfinite(alpha)) throw ValueError("ELU: alpha must be a finite number, got " + std::to_string(alpha));
}

Tensor ELULayer::call(const Tensor& x, bool) { return activations::elu(as_float(x), alpha_); }

json ELULayer::get_config() const {
  json c = Layer::get_config();
  c["alpha"] = alpha_;
  return c;
}

ELU::ELU(double alpha, Name name) : LayerHandle(std::make_shared<ELULayer>(alpha, std::move(name))) {}

// --- Softmax -------------------------------------------------------------------------------------

SoftmaxLayer::SoftmaxLayer(Axes axis, std::string name) : Layer(std::move(name)), axis_(std::move(axis)) {
  if (axis_.values.empty()) throw ValueError("Softmax: axis must name at least one axis");
}

Shape SoftmaxLayer::compute_output_shape(const Shape& input_shape) {
  axes_config::resolve(*this, axis_, input_shape.rank(), true);
  return input_shape;
}

Tensor SoftmaxLayer::call(const Tensor& x_in, bool) {
  const std::vector<int> axes = axes_config::resolve(*this, axis_, x_in.ndim(), true);
  const Tensor x = as_float(x_in);
  if (axes.size() == 1) return activations::softmax(x, axes[0]);
  // Several axes: exp(x − logsumexp(x, axes)), shifted by the (constant) maximum for range.
  const Tensor e = exp(x - max(x.detach(), axes, true));
  return e / sum(e, axes, true);
}

// Keras 3: masked positions read a large negative number before the softmax and 0 after it.
Tensor SoftmaxLayer::call_masked(const Tensor& x_in, const Tensor& mask, bool training) {
  const Tensor x = as_float(x_in);
  if (mask.ndim() > x.ndim())
    fail_shape("the mask " + mask.shape().str() + " has more axes than the input " + x.shape().str());
  for (int i = 1; i <= mask.ndim(); ++i)
    if (mask.dim(-i) != 1 && mask.dim(-i) != x.dim(-i))
      fail_shape("the mask " + mask.shape().str() + " does not broadcast to the input " + x.shape().str());
  const Tensor keep = mask > 0.5;
  const double large_negative = x.dtype() == float16 ? -3e4 : -1e9;
  const Tensor y = call(where(keep, x, scalar_like(x, large_negative)), training);
  return where(keep, y, scalar_like(y, 0.0));
}

json SoftmaxLayer::get_config() const {
  json c = Layer::get_config();
  c["axis"] = axes_config::to_json(axis_);
  return c;
}

Softmax::Softmax(Axes axis, Name name) : LayerHandle(std::make_shared<SoftmaxLayer>(std::move(axis), std::move(name))) {}

// --- ThresholdedReLU -----------------------------------------------------------------------------

ThresholdedReLULayer::ThresholdedReLULayer(double theta, std::string name) : Layer(std::move(name)), theta_(theta) {
  require_non_negative("ThresholdedReLU", "theta", theta);
}

// tf.keras's x · (x > theta): NaN times 0 stays NaN.
Tensor ThresholdedReLULayer::call(const Tensor& x_in, bool) {
  const Tensor x = as_float(x_in);
  return x * (x > theta_).astype(x.dtype());
}

json ThresholdedReLULayer::get_config() const {
  json c = Layer::get_config();
  c["theta"] = theta_;
  return c;
}

ThresholdedReLU::ThresholdedReLU(double theta, Name name)
    : LayerHandle(std::make_shared<ThresholdedReLULayer>(theta, std::move(name))) {}

// --- Identity ------------------------------------------------------------------------------------

IdentityLayer::IdentityLayer(std::string name) : Layer(std::move(name)) {}

Identity::Identity(Name name) : LayerHandle(std::make_shared<IdentityLayer>(std::move(name))) {}

// --- AlphaDropout --------------------------------------------------------------------------------

AlphaDropoutLayer::AlphaDropoutLayer(double rate, DropoutOptions options)
    : Layer(options.name, options.dtype), rate_(rate), options_(std::move(options)) {
  dropout_noise::check("AlphaDropout", rate, options_);
}

Tensor AlphaDropoutLayer::call(const Tensor& x_in, bool training) {
  if (!training || rate_ == 0) return x_in;
  const Tensor x = as_float(x_in);
  const Shape mask_shape = dropout_noise::mask_shape(*this, x.shape(), options_);
  Tensor kept;
  {
    const dropout_noise::SeededDraws draws(options_.seed, draws_);
    kept = (random_uniform(mask_shape, 0.0, 1.0, float_type(x), x.device()) >= rate_).astype(x.dtype());
  }
  // Keras's constants: SELU's alpha and scale; dropped units take SELU's saturation value.
  constexpr double alpha = 1.6732632423543772848170429916717;
  constexpr double scale = 1.0507009873554804934193349852946;
  constexpr double alpha_p = -alpha * scale;
  const double a = std::pow((1 - rate_) * (1 + rate_ * alpha_p * alpha_p), -0.5);
  const double b = -a * alpha_p * rate_;
  return a * (x * kept + alpha_p * (1.0 - kept)) + b;
}

json AlphaDropoutLayer::get_config() const {
  json c = Layer::get_config();
  dropout_noise::to_config(rate_, options_, c);
  return c;
}

AlphaDropout::AlphaDropout(double rate, DropoutOptions options)
    : LayerHandle(std::make_shared<AlphaDropoutLayer>(rate, std::move(options))) {}

// --- from_config ---------------------------------------------------------------------------------

namespace {
using engine::name_of;

}  // namespace

void register_activation_layers() {
  engine::register_layer_spec({
      .class_name = "ReLU",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        ReLUOptions o{.negative_slope = number_of(c, "negative_slope", 0.0),
                      .threshold = number_of(c, "threshold", 0.0),
                      .name = name_of(c)};
        if (c.contains("max_value") && !c["max_value"].is_null()) o.max_value = number_of(c, "max_value", 0.0);
        return ReLU(std::move(o)).ptr();
      },
      .honoured_keys = {"max_value", "negative_slope", "threshold"},
      .build_config = false,
  });
  // Keras 3 writes negative_slope, tf.keras 2 alpha; the layer's default is 0.3 in both.
  engine::register_layer_spec({
      .class_name = "LeakyReLU",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return LeakyReLU(number_of(c, "negative_slope", number_of(c, "alpha", 0.3)), name_of(c)).ptr();
      },
      .honoured_keys = {"negative_slope", "alpha"},
      .build_config = false,
  });
  engine::register_layer_spec({
      .class_name = "PReLU",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        PReLUOptions o{.alpha_initializer = engine::initializer_of(c, "alpha_initializer", "zeros"),
                       .alpha_regularizer = engine::regularizer_of(c, "alpha_regularizer"),
                       .alpha_constraint = engine::constraint_of(c, "alpha_constraint"),
                       .name = name_of(c)};
        if (c.contains("shared_axes") && !c["shared_axes"].is_null())
          o.shared_axes = axes_config::from_json(c, "shared_axes", 1).values;
        return PReLU(std::move(o)).ptr();
      },
      .honoured_keys = {"alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"},
  });
  engine::register_layer_spec({
      .class_name = "ELU",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return ELU(number_of(c, "alpha", 1.0), name_of(c)).ptr();
      },
      .honoured_keys = {"alpha"},
      .build_config = false,
  });
  // tf.keras's robust_masking (written only when true) is not honoured.
  engine::register_layer_spec({
      .class_name = "Softmax",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Softmax(axes_config::from_json(c, "axis", -1), name_of(c)).ptr();
      },
      .honoured_keys = {"axis"},
      .build_config = false,
      .call_kwargs = {{"mask", nullptr}},
  });
  engine::register_layer_spec({
      .class_name = "ThresholdedReLU",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return ThresholdedReLU(number_of(c, "theta", 1.0), name_of(c)).ptr();
      },
      .honoured_keys = {"theta"},
      .build_config = false,
  });
  engine::register_layer_spec({
      .class_name = "Identity",
      .factory = [](const json& c) -> std::shared_ptr<Layer> { return Identity(name_of(c)).ptr(); },
      .honoured_keys = {},
      .build_config = false,
  });
  engine::register_layer_spec({
      .class_name = "AlphaDropout",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return AlphaDropout(c.at("rate").get<double>(), dropout_noise::options_of(c)).ptr();
      },
      .honoured_keys = {"rate", "noise_shape", "seed"},
      .build_config = false,
      .call_kwargs = {{"training", false}},
  });
}

}  // namespace lamina::layers
