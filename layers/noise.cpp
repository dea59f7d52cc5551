// SPDX-License-Identifier: Apache-2.0
// Noise layers: SpatialDropout1D/2D, GaussianNoise, GaussianDropout. Each is an op expression
// over lamina's seeded random stream, so autodiff gives the backward (the noise is a constant).
#include "lamina/layers/noise.hpp"
#include "catalogue.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/random.hpp"
#include "spatial_config.hpp"

namespace lamina::layers {

namespace {
void check_rate(const std::string& cls, double rate) {
  if (!(rate >= 0 && rate < 1))
    throw ValueError(cls + ": rate must be in [0, 1), got " + std::to_string(rate));
}

DType float_type(const Tensor& x) { return is_floating(x.dtype()) ? x.dtype() : float32; }
}  // namespace

// --- SpatialDropout ------------------------------------------------------------------------------

SpatialDropoutLayer::SpatialDropoutLayer(int rank, double rate, std::string name,
                                         const std::string& data_format)
    : Layer(std::move(name)), rank_(rank), rate_(rate) {
  check_rate(class_name(), rate);
  if (rank == 1) spatial::require_channels_last(class_name(), data_format);
  channels_first_ = spatial::channels_first(class_name(), data_format);
}

Shape SpatialDropoutLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + s.str());
  return s;
}

Tensor SpatialDropoutLayer::call(const Tensor& x, bool training) {
  compute_output_shape(x.shape());
  if (!training || rate_ == 0) return x;
  // One keep/drop draw per (sample, channel), broadcast over the spatial axes.
  Shape noise(static_cast<std::size_t>(x.ndim()), 1);
  noise.front() = x.dim(0);
  const int channel_axis = channels_first_ ? 1 : x.ndim() - 1;
  noise[static_cast<std::size_t>(channel_axis)] = x.dim(channel_axis);
  const DType dt = float_type(x);
  return (dt == x.dtype() ? x : x.astype(dt)) * random::dropout_mask(noise, rate_, dt, x.device());
}

nlohmann::json SpatialDropoutLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c.erase("trainable");  // Keras's SpatialDropout takes no trainable argument: a file with it is refused
  c["rate"] = rate_;
  c["seed"] = nullptr;
  if (rank_ == 2) c["data_format"] = spatial::data_format_name(channels_first_);
  return c;
}

SpatialDropout1D::SpatialDropout1D(double rate, Name name)
    : LayerHandle(std::make_shared<SpatialDropoutLayer>(1, rate, std::move(name))) {}
SpatialDropout2D::SpatialDropout2D(double rate, Name name)
    : LayerHandle(std::make_shared<SpatialDropoutLayer>(2, rate, std::move(name))) {}
SpatialDropout2D::SpatialDropout2D(double rate, SpatialDropout2DOptions o)
    : LayerHandle(
          std::make_shared<SpatialDropoutLayer>(2, rate, std::move(o.name), o.data_format)) {}

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

}  // namespace

void register_noise_layers() {
  engine::register_layer_spec({
      .class_name = "SpatialDropout1D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return SpatialDropout1D(c.at("rate").get<double>(), name_of(c)).ptr();
      },
      .honoured_keys = {"rate", "seed"},
      .key_rules = {keys::steps_only(), {"noise_shape", {nullptr}, "the mask's shape is fixed by the layer"}},
      .call_kwargs = {{"training", false}},
  });
  engine::register_layer_spec({
      .class_name = "SpatialDropout2D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return SpatialDropout2D(c.at("rate").get<double>(),
                                SpatialDropout2DOptions{.data_format = spatial::data_format_of(c),
                                                        .name = name_of(c)})
            .ptr();
      },
      .honoured_keys = {"rate", "seed", "data_format"},
      .key_rules = {{"noise_shape", {nullptr}, "the mask's shape is fixed by the layer"}},
      .call_kwargs = {{"training", false}},
  });
  engine::register_layer_spec({
      .class_name = "GaussianNoise",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return GaussianNoise(c.at("stddev").get<double>(), name_of(c)).ptr();
      },
      .honoured_keys = {"stddev", "seed"},
      .build_config = false,
      .call_kwargs = {{"training", false}},
  });
  engine::register_layer_spec({
      .class_name = "GaussianDropout",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return GaussianDropout(c.at("rate").get<double>(), name_of(c)).ptr();
      },
      .honoured_keys = {"rate", "seed"},
      .build_config = false,
      .call_kwargs = {{"training", false}},
  });
}

}  // namespace lamina::layers
