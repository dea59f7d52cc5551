// SPDX-License-Identifier: Apache-2.0
// lamina/layers/attention.hpp — Attention (Luong, dot-product), AdditiveAttention (Bahdanau) and
// MultiHeadAttention, with Keras's weights: Attention `scale` () and `concat_score_weight` (),
// AdditiveAttention `scale` (dim,), MultiHeadAttention `query/kernel` (dim, num_heads, key_dim),
// `query/bias` (num_heads, key_dim), key and value likewise, `attention_output/kernel`
// (num_heads, value_dim, *output_shape) and `attention_output/bias` (*output_shape).
//
// All three take a list: `[query, value]` or `[query, value, key]` (key defaults to value), in a
// model `layers::Attention()({q, v})` or eagerly `att({q, v})`. Keras's call arguments (masks,
// use_causal_mask, return_attention_scores) come with the eager call through a call struct:
// `auto [out, scores] = mha->call_with_scores(q, v, {.attention_mask = m})`. Inside a model the
// masks come from Embedding(mask_zero) / Masking, and `use_causal_mask` is a layer option.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

/// An attention layer's result with return_attention_scores: the attention weights after masking
/// and softmax, as Keras returns them: Attention and AdditiveAttention (batch, Tq, Tv), after
/// dropout; MultiHeadAttention (batch, num_heads, T, S) (more axes with attention_axes), before
/// dropout.
struct AttentionResult {
  Tensor output{};
  Tensor scores{};
};

// --- Attention, AdditiveAttention ------------------------------------------------------------

/// Keras's call arguments of Attention and AdditiveAttention. Masks are (batch, steps), non-zero
/// on real steps.
struct AttentionCall {
  Tensor key{};         ///< (batch, Tv, dim); undefined: the value is the key
  Tensor query_mask{};  ///< (batch, Tq): the output is zero on masked query steps
  Tensor value_mask{};  ///< (batch, Tv): masked value steps get no attention
  /// Query step i attends value steps j <= i only. The layer's own use_causal_mask also applies.
  bool use_causal_mask = false;
  bool training = false;  ///< dropout on the attention weights
};

/// What the three attention layers share: they take a list [query, value] or [query, value,
/// key], read the Keras masks of those inputs, and give the output the query's mask.
class AttentionBaseLayer : public Layer {
 public:
  bool takes_list() const override { return true; }
  bool supports_masking() const override { return true; }
  using Layer::build;
  using Layer::call;
  using Layer::call_masked;
  using Layer::compute_mask;
  /// Throws ShapeError: these layers take a list.
  void build(const Shape& input_shape) override;
  /// Throws ShapeError: these layers take a list.
  Shape compute_output_shape(const Shape& input_shape) override;
  /// Throws ShapeError: these layers take a list.
  Tensor call(const Tensor& x, bool training) override;
  /// call_masked without masks.
  Tensor call(const std::vector<Tensor>& inputs, bool training) override;
  /// The call inside models: `masks` parallel to inputs, the Keras masks of [query, value(, key)],
  /// undefined where an input has none.
  Tensor call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                     bool training) override = 0;
  /// The query's mask (Keras's compute_mask).
  Tensor compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override;

 protected:
  using Layer::Layer;
  /// The start of an eager call: builds for the inputs on first use, clears the losses.
  void begin_call(const Tensor& query, const Tensor& value, const Tensor& key);
  /// Checks the inputs' shapes with compute_output_shape_list.
  void check_inputs(const Tensor& query, const Tensor& value, const Tensor& key);
  /// "MultiHeadAttention 'mha'", for messages.
  std::string who() const { return class_name() + " '" + name() + "'"; }
};

/// What Attention and AdditiveAttention share: scores from the subclass, then Keras's
/// _apply_scores: masked value steps get score - 1e9, softmax over the value steps, dropout
/// (training only), weights · value, then the output times the query mask. query and key are
/// (batch, T, dim) (rank 2, (batch, dim), is also accepted, as tf.keras 2 did: then the rows of
/// a batch attend to each other); value has the key's steps and any last dimension, which is the
/// output's.
class BaseDenseAttentionLayer : public AttentionBaseLayer {
 public:
  void build_list(const std::vector<Shape>& input_shapes) override;
  /// masks parallel to inputs: [query_mask, value_mask(, key mask, ignored as in Keras)].
  Tensor call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                     bool training) override;
  /// (*query[:-1], value[-1]). Throws ShapeError naming the layer and every shape when the list
  /// is not 2 or 3 tensors, the ranks differ, the query and key dims differ, or value and key
  /// disagree on the steps.
  Shape compute_output_shape_list(const std::vector<Shape>& input_shapes) override;
  nlohmann::json get_config() const override;

  /// The eager call with Keras's call arguments; builds on first use.
  AttentionResult call_with_scores(const Tensor& query, const Tensor& value, const AttentionCall& call = {});

  bool use_scale() const { return use_scale_; }
  double dropout() const { return dropout_; }
  bool use_causal_mask() const { return use_causal_mask_; }

  Tensor scale;  ///< trainable; () for Attention, (dim,) for AdditiveAttention; undefined without use_scale

 protected:
  BaseDenseAttentionLayer(const char* cls, bool use_scale, double dropout, bool use_causal_mask, std::string name);
  /// (…, Tq, Tv) scores of query (…, Tq, dim) against key (…, Tv, dim).
  virtual Tensor scores(const Tensor& query, const Tensor& key) const = 0;
  /// Makes the weights for a query with `dim` features.
  virtual void make_weights(std::int64_t dim) = 0;

 private:
  /// call_with_scores without building or clearing the losses (the models' path).
  AttentionResult attend(const Tensor& query, const Tensor& value, const AttentionCall& call);

  bool use_scale_;
  double dropout_;
  bool use_causal_mask_;
};

