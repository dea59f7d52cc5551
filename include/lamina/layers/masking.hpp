// SPDX-License-Identifier: Apache-2.0
// lamina/layers/masking.hpp — Masking: marks the time steps whose features all equal mask_value as
// padding for the layers after it (recurrent layers skip them, the loss ignores them).
#pragma once

#include <string>

#include "lamina/layer.hpp"

namespace lamina::layers {

/// Input (batch, steps, ...); a step is kept when any of its features differs from mask_value.
/// Output: the input with masked steps zeroed; output mask (batch, steps).
class MaskingLayer : public Layer {
 public:
  explicit MaskingLayer(double mask_value = 0.0, std::string name = {});
  std::string class_name() const override { return "Masking"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  bool supports_masking() const override { return true; }
  Tensor compute_mask(const Tensor& x, const Tensor& mask) const override;
  nlohmann::json get_config() const override;
  double mask_value() const { return mask_value_; }

 private:
  double mask_value_;
};

/// `Masking()`, `Masking(-1.0)`.
struct Masking : LayerHandle<MaskingLayer> {
  explicit Masking(double mask_value = 0.0, Name name = {});
};

}  // namespace lamina::layers
