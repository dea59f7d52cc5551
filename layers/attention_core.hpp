// SPDX-License-Identifier: Apache-2.0
// layers/attention_core.hpp — what the attention layers share: Keras's mask algebra and its
// masked softmax. Private to layers/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lamina/layers/attention.hpp"
#include "lamina/tensor.hpp"
#include "list_shapes.hpp"

namespace lamina::layers::attention_core {

/// 1 where `mask` is non-zero, else 0, in `dtype`; undefined stays undefined. No gradient.
Tensor keep_of(const Tensor& mask, DType dtype);
/// The AND of two keep masks by broadcasting (an undefined one is "keep everything").
Tensor both(const Tensor& a, const Tensor& b);
/// (Tq, Tv): 1 where j <= i (Keras's lower-triangular causal mask, also for Tq != Tv).
Tensor causal_keep(std::int64_t tq, std::int64_t tv, DType dtype, Device device);
/// Keras's _apply_scores over the last axis: scores - 1e9 where `keep` (broadcastable, may be
/// undefined) is 0, softmax, dropout when training, weights · value. The scores returned are the
/// weights after dropout when `scores_after_dropout` (Attention's), else before (MultiHeadAttention's).
AttentionResult apply_scores(const Tensor& scores, const Tensor& value, const Tensor& keep,
                             double dropout, bool training, bool scores_after_dropout);
/// Checks a (batch, steps) mask against its input; throws ShapeError "<who>: <what> of shape
/// (2, 5) does not match ..." otherwise.
void check_step_mask(const std::string& who, const char* what, const Tensor& mask, const Shape& input);
/// Throws ValueError "<who>: dropout must be in [0, 1), got <rate>".
void check_dropout(const std::string& who, double rate);

}  // namespace lamina::layers::attention_core
