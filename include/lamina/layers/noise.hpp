// SPDX-License-Identifier: Apache-2.0
// lamina/layers/noise.hpp — regularising noise, active only in training (identity in inference):
// SpatialDropout1D/2D, GaussianNoise, GaussianDropout. Draws come from lamina's seeded stream
// (set_seed).
#pragma once

#include <string>

#include "lamina/layer.hpp"

namespace lamina::layers {

/// Dropout of whole feature maps: in training each (sample, channel) pair is zeroed with
/// probability `rate` across every step/pixel, and kept ones are scaled by 1/(1 − rate).
/// Input (batch, steps, channels) for rank 1, (batch, height, width, channels) for rank 2, or
/// (batch, channels, height, width) with data_format "channels_first" (2-D only, as Keras).
class SpatialDropoutLayer : public Layer {
 public:
  /// Throws ValueError unless 0 <= rate < 1, or on an unknown data_format (channels_first for
  /// rank 1).
  SpatialDropoutLayer(int rank, double rate, std::string name,
                      const std::string& data_format = "channels_last");
  std::string class_name() const override {
    return rank_ == 2 ? "SpatialDropout2D" : "SpatialDropout1D";
  }
  bool supports_masking() const override { return true; }  // Keras 3: a Dropout, the mask passes on
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  double rate() const { return rate_; }
  bool channels_first() const { return channels_first_; }

 private:
  int rank_;
  double rate_;
  bool channels_first_ = false;
};

struct SpatialDropout1D : LayerHandle<SpatialDropoutLayer> {
  explicit SpatialDropout1D(double rate, Name name = {});
};
struct SpatialDropout2DOptions {
  /// "channels_last": x is (batch, height, width, channels); "channels_first": (batch, channels,
  /// height, width).
  std::string data_format = "channels_last";
  std::string name{};
};

/// `SpatialDropout2D(0.2)`, `SpatialDropout2D(0.2, "drop")`,
/// `SpatialDropout2D(0.2, {.data_format = "channels_first"})`.
struct SpatialDropout2D : LayerHandle<SpatialDropoutLayer> {
  explicit SpatialDropout2D(double rate, Name name = {});
  SpatialDropout2D(double rate, SpatialDropout2DOptions options);
};

/// Training: x + N(0, stddev²) noise, drawn afresh each call. Any input shape.
class GaussianNoiseLayer : public Layer {
 public:
  /// Throws ValueError on stddev < 0.
  GaussianNoiseLayer(double stddev, std::string name);
  std::string class_name() const override { return "GaussianNoise"; }
  bool supports_masking() const override { return true; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  nlohmann::json get_config() const override;
  double stddev() const { return stddev_; }

 private:
  double stddev_;
};

struct GaussianNoise : LayerHandle<GaussianNoiseLayer> {
  explicit GaussianNoise(double stddev, Name name = {});
};

/// Training: x · N(1, rate/(1 − rate)) multiplicative noise (mean 1, so no rescaling at
/// inference). Any input shape.
class GaussianDropoutLayer : public Layer {
 public:
  /// Throws ValueError unless 0 <= rate < 1.
  GaussianDropoutLayer(double rate, std::string name);
  std::string class_name() const override { return "GaussianDropout"; }
  bool supports_masking() const override { return true; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  nlohmann::json get_config() const override;
  double rate() const { return rate_; }

 private:
  double rate_;
};

struct GaussianDropout : LayerHandle<GaussianDropoutLayer> {
  explicit GaussianDropout(double rate, Name name = {});
};

}  // namespace lamina::layers
