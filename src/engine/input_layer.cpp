// SPDX-License-Identifier: Apache-2.0
// Input and InputLayer: the start of every graph of symbolic tensors.
#include "lamina/input.hpp"

#include <nlohmann/json.hpp>

#include "engine/layer_spec.hpp"
#include "lamina/errors.hpp"
#include "tensor/sizes.hpp"

namespace lamina {

InputLayer::InputLayer(Shape batch_shape, DType dtype, std::string name)
    : Layer(std::move(name)), batch_shape_(std::move(batch_shape)), dtype_(dtype) {}

Tensor InputLayer::call(const Tensor& x, bool) { return x; }

Shape InputLayer::compute_output_shape(const Shape&) { return batch_shape_; }

nlohmann::json InputLayer::get_config() const {
  nlohmann::json shape = nlohmann::json::array();
  for (auto d : batch_shape_) shape.push_back(d < 0 ? nlohmann::json(nullptr) : nlohmann::json(d));
  return {{"batch_shape", shape}, {"dtype", dtype_name(dtype_)}, {"sparse", false},
          {"ragged", false}, {"name", name()}};
}

KerasTensor Input(const Shape& shape, InputOptions options) {
  for (auto d : shape)
    if (d == 0 || d < -1 || d > sizes::kMaxDimension) {
      // Dimensions as written, in tuple notation: "(5, -1)" (Shape::str would print -1 as None).
      std::string dims = "(";
      for (std::size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
      throw ValueError("Input: dimensions must be positive (or -1 for unknown) and at most " +
                       std::to_string(sizes::kMaxDimension) + ", got " + dims + (shape.size() == 1 ? ",)" : ")"));
    }
  Shape batch_shape{options.batch_size.value_or(-1)};
  batch_shape.insert(batch_shape.end(), shape.begin(), shape.end());
  auto layer = std::make_shared<InputLayer>(batch_shape, options.dtype, options.name);
  if (options.name.empty()) layer->set_name(unique_layer_name("input_layer"));
  return KerasTensor{batch_shape, options.dtype, layer->name(), layer, nullptr};
}

}  // namespace lamina
