// SPDX-License-Identifier: Apache-2.0
// lamina/input.hpp — Input and InputLayer: where a graph of symbolic tensors starts. They belong
// to the engine (Keras's keras.Input); lamina/layers/core.hpp also offers them as layers::Input
// and layers::InputLayer (keras.layers.Input).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lamina/layer.hpp"

namespace lamina {

struct InputOptions {
  std::string name{};
  DType dtype = float32;
  std::optional<std::int64_t> batch_size{};
};

/// The layer behind Input: passes its input through, declares the batch shape.
class InputLayer : public Layer {
 public:
  InputLayer(Shape batch_shape, DType dtype, std::string name = {});
  std::string class_name() const override { return "InputLayer"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  /// (batch, ...) with -1 for an unknown batch.
  const Shape& batch_shape() const { return batch_shape_; }
  DType dtype() const { return dtype_; }

 private:
  Shape batch_shape_;
  DType dtype_;
};

/// A symbolic input of `shape` (without the batch dimension). Throws ValueError for a dimension
/// that is neither positive nor -1 (unknown).
KerasTensor Input(const Shape& shape, InputOptions options = {});

}  // namespace lamina
