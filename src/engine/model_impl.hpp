// SPDX-License-Identifier: Apache-2.0
// src/engine/model_impl.hpp — the engine's model: a Layer holding a stack of layers plus the
// training configuration. Model and Sequential are handles onto it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lamina/layer.hpp"
#include "lamina/input.hpp"
#include "lamina/model.hpp"

namespace lamina {

namespace engine {
struct CompiledState;
class TrainerHooks;
}  // namespace engine

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

  /// Input shape (batch -1) when known; empty otherwise (and for several inputs).
  Shape known_input_shape() const;

  // The graph's interface, generalised for Functional models (one input and output here).
  /// Every output for the given inputs (in input order).
  std::vector<Tensor> forward(const std::vector<Tensor>& inputs, bool training);
  /// forward() that also takes the inputs' masks (empty or undefined entries: none) and returns
  /// each output's mask in `output_masks` (undefined: none), as Keras's model call does.
  virtual std::vector<Tensor> forward_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& input_masks,
                                             bool training, std::vector<Tensor>& output_masks);
  /// A model used as a layer: forward_masked.
  std::vector<Tensor> call_outputs(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                   bool training, std::vector<Tensor>& output_masks) override {
    return forward_masked(inputs, masks, training, output_masks);
  }
  virtual std::size_t num_inputs() const { return 1; }
  /// Per input: shape (batch -1) when known, else empty.
  virtual std::vector<Shape> known_input_shapes() const { return {known_input_shape()}; }
  virtual std::vector<std::string> input_names() const;
  virtual std::vector<std::string> output_names() const;
  virtual std::vector<KerasTensor> input_tensors() const;
  virtual std::vector<KerasTensor> output_tensors() const;
  /// Layers as model.layers() lists them.
  virtual std::vector<std::shared_ptr<Layer>> listed_layers() const { return stack; }

  std::shared_ptr<InputLayer> input_layer;
  std::vector<std::shared_ptr<Layer>> stack;
  std::vector<Shape> output_shapes;  ///< per stacked layer, once built

  /// compile()'s state; null before compile.
  std::shared_ptr<engine::CompiledState> compiled;
  /// The trainer's hooks (a distribution strategy, mixed precision); null: the identity hooks.
  std::shared_ptr<engine::TrainerHooks> hooks;
  bool stop_training = false;
  /// The object that constructed this model while it lives (a user's subclass: its call() and
  /// steps run for every handle); null for models made otherwise.
  Model* owner = nullptr;

 private:
  void build_stack(const Shape& input_shape);
  /// The stack on x whose mask is `mask` (undefined: none); `output_mask` receives the last one.
  Tensor run_stack(const Tensor& x, Tensor mask, bool training, Tensor& output_mask);
};

namespace engine {
/// "a, b, c": names in messages.
std::string join_names(const std::vector<std::string>& names);
}  // namespace engine

}  // namespace lamina
