// SPDX-License-Identifier: Apache-2.0
// lamina/ops/conv3d.hpp — differentiable volumetric ops on x (N, D, H, W, C), channels last, with
// Keras's kernel layouts: convolution, transposed convolution, pooling, zero padding, cropping and
// nearest upsampling. Each is composed from the 2-D ops (depth handled by gathering depth slices),
// so autodiff gives their backward. Included by lamina/ops.hpp's users through lamina/lamina.hpp.
#pragma once

#include <cstdint>
#include <optional>

#include "lamina/ops.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// Sizes along (depth, height, width) that convert from one integer, like Keras's `int or tuple`.
struct Size3D {
  std::int64_t d = 1, h = 1, w = 1;
  Size3D() = default;
  Size3D(std::int64_t all) : d(all), h(all), w(all) {}  // NOLINT(google-explicit-constructor)
  Size3D(std::int64_t depth, std::int64_t height, std::int64_t width) : d(depth), h(height), w(width) {}
  Size2D hw() const { return {h, w}; }
  bool operator==(const Size3D&) const = default;
};

/// 3-D convolution then bias then activation. x: (N, D, H, W, C); kernel: (kd, kh, kw, C/groups,
/// F) (Keras's layout); bias: (F,) or undefined. Output (N, OD, OH, OW, F), each length Keras's
/// conv_output_length; 'same' pads TensorFlow's way on every axis. Throws ShapeError on
/// mismatched shapes or an empty output, ValueError on causal padding.
Tensor conv3d(const Tensor& x, const Tensor& kernel, const Tensor& bias = Tensor(), Size3D strides = 1,
              Padding padding = Padding::valid, Size3D dilation = 1, std::int64_t groups = 1,
              FusedActivation activation = FusedActivation::linear);

/// Transposed 3-D convolution (the input gradient of conv3d), then bias and activation, as Keras's
/// Conv3DTranspose on TensorFlow. x: (N, D, H, W, C); kernel: (kd, kh, kw, F, C) (filters before
/// inputs); bias: (F,) or undefined. Output lengths from conv_transpose_output_length.
Tensor conv3d_transpose(const Tensor& x, const Tensor& kernel, const Tensor& bias = Tensor(),
                        Size3D strides = 1, Padding padding = Padding::valid,
                        std::optional<Size3D> output_padding = {}, Size3D dilation = 1,
                        FusedActivation activation = FusedActivation::linear);

/// Max / average pooling over (D, H, W); padded positions never count (as Keras/TF).
Tensor max_pool3d(const Tensor& x, Size3D pool_size, Size3D strides, Padding padding);
Tensor avg_pool3d(const Tensor& x, Size3D pool_size, Size3D strides, Padding padding);

/// Zeros around the volume: (N, D + before.d + after.d, H + before.h + after.h, W + ..., C).
/// Amounts must be >= 0.
Tensor zero_pad3d(const Tensor& x, Size3D before, Size3D after);
/// Removes slices at the borders; must leave at least one along each axis (ShapeError otherwise).
Tensor crop3d(const Tensor& x, Size3D before, Size3D after);
/// Each element repeated size.d × size.h × size.w times: (N, D·sd, H·sh, W·sw, C).
Tensor upsample3d(const Tensor& x, Size3D size);

}  // namespace lamina
