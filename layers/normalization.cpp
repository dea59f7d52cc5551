// SPDX-License-Identifier: Apache-2.0
// Normalisation layers: BatchNormalization, LayerNormalization (any axes).
#include "common/json_int.hpp"
#include "lamina/layers/normalization.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "axes_config.hpp"
#include "beta_gamma_config.hpp"
#include "config_keys.hpp"
#include "engine/config.hpp"
#include "engine/replica.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

namespace {
void fail_for(const Layer& layer, const std::string& what) {
  throw ShapeError(layer.class_name() + " '" + layer.name() + "': " + what);
}

// The axis as a non-negative index (Keras counts negative axes from the end).
int resolve_axis(const Layer& layer, const Shape& s, int axis) {
  if (s.rank() < 2) fail_for(layer, "input must have a batch and a feature axis, got " + s.str());
  const int a = axis < 0 ? axis + s.rank() : axis;
  if (a < 1 || a >= s.rank())
    fail_for(layer, "axis=" + std::to_string(axis) + " is out of range for input " + s.str() +
                        " (the batch axis cannot be normalised over)");
  if (s[a] <= 0)
    fail_for(layer,
             "the dimension of axis " + std::to_string(axis) + " must be known, got " + s.str());
  return a;
}

// The axis order that moves `axis` to the end, and its inverse.
std::vector<int> axis_to_end(int rank, int axis) {
  std::vector<int> perm;
  for (int i = 0; i < rank; ++i)
    if (i != axis) perm.push_back(i);
  perm.push_back(axis);
  return perm;
}

std::vector<int> inverse(const std::vector<int>& perm) {
  std::vector<int> inv(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i)
    inv[static_cast<std::size_t>(perm[i])] = static_cast<int>(i);
  return inv;
}

// Keras 3's synchronised moments (its TensorFlow backend's _compute_moments_sync): every
// replica's per-channel sum, sum of squares and count in one all-reduce, then the global batch's
// mean and (biased) variance. The sum's backward sums the gradients over the replicas, so the
// statistics' share of each replica's input gradient is the global batch's. `axis` is the channel
// axis; the mean and variance come back shaped to broadcast against x.
std::pair<Tensor, Tensor> synchronized_moments(const Tensor& x, int axis) {
  std::vector<int> axes;
  for (int i = 0; i < x.ndim(); ++i)
    if (i != axis) axes.push_back(i);
  const std::int64_t c = x.dim(axis);
  const Shape row{1, c};
  const double count = static_cast<double>(x.numel() / c);
  const Tensor local = concatenate({sum(x, axes).reshape(row), sum(square(x), axes).reshape(row),
                                    Tensor::full(row, count, x.dtype(), x.device())},
                                   0);
  const Tensor total = engine::cross_replica_sum(local);
  const Tensor n = total[2].detach();
  const Tensor mean = total[0] / n;
  Tensor var = total[1] / n - square(mean);
  var = maximum(var, Tensor::zeros(var.shape(), var.dtype(), var.device()));  // rounding can go below 0
  Shape along(static_cast<std::size_t>(x.ndim()), 1);
  along[static_cast<std::size_t>(axis)] = c;
  return {mean.reshape(along), var.reshape(along)};
}

}  // namespace

// --- BatchNormalization --------------------------------------------------------------------------

BatchNormalizationLayer::BatchNormalizationLayer(BatchNormalizationOptions options)
    : Layer(options.name, options.dtype), options_(std::move(options)) {
  if (!(options_.epsilon > 0))
    throw ValueError("BatchNormalization: epsilon must be positive, got " +
                     std::to_string(options_.epsilon));
  if (!(options_.momentum >= 0 && options_.momentum <= 1))
    throw ValueError("BatchNormalization: momentum must be in [0, 1], got " +
                     std::to_string(options_.momentum));
}

int BatchNormalizationLayer::check_input(const Shape& s) const {
  const int a = resolve_axis(*this, s, options_.axis);
  if (moving_mean.defined() && s[a] != moving_mean.shape()[0])
    fail_shape(a == s.rank() - 1
                   ? "expected last dimension " + std::to_string(moving_mean.shape()[0]) +
                         ", got " + s.str()
                   : "expected dimension " + std::to_string(moving_mean.shape()[0]) + " on axis " +
                         std::to_string(options_.axis) + ", got " + s.str());
  return a;
}

void BatchNormalizationLayer::build(const Shape& input_shape) {
  const Shape c{input_shape[check_input(input_shape)]};
  // Keras's order: gamma, beta, moving_mean, moving_variance.
  const auto& o = options_;
  if (o.scale) gamma = add_weight("gamma", c, o.gamma_initializer, true, float32, o.gamma_regularizer, o.gamma_constraint);
  if (o.center) beta = add_weight("beta", c, o.beta_initializer, true, float32, o.beta_regularizer, o.beta_constraint);
  moving_mean = add_weight("moving_mean", c, options_.moving_mean_initializer, false);
  moving_variance = add_weight("moving_variance", c, options_.moving_variance_initializer, false);
}

