// SPDX-License-Identifier: Apache-2.0
// lamina/ops.hpp — differentiable operations on Tensors. Each op checks shapes, dispatches to the
// tensor's device backend, and records an autograd node when an input requires a gradient.
// Axes may be negative (counted from the end). Float ops accept float32 and float64.
#pragma once

#include <cstdint>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina {

// --- elementwise (broadcasting where binary) -----------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor subtract(const Tensor& a, const Tensor& b);
Tensor multiply(const Tensor& a, const Tensor& b);
Tensor divide(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  ///< gradient goes to a where a >= b
Tensor minimum(const Tensor& a, const Tensor& b);  ///< gradient goes to a where a <= b
Tensor negative(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  ///< not differentiable (zero gradient)
Tensor pow(const Tensor& x, double exponent);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
/// The Gauss error function; d/dx = 2/sqrt(pi)·exp(-x²).
Tensor erf(const Tensor& x);
/// min(max(x, lo), hi); gradient 1 inside [lo, hi], 0 outside.
Tensor clip(const Tensor& x, double lo, double hi);
/// cond ? a : b elementwise with broadcasting; cond is any dtype (non-zero = true).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// --- reductions ----------------------------------------------------------------------------------
/// Empty `axes` reduces over every axis.
Tensor sum(const Tensor& x, std::vector<int> axes = {}, bool keepdims = false);
Tensor mean(const Tensor& x, std::vector<int> axes = {}, bool keepdims = false);
/// Gradient flows to the (first) maximal element of each reduced group.
Tensor max(const Tensor& x, std::vector<int> axes = {}, bool keepdims = false);
Tensor min(const Tensor& x, std::vector<int> axes = {}, bool keepdims = false);
/// Index of the first maximum along `axis`, as int64. Not differentiable.
Tensor argmax(const Tensor& x, int axis = -1);

// --- shape ---------------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);
/// Permutes axes; an empty `perm` reverses them (a matrix transpose for 2-D).
Tensor transpose(const Tensor& x, std::vector<int> perm = {});
Tensor concatenate(const std::vector<Tensor>& xs, int axis = -1);
/// Repeats `x` to `shape` following broadcasting rules. Gradient sums back.
Tensor broadcast_to(const Tensor& x, const Shape& shape);
/// Sums a broadcast gradient back down to `shape` (the adjoint of broadcast_to).
Tensor sum_to(const Tensor& x, const Shape& shape);
/// One-hot encoding of integer labels: shape (..., depth), dtype float32 by default.
Tensor one_hot(const Tensor& labels, std::int64_t depth, DType dtype = float32);
/// Rows of `x` picked by integer `indices` along axis 0. Gradient scatter-adds.
Tensor take(const Tensor& x, const Tensor& indices);

// --- linear algebra ------------------------------------------------------------------------------
/// Matrix product of the last two axes; leading axes of a 3-D+ `a` are batch axes when `b` is
/// 2-D. transpose_a / transpose_b transpose the respective last two axes first.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// --- neural-network ops --------------------------------------------------------------------------
Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

/// Activation applied inside fused kernels.
enum class FusedActivation { linear, relu, sigmoid, tanh };

/// The input x when `probs` is the output of softmax(x, -1), else an undefined tensor. Losses use
/// it to score probabilities from their logits, exactly and stably, as TF-Keras does.
Tensor softmax_logits_of(const Tensor& probs);
/// The input x when `probs` is the output of sigmoid(x), else an undefined tensor.
Tensor sigmoid_logits_of(const Tensor& probs);

/// Fused x·W + b then activation, with a hand-written backward. x: (..., in), kernel: (in, out),
/// bias: (out,) or undefined.
Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias,
             FusedActivation activation = FusedActivation::linear);

/// Fused softmax + cross-entropy with integer class labels, hand-written backward.
/// logits: (N, C) (or (..., C)); labels: integer (N) (or (...)), each in [0, C). Returns the
/// per-sample loss, shape (N) (or (...)). Labels outside [0, C) throw ValueError.
Tensor sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels);

/// Fused softmax + cross-entropy with probability targets of the same shape as logits; per-sample
/// loss over the last axis.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& targets);

/// Inverted dropout: zeroes each element with probability `rate` and scales the rest by
/// 1/(1-rate). Uses lamina's seeded random stream.
Tensor dropout(const Tensor& x, double rate);

// --- random (seeded by set_seed; deterministic whatever the thread count) ------------------------
Tensor random_uniform(const Shape& shape, double minval = 0.0, double maxval = 1.0,
                      DType dtype = float32, Device device = {});
Tensor random_normal(const Shape& shape, double mean = 0.0, double stddev = 1.0,
                     DType dtype = float32, Device device = {});
/// Normal samples redrawn until within two standard deviations.
Tensor truncated_normal(const Shape& shape, double mean = 0.0, double stddev = 1.0,
                        DType dtype = float32, Device device = {});
/// A permutation of 0..n-1 (int64) from the seeded stream.
Tensor random_permutation(std::int64_t n);

// --- checks --------------------------------------------------------------------------------------
/// True when every element is finite.
bool all_finite(const Tensor& x);
/// max |a - b| <= atol + rtol * |b| elementwise (shapes must match).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

}  // namespace lamina

// Convolution, pooling and batch-normalisation ops (NHWC).
#include "lamina/ops/conv.hpp"
// Sorted search, integer hashing and image transforms (the preprocessing layers').
#include "lamina/ops/preprocessing.hpp"
