// SPDX-License-Identifier: Apache-2.0
// src/losses/common.hpp — what the loss families share: operand alignment, shape errors and the
// numerically stable building blocks.
#pragma once

#include <string>
#include <utility>

#include "lamina/losses.hpp"

namespace lamina::losses::detail {

/// Keras's backend epsilon: probabilities are clipped to [kEpsilon, 1 - kEpsilon] before a log.
inline constexpr double kEpsilon = 1e-7;

Shape without_last(const Shape& s);
Shape with_last_one(const Shape& s);
Tensor as_floating(const Tensor& t);
/// A 0-d `value` in `like`'s dtype, on its device (an operand that broadcasts).
inline Tensor scalar_like(double value, const Tensor& like) {
  return Tensor::full({}, value, like.dtype(), like.device());
}

/// Keras's squeeze_or_expand_to_same_rank: ranks that differ by one trailing 1 are aligned, so
/// y_true (N) meets y_pred (N, 1).
void align_ranks(Tensor& a, Tensor& b);

[[noreturn]] void shapes_do_not_fit(const std::string& loss, const Tensor& y_true,
                                    const Tensor& y_pred, const std::string& expected);

/// y_true cast to y_pred's (floating) dtype, ranks aligned, shapes broadcastable (or equal when
/// `same_shape`); throws ShapeError naming the loss and both shapes otherwise.
std::pair<Tensor, Tensor> operands(const std::string& loss, const Tensor& y_true,
                                   const Tensor& y_pred, bool same_shape = false);

/// Mean over the last axis (a scalar stays a scalar).
Tensor mean_last(const Tensor& t);
/// x with `axis` moved to the end (x itself when it already is the last axis).
Tensor axis_last(const Tensor& x, int axis, const std::string& loss);

/// log(1 + exp(z)) without overflow: max(z, 0) + log(1 + exp(-|z|)).
Tensor softplus(const Tensor& z);
/// Elementwise binary cross-entropy: from logits max(x,0) - x·y + log(1 + exp(-|x|)); from
/// probabilities with p clipped to [eps, 1 - eps].
Tensor binary_crossentropy_elements(const Tensor& y, const Tensor& x, bool logits);

}  // namespace lamina::losses::detail

namespace lamina::losses::detail {
/// The user's name, or Keras's default when none was given.
inline std::string or_default(const std::string& name, const char* keras_name) {
  return name.empty() ? std::string(keras_name) : name;
}
}  // namespace lamina::losses::detail