Shape BatchNormalizationLayer::compute_output_shape(const Shape& input_shape) {
  (void)check_input(input_shape);
  return input_shape;
}

Tensor BatchNormalizationLayer::call_masked(const Tensor& x, const Tensor& mask, bool training) {
  if (training && mask.defined())
    throw ValueError("BatchNormalization '" + name() + "': training on a masked input is not supported (Keras "
                     "computes the batch statistics over the unmasked steps only); put the layer before the "
                     "mask or train without it");
  return call(x, training);
}

Tensor BatchNormalizationLayer::call(const Tensor& x, bool training) {
  // As Keras: 16-bit inputs are normalised in float32 (their statistics overflow or lose too
  // much precision otherwise) and the result returns to the input's dtype.
  if (x.dtype() == float16 || x.dtype() == bfloat16) return call(x.astype(float32), training).astype(x.dtype());
  const int axis = check_input(x.shape());
  const bool last = axis == x.ndim() - 1;
  Tensor in = x.dtype() == moving_mean.dtype() ? x : x.astype(moving_mean.dtype());
  if (training && trainable() && options_.synchronized && engine::num_replicas() > 1) {
    const auto [mean, var] = synchronized_moments(in, axis);
    Tensor y = (in - mean) / sqrt(var + options_.epsilon);
    if (gamma.defined()) y = y * (last ? gamma : gamma.reshape(mean.shape()));
    if (beta.defined()) y = y + (last ? beta : beta.reshape(mean.shape()));
    NoGradGuard no_grad;
    const double m = options_.momentum;
    moving_mean.assign(moving_mean * m + mean.reshape(moving_mean.shape()) * (1.0 - m));
    moving_variance.assign(moving_variance * m + var.reshape(moving_variance.shape()) * (1.0 - m));
    return y;
  }
  if (training && trainable()) {
    // The fused kernel normalises the last axis; another axis is moved there and back.
    const std::vector<int> perm = axis_to_end(x.ndim(), axis);
    Tensor mean, var;
    Tensor y = batch_norm_training(last ? in : transpose(in, perm), gamma, beta, options_.epsilon,
                                   &mean, &var);
    if (!last) y = transpose(y, inverse(perm));
    NoGradGuard no_grad;
    const double m = options_.momentum;
    moving_mean.assign(moving_mean * m + mean * (1.0 - m));
    moving_variance.assign(moving_variance * m + var * (1.0 - m));
    return y;
  }
  // y = x·scale + shift, scale = gamma/sqrt(moving_variance + eps), shift = beta − mean·scale;
  // built from ops so gradients still reach x, gamma and beta (fine-tuning a frozen layer).
  Tensor scale = 1.0 / sqrt(moving_variance + options_.epsilon);
  if (gamma.defined()) scale = gamma * scale;
  Tensor shift = -(moving_mean * scale);
  if (beta.defined()) shift = beta + shift;
  if (!last) {  // (C,) -> (1, .., C, .., 1) to broadcast along the axis
    Shape along(static_cast<std::size_t>(x.ndim()), 1);
    along[static_cast<std::size_t>(axis)] = scale.numel();
    scale = scale.reshape(along);
    shift = shift.reshape(along);
  }
  return in * scale + shift;
}

nlohmann::json BatchNormalizationLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["axis"] = options_.axis;
  c["momentum"] = options_.momentum;
  c["moving_mean_initializer"] = engine::initializer_config(options_.moving_mean_initializer);
  c["moving_variance_initializer"] =
      engine::initializer_config(options_.moving_variance_initializer);
  beta_gamma_to_config(options_, c);
  c["synchronized"] = options_.synchronized;
  return c;
}

BatchNormalization::BatchNormalization(BatchNormalizationOptions options)
    : LayerHandle(std::make_shared<BatchNormalizationLayer>(std::move(options))) {}

// --- LayerNormalization --------------------------------------------------------------------------

LayerNormalizationLayer::LayerNormalizationLayer(LayerNormalizationOptions options)
    : Layer(options.name, options.dtype), options_(std::move(options)) {
  if (!(options_.epsilon > 0))
    throw ValueError("LayerNormalization: epsilon must be positive, got " +
                     std::to_string(options_.epsilon));
}

std::vector<int> LayerNormalizationLayer::check_input(const Shape& s) const {
  if (s.rank() < 2) fail_shape("input must have a batch and a feature axis, got " + s.str());
  const std::vector<int> axes = axes_config::resolve(*this, options_.axis, s.rank());
  Shape dims;
  for (int a : axes) {
    if (s[a] <= 0) fail_shape("the dimension of axis " + std::to_string(a) + " must be known, got " + s.str());
    dims.push_back(s[a]);
  }
  const Tensor& w = gamma.defined() ? gamma : beta;
  if (w.defined() && dims != w.shape())
    fail_shape(axes.size() == 1 && axes[0] == s.rank() - 1
                   ? "expected last dimension " + std::to_string(w.shape()[0]) + ", got " + s.str()
                   : "expected dimensions " + w.shape().str() + " on the normalised axes, got " + s.str());
  return axes;
}

