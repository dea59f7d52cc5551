// src/engine/model_impl.hpp — the engine's model: a Layer holding a stack of layers plus the
// training configuration. Model and Sequential are handles onto it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lamina/layer.hpp"
#include "lamina/layers/core.hpp"
#include "lamina/losses.hpp"
#include "lamina/metrics.hpp"
#include "lamina/model.hpp"
#include "lamina/optimizers.hpp"

namespace lamina {

class ModelImpl : public Layer {
 public:
  explicit ModelImpl(std::string name) : Layer(std::move(name)) {}
  std::string class_name() const override { return "Sequential"; }

  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override { return stack; }

  /// Appends a layer, inferring its output shape when the input shape is known.
  void add(const std::shared_ptr<Layer>& layer);
  void pop();

  /// Input shape (batch -1) when known; empty otherwise.
  Shape known_input_shape() const;

  std::shared_ptr<layers::InputLayer> input_layer;
  std::vector<std::shared_ptr<Layer>> stack;
  std::vector<Shape> output_shapes;  ///< per stacked layer, once built

  // Training configuration (compile).
  std::shared_ptr<Optimizer> optimizer;
  std::shared_ptr<Loss> loss;
  std::vector<MetricArg> metric_args;
  std::vector<std::shared_ptr<Metric>> metrics;  ///< resolved on the first batch
  metrics::Mean loss_tracker{"loss"};
  bool compiled = false;
  bool stop_training = false;

 private:
  void build_stack(const Shape& input_shape);
};

}  // namespace lamina
