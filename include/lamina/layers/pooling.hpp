// SPDX-License-Identifier: Apache-2.0
// lamina/layers/pooling.hpp — MaxPooling1D/2D, AveragePooling1D/2D and the global poolings,
// channels last or first. Weightless.
#pragma once

#include <string>
#include <vector>

#include "lamina/layer.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

/// Windowed max or average over the spatial axes (a 1-D pooling is kept in 2-D form, height 1).
class PoolingLayer : public Layer {
 public:
  enum class Kind { max, average };
  /// strides of 0 (Keras's None) mean pool_size. Throws ValueError on non-positive sizes, a
  /// padding other than "valid" / "same" or a data_format other than "channels_last" /
  /// "channels_first".
  PoolingLayer(Kind kind, int rank, Size2D pool_size, Size2D strides, const std::string& padding,
               std::string name, const std::string& data_format = "channels_last");
  /// "MaxPooling2D", "AveragePooling1D", ...
  std::string class_name() const override;
  Tensor call(const Tensor& x, bool training) override;
  /// Throws ShapeError naming the layer on a wrong rank or a window that leaves an empty output.
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;

  Kind kind() const { return kind_; }
  Size2D pool_size() const { return pool_; }
  Size2D strides() const { return strides_; }
  Padding padding() const { return padding_; }
  bool channels_first() const { return channels_first_; }

 private:
  /// compute_output_shape on the channels_last view of the input.
  Shape output_shape_last(const Shape& input_shape) const;
  Kind kind_;
  int rank_;
  Size2D pool_, strides_;
  Padding padding_;
  bool channels_first_ = false;
};

struct Pooling2DOptions {
  Size2D strides = 0;             ///< 0 (Keras's None): pool_size
  std::string padding = "valid";  ///< "valid" | "same"
  /// "channels_last": x is (batch, height, width, channels); "channels_first": (batch, channels,
  /// height, width).
  std::string data_format = "channels_last";
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

struct Pooling1DOptions {
  std::int64_t strides = 0;  ///< 0 (Keras's None): pool_size
  std::string padding = "valid";
  /// "channels_last": x is (batch, steps, channels); "channels_first": (batch, channels, steps).
  std::string data_format = "channels_last";
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// `MaxPooling2D(2)`, `MaxPooling2D({3, 3}, {.strides = 2, .padding = "same"})`.
struct MaxPooling2D : LayerHandle<PoolingLayer> {
  explicit MaxPooling2D(Size2D pool_size = 2, Pooling2DOptions options = {});
};
/// Average of the real elements of each window ('same' padding never counts the padding).
struct AveragePooling2D : LayerHandle<PoolingLayer> {
  explicit AveragePooling2D(Size2D pool_size = 2, Pooling2DOptions options = {});
};
struct MaxPooling1D : LayerHandle<PoolingLayer> {
  explicit MaxPooling1D(std::int64_t pool_size = 2, Pooling1DOptions options = {});
};
struct AveragePooling1D : LayerHandle<PoolingLayer> {
  explicit AveragePooling1D(std::int64_t pool_size = 2, Pooling1DOptions options = {});
};

// --- global pooling --------------------------------------------------------------------------

/// Max or mean over all spatial axes: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims;
/// channels_first: (N, C, H, W) -> (N, C), or (N, C, 1, 1).
class GlobalPoolingLayer : public Layer {
 public:
  /// Throws ValueError on a data_format other than "channels_last" / "channels_first".
  GlobalPoolingLayer(PoolingLayer::Kind kind, int rank, bool keepdims, std::string name,
                     const std::string& data_format = "channels_last");
  /// "GlobalMaxPooling2D", "GlobalAveragePooling1D", ...
  std::string class_name() const override;
  Tensor call(const Tensor& x, bool training) override;
  /// GlobalAveragePooling1D (only, as Keras 3) averages over the unmasked steps and consumes the
  /// mask; a row with every step masked gives 0/0 = NaN, as Keras's does.
  bool supports_masking() const override { return kind_ == PoolingLayer::Kind::average && rank_ == 1; }
  Tensor call_masked(const Tensor& x, const Tensor& mask, bool training) override;
  Tensor compute_mask(const Tensor&, const Tensor&) const override { return Tensor(); }
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  bool keepdims() const { return keepdims_; }
  bool channels_first() const { return channels_first_; }

 private:
  std::vector<int> spatial_axes() const;
  PoolingLayer::Kind kind_;
  int rank_;
  bool keepdims_;
  bool channels_first_ = false;
};

struct GlobalPoolingOptions {
  /// "channels_last": x is (batch, ..., channels); "channels_first": (batch, channels, ...).
  std::string data_format = "channels_last";
  bool keepdims = false;
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

struct GlobalMaxPooling2D : LayerHandle<GlobalPoolingLayer> {
  explicit GlobalMaxPooling2D(GlobalPoolingOptions options = {});
};
struct GlobalAveragePooling2D : LayerHandle<GlobalPoolingLayer> {
  explicit GlobalAveragePooling2D(GlobalPoolingOptions options = {});
};
struct GlobalMaxPooling1D : LayerHandle<GlobalPoolingLayer> {
  explicit GlobalMaxPooling1D(GlobalPoolingOptions options = {});
};
struct GlobalAveragePooling1D : LayerHandle<GlobalPoolingLayer> {
  explicit GlobalAveragePooling1D(GlobalPoolingOptions options = {});
};

}  // namespace lamina::layers
