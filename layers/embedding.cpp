// SPDX-License-Identifier: Apache-2.0
// Embedding: a table lookup whose gradient scatter-adds into the used rows (the take op).
#include "common/json_int.hpp"
#include "lamina/layers/embedding.hpp"
#include "catalogue.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {

EmbeddingLayer::EmbeddingLayer(std::int64_t input_dim, std::int64_t output_dim, EmbeddingOptions options)
    : Layer(options.name, options.dtype), input_dim_(input_dim), output_dim_(output_dim), options_(std::move(options)) {
  sizes::require_size("Embedding", "input_dim", input_dim);
  sizes::require_size("Embedding", "output_dim", output_dim);
}

void EmbeddingLayer::build(const Shape& input_shape) {
  compute_output_shape(input_shape);
  embeddings = add_weight("embeddings", {input_dim_, output_dim_}, options_.embeddings_initializer, true, float32,
                          options_.embeddings_regularizer, options_.embeddings_constraint);
}

Shape EmbeddingLayer::compute_output_shape(const Shape& input_shape) {
  if (input_shape.rank() < 1) fail_shape("input must have a batch dimension, got " + input_shape.str());
  Shape out = input_shape;
  out.push_back(output_dim_);
  return out;
}

Tensor EmbeddingLayer::call(const Tensor& ids, bool) {
  const std::vector<double> v = ids.to_vector<double>();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!(v[i] >= 0 && v[i] < static_cast<double>(input_dim_)) || v[i] != std::trunc(v[i]))
      fail_shape("index " + (v[i] == std::trunc(v[i]) ? std::to_string(static_cast<long long>(v[i]))
                                                       : std::to_string(v[i])) +
                 " (position " + std::to_string(i) + " of input " + ids.shape().str() +
                 ") is outside [0, input_dim) with input_dim=" + std::to_string(input_dim_));
  Tensor rows = take(embeddings, ids);
  if (dtype_policy().name() != "float32" && rows.dtype() != dtype_policy().compute_dtype())
    rows = rows.astype(dtype_policy().compute_dtype());
  return regularize_activity(rows, options_.activity_regularizer);
}

Tensor EmbeddingLayer::compute_mask(const Tensor& ids, const Tensor&) const {
  return options_.mask_zero ? (ids != 0.0) : Tensor();
}

nlohmann::json EmbeddingLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["input_dim"] = input_dim_;
  c["output_dim"] = output_dim_;
  c["embeddings_initializer"] = engine::initializer_config(options_.embeddings_initializer);
  c["embeddings_regularizer"] = regularizers::serialize(options_.embeddings_regularizer);
  c["activity_regularizer"] = regularizers::serialize(options_.activity_regularizer);
  c["embeddings_constraint"] = constraints::serialize(options_.embeddings_constraint);
  c["mask_zero"] = options_.mask_zero;
  return c;
}

Embedding::Embedding(std::int64_t input_dim, std::int64_t output_dim, EmbeddingOptions options)
    : LayerHandle(std::make_shared<EmbeddingLayer>(input_dim, output_dim, std::move(options))) {}

void register_embedding_layers() {
  engine::register_layer_spec({
      .class_name = "Embedding",
      .factory = [](const nlohmann::json& c) -> std::shared_ptr<Layer> {
        return Embedding(json_int<std::int64_t>(c.at("input_dim"), "input_dim"), json_int<std::int64_t>(c.at("output_dim"), "output_dim"),
                         {.embeddings_initializer = engine::initializer_of(c, "embeddings_initializer", "uniform"),
                          .mask_zero = c.value("mask_zero", false),
                          .embeddings_regularizer = engine::regularizer_of(c, "embeddings_regularizer"),
                          .activity_regularizer = engine::regularizer_of(c, "activity_regularizer"),
                          .embeddings_constraint = engine::constraint_of(c, "embeddings_constraint"),
                          .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = {"input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
                        "activity_regularizer", "embeddings_constraint", "mask_zero", "input_length", "lora_alpha"},
      .key_rules = keys::no_quantization(),
  });
}

}  // namespace lamina::layers