void LayerNormalizationLayer::build(const Shape& input_shape) {
  Shape c;
  for (int a : check_input(input_shape)) c.push_back(input_shape[a]);
  const auto& o = options_;
  // Keras's rms_scaling keeps gamma whatever `scale` says, and has no beta.
  if (o.scale || o.rms_scaling)
    gamma = add_weight("gamma", c, o.gamma_initializer, true, float32, o.gamma_regularizer, o.gamma_constraint);
  if (o.center && !o.rms_scaling)
    beta = add_weight("beta", c, o.beta_initializer, true, float32, o.beta_regularizer, o.beta_constraint);
}

Shape LayerNormalizationLayer::compute_output_shape(const Shape& input_shape) {
  check_input(input_shape);
  return input_shape;
}

Tensor LayerNormalizationLayer::call(const Tensor& x, bool) {
  const std::vector<int> axes = check_input(x.shape());
  const Tensor& w = gamma.defined() ? gamma : beta;
  const DType dtype = w.defined() ? w.dtype() : (is_floating(x.dtype()) ? x.dtype() : float32);
  Tensor in = x.dtype() == dtype ? x : x.astype(dtype);
  const bool last = axes.size() == 1 && axes[0] == x.ndim() - 1;
  if (last && !options_.rms_scaling) return layer_norm(in, gamma, beta, options_.epsilon);
  // The weights hold the listed axes' dimensions in the listed order; Keras (3 and 2) reshapes
  // them, not transposes, to the input's rank.
  Shape along(static_cast<std::size_t>(x.ndim()), 1);
  for (int a : axes) along[static_cast<std::size_t>(a)] = x.dim(a);
  auto spread = [&](const Tensor& v) { return !v.defined() || last ? v : v.reshape(along); };
  const Tensor g = spread(gamma), b = spread(beta);
  const Tensor centred = in - mean(in, axes, true);
  if (options_.rms_scaling)  // Keras 3's formula as written: the variance scales the uncentred input
    return in / sqrt(mean(centred * centred, axes, true) + options_.epsilon) * g;
  Tensor y = centred / sqrt(mean(centred * centred, axes, true) + options_.epsilon);
  if (g.defined()) y = y * g;
  return b.defined() ? y + b : y;
}

nlohmann::json LayerNormalizationLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["axis"] = axes_config::to_json(options_.axis);
  c["rms_scaling"] = options_.rms_scaling;
  beta_gamma_to_config(options_, c);
  return c;
}

LayerNormalization::LayerNormalization(LayerNormalizationOptions options)
    : LayerHandle(std::make_shared<LayerNormalizationLayer>(std::move(options))) {}

namespace {
using engine::initializer_of;
using json = nlohmann::json;

// Keras 2 may write the axis as a one-element list.
int axis_of(const json& c) {
  if (!c.contains("axis")) return -1;
  const json& a = c["axis"];
  return a.is_array() ? json_int<int>(a.at(0)) : json_int<int>(a);
}

}  // namespace

void register_normalization_layers() {
  engine::register_layer_spec({
      .class_name = "BatchNormalization",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        BatchNormalizationOptions o{
            .axis = axis_of(c),
            .momentum = c.value("momentum", 0.99),
            .moving_mean_initializer = initializer_of(c, "moving_mean_initializer", "zeros"),
            .moving_variance_initializer = initializer_of(c, "moving_variance_initializer", "ones"),
            .synchronized = c.value("synchronized", false)};
        beta_gamma_from_config(c, o);
        return BatchNormalization(std::move(o)).ptr();
      },
      // renorm_clipping and renorm_momentum only act with renorm (refused); fused picks the kernel,
      // not the result.
      .honoured_keys = keys::join({keys::beta_gamma(), {"momentum", "moving_mean_initializer",
                                                       "moving_variance_initializer", "renorm_clipping",
                                                       "renorm_momentum", "fused", "synchronized"}}),
      .key_rules = {{"renorm", {false}, "batch renormalization is not implemented"},
                    {"virtual_batch_size", {nullptr}, "ghost batch normalization is not implemented"},
                    {"adjustment", {nullptr}, "the adjustment function is Python code"}},
      .call_kwargs = {{"mask", nullptr}},
  });
  engine::register_layer_spec({
      .class_name = "LayerNormalization",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        LayerNormalizationOptions o{.axis = axes_config::from_json(c, "axis", -1),
                                    .rms_scaling = c.value("rms_scaling", false)};
        beta_gamma_from_config(c, o);
        return LayerNormalization(std::move(o)).ptr();
      },
      .honoured_keys = keys::join({keys::beta_gamma(), {"rms_scaling"}}),
  });
}

}  // namespace lamina::layers
