// SPDX-License-Identifier: Apache-2.0
// lamina/layers/embedding.hpp — Embedding: integer ids to rows of a learned (input_dim, output_dim)
// table, with Keras's mask_zero.
#pragma once

#include <cstdint>
#include <string>

#include "lamina/constraints.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/regularizers.hpp"

namespace lamina::layers {

struct EmbeddingOptions {
  Initializer embeddings_initializer = "uniform";  ///< Keras: RandomUniform(-0.05, 0.05)
  /// Id 0 is padding: the layer's output mask is (ids != 0), and the recurrent layers and the
  /// loss after it skip those steps.
  bool mask_zero = false;
  Regularizer embeddings_regularizer{};  ///< none by default; penalty added to losses()
  Regularizer activity_regularizer{};    ///< applied to the layer's output
  Constraint embeddings_constraint{};    ///< none by default; applied after each update
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// output[..., :] = embeddings[ids[...]]; ids of any integer-valued dtype, shape (batch, ...);
/// output (batch, ..., output_dim). The gradient scatter-adds into the used rows.
class EmbeddingLayer : public Layer {
 public:
  /// Throws ValueError when input_dim or output_dim is not positive.
  EmbeddingLayer(std::int64_t input_dim, std::int64_t output_dim, EmbeddingOptions options);
  std::string class_name() const override { return "Embedding"; }
  /// No (as Keras): ids stay as given; the rows come out in the compute dtype.
  bool autocasts() const override { return false; }
  void build(const Shape& input_shape) override;
  /// Throws ValueError naming the layer, the offending id and input_dim for an id outside
  /// [0, input_dim); nothing is read out of bounds.
  Tensor call(const Tensor& ids, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  /// (ids != 0) when mask_zero, else none.
  Tensor compute_mask(const Tensor& ids, const Tensor& mask) const override;
  nlohmann::json get_config() const override;

  std::int64_t input_dim() const { return input_dim_; }
  std::int64_t output_dim() const { return output_dim_; }
  bool mask_zero() const { return options_.mask_zero; }
  Tensor embeddings;  ///< (input_dim, output_dim)

 private:
  std::int64_t input_dim_, output_dim_;
  EmbeddingOptions options_;
};

/// `Embedding(10000, 64, {.mask_zero = true})`.
struct Embedding : LayerHandle<EmbeddingLayer> {
  Embedding(std::int64_t input_dim, std::int64_t output_dim, EmbeddingOptions options = {});
};

}  // namespace lamina::layers
