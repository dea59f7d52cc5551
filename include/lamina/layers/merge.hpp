// SPDX-License-Identifier: Apache-2.0
// lamina/layers/merge.hpp — layers that merge a list of tensors: Add, Subtract, Multiply,
// Average, Maximum, Minimum, Concatenate, Dot. Called on a list: `layers::Add()({a, b})`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lamina/layer.hpp"

namespace lamina::layers {

/// Base of the merge layers: takes a list of tensors (at least one; Subtract and Dot exactly
/// two). Calling one on a single tensor throws ShapeError.
class MergeLayer : public Layer {
 public:
  explicit MergeLayer(std::string name) : Layer(std::move(name)) {}
  bool takes_list() const override { return true; }
  void build(const Shape& input_shape) override;
  /// No weights: the shapes are checked by compute_output_shape_list.
  void build_list(const std::vector<Shape>&) override {}
  Tensor call(const Tensor& x, bool training) override;
  Tensor call(const std::vector<Tensor>& inputs, bool training) override = 0;
  Shape compute_output_shape(const Shape& input_shape) override;
  Shape compute_output_shape_list(const std::vector<Shape>& input_shapes) override = 0;
  using Layer::compute_mask;
  /// Keras's Merge.compute_mask: the AND of the masks that are defined (none when none is).
  Tensor compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override;

 protected:
  /// Throws ShapeError "<Class> '<name>': <what>. Received shapes [(None, 3), (None, 4)]".
  [[noreturn]] void fail_shapes(const std::string& what, const std::vector<Shape>& shapes) const;
};

/// Elementwise merges with Keras's broadcasting: the non-batch dimensions are aligned at the end;
/// a dimension of 1 stretches; others must be equal. Batch sizes must agree where known.
class ElementwiseMergeLayer : public MergeLayer {
 public:
  using MergeLayer::MergeLayer;
  Tensor call(const std::vector<Tensor>& inputs, bool training) override;
  Shape compute_output_shape_list(const std::vector<Shape>& input_shapes) override;

 protected:
  /// The merge of inputs already expanded to a common rank.
  virtual Tensor combine(const std::vector<Tensor>& inputs) const = 0;
  virtual std::size_t required_inputs() const { return 0; }  ///< 0: any number >= 1
};

/// x0 + x1 + ...
class AddLayer : public ElementwiseMergeLayer {
 public:
  explicit AddLayer(std::string name) : ElementwiseMergeLayer(std::move(name)) {}
  std::string class_name() const override { return "Add"; }

 protected:
  Tensor combine(const std::vector<Tensor>& inputs) const override;
};
struct Add : LayerHandle<AddLayer> {
  explicit Add(Name name = {});
};

/// x0 - x1; exactly two inputs.
class SubtractLayer : public ElementwiseMergeLayer {
 public:
  explicit SubtractLayer(std::string name) : ElementwiseMergeLayer(std::move(name)) {}
  std::string class_name() const override { return "Subtract"; }

 protected:
  Tensor combine(const std::vector<Tensor>& inputs) const override;
  std::size_t required_inputs() const override { return 2; }
};
struct Subtract : LayerHandle<SubtractLayer> {
  explicit Subtract(Name name = {});
};

/// x0 · x1 · ... elementwise.
class MultiplyLayer : public ElementwiseMergeLayer {
 public:
  explicit MultiplyLayer(std::string name) : ElementwiseMergeLayer(std::move(name)) {}
  std::string class_name() const override { return "Multiply"; }

 protected:
  Tensor combine(const std::vector<Tensor>& inputs) const override;
};
struct Multiply : LayerHandle<MultiplyLayer> {
  explicit Multiply(Name name = {});
};

/// (x0 + x1 + ...) / n.
class AverageLayer : public ElementwiseMergeLayer {
 public:
  explicit AverageLayer(std::string name) : ElementwiseMergeLayer(std::move(name)) {}
  std::string class_name() const override { return "Average"; }

 protected:
  Tensor combine(const std::vector<Tensor>& inputs) const override;
};
struct Average : LayerHandle<AverageLayer> {
  explicit Average(Name name = {});
};

/// Elementwise maximum; the gradient goes to the first maximal input.
class MaximumLayer : public ElementwiseMergeLayer {
 public:
  explicit MaximumLayer(std::string name) : ElementwiseMergeLayer(std::move(name)) {}
  std::string class_name() const override { return "Maximum"; }

 protected:
  Tensor combine(const std::vector<Tensor>& inputs) const override;
};
struct Maximum : LayerHandle<MaximumLayer> {
  explicit Maximum(Name name = {});
};

/// Elementwise minimum; the gradient goes to the first minimal input.
class MinimumLayer : public ElementwiseMergeLayer {
 public:
  explicit MinimumLayer(std::string name) : ElementwiseMergeLayer(std::move(name)) {}
  std::string class_name() const override { return "Minimum"; }

 protected:
  Tensor combine(const std::vector<Tensor>& inputs) const override;
};
struct Minimum : LayerHandle<MinimumLayer> {
  explicit Minimum(Name name = {});
};


/// Joins the inputs along `axis` (negative counts from the end; not the batch axis). All inputs
/// have the same rank and agree on every other dimension.
class ConcatenateLayer : public MergeLayer {
 public:
  ConcatenateLayer(int axis, std::string name);
  std::string class_name() const override { return "Concatenate"; }
  Tensor call(const std::vector<Tensor>& inputs, bool training) override;
  Shape compute_output_shape_list(const std::vector<Shape>& input_shapes) override;
  /// Keras 3's: each mask widened to its input's shape (all ones for an input without one),
  /// joined along the axis, then any() over the last axis. Joining sequences along the time axis
  /// joins their masks; along the features, a step is kept when any input keeps it.
  Tensor compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override;
  nlohmann::json get_config() const override;
  int axis() const { return axis_; }

 private:
  int axis_;
};

struct Concatenate : LayerHandle<ConcatenateLayer> {
  explicit Concatenate(int axis = -1, Name name = {});
};

struct DotOptions {
  bool normalize = false;  ///< L2-normalise along the dot axes first (cosine similarity)
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Dot product of two tensors along axes (axes[0] of the first, axes[1] of the second), per
/// sample (Keras's batch_dot), inputs of any ranks >= 2. The output has the first input's other
/// axes, then the second's: (batch, a, b) and (batch, c, b) with axes (2, 2) give (batch, a, c);
/// two (batch, n) give (batch, 1). The batch axis cannot be an axis.
class DotLayer : public MergeLayer {
 public:
  /// single_axis: given as one integer (the config writes it back that way).
  DotLayer(std::pair<int, int> axes, DotOptions options, bool single_axis = false);
  std::string class_name() const override { return "Dot"; }
  Tensor call(const std::vector<Tensor>& inputs, bool training) override;
  Shape compute_output_shape_list(const std::vector<Shape>& input_shapes) override;
  /// None, as Keras's Dot: the contraction mixes the steps.
  Tensor compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>&) const override { return Tensor(); }
  nlohmann::json get_config() const override;

 private:
  std::pair<int, int> resolved_axes(const std::vector<Shape>& shapes) const;
  std::pair<int, int> axes_;
  bool single_axis_;
  DotOptions options_;
};

struct Dot : LayerHandle<DotLayer> {
  /// The same axis for both inputs.
  explicit Dot(int axes, DotOptions options = {});
  Dot(std::pair<int, int> axes, DotOptions options = {});
};

}  // namespace lamina::layers
