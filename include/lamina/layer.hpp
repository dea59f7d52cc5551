// SPDX-License-Identifier: Apache-2.0
// lamina/layer.hpp — the Layer contract (constructor keeps hyper-parameters, build makes weights,
// call computes, get_config describes) and the handle that gives layers value syntax.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lamina/constraints.hpp"
#include "lamina/dtype_policy.hpp"
#include "lamina/name.hpp"
#include "lamina/initializers.hpp"
#include "lamina/regularizers.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

class Layer;
struct Node;

/// A symbolic tensor (Keras's KerasTensor): a shape with an unknown batch dimension (-1), a
/// dtype, and the layer call that produces it. layers::Input returns one; calling a layer on
/// symbolic tensors returns another (or several: see Layer::outputs_of), recording the call as a
/// Node so that Model(inputs, outputs) can retrace the graph.
struct KerasTensor {
  Shape shape{};  ///< batch first, -1 for unknown
  DType dtype = float32;
  std::string name{};
  std::shared_ptr<Layer> layer{};  ///< the producing layer (an InputLayer for Input)
  std::shared_ptr<const Node> node{};  ///< the call that produced it; null for an Input
  int tensor_index = 0;  ///< which of that call's outputs (Keras's keras_history[2])
};

/// One call of a layer on symbolic tensors (Keras's Node): the graph's edges. Immutable once made.
struct Node {
  std::shared_ptr<Layer> layer{};
  std::vector<KerasTensor> inputs{};
  std::vector<Shape> output_shapes{};  ///< one per output tensor, batch -1
  int node_index = 0;  ///< this call's position among the layer's symbolic calls (Keras's node_index)
};

/// Base of every layer. A layer is a shared object: models, other layers and user code hold it
/// through std::shared_ptr (see LayerHandle), so one layer can appear in several models.
///
/// Subclass contract (Keras's): keep hyper-parameters in the constructor, create weights in
/// build() with add_weight(), compute in call(); override class_name(), compute_output_shape()
/// (the default runs call() on a batch of one) and get_config() as needed.
class Layer : public std::enable_shared_from_this<Layer> {
 public:
  /// One registered weight.
  struct Weight {
    std::string name{};  ///< Keras's short name: "kernel", "bias", "gamma"...
    Tensor value{};      ///< the live tensor: optimizers update it in place
    bool trainable = true;
    Regularizer regularizer{};  ///< its penalty joins the training loss (see losses())
    Constraint constraint{};    ///< applied after each optimizer update (see apply_constraints())
  };

  /// A part of Keras 3's weights layout (.weights.h5, .keras): the variables Keras keeps in one
  /// group at `path` below the layer's own ("vars", "cell/vars"), or a layer that Keras saves
  /// under the attribute that holds it (`path` "forward_layer"), laid out by its own
  /// keras3_layout().
  struct Keras3Group {
    std::string path{};
    std::string name{};               ///< the group's `name` attribute
    std::vector<Weight> variables{};  ///< in the file's order: <path>/0, <path>/1...
    const Layer* layer = nullptr;     ///< set for a held layer
  };

  /// `dtype` names the layer's dtype policy; empty: the global one (dtype_policy()).
  explicit Layer(std::string name = {}, const std::string& dtype = {});
  virtual ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  /// Keras's class name ("Dense", "Conv2D"); also the stem of default names.
  virtual std::string class_name() const { return "Layer"; }
  /// Creates the weights for inputs of `input_shape` (batch dimension -1).
  virtual void build(const Shape& input_shape);
  /// The forward computation. `training` selects training behaviour (dropout, batch statistics).
  virtual Tensor call(const Tensor& x, bool training) = 0;
  /// Output shape for `input_shape` (batch dimension -1). Throws ShapeError naming the layer when
  /// the input does not fit. The default traces call() on zeros with a batch of one.
  virtual Shape compute_output_shape(const Shape& input_shape);
  /// Keras's `autocast`: whether a mixed policy casts this layer's floating inputs and weights to
  /// its compute dtype. Layers that compute in float32 (BatchNormalization...) say no.
  virtual bool autocasts() const { return true; }
  /// Keras-style config: {"name", "trainable", "dtype", ...hyper-parameters}. "dtype" is the
  /// policy's name, which Keras 2 and 3 both read; Keras 3's files (to_json, .keras) wrap it in
  /// its DTypePolicy object.
  virtual nlohmann::json get_config() const;
  /// Layers nested inside this one (a model's layers); their weights count as this layer's.
  virtual std::vector<std::shared_ptr<Layer>> sublayers() const { return {}; }
  /// Where Keras 3 saves this layer's variables (save_own_variables and the attributes that hold
  /// layers). The default: one group "vars" with the layer's own weights, trainable ones first,
  /// or with all its weights in weights() order when it has sublayers.
  virtual std::vector<Keras3Group> keras3_layout() const;

