// SPDX-License-Identifier: Apache-2.0
// lamina/layers/recurrent.hpp — SimpleRNN, LSTM, GRU, their cells and the generic RNN(cell), with
// Keras's weight layouts: kernel (in, G·units), recurrent_kernel (units, G·units), bias (G·units)
// (GRU reset_after: (2, 3·units)), gate blocks LSTM i, f, c, o and GRU z, r, h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lamina/activations.hpp"
#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

/// Keras's arguments of SimpleRNN, LSTM and GRU, in Keras's order. Fields a layer does not have
/// are ignored by it: SimpleRNN has no recurrent_activation or unit_forget_bias, GRU no
/// unit_forget_bias, only GRU reads reset_after.
struct RecurrentOptions {
  /// tanh, sigmoid, relu, linear, hard_sigmoid (Keras 3) or hard_sigmoid_keras2 (Keras ≤ 2's
  /// clip(0.2·x + 0.5, 0, 1), which old files mean by "hard_sigmoid").
  lamina::Activation activation = "tanh";
  lamina::Activation recurrent_activation = "sigmoid";
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer recurrent_initializer = "orthogonal";
  Initializer bias_initializer = "zeros";
  bool unit_forget_bias = true;  ///< LSTM: the forget gate's bias starts at 1
  Regularizer kernel_regularizer{};     ///< none by default; penalties are added to losses()
  Regularizer recurrent_regularizer{};
  Regularizer bias_regularizer{};
  Regularizer activity_regularizer{};   ///< on the layer's output (the sequence when returned)
  Constraint kernel_constraint{};       ///< none by default; applied after each update
  Constraint recurrent_constraint{};
  Constraint bias_constraint{};
  double dropout = 0.0;            ///< on the inputs, one mask per sequence (training only)
  double recurrent_dropout = 0.0;  ///< on the state entering the recurrence (training only)
  bool return_sequences = false;   ///< (batch, steps, units) instead of the last output
  bool return_state = false;       ///< symbolic calls also return the final states (outputs_of)
  bool go_backwards = false;       ///< read the sequence last step first (outputs in that order)
  bool stateful = false;           ///< keep the final states as the next call's initial states
  bool unroll = false;             ///< accepted for Keras compatibility; the loop is always fused
  bool reset_after = true;         ///< GRU: reset gate after the matmul, bias (2, 3·units)
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

enum class CellType { simple_rnn, lstm, gru };

/// What a recurrent layer returns: the output ((batch, units), or (batch, steps, units) with
/// return_sequences) and the final states {h} or {h, c}.
struct RecurrentResult {
  Tensor output{};
  std::vector<Tensor> states{};
};


/// One recurrent cell: SimpleRNNCell, LSTMCell or GRUCell. It owns the weights; the RNN layers
/// run it over time. Called on its own it performs one step from zero states.
class RecurrentCellLayer : public Layer {
 public:
  /// Throws ValueError on units <= 0, a dropout outside [0, 1) or an activation that the fused
  /// kernels do not have.
  RecurrentCellLayer(CellType type, std::int64_t units, RecurrentOptions options);
  std::string class_name() const override;
  /// input_shape: (batch, features).
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

  /// One step: x (batch, features) and states {h} or {h, c} (LSTM) -> {output, new states...}.
  std::vector<Tensor> step(const Tensor& x, const std::vector<Tensor>& states, bool training);

  /// The time loop over x (batch, steps, ...): the output (the last one, or every step's with
  /// return_sequences, in processing order) and the final states. `mask` (batch, steps) may be
  /// undefined; `initial` is empty (zeros) or one state_shape() tensor per state. Subclasses with
  /// another step (ConvLSTM's convolutions) override it.
  virtual RecurrentResult scan(const Tensor& x, const Tensor& mask, const std::vector<Tensor>& initial,
                               bool training, bool go_backwards, bool return_sequences);
  /// The shape of each state for one step's input shape: (batch, units) here.
  virtual Shape state_shape(const Shape& step_input_shape) const;

  CellType type() const { return type_; }
  std::int64_t units() const { return units_; }
  /// 2 for LSTM (h, c), else 1.
  int state_count() const { return type_ == CellType::lstm ? 2 : 1; }
  const RecurrentOptions& options() const { return options_; }
  /// Keras's cell arguments (units, activation, ... dropout, recurrent_dropout, seed).
  nlohmann::json cell_config() const;

  Tensor kernel;            ///< (features, G·units)
  Tensor recurrent_kernel;  ///< (units, G·units)
  Tensor bias;              ///< (G·units), (2, 3·units) for GRU reset_after, undefined without bias

 protected:
  /// Adds kernel, recurrent_kernel and (with use_bias) bias of the given shapes with the options'
  /// initializers, regularizers and constraints; LSTM's unit_forget_bias sets the forget block.
  void add_gate_weights(const Shape& kernel_shape, const Shape& recurrent_shape, const Shape& bias_shape);

