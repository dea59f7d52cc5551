// SPDX-License-Identifier: Apache-2.0
// lamina/layers/pooling3d.hpp — MaxPooling3D, AveragePooling3D, GlobalMaxPooling3D and
// GlobalAveragePooling3D over (batch, depth, height, width, channels), or channels first.
// Weightless.
#pragma once

#include <string>

#include "lamina/layer.hpp"
#include "lamina/layers/pooling.hpp"
#include "lamina/ops/conv3d.hpp"

namespace lamina::layers {

/// Windowed max or average over depth, height and width.
class Pooling3DLayer : public Layer {
 public:
  /// strides of 0 (Keras's None) mean pool_size. Throws ValueError on non-positive sizes, a
  /// padding other than "valid" / "same" or an unknown data_format.
  Pooling3DLayer(PoolingLayer::Kind kind, Size3D pool_size, Size3D strides, const std::string& padding,
                 const std::string& data_format, std::string name);
  /// "MaxPooling3D" | "AveragePooling3D"
  std::string class_name() const override;
  Tensor call(const Tensor& x, bool training) override;
  /// Throws ShapeError naming the layer on a wrong rank or a window that leaves an empty output.
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;

  PoolingLayer::Kind kind() const { return kind_; }
  Size3D pool_size() const { return pool_; }
  Size3D strides() const { return strides_; }
  Padding padding() const { return padding_; }
  bool channels_first() const { return channels_first_; }

 private:
  PoolingLayer::Kind kind_;
  Size3D pool_, strides_;
  Padding padding_;
  bool channels_first_;
};

struct Pooling3DOptions {
  Size3D strides = 0;                         ///< 0 (Keras's None): pool_size
  std::string padding = "valid";              ///< "valid" | "same"
  std::string data_format = "channels_last";  ///< or "channels_first"
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// `MaxPooling3D(2)`, `MaxPooling3D({1, 2, 2}, {.padding = "same"})`.
struct MaxPooling3D : LayerHandle<Pooling3DLayer> {
  explicit MaxPooling3D(Size3D pool_size = 2, Pooling3DOptions options = {});
};
/// Average of the real elements of each window ('same' padding never counts the padding).
struct AveragePooling3D : LayerHandle<Pooling3DLayer> {
  explicit AveragePooling3D(Size3D pool_size = 2, Pooling3DOptions options = {});
};

/// Max or mean over depth, height and width: (N, D, H, W, C) -> (N, C), or (N, 1, 1, 1, C) with
/// keepdims (channels first: (N, C, 1, 1, 1)).
class GlobalPooling3DLayer : public Layer {
 public:
  /// Throws ValueError on an unknown data_format.
  GlobalPooling3DLayer(PoolingLayer::Kind kind, bool keepdims, const std::string& data_format, std::string name);
  /// "GlobalMaxPooling3D" | "GlobalAveragePooling3D"
  std::string class_name() const override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  bool keepdims() const { return keepdims_; }

 private:
  PoolingLayer::Kind kind_;
  bool keepdims_;
  bool channels_first_;
};

struct GlobalPooling3DOptions {
  bool keepdims = false;
  std::string data_format = "channels_last";  ///< or "channels_first"
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

struct GlobalMaxPooling3D : LayerHandle<GlobalPooling3DLayer> {
  explicit GlobalMaxPooling3D(GlobalPooling3DOptions options = {});
};
struct GlobalAveragePooling3D : LayerHandle<GlobalPooling3DLayer> {
  explicit GlobalAveragePooling3D(GlobalPooling3DOptions options = {});
};

}  // namespace lamina::layers
