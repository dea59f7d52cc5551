// SPDX-License-Identifier: Apache-2.0
// lamina/layers/wrappers.hpp — Bidirectional (a recurrent layer run both ways) and TimeDistributed
// (a layer applied to every time step).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lamina/layer.hpp"
#include "lamina/layers/recurrent.hpp"

namespace lamina::layers {

struct BidirectionalOptions {
  /// "concat" | "sum" | "mul" | "ave" | "none" (two outputs: call_both, or outputs_of in a graph).
  std::string merge_mode = "concat";
  /// The backward layer; default: a copy of the layer with go_backwards flipped.
  std::shared_ptr<RNNLayer> backward_layer{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Runs a copy of `layer` forwards ("forward_<name>") and one backwards ("backward_<name>") and
/// merges their outputs; with return_sequences the backward outputs are put back in time order
/// and masked steps give zeros (Keras's zero_output_for_mask). Weights: forward's, then backward's.
class BidirectionalLayer : public Layer {
 public:
  /// Throws ValueError on an unknown merge_mode or a backward layer of another size.
  BidirectionalLayer(const std::shared_ptr<RNNLayer>& layer, BidirectionalOptions options);
  std::string class_name() const override { return "Bidirectional"; }
  void build(const Shape& input_shape) override;
  /// Throws ValueError for merge_mode "none", which has two outputs (see call_both).
  Tensor call(const Tensor& x, bool training) override;
  Tensor call_masked(const Tensor& x, const Tensor& mask, bool training) override;
  Tensor compute_mask(const Tensor& x, const Tensor& mask) const override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override { return {forward_, backward_}; }
  /// Keras 3 saves the two layers under forward_layer and backward_layer.
  std::vector<Keras3Group> keras3_layout() const override;

  // In a graph, as Keras's: inputs are the sequence and optionally the initial states (forward's
  // then backward's); outputs are the merged output (merge_mode "none": forward's and backward's)
  // then, when the wrapped layer has return_state, the final states, forward's then backward's.
  std::size_t num_outputs() const override;
  void build_list(const std::vector<Shape>& input_shapes) override;
  std::vector<Shape> compute_output_shapes(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call_outputs(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                   bool training, std::vector<Tensor>& output_masks) override;

  /// The forward and the backward output before merging (time order), and the final states:
  /// forward's then backward's. `mask` may be undefined; `initial_state` is empty or holds the
  /// forward layer's states then the backward layer's.
  struct Outputs {
    Tensor forward{}, backward{};
    std::vector<Tensor> states{};
  };
  Outputs call_both(const Tensor& x, const Tensor& mask = Tensor(), bool training = false,
                    const std::vector<Tensor>& initial_state = {});

  const std::shared_ptr<RNNLayer>& forward_layer() const { return forward_; }
  const std::shared_ptr<RNNLayer>& backward_layer() const { return backward_; }
  const std::string& merge_mode() const { return merge_mode_; }

 private:
  std::shared_ptr<RNNLayer> forward_, backward_;
  std::string merge_mode_;
};

/// `Bidirectional(LSTM(64, {.return_sequences = true}))`, `Bidirectional(GRU(8), {.merge_mode = "sum"})`.
struct Bidirectional : LayerHandle<BidirectionalLayer> {
  template <class Recurrent>
  explicit Bidirectional(const Recurrent& layer, BidirectionalOptions options = {})
      : LayerHandle(std::make_shared<BidirectionalLayer>(layer.ptr(), std::move(options))) {}
};

/// Applies `layer` to every step of (batch, steps, ...): the steps fold into the batch.
class TimeDistributedLayer : public Layer {
 public:
  TimeDistributedLayer(std::shared_ptr<Layer> layer, std::string name = {});
  std::string class_name() const override { return "TimeDistributed"; }
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  /// The input's mask passes through (one entry per step).
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override { return {layer_}; }
  /// Keras 3 saves the wrapped layer under `layer`.
  std::vector<Keras3Group> keras3_layout() const override;
  const std::shared_ptr<Layer>& layer() const { return layer_; }

 private:
  std::shared_ptr<Layer> layer_;
};

/// `TimeDistributed(Dense(10))`.
struct TimeDistributed : LayerHandle<TimeDistributedLayer> {
  explicit TimeDistributed(std::shared_ptr<Layer> layer, Name name = {});
};

}  // namespace lamina::layers
