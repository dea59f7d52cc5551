// lamina/ops/conv.hpp — differentiable convolution, pooling and normalisation ops, channels
// last (NHWC / NLC) with Keras's weight layouts. Included by lamina/ops.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "lamina/ops.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// How a window meets the border. valid: no padding; same: output length ceil(in / stride), the
/// total padding split with the extra element at the bottom/right (TensorFlow's rule); causal
/// (1-D convolution only): (kernel-1)·dilation zeros on the left.
enum class Padding { valid, same, causal };

/// "valid" | "same" | "causal" (case-insensitive, as Keras). Throws ValueError otherwise.
Padding padding_from_name(const std::string& name);
const char* padding_name(Padding padding);

/// A pair of sizes (height, width) that converts from one integer, like Keras's `int or tuple`.
struct Size2D {
  std::int64_t h = 1, w = 1;
  Size2D() = default;
  Size2D(std::int64_t both) : h(both), w(both) {}  // NOLINT(google-explicit-constructor)
  Size2D(std::int64_t height, std::int64_t width) : h(height), w(width) {}
  bool operator==(const Size2D&) const = default;
};

/// Keras's conv_output_length: the number of window positions along an axis of length `in`
/// (0 when a 'valid' window does not fit). `in` < 0 (unknown) gives -1.
std::int64_t conv_output_length(std::int64_t in, std::int64_t window, std::int64_t stride,
                                Padding padding, std::int64_t dilation = 1);

/// 2-D convolution then bias then activation, fused, with a hand-written backward.
/// x: (N, H, W, C); kernel: (kh, kw, C/groups, F) (Keras's layout); bias: (F,) or undefined.
/// Output (N, OH, OW, F). Throws ShapeError on mismatched shapes, ValueError on bad arguments.
Tensor conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias = Tensor(),
              Size2D strides = 1, Padding padding = Padding::valid, Size2D dilation = 1,
              std::int64_t groups = 1, FusedActivation activation = FusedActivation::linear);

/// 1-D convolution: x (N, L, C), kernel (k, C/groups, F), bias (F,) or undefined; padding may be
/// causal. Output (N, OL, F).
Tensor conv1d(const Tensor& x, const Tensor& kernel, const Tensor& bias = Tensor(),
              std::int64_t stride = 1, Padding padding = Padding::valid, std::int64_t dilation = 1,
              std::int64_t groups = 1, FusedActivation activation = FusedActivation::linear);

/// Max / average pooling over (H, W) of x (N, H, W, C). Padded positions never count: max ignores
/// them and the average divides by the number of real elements in the window (as Keras/TF).
Tensor max_pool2d(const Tensor& x, Size2D pool_size, Size2D strides, Padding padding);
Tensor avg_pool2d(const Tensor& x, Size2D pool_size, Size2D strides, Padding padding);
/// The same over L of x (N, L, C).
Tensor max_pool1d(const Tensor& x, std::int64_t pool_size, std::int64_t stride, Padding padding);
Tensor avg_pool1d(const Tensor& x, std::int64_t pool_size, std::int64_t stride, Padding padding);

/// Batch normalisation with batch statistics over every axis but the last (channels):
/// y = gamma·(x − mean)/sqrt(var + epsilon) + beta, var biased. gamma/beta: (C,) or undefined
/// (then 1 / 0). Fills batch_mean and batch_variance (biased), shape (C,), when they are given
/// (they are not recorded on the tape). Fused forward and backward.
Tensor batch_norm_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, double epsilon,
                           Tensor* batch_mean = nullptr, Tensor* batch_variance = nullptr);

/// Layer normalisation over the last axis: y = gamma·(x − mean)/sqrt(var + epsilon) + beta with
/// per-row statistics (variance biased). gamma/beta: (C,) or undefined. Fused forward and backward.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double epsilon);

}  // namespace lamina