  // Masking (Keras's supports_masking / compute_mask). A mask is a (batch, steps) tensor, zero on
  // padded steps; models hand each layer the mask of its input and ask it for its output's.
  /// True when the layer passes its input's mask on unchanged (compute_mask's default).
  virtual bool supports_masking() const { return false; }
  /// The mask of the output for input `x` whose mask is `mask` (undefined: none). The default
  /// returns `mask` when supports_masking(), else undefined (the mask stops here, as in Keras 3).
  virtual Tensor compute_mask(const Tensor& x, const Tensor& mask) const;
  /// call() on an input with a mask (defined); the default ignores the mask.
  virtual Tensor call_masked(const Tensor& x, const Tensor& /*mask*/, bool training) {
    return call(x, training);
  }

  // Several inputs (merge layers). A layer takes a list when takes_list() is true; the defaults
  // accept a list of exactly one and forward to the single-tensor methods above.
  /// True for layers whose call takes a list of tensors (Add, Concatenate, ...).
  virtual bool takes_list() const { return false; }
  /// The forward computation over several inputs.
  virtual Tensor call(const std::vector<Tensor>& inputs, bool training);
  /// Creates the weights for several inputs (batch dimensions -1).
  virtual void build_list(const std::vector<Shape>& input_shapes);
  /// call() over several inputs with their masks: `masks` is parallel to `inputs`, an undefined
  /// entry where that input has none (at least one is defined). The default ignores the masks.
  virtual Tensor call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& /*masks*/,
                             bool training) {
    return call(inputs, training);
  }
  /// The output's mask for a call over several inputs (masks as in call_masked, possibly all
  /// undefined). The default: none. Merge layers follow Keras (see lamina/layers/merge.hpp).
  virtual Tensor compute_mask(const std::vector<Tensor>& /*inputs*/,
                              const std::vector<Tensor>& /*masks*/) const {
    return Tensor();
  }
  /// Output shape for several inputs; throws ShapeError naming the layer and every shape.
  virtual Shape compute_output_shape_list(const std::vector<Shape>& input_shapes);
  /// Builds for several input shapes unless built; returns compute_output_shape_list of them.
  Shape build_for_list(const std::vector<Shape>& input_shapes);

  // Several outputs (Keras: a call that returns a list, e.g. LSTM with return_state). Functional
  // models run every layer through call_outputs; the defaults describe a single-output layer by
  // the methods above (one input, or a list when takes_list()).
  /// Tensors that one call produces.
  virtual std::size_t num_outputs() const { return 1; }
  /// Every output shape (batch -1) for inputs of `input_shapes`. Throws ShapeError naming the
  /// layer and the shapes when the inputs do not fit.
  virtual std::vector<Shape> compute_output_shapes(const std::vector<Shape>& input_shapes);
  /// Every output of one call; `masks` is parallel to `inputs` (undefined entries: no mask, and
  /// it may be empty). Sets `output_masks` to one mask per output (undefined: none).
  virtual std::vector<Tensor> call_outputs(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                           bool training, std::vector<Tensor>& output_masks);

  /// Symbolic call: checks and infers the output shape now (building the layer), records a Node.
  /// Throws ShapeError naming this layer and the shapes when the inputs do not fit, ValueError
  /// when the layer returns several tensors (use outputs_of).
  KerasTensor operator()(const KerasTensor& x);
  KerasTensor operator()(const std::vector<KerasTensor>& inputs);
  /// Symbolic call returning every output of the call, in the layer's order (LSTM with
  /// return_state: output, h, c). Extra inputs after the first are a recurrent layer's initial
  /// states (Keras's initial_state).
  std::vector<KerasTensor> outputs_of(const std::vector<KerasTensor>& inputs);
  std::vector<KerasTensor> outputs_of(const KerasTensor& x) { return outputs_of(std::vector<KerasTensor>{x}); }
  /// Eager call over several tensors (builds on first use).
  Tensor operator()(const std::vector<Tensor>& inputs, bool training = false);
  /// Internal: hands out this layer's next node index.
  int next_node_index() { return node_count_++; }

  /// Builds on first use (checking the shape through compute_output_shape), then calls call()
  /// under the dtype policy (see call_with_policy).
  Tensor operator()(const Tensor& x, bool training = false);
  /// How models call a layer: call() (call_masked() when `mask` is defined) under its dtype
  /// policy, as Keras's Layer.__call__ does: floating inputs are cast to the compute dtype when
  /// the policy is not float32, and autocast() reads weights in it.
  Tensor call_with_policy(const Tensor& x, const Tensor& mask, bool training);
  /// call_outputs() with the inputs cast as call_with_policy does.
  std::vector<Tensor> call_outputs_with_policy(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                               bool training, std::vector<Tensor>& output_masks);
  /// Builds for `input_shape` unless already built, and returns compute_output_shape of it.
  Shape build_for(const Shape& input_shape);

  /// The unique Keras-style name ("dense", "dense_1", ...), assigned when first asked for.
  const std::string& name() const;
  void set_name(std::string name);
  bool built() const { return built_; }
  /// The input shape the layer was built for (batch -1), empty before build.
  const Shape& input_shape() const { return input_shape_; }
  bool trainable() const { return trainable_; }
  void set_trainable(bool trainable) { trainable_ = trainable; }
  /// The layer's dtype policy: the global one when it was made unless its options or config
  /// named another.
  const DTypePolicy& dtype_policy() const { return dtype_policy_; }
  /// Sets the policy (before the first call, as Keras's `dtype=`). Throws ValueError once the
  /// layer is built with variables of another dtype.
  void set_dtype_policy(const DTypePolicy& policy);

  /// Registers a new weight initialised by `initializer` and returns the live tensor. A
  /// regularizer adds its penalty to losses(); a constraint projects the weight after each update.
  /// A float32 weight takes the policy's variable dtype instead (float16 under "float16"; still
  /// float32 under the mixed policies).
  Tensor add_weight(const std::string& name, const Shape& shape,
                    const Initializer& initializer = "glorot_uniform", bool trainable = true,
                    DType dtype = float32, const Regularizer& regularizer = {},
                    const Constraint& constraint = {});

  // Extra losses (Keras's add_loss / losses): what training adds to the compiled loss.
  /// Adds a scalar loss computed in call() (e.g. from an activation); kept until clear_losses().
  void add_loss(const Tensor& loss);
  /// The losses of this layer and its sublayers: those added since the last clear_losses(), then
  /// the current penalty of every regularized weight. Differentiable.
  std::vector<Tensor> losses() const;
  /// Forgets the added losses of this layer and its sublayers (done before each forward pass).
  void clear_losses();
  /// Assigns each constrained trainable weight (sublayers included) its projection.
  void apply_constraints();
  /// This layer's own registered weights (not its sublayers'), in creation order.
  const std::vector<Weight>& own_weights() const { return weights_; }
  /// All weights, Keras's order: trainable first, then non-trainable, sublayers included.
  std::vector<Tensor> weights() const;
  /// The registered weights behind weights(), in the same order.
  std::vector<Weight> weight_entries() const;
  /// This layer's own weights, trainable ones first by their flag (Keras 3's vars/0, vars/1...).
  std::vector<Weight> own_variables() const;
  /// Weights that an optimizer updates (empty when the layer is frozen).
  std::vector<Tensor> trainable_weights() const;
  std::vector<Tensor> non_trainable_weights() const;
  /// Deep copies of weights(), in the same order.
  std::vector<Tensor> get_weights() const;
  /// Copies values into weights(); throws ShapeError naming the layer and weight on a mismatch.
  void set_weights(const std::vector<Tensor>& values);
  std::int64_t count_params() const;

 protected:
  /// Throws ShapeError "<Class> '<name>': <what>". For build-time checks in subclasses.
  [[noreturn]] void fail_shape(const std::string& what) const;
  /// Keras's activity_regularizer: adds regularizer(output) / batch size as a loss; returns output.
  /// A layer's call() ends with `return regularize_activity(out, options_.activity_regularizer);`.
  Tensor regularize_activity(const Tensor& output, const Regularizer& regularizer);
  /// A weight as call() should read it (Keras's autocast): under a mixed policy a copy in the
  /// compute dtype, differentiable into the float32 variable; else the weight itself.
  Tensor autocast(const Tensor& weight) const;

 private:
  void collect_weights(std::vector<const Weight*>& trainable,
                       std::vector<const Weight*>& frozen, bool parent_trainable) const;

  mutable std::string name_;
  // Atomic: predict may run in several threads while one of them builds (under the build lock);
  // the others read it without the lock.
  std::atomic<bool> built_{false};
  bool trainable_ = true;
  DTypePolicy dtype_policy_;
  int node_count_ = 0;
  Shape input_shape_;
  std::vector<Weight> weights_;
  std::vector<Tensor> added_losses_;
};

