// SPDX-License-Identifier: Apache-2.0
// src/engine/functional.hpp — the Functional model: a graph of layer calls retraced from its
// outputs back to its inputs, executed in topological order.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/model_impl.hpp"

namespace lamina {

class FunctionalImpl : public ModelImpl {
 public:
  /// Retraces the graph; throws ValueError on a disconnected graph, an unused or non-Input input,
  /// or duplicate layer names.
  FunctionalImpl(const SymbolicArg& inputs, const SymbolicArg& outputs, std::string name);
  std::string class_name() const override { return "Functional"; }

  void build(const Shape&) override {}
  void build_list(const std::vector<Shape>&) override {}
  Tensor call(const Tensor& x, bool training) override;
  Tensor call(const std::vector<Tensor>& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  Shape compute_output_shape_list(const std::vector<Shape>& input_shapes) override;
  std::vector<Shape> compute_output_shapes(const std::vector<Shape>& input_shapes) override;
  bool takes_list() const override { return inputs_.size() > 1; }
  nlohmann::json get_config() const override;

  std::vector<Tensor> forward_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& input_masks,
                                     bool training, std::vector<Tensor>& output_masks) override;
  std::size_t num_inputs() const override { return inputs_.size(); }
  std::size_t num_outputs() const override { return outputs_.size(); }
  std::vector<Shape> known_input_shapes() const override;
  std::vector<std::string> input_names() const override { return input_names_; }
  std::vector<std::string> output_names() const override { return output_names_; }
  std::vector<KerasTensor> input_tensors() const override { return inputs_; }
  std::vector<KerasTensor> output_tensors() const override { return outputs_; }

  /// One layer call of the graph: reads slots `in`, writes one slot per output.
  struct Step {
    std::shared_ptr<const Node> node;
    std::vector<int> in;
    std::vector<int> out;
  };
  const std::vector<Step>& steps() const { return steps_; }
  /// True for a plain chain (one input, one output, each layer once, one input per call): Keras
  /// then prints the Sequential summary table without "Connected to".
  bool sequential_like() const;
  /// Keras's "Connected to" cell for `layer`: "dense[0][0], lstm[0][1]" (layer[node][tensor])
  /// over its calls in this model; "-" for an Input.
  std::string connections(const Layer& layer) const;
  /// The output shapes of `layer`'s first call in this model (an Input: its shape).
  std::vector<Shape> output_shapes_of(const Layer& layer) const;

 private:
  void check_inputs(const std::vector<Shape>& shapes) const;
  int trace(const KerasTensor& t, const std::string& output_name);

  std::vector<KerasTensor> inputs_, outputs_;
  std::vector<std::string> input_names_, output_names_;
  std::vector<Step> steps_;
  std::vector<int> output_slots_;
  int slot_count_ = 0;
  std::map<std::pair<const void*, int>, int> slot_of_;  // (producing call, tensor index) -> slot
};

}  // namespace lamina
