// SPDX-License-Identifier: Apache-2.0
// lamina/layers/einsum_dense.hpp — EinsumDense: a dense layer whose input, kernel and output axes
// an einsum equation names ("abc,cd->abd"), with Keras's weights kernel and bias.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lamina/activations.hpp"
#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

struct EinsumDenseOptions {
  lamina::Activation activation{};  ///< linear by default
  /// Output labels that get a bias ("d" in "abc,cd->abd"); empty: no bias.
  std::string bias_axes{};
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};    ///< none by default
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};  ///< applied to the layer's output
  Constraint kernel_constraint{};      ///< none by default
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// output = activation(einsum(equation, x, kernel) + bias). The equation has one input, one
/// kernel and one output ("ab,bc->ac", "abc,cde->abde", "...b,bc->...c", "ab...,bc->ac..."),
/// each label at most once per operand; it is computed as transposes, reshapes and one (batched)
/// matrix product. `output_shape` is the output's shape without the batch axis (and without the
/// axes "..." stands for); -1 (None) where the input fixes the dimension. The kernel's shape
/// follows its labels; the bias spans the output from its first bias label on (Keras's layout).
class EinsumDenseLayer : public Layer {
 public:
  /// Throws ValueError naming the equation when it is not of that form, or when an output
  /// label is in neither the input nor the kernel, or a kernel label in neither the input nor
  /// the output, or a bias label is not an output label.
  EinsumDenseLayer(std::string equation, std::vector<std::int64_t> output_shape, EinsumDenseOptions options);
  std::string class_name() const override { return "EinsumDense"; }
  /// Throws ShapeError naming the layer and the equation when the input does not fit it.
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  const std::string& equation() const { return equation_; }
  Tensor kernel;
  Tensor bias;  ///< undefined without bias_axes

 private:
  struct Plan;
  Plan plan_for(const Shape& input_shape) const;
  std::string equation_;
  std::vector<std::int64_t> output_shape_;
  EinsumDenseOptions options_;
  std::string input_spec_, kernel_spec_, output_spec_;
  bool left_ellipsis_ = false, right_ellipsis_ = false;
};

/// `EinsumDense("abc,cd->abd", {-1, 64}, {.bias_axes = "d"})`.
struct EinsumDense : LayerHandle<EinsumDenseLayer> {
  EinsumDense(std::string equation, std::vector<std::int64_t> output_shape, EinsumDenseOptions options = {});
};

}  // namespace lamina::layers