struct AttentionOptions {
  bool use_scale = false;          ///< a trainable scalar `scale` (initially 1) multiplies the scores
  std::string score_mode = "dot";  ///< "dot": q·kᵀ; "concat": concat_score_weight·Σ tanh(q + k)
  double dropout = 0.0;            ///< rate on the attention weights, training only
  /// Every call is causal (Keras 2's `causal` argument; Keras 3 makes it a call argument).
  bool use_causal_mask = false;
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Dot-product (Luong) attention: scores = scale · query · keyᵀ, or with score_mode "concat"
/// concat_score_weight · Σ_d tanh(scale · (query_i + key_j)).
class AttentionLayer : public BaseDenseAttentionLayer {
 public:
  /// Throws ValueError for a score_mode other than "dot" and "concat" or a dropout outside [0, 1).
  explicit AttentionLayer(AttentionOptions options);
  std::string class_name() const override { return "Attention"; }
  nlohmann::json get_config() const override;
  const std::string& score_mode() const { return score_mode_; }

  Tensor concat_score_weight;  ///< () trainable, score_mode "concat" only

 protected:
  Tensor scores(const Tensor& query, const Tensor& key) const override;
  void make_weights(std::int64_t dim) override;

 private:
  std::string score_mode_;
};

/// `layers::Attention()({query, value})`, `layers::Attention({.use_scale = true})`.
struct Attention : LayerHandle<AttentionLayer> {
  explicit Attention(AttentionOptions options = {});
  using LayerHandle::operator();
  /// Eager call with Keras's call arguments: `att(q, v, {.value_mask = m})`.
  Tensor operator()(const Tensor& query, const Tensor& value, const AttentionCall& call = {}) const {
    return (*this)->call_with_scores(query, value, call).output;
  }
};

struct AdditiveAttentionOptions {
  bool use_scale = true;  ///< a trainable `scale` of shape (dim,), glorot_uniform
  double dropout = 0.0;   ///< rate on the attention weights, training only
  bool use_causal_mask = false;  ///< every call is causal (Keras 2's `causal`)
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Additive (Bahdanau) attention: scores = Σ_d scale_d · tanh(query_i,d + key_j,d).
class AdditiveAttentionLayer : public BaseDenseAttentionLayer {
 public:
  /// Throws ValueError for a dropout outside [0, 1).
  explicit AdditiveAttentionLayer(AdditiveAttentionOptions options);
  std::string class_name() const override { return "AdditiveAttention"; }

