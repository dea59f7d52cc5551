// SPDX-License-Identifier: Apache-2.0
// lamina/layers/locally_connected.hpp — tf.keras 2's LocallyConnected1D and LocallyConnected2D:
// a convolution whose weights are not shared between output positions. The kernel keeps the
// layout of the `implementation` Keras saved it with (1: (positions, window·in, filters);
// 2: the masked dense (in..., C, out..., F), channels_first (C, in..., F, out...); 3: the values
// of the sparse matrix, in tf.keras's sorted index order); bias (out..., filters).
#pragma once

#include <cstdint>
#include <string>

#include "lamina/activations.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

/// tf.keras 2's arguments. LocallyConnected1D reads the width entry of kernel_size and strides.
struct LocallyConnectedOptions {
  Size2D strides = 1;
  std::string padding = "valid";              ///< "valid" | "same" (implementation 2 or 3)
  std::string data_format = "channels_last";  ///< or "channels_first"
  lamina::Activation activation{};            ///< linear by default
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};
  Constraint kernel_constraint{};
  Constraint bias_constraint{};
  int implementation = 1;  ///< the kernel's layout: 1, 2 or 3, as tf.keras
  std::string name{};
  std::string dtype{};
};

/// out[n, p, f] = activation(Σ x[n, window(p)] · kernel[p, ..., f] + bias[p, f]). Every layout is
/// read into one dense (inputs, outputs) matrix with the disconnected pairs zero, then one GEMM.
class LocallyConnectedLayer : public Layer {
 public:
  /// Throws ValueError on bad sizes, an unknown padding, data_format or implementation, or
  /// padding "same" with implementation 1 (as tf.keras).
  LocallyConnectedLayer(int rank, std::int64_t filters, Size2D kernel_size, LocallyConnectedOptions options);
  std::string class_name() const override { return rank_ == 1 ? "LocallyConnected1D" : "LocallyConnected2D"; }
  /// Throws ShapeError naming the layer on a wrong rank, unknown sizes, an empty output, or a
  /// dense matrix too large to form.
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  Tensor kernel;  ///< in the layout of `implementation`
  Tensor bias;    ///< (out_h, out_w, filters) or (out_length, filters); undefined without use_bias

 private:
  int rank_;
  std::int64_t filters_;
  Size2D kernel_size_;
  LocallyConnectedOptions options_;
  Padding padding_;
  bool channels_first_;
  Tensor gather_;  ///< for each entry of the dense (in, out) matrix: its kernel index, or the zero slot
  std::int64_t in_size_ = 0, out_size_ = 0;
};

/// `LocallyConnected2D(8, 3)` over (batch, height, width, channels).
struct LocallyConnected2D : LayerHandle<LocallyConnectedLayer> {
  LocallyConnected2D(std::int64_t filters, Size2D kernel_size, LocallyConnectedOptions options = {});
};
/// `LocallyConnected1D(8, 3, {.implementation = 2})` over (batch, steps, channels).
struct LocallyConnected1D : LayerHandle<LocallyConnectedLayer> {
  LocallyConnected1D(std::int64_t filters, std::int64_t kernel_size, LocallyConnectedOptions options = {});
};

}  // namespace lamina::layers