/// Internal: applies a layer option `dtype` (a policy name; empty leaves the layer's own policy).
void apply_dtype_option(Layer& layer, const std::string& dtype);

/// The regularizers and constraints of a layer's kernel and bias (Keras's layer arguments), as a
/// layer keeps them: pass them to add_weight, end call() with regularize_activity, and write/read
/// them with the layer's config.
struct KernelBiasRegularization {
  Regularizer kernel_regularizer{}, bias_regularizer{}, activity_regularizer{};
  Constraint kernel_constraint{}, bias_constraint{};
  /// Adds Keras's keys to a layer config: null when unset, activity_regularizer only when set.
  void to_config(nlohmann::json& config) const;
  /// Reads those keys from a layer config (absent or null: none). Throws ValueError for an
  /// unknown regularizer or constraint.
  static KernelBiasRegularization from_config(const nlohmann::json& config);
};

/// Keras's snake_case of a class name: "MaxPooling2D" -> "max_pooling2d".
std::string to_snake_case(const std::string& class_name);
/// A fresh unique layer name from a prefix: "dense", then "dense_1", "dense_2"...
std::string unique_layer_name(const std::string& prefix);
/// Forgets the names handed out (Keras's clear_session for names).
void reset_layer_names();

/// Makes a layer (unbuilt) from its Keras config ({"name", "units", ...}).
using LayerFactory = std::function<std::shared_ptr<Layer>(const nlohmann::json& config)>;
/// Registers the factory for Keras class `class_name` ("Dense"), replacing any earlier one. The
/// core and merge layers are registered from the start.
void register_layer(const std::string& class_name, LayerFactory factory);
/// A new layer from Keras's class name and config. Throws ValueError naming an unknown class.
std::shared_ptr<Layer> layer_from_config(const std::string& class_name, const nlohmann::json& config);