 protected:
  Tensor scores(const Tensor& query, const Tensor& key) const override;
  void make_weights(std::int64_t dim) override;
};

struct AdditiveAttention : LayerHandle<AdditiveAttentionLayer> {
  explicit AdditiveAttention(AdditiveAttentionOptions options = {});
  using LayerHandle::operator();
  Tensor operator()(const Tensor& query, const Tensor& value, const AttentionCall& call = {}) const {
    return (*this)->call_with_scores(query, value, call).output;
  }
};

// --- MultiHeadAttention ----------------------------------------------------------------------

/// Keras's call arguments of MultiHeadAttention. Every mask is non-zero where attention is allowed;
/// they are combined with AND, as Keras's _compute_attention_mask.
struct MultiHeadAttentionCall {
  Tensor key{};             ///< (batch, S, dim_k); undefined: the value is the key
  /// (batch, T, S) (or (T, S), or with attention_axes (batch, <other axes>, <query attention
  /// axes>, <key attention axes>)): which query step may attend which key step, for every head.
  Tensor attention_mask{};
  Tensor query_mask{};  ///< (batch, T): Keras's mask of the query; masked rows attend nothing
  Tensor value_mask{};  ///< (batch, S)
  Tensor key_mask{};    ///< (batch, S)
  /// Query step t attends key steps s <= t only. The layer's own use_causal_mask also applies.
  bool use_causal_mask = false;
  bool training = false;  ///< dropout on the attention weights
};

struct MultiHeadAttentionOptions {
  std::int64_t value_dim = 0;  ///< size of each value head; 0: key_dim
  double dropout = 0.0;        ///< rate on the attention weights, training only
  bool use_bias = true;
  std::vector<std::int64_t> output_shape{};  ///< empty: the query's last dimension
  /// Axes (of the query, batch excluded, negative from the end) attended over; empty: every axis
  /// between the batch and the features.
  std::vector<int> attention_axes{};
  /// Every call is causal (Keras's call argument use_causal_mask, kept on the layer so that
  /// models can use it; written in the config only when set).
  bool use_causal_mask = false;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  Regularizer kernel_regularizer{};    ///< on the four kernels
  Regularizer bias_regularizer{};      ///< on the four biases
  Regularizer activity_regularizer{};  ///< on each of the four projections' outputs, as Keras
  Constraint kernel_constraint{};
  Constraint bias_constraint{};
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// Multi-head attention (Vaswani et al. 2017) as Keras computes it: per head, query, key and value
/// projections (einsum kernels), softmax(q·kᵀ / sqrt(key_dim)) over the key steps with masked
/// positions at -1e9, dropout, the weighted values, then one output projection over all heads.
/// query (batch, T, dim_q), value (batch, S, dim_v), key (batch, S, dim_k); more axes between
/// batch and features are allowed (attention_axes picks those attended over). The output is
/// (batch, T, *output_shape) and carries the query's mask.
class MultiHeadAttentionLayer : public AttentionBaseLayer {
 public:
  /// Throws ValueError on num_heads, key_dim or value_dim <= 0, a dropout outside [0, 1) or a
  /// non-positive output_shape entry.
  MultiHeadAttentionLayer(std::int64_t num_heads, std::int64_t key_dim, MultiHeadAttentionOptions options);
  std::string class_name() const override { return "MultiHeadAttention"; }
  void build_list(const std::vector<Shape>& input_shapes) override;
  /// masks parallel to inputs: [query_mask, value_mask(, key_mask)], as Keras fills them in.
  Tensor call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                     bool training) override;
  /// (*query[:-1], *output_shape). Throws ShapeError naming the layer and every shape when the
  /// list is not 2 or 3 tensors, value and key differ other than in the last axis, the query's
  /// other axes differ from the value's, or a feature dimension differs from the built kernels.
  Shape compute_output_shape_list(const std::vector<Shape>& input_shapes) override;
  nlohmann::json get_config() const override;
  /// Keras 3 saves the four projections (EinsumDense layers there) as query_dense, key_dense,
  /// value_dense and output_dense.
  std::vector<Keras3Group> keras3_layout() const override;

  /// The eager call with Keras's call arguments; builds on first use.
  AttentionResult call_with_scores(const Tensor& query, const Tensor& value,
                                   const MultiHeadAttentionCall& call = {});

  std::int64_t num_heads() const { return num_heads_; }
  std::int64_t key_dim() const { return key_dim_; }
  std::int64_t value_dim() const { return options_.value_dim; }
  const MultiHeadAttentionOptions& options() const { return options_; }

  Tensor query_kernel, query_bias;  ///< (dim_q, heads, key_dim), (heads, key_dim)
  Tensor key_kernel, key_bias;      ///< (dim_k, heads, key_dim), (heads, key_dim)
  Tensor value_kernel, value_bias;  ///< (dim_v, heads, value_dim), (heads, value_dim)
  Tensor output_kernel, output_bias;  ///< (heads, value_dim, *output_shape), (*output_shape)

 private:
  /// call_with_scores without building or clearing the losses (the models' path).
  AttentionResult attend(const Tensor& query, const Tensor& value, const MultiHeadAttentionCall& call);
  /// x (..., *in) through an einsum kernel (*in, *out) and bias (*out): (..., *out), where `in`
  /// is the kernel's first `bound_dims` axes (Keras's EinsumDense of _build_proj_equation).
  Tensor project(const Tensor& x, const Tensor& kernel, const Tensor& bias, int bound_dims);
  std::vector<int> attended_axes(int query_rank) const;

  std::int64_t num_heads_, key_dim_;
  MultiHeadAttentionOptions options_;
};

/// `layers::MultiHeadAttention(4, 16)({query, value})`; eagerly
/// `mha(q, v, {.use_causal_mask = true})` or `mha->call_with_scores(q, v, {...})`.
struct MultiHeadAttention : LayerHandle<MultiHeadAttentionLayer> {
  MultiHeadAttention(std::int64_t num_heads, std::int64_t key_dim, MultiHeadAttentionOptions options = {});
  using LayerHandle::operator();
  Tensor operator()(const Tensor& query, const Tensor& value, const MultiHeadAttentionCall& call = {}) const {
    return (*this)->call_with_scores(query, value, call).output;
  }
};

}  // namespace lamina::layers
