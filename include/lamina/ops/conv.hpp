// SPDX-License-Identifier: Apache-2.0
// lamina/ops/conv.hpp — differentiable convolution, pooling, normalisation and image padding /
// resizing ops, channels last (NHWC / NLC) with Keras's weight layouts. Included by
// lamina/ops.hpp.
#pragma once

#include <cstdint>
#include <optional>
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

/// Keras's output length of a transposed convolution along an axis of length `in`:
/// valid: (in − 1)·stride + span + output_padding, where output_padding defaults to
/// max(span, stride) − span; same: in·stride, or (in − 1)·stride + span % 2 + output_padding when
/// given (span = (window − 1)·dilation + 1). `in` < 0 (unknown) gives -1.
std::int64_t conv_transpose_output_length(std::int64_t in, std::int64_t window, std::int64_t stride,
                                          Padding padding,
                                          std::optional<std::int64_t> output_padding = {},
                                          std::int64_t dilation = 1);

/// Transposed 2-D convolution (the input gradient of conv2d), then bias and activation, as Keras's
/// Conv2DTranspose on TensorFlow. x: (N, H, W, C); kernel: (kh, kw, F, C) (Keras's layout, filters
/// before inputs); bias: (F,) or undefined. Output (N, OH, OW, F) with OH, OW from
/// conv_transpose_output_length; 'same' crops TensorFlow's way (the extra row and column of an
/// uneven crop come off the bottom/right). Throws ShapeError / ValueError on bad arguments.
Tensor conv2d_transpose(const Tensor& x, const Tensor& kernel, const Tensor& bias = Tensor(),
                        Size2D strides = 1, Padding padding = Padding::valid,
                        std::optional<Size2D> output_padding = {}, Size2D dilation = 1,
                        FusedActivation activation = FusedActivation::linear);

/// Depthwise 2-D convolution: each input channel c convolved with its own `mult` filters into
/// output channels c·mult + m. x: (N, H, W, C); kernel: (kh, kw, C, mult) (Keras's layout); bias:
/// (C·mult,) or undefined. Output (N, OH, OW, C·mult), OH/OW as conv2d.
Tensor depthwise_conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias = Tensor(),
                        Size2D strides = 1, Padding padding = Padding::valid, Size2D dilation = 1,
                        FusedActivation activation = FusedActivation::linear);

/// Max / average pooling over (H, W) of x (N, H, W, C). Padded positions never count: max ignores
/// them and the average divides by the number of real elements in the window (as Keras/TF).
Tensor max_pool2d(const Tensor& x, Size2D pool_size, Size2D strides, Padding padding);
Tensor avg_pool2d(const Tensor& x, Size2D pool_size, Size2D strides, Padding padding);
/// The same over L of x (N, L, C).
Tensor max_pool1d(const Tensor& x, std::int64_t pool_size, std::int64_t stride, Padding padding);
Tensor avg_pool1d(const Tensor& x, std::int64_t pool_size, std::int64_t stride, Padding padding);

// --- padding, cropping and resizing of images x (N, H, W, C) ----------------------------------

/// Zeros around the image: (N, top + H + bottom, left + W + right, C). Amounts must be >= 0.
Tensor zero_pad2d(const Tensor& x, std::int64_t top, std::int64_t bottom, std::int64_t left,
                  std::int64_t right);
/// Removes rows and columns at the borders: (N, H − top − bottom, W − left − right, C). Amounts
/// must be >= 0 and leave at least one row and column (ShapeError otherwise).
Tensor crop2d(const Tensor& x, std::int64_t top, std::int64_t bottom, std::int64_t left,
              std::int64_t right);
/// Resizes to (N, height, width, C) as TensorFlow's tf.image.resize without antialiasing (Keras's
/// ops.image.resize): half-pixel centres, "bilinear" or "nearest" (PyTorch's interpolate with
/// align_corners=False, and mode "nearest-exact" for nearest). Throws ValueError otherwise.
Tensor image_resize(const Tensor& x, std::int64_t height, std::int64_t width,
                    const std::string& interpolation = "bilinear");

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
