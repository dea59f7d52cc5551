// SPDX-License-Identifier: Apache-2.0
// Noise layers: SpatialDropout1D/2D, GaussianNoise, GaussianDropout. Each is an op expression
// over lamina's seeded random stream, so autodiff gives the backward (the noise is a constant).
#include "lamina/layers/noise.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/random.hpp"

namespace lamina::layers {

namespace {
void check_rate(const std::string& cls, double rate) {
  if (!(rate >= 0 && rate < 1))
    throw ValueError(cls + ": rate must be in [0, 1), got " + std::to_string(rate));
}

DType float_type(const Tensor& x) { return is_floating(x.dtype()) ? x.dtype() : float32; }
}  // namespace

// --- SpatialDropout ------------------------------------------------------------------------------

SpatialDropoutLayer::SpatialDropoutLayer(int rank, double rate, std::string name)
    : Layer(std::move(name)), rank_(rank), rate_(rate) {
  check_rate(class_name(), rate);
}

Shape SpatialDropoutLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != rank_ + 2)
    fail_shape((rank_ == 2 ? "input must be 4-D (batch, height, width, channels), got "
                           : "input must be 3-D (batch, steps, channels), got ") +
               s.str());
  return s;
}

Tensor SpatialDropoutLayer::call(const Tensor& x, bool training) {
  compute_output_shape(x.shape());
  if (!training || rate_ == 0) return x;
  // One keep/drop draw per (sample, channel), broadcast over the spatial axes.
  Shape noise(static_cast<std::size_t>(x.ndim()), 1);
  noise.front() = x.dim(0);
  noise.back() = x.dim(-1);
  const DType dt = float_type(x);
  return (dt == x.dtype() ? x : x.astype(dt)) * random::dropout_mask(noise, rate_, dt, x.device());
}

nlohmann::json SpatialDropoutLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c.erase("trainable");  // Keras's SpatialDropout takes no trainable argument: a file with it is refused
  c["rate"] = rate_;
  c["seed"] = nullptr;
  if (rank_ == 2) c["data_format"] = "channels_last";
  return c;
}

SpatialDropout1D::SpatialDropout1D(double rate, Name name)
    : LayerHandle(std::make_shared<SpatialDropoutLayer>(1, rate, std::move(name))) {}
SpatialDropout2D::SpatialDropout2D(double rate, Name name)
    : LayerHandle(std::make_shared<SpatialDropoutLayer>(2, rate, std::move(name))) {}

// --- GaussianNoise -------------------------------------------------------------------------------

GaussianNoiseLayer::GaussianNoiseLayer(double stddev, std::string name)
    : Layer(std::move(name)), stddev_(stddev) {
  if (!(stddev >= 0))
    throw ValueError("GaussianNoise: stddev must be >= 0, got " + std::to_string(stddev));
}

Tensor GaussianNoiseLayer::call(const Tensor& x, bool training) {
  if (!training || stddev_ == 0) return x;
  const DType dt = float_type(x);
  return (dt == x.dtype() ? x : x.astype(dt)) + random_normal(x.shape(), 0.0, stddev_, dt, x.device());
}

nlohmann::json GaussianNoiseLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["stddev"] = stddev_;
  c["seed"] = nullptr;
  return c;
}

GaussianNoise::GaussianNoise(double stddev, Name name)
    : LayerHandle(std::make_shared<GaussianNoiseLayer>(stddev, std::move(name))) {}

// --- GaussianDropout -----------------------------------------------------------------------------

GaussianDropoutLayer::GaussianDropoutLayer(double rate, std::string name)
    : Layer(std::move(name)), rate_(rate) {
  check_rate("GaussianDropout", rate);
}

Tensor GaussianDropoutLayer::call(const Tensor& x, bool training) {
  if (!training || rate_ == 0) return x;
  const DType dt = float_type(x);
  const double stddev = std::sqrt(rate_ / (1.0 - rate_));
  return (dt == x.dtype() ? x : x.astype(dt)) * random_normal(x.shape(), 1.0, stddev, dt, x.device());
}

nlohmann::json GaussianDropoutLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["rate"] = rate_;
  c["seed"] = nullptr;
  return c;
}

GaussianDropout::GaussianDropout(double rate, Name name)
    : LayerHandle(std::make_shared<GaussianDropoutLayer>(rate, std::move(name))) {}

// --- from_config ---------------------------------------------------------------------------------

namespace {
using engine::name_of;
using json = nlohmann::json;

[[maybe_unused]] const bool registered = [] {
  register_layer("SpatialDropout1D", [](const json& c) -> std::shared_ptr<Layer> {
    return SpatialDropout1D(c.at("rate").get<double>(), name_of(c)).ptr();
  });
  register_layer("SpatialDropout2D", [](const json& c) -> std::shared_ptr<Layer> {
    return SpatialDropout2D(c.at("rate").get<double>(), name_of(c)).ptr();
  });
  register_layer("GaussianNoise", [](const json& c) -> std::shared_ptr<Layer> {
    return GaussianNoise(c.at("stddev").get<double>(), name_of(c)).ptr();
  });
  register_layer("GaussianDropout", [](const json& c) -> std::shared_ptr<Layer> {
    return GaussianDropout(c.at("rate").get<double>(), name_of(c)).ptr();
  });
  return true;
}();
}  // namespace

}  // namespace lamina::layers
