// SPDX-License-Identifier: Apache-2.0
// lamina/layers/reshaping3d.hpp — weightless volumetric layers over (batch, depth, height, width,
// channels), or channels first: ZeroPadding3D, Cropping3D, UpSampling3D, and SpatialDropout3D.
#pragma once

#include <cstdint>
#include <string>

#include "lamina/layer.hpp"
#include "lamina/layers/reshaping.hpp"
#include "lamina/ops/conv3d.hpp"

namespace lamina::layers {

/// Keras's 3-D padding/cropping argument: `1` (every side), `{1, 2, 3}` (depth, rows, columns,
/// each symmetric) or `{{front, back}, {top, bottom}, {left, right}}`.
struct Margins3D {
  Margins depth, rows, cols;
  Margins3D(std::int64_t all = 0) : depth(all), rows(all), cols(all) {}  // NOLINT(google-explicit-constructor)
  Margins3D(Margins d, Margins r, Margins c) : depth(d), rows(r), cols(c) {}
  bool operator==(const Margins3D&) const = default;
};

/// Zeros added to (ZeroPadding3D) or slices removed from (Cropping3D) the borders of the volume.
class Margin3DLayer : public Layer {
 public:
  /// Throws ValueError on a negative amount or an unknown data_format.
  Margin3DLayer(MarginLayer::Kind kind, Margins3D margins, const std::string& data_format, std::string name);
  /// "ZeroPadding3D" | "Cropping3D"
  std::string class_name() const override;
  Tensor call(const Tensor& x, bool training) override;
  /// Throws ShapeError naming the layer on a wrong rank or a crop that leaves nothing.
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  const Margins3D& margins() const { return margins_; }

 private:
  MarginLayer::Kind kind_;
  Margins3D margins_;
  bool channels_first_;
};

struct Margin3DOptions {
  std::string data_format = "channels_last";  ///< or "channels_first"
  std::string name{};
};

/// `ZeroPadding3D(1)`, `ZeroPadding3D({{1, 0}, {2, 2}, {0, 1}})`. Keras's default pads 1 on every
/// side.
struct ZeroPadding3D : LayerHandle<Margin3DLayer> {
  explicit ZeroPadding3D(Margins3D padding = 1, Margin3DOptions options = {});
};
/// `Cropping3D({1, 2, 2})`. Keras's default crops 1 from every side.
struct Cropping3D : LayerHandle<Margin3DLayer> {
  explicit Cropping3D(Margins3D cropping = 1, Margin3DOptions options = {});
};

/// Repeats each slice, row and column size.d, size.h and size.w times (Keras's UpSampling3D).
class UpSampling3DLayer : public Layer {
 public:
  /// Throws ValueError on a non-positive size or an unknown data_format.
  UpSampling3DLayer(Size3D size, const std::string& data_format, std::string name);
  std::string class_name() const override { return "UpSampling3D"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  Size3D size() const { return size_; }

 private:
  Size3D size_;
  bool channels_first_;
};

struct UpSampling3DOptions {
  std::string data_format = "channels_last";  ///< or "channels_first"
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

struct UpSampling3D : LayerHandle<UpSampling3DLayer> {
  explicit UpSampling3D(Size3D size = 2, UpSampling3DOptions options = {});
};

/// Dropout of whole feature volumes: in training each (sample, channel) pair is zeroed with
/// probability `rate` across every voxel, kept ones scaled by 1/(1 − rate). Identity in inference.
class SpatialDropout3DLayer : public Layer {
 public:
  /// Throws ValueError unless 0 <= rate < 1, or on an unknown data_format.
  SpatialDropout3DLayer(double rate, const std::string& data_format, std::string name);
  std::string class_name() const override { return "SpatialDropout3D"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  double rate() const { return rate_; }

 private:
  double rate_;
  bool channels_first_;
};

struct SpatialDropout3DOptions {
  std::string data_format = "channels_last";  ///< or "channels_first"
  std::string name{};
};

struct SpatialDropout3D : LayerHandle<SpatialDropout3DLayer> {
  explicit SpatialDropout3D(double rate, SpatialDropout3DOptions options = {});
};

}  // namespace lamina::layers