/// Registers a user's layer class T under `class_name` (which T::class_name() must return, so
/// that to_json -> model_from_json and saved files round-trip), as Keras's
/// register_keras_serializable. T is made by `static std::shared_ptr<T> from_config(const
/// nlohmann::json&)` when it has one, else by a constructor taking the config, else by its
/// default constructor; the config's "name" and "trainable" are applied after. Without a
/// registration, loading a file that holds the class fails naming it (Keras's safe_mode).
template <class T>
void register_layer(const std::string& class_name) {
  register_layer(class_name, [](const nlohmann::json& config) -> std::shared_ptr<Layer> {
    if constexpr (requires { T::from_config(config); }) return T::from_config(config);
    else if constexpr (std::is_constructible_v<T, const nlohmann::json&>) return std::make_shared<T>(config);
    else return std::make_shared<T>();
  });
}

/// Internal: the N tensors of a symbolic call as an array; throws ValueError naming `layer` when
/// the call gave another count.
void check_output_count(std::size_t want, std::size_t got, const Layer& layer);
template <std::size_t N>
std::array<KerasTensor, N> fixed_outputs(const std::vector<KerasTensor>& outs, const Layer& layer) {
  check_output_count(N, outs.size(), layer);
  std::array<KerasTensor, N> a;
  for (std::size_t i = 0; i < N; ++i) a[i] = outs[i];
  return a;
}

/// Value syntax for layers: `layers::Dense(64)` is a handle holding a shared DenseLayer.
/// Copies share the layer. `->` reaches the layer; it converts to std::shared_ptr<Layer>.
template <class Impl>
class LayerHandle {
 public:
  explicit LayerHandle(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) { impl_->name(); }
  Impl* operator->() const { return impl_.get(); }
  Impl& operator*() const { return *impl_; }
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  operator std::shared_ptr<Layer>() const { return impl_; }  // NOLINT(google-explicit-constructor)
  Tensor operator()(const Tensor& x, bool training = false) const { return (*impl_)(x, training); }
  Tensor operator()(const std::vector<Tensor>& xs, bool training = false) const {
    return (*impl_)(xs, training);
  }
  /// Symbolic calls (the Functional API): `auto h = layers::Dense(64)(x);`.
  KerasTensor operator()(const KerasTensor& x) const { return (*impl_)(x); }
  KerasTensor operator()(const std::vector<KerasTensor>& xs) const { return (*impl_)(xs); }
  /// Every output of a symbolic call: `auto outs = layers::LSTM(8, {.return_state = true}).outputs_of(x);`.
  std::vector<KerasTensor> outputs_of(const std::vector<KerasTensor>& xs) const { return impl_->outputs_of(xs); }
  std::vector<KerasTensor> outputs_of(const KerasTensor& x) const { return impl_->outputs_of(x); }
  /// The same with the count fixed, for structured bindings:
  /// `auto [seq, h, c] = lstm.outputs_of<3>(x);` (ValueError when the layer returns another count).
  template <std::size_t N>
  std::array<KerasTensor, N> outputs_of(const std::vector<KerasTensor>& xs) const {
    return fixed_outputs<N>(impl_->outputs_of(xs), *impl_);
  }
  template <std::size_t N>
  std::array<KerasTensor, N> outputs_of(const KerasTensor& x) const {
    return fixed_outputs<N>(impl_->outputs_of(x), *impl_);
  }

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace lamina