 private:
  CellType type_;
  std::int64_t units_;
  RecurrentOptions options_;
};

/// `LSTMCell(32)`, `GRUCell(16, {.reset_after = false})`, `SimpleRNNCell(8)`: for RNN(cell).
struct LSTMCell : LayerHandle<RecurrentCellLayer> {
  explicit LSTMCell(std::int64_t units, RecurrentOptions options = {});
};
struct GRUCell : LayerHandle<RecurrentCellLayer> {
  explicit GRUCell(std::int64_t units, RecurrentOptions options = {});
};
struct SimpleRNNCell : LayerHandle<RecurrentCellLayer> {
  explicit SimpleRNNCell(std::int64_t units, RecurrentOptions options = {});
};

/// The generic RNN over a cell (Keras's RNN): input (batch, steps, features). SimpleRNN, LSTM and
/// GRU are this layer with their own class names and flat configs.
class RNNLayer : public Layer {
 public:
  RNNLayer(std::shared_ptr<RecurrentCellLayer> cell, RecurrentOptions options);
  std::string class_name() const override { return "RNN"; }
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  /// Masked steps (mask 0) leave state and output as they were, as in Keras.
  Tensor call_masked(const Tensor& x, const Tensor& mask, bool training) override;
  /// The input's mask when return_sequences, else none.
  Tensor compute_mask(const Tensor& x, const Tensor& mask) const override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override { return {cell_}; }
  /// Keras 3 saves the weights in the cell: <layer>/cell/vars.
  std::vector<Keras3Group> keras3_layout() const override;

  // In a graph the layer takes the sequence, optionally followed by one (batch, units) initial
  // state per cell state (Keras's initial_state: {h} or {h, c}), and with return_state returns
  // the output then the final states (output, h[, c]).
  std::size_t num_outputs() const override;
  /// Throws ShapeError naming the layer on a wrong number or shape of initial states.
  void build_list(const std::vector<Shape>& input_shapes) override;
  std::vector<Shape> compute_output_shapes(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call_outputs(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                   bool training, std::vector<Tensor>& output_masks) override;

  /// The full call: output and final states. `mask` (batch, steps) may be undefined;
  /// `initial_state` is empty (zeros, or the kept states when stateful) or one (batch, units)
  /// tensor per state. Throws ShapeError naming the layer on mismatched shapes.
  RecurrentResult call_with_state(const Tensor& x, const Tensor& mask = Tensor(),
                                  const std::vector<Tensor>& initial_state = {},
                                  bool training = false);
  /// Stateful layers: forget the kept states (the next call starts from zeros).
  void reset_states();
  /// The shape of each state for an input sequence of `input_shape` (batch, steps, ...).
  Shape state_shape(const Shape& input_shape) const;
  /// The states kept by a stateful layer (empty before the first call).
  const std::vector<Tensor>& states() const { return states_; }

  const std::shared_ptr<RecurrentCellLayer>& cell() const { return cell_; }
  const RecurrentOptions& options() const { return options_; }
  std::int64_t units() const { return cell_->units(); }

 protected:
  /// The RNN arguments of Keras's config (return_sequences, ..., unroll, zero_output_for_mask).
  nlohmann::json rnn_config() const;
  /// Checks `input_shapes` = the sequence then `states_per_call` initial states of state_shape()
  /// (none at all is fine too); throws ShapeError naming the layer.
  void check_initial_state_shapes(const std::vector<Shape>& input_shapes, std::size_t states_per_call) const;
  friend class BidirectionalLayer;

 private:
  std::shared_ptr<RecurrentCellLayer> cell_;
  RecurrentOptions options_;
  std::vector<Tensor> states_;
};

/// SimpleRNN, LSTM and GRU: an RNNLayer whose config lists the cell's arguments flat, as Keras's.
class RecurrentLayer : public RNNLayer {
 public:
  RecurrentLayer(CellType type, std::int64_t units, RecurrentOptions options);
  std::string class_name() const override;
  nlohmann::json get_config() const override;
};

/// `LSTM(64)`, `LSTM(32, {.return_sequences = true, .dropout = 0.2})`.
struct LSTM : LayerHandle<RecurrentLayer> {
  explicit LSTM(std::int64_t units, RecurrentOptions options = {});
};
/// `GRU(32)`; `{.reset_after = false}` gives the older layout with bias (3·units,).
struct GRU : LayerHandle<RecurrentLayer> {
  explicit GRU(std::int64_t units, RecurrentOptions options = {});
};
/// `SimpleRNN(16)`: h = activation(x·kernel + h_prev·recurrent_kernel + bias).
struct SimpleRNN : LayerHandle<RecurrentLayer> {
  explicit SimpleRNN(std::int64_t units, RecurrentOptions options = {});
};
/// `RNN(LSTMCell(32), {.return_sequences = true})`: the options' RNN fields apply, the cell's own
/// arguments come from the cell.
struct RNN : LayerHandle<RNNLayer> {
  template <class Cell>
  explicit RNN(const Cell& cell, RecurrentOptions options = {})
      : LayerHandle(std::make_shared<RNNLayer>(cell.ptr(), std::move(options))) {}
};

}  // namespace lamina::layers
