// SPDX-License-Identifier: Apache-2.0
// lamina/layers/core.hpp — Input, Dense, Activation, Dropout, Flatten, Reshape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lamina/activations.hpp"
#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/input.hpp"
#include "lamina/layer.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

// --- Input: the engine's (lamina/input.hpp), also reachable as Keras's keras.layers.Input ----

using lamina::Input;
using lamina::InputLayer;
using lamina::InputOptions;

// --- Dense -----------------------------------------------------------------------------------

struct DenseOptions {
  lamina::Activation activation{};  ///< linear by default
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};    ///< none by default; e.g. regularizers::L2(1e-4) or "l2"
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};  ///< applied to the layer's output
  Constraint kernel_constraint{};      ///< none by default; e.g. constraints::MaxNorm(3)
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// output = activation(x·kernel + bias), kernel (in, units). Acts on the last axis.
class DenseLayer : public Layer {
 public:
  DenseLayer(std::int64_t units, DenseOptions options);
  std::string class_name() const override { return "Dense"; }
  bool supports_masking() const override { return true; }  // Keras 3: the mask passes on
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  std::int64_t units() const { return units_; }
  const DenseOptions& options() const { return options_; }
  Tensor kernel;
  Tensor bias;

 private:
  std::int64_t units_;
  DenseOptions options_;
};

/// Throws ValueError when units <= 0 or the activation is unknown.
struct Dense : LayerHandle<DenseLayer> {
  explicit Dense(std::int64_t units, DenseOptions options = {});
};

// --- Activation ------------------------------------------------------------------------------

class ActivationLayer : public Layer {
 public:
  ActivationLayer(lamina::Activation activation, std::string name);
  std::string class_name() const override { return "Activation"; }
  bool supports_masking() const override { return true; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  nlohmann::json get_config() const override;
  const lamina::Activation& activation() const { return activation_; }

 private:
  lamina::Activation activation_;
};

struct Activation : LayerHandle<ActivationLayer> {
  explicit Activation(lamina::Activation activation, Name name = {});
};

// --- Dropout ---------------------------------------------------------------------------------

struct DropoutOptions {
  /// Keras's noise_shape: the shape of the mask, batch axis included, broadcast over the input;
  /// -1 (None) takes the input's dimension. {-1, 1, -1} drops whole time steps' features alike.
  /// Unset: one mask entry per input element.
  std::optional<std::vector<std::int64_t>> noise_shape{};
  /// Unset: masks come from lamina's global stream (set_seed). Set: the layer draws from its own
  /// stream, the same sequence of masks for the same seed whatever else draws.
  std::optional<std::int64_t> seed{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Inverted dropout, active only when training.
class DropoutLayer : public Layer {
 public:
  /// Throws ValueError unless 0 <= rate < 1 and every noise_shape entry is positive or -1.
  DropoutLayer(double rate, DropoutOptions options);
  std::string class_name() const override { return "Dropout"; }
  bool supports_masking() const override { return true; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  nlohmann::json get_config() const override;
  double rate() const { return rate_; }
  const DropoutOptions& options() const { return options_; }

 private:
  double rate_;
  DropoutOptions options_;
  std::uint64_t draws_ = 0;  // counters used so far by a seeded layer
};

/// `Dropout(0.5)`, `Dropout(0.5, "drop")`, `Dropout(0.5, {.noise_shape = {{-1, 1, -1}}, .seed = 7})`.
/// Throws ValueError unless 0 <= rate < 1.
struct Dropout : LayerHandle<DropoutLayer> {
  explicit Dropout(double rate, Name name = {});
  Dropout(double rate, DropoutOptions options);
};

// --- Flatten ---------------------------------------------------------------------------------

/// (batch, ...) -> (batch, product of the rest). With data_format "channels_first", a
/// (batch, channels, ...) input is first moved to channels_last order, as Keras does.
class FlattenLayer : public Layer {
 public:
  /// Throws ValueError on a data_format other than "channels_last" / "channels_first".
  explicit FlattenLayer(std::string name, const std::string& data_format = "channels_last");
  std::string class_name() const override { return "Flatten"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  bool channels_first() const { return channels_first_; }

 private:
  bool channels_first_;
};

struct FlattenOptions {
  std::string data_format = "channels_last";  ///< "channels_last" | "channels_first"
  std::string name{};
};

/// `Flatten()`, `Flatten("flat")`, `Flatten({.data_format = "channels_first"})`.
struct Flatten : LayerHandle<FlattenLayer> {
  explicit Flatten(Name name = {});
  explicit Flatten(FlattenOptions options);
};

// --- Reshape ---------------------------------------------------------------------------------

/// Reshapes all but the batch axis to target_shape (one entry may be -1).
class ReshapeLayer : public Layer {
 public:
  ReshapeLayer(Shape target_shape, std::string name);
  std::string class_name() const override { return "Reshape"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  const Shape& target_shape() const { return target_shape_; }

 private:
  Shape target_shape_;
};

struct Reshape : LayerHandle<ReshapeLayer> {
  explicit Reshape(Shape target_shape, Name name = {});
};

}  // namespace lamina::layers
