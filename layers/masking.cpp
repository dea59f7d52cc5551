// SPDX-License-Identifier: Apache-2.0
// Masking: steps whose features all equal mask_value become padding for the layers after it.
#include "lamina/layers/masking.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

namespace {
// 1 where any feature of the step differs from `value`, shape (..., 1), in x's float dtype.
Tensor kept_steps(const Tensor& x, double value) {
  const DType dt = is_floating(x.dtype()) ? x.dtype() : float32;
  return max((x != value).astype(dt), {-1}, true);
}
}  // namespace

MaskingLayer::MaskingLayer(double mask_value, std::string name)
    : Layer(std::move(name)), mask_value_(mask_value) {}

Shape MaskingLayer::compute_output_shape(const Shape& input_shape) {
  if (input_shape.rank() < 3)
    fail_shape("input must be at least 3-D (batch, steps, features), got " + input_shape.str());
  return input_shape;
}

Tensor MaskingLayer::call(const Tensor& x, bool) {
  compute_output_shape(x.shape());
  Tensor in = is_floating(x.dtype()) ? x : x.astype(float32);
  return in * kept_steps(in, mask_value_);
}

Tensor MaskingLayer::compute_mask(const Tensor& x, const Tensor&) const {
  Tensor k = kept_steps(x, mask_value_);
  Shape s = k.shape();
  s.pop_back();
  return k.detach().reshape(s);
}

nlohmann::json MaskingLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["mask_value"] = mask_value_;
  return c;
}

Masking::Masking(double mask_value, Name name)
    : LayerHandle(std::make_shared<MaskingLayer>(mask_value, std::move(name))) {}

void register_masking_layers() {
  engine::register_layer_spec({
      .class_name = "Masking",
      .factory = [](const nlohmann::json& c) -> std::shared_ptr<Layer> {
        return Masking(c.value("mask_value", 0.0), engine::name_of(c)).ptr();
      },
      .honoured_keys = {"mask_value"},
      .build_config = false,
  });
}

}  // namespace lamina::layers
