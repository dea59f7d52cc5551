// SPDX-License-Identifier: Apache-2.0
// Volumetric ops (NDHWC) composed from the 2-D ones. A 3-D window factors into its depth taps and
// a 2-D window: the depth slices each output position reads are gathered side by side along the
// channels, so one conv2d (or conv2d_transpose) over (N·OD, H, W, C·kd) with the kernel reshaped
// to (kh, kw, C·kd, F) does the whole 3-D convolution as a single GEMM per batch, and autodiff of
// take / transpose / conv2d gives its backward. Pooling, padding and cropping are separable: the
// (H, W) op on every slice, then the same op over depth with the flattened (H, W) as width.
#include "lamina/ops/conv3d.hpp"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "lamina/errors.hpp"

namespace lamina {

namespace {

void check_volume(const char* op, const Tensor& x) {
  if (x.ndim() != 5)
    throw ShapeError(std::string(op) + ": input must be 5-D (batch, depth, height, width, channels), got " +
                     x.shape().str());
}

std::string size_str(Size3D s) {
  return "(" + std::to_string(s.d) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
}

void check_positive(const char* op, const char* what, Size3D s) {
  if (s.d <= 0 || s.h <= 0 || s.w <= 0)
    throw ValueError(std::string(op) + ": " + what + " must be positive, got " + size_str(s));
}

// The depth slices read for each (sample, output position o, tap j), side by side along the
// channels: row (n·out_len + o) of the result holds x[n, source(o, j)] at channels c·taps + j
// (channel-major, so that a grouped conv2d's channel blocks stay whole), or zeros where source
// gives a position outside [0, D). Result (N·out_len, H, W, C·taps).
Tensor gather_depth(const Tensor& x, std::int64_t out_len, std::int64_t taps,
                    const std::function<std::int64_t(std::int64_t, std::int64_t)>& source) {
  const std::int64_t n = x.dim(0), d = x.dim(1), h = x.dim(2), w = x.dim(3), c = x.dim(4);
  bool identity = taps == 1 && out_len == d;
  for (std::int64_t o = 0; identity && o < out_len; ++o) identity = source(o, 0) == o;
  if (identity) return x.reshape({n * d, h, w, c});
  // One zero slice after each sample's D slices stands for every position outside the input.
  const Tensor padded = zero_pad2d(x.reshape({n, d, h * w, c}), 0, 1, 0, 0).reshape({n * (d + 1), h, w, c});
  std::vector<std::int64_t> rows;
  rows.reserve(static_cast<std::size_t>(n * out_len * taps));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t o = 0; o < out_len; ++o)
      for (std::int64_t j = 0; j < taps; ++j) {
        const std::int64_t s = source(o, j);
        rows.push_back(b * (d + 1) + (s >= 0 && s < d ? s : d));
      }
  const Tensor index = Tensor::from_vector(rows, {static_cast<std::int64_t>(rows.size())}).to(x.device());
  const Tensor slices = take(padded, index);
  if (taps == 1) return slices;
  return transpose(slices.reshape({n * out_len, taps, h, w, c}), {0, 2, 3, 4, 1})
      .reshape({n * out_len, h, w, c * taps});
}

// TensorFlow's 'same' rule for the leading padding of one axis (the extra element trails).
std::int64_t leading_pad(std::int64_t in, std::int64_t out, std::int64_t span, std::int64_t stride,
                         Padding padding) {
  return padding == Padding::same ? std::max<std::int64_t>((out - 1) * stride + span - in, 0) / 2 : 0;
}

void check_bias(const char* op, const Tensor& bias, std::int64_t filters) {
  if (bias.defined() && (bias.ndim() != 1 || bias.dim(0) != filters))
    throw ShapeError(std::string(op) + ": bias must have shape (" + std::to_string(filters) + ",), got " +
                     bias.shape().str());
}

}  // namespace

Tensor conv3d(const Tensor& x, const Tensor& kernel, const Tensor& bias, Size3D strides, Padding padding,
              Size3D dilation, std::int64_t groups, FusedActivation activation) {
  check_volume("conv3d", x);
  check_positive("conv3d", "strides", strides);
  check_positive("conv3d", "dilation", dilation);
  if (padding == Padding::causal) throw ValueError("conv3d: padding must be \"valid\" or \"same\", got \"causal\"");
  if (groups <= 0 || kernel.ndim() != 5 || kernel.dim(3) * groups != x.dim(4) || kernel.dim(4) % groups != 0)
    throw ShapeError("conv3d: kernel must be 5-D (kd, kh, kw, " + std::to_string(x.dim(4)) + "/groups, filters) with "
                     "filters divisible by groups=" + std::to_string(groups) + " for input " + x.shape().str() +
                     ", got " + kernel.shape().str());
  check_bias("conv3d", bias, kernel.dim(4));
  const std::int64_t kd = kernel.dim(0), depth = x.dim(1);
  const std::int64_t od = conv_output_length(depth, kd, strides.d, padding, dilation.d);
  if (od <= 0)
    throw ShapeError("conv3d: input " + x.shape().str() + " with kernel " + kernel.shape().str() +
                     " gives an empty output");
  const std::int64_t front = leading_pad(depth, od, (kd - 1) * dilation.d + 1, strides.d, padding);
  const Tensor slices = gather_depth(x, od, kd, [&](std::int64_t o, std::int64_t j) {
    return o * strides.d + j * dilation.d - front;
  });
  // (kd, kh, kw, C/g, F) -> (kh, kw, C/g, kd, F): channel c·kd + j meets its slice's tap j.
  const Tensor k2 = transpose(kernel, {1, 2, 3, 0, 4}).reshape({kernel.dim(1), kernel.dim(2), kernel.dim(3) * kd, kernel.dim(4)});
  const Tensor y = conv2d(slices, k2, bias, strides.hw(), padding, dilation.hw(), groups, activation);
  return y.reshape({x.dim(0), od, y.dim(1), y.dim(2), y.dim(3)});
}

Tensor conv3d_transpose(const Tensor& x, const Tensor& kernel, const Tensor& bias, Size3D strides, Padding padding,
                        std::optional<Size3D> output_padding, Size3D dilation, FusedActivation activation) {
  check_volume("conv3d_transpose", x);
  check_positive("conv3d_transpose", "strides", strides);
  check_positive("conv3d_transpose", "dilation", dilation);
  if (padding == Padding::causal)
    throw ValueError("conv3d_transpose: padding must be \"valid\" or \"same\", got \"causal\"");
  if (kernel.ndim() != 5 || kernel.dim(4) != x.dim(4))
    throw ShapeError("conv3d_transpose: kernel must be 5-D (kd, kh, kw, filters, " + std::to_string(x.dim(4)) +
                     ") for input " + x.shape().str() + ", got " + kernel.shape().str());
  check_bias("conv3d_transpose", bias, kernel.dim(3));
  const std::int64_t kd = kernel.dim(0), depth = x.dim(1), span = (kd - 1) * dilation.d + 1;
  const std::int64_t od = conv_transpose_output_length(
      depth, kd, strides.d, padding, output_padding ? std::optional<std::int64_t>(output_padding->d) : std::nullopt,
      dilation.d);
  if (od <= 0)
    throw ShapeError("conv3d_transpose: input " + x.shape().str() + " with kernel " + kernel.shape().str() +
                     " gives an empty output");
  // Output slice t is Σ over taps j of x[i] ⊛ kernel[j] where i·stride + j·dilation = t + front:
  // the conv whose input gradient this is, padded by TensorFlow's rule for an input of length od.
  const std::int64_t front = leading_pad(od, depth, span, strides.d, padding);
  const Tensor slices = gather_depth(x, od, kd, [&](std::int64_t t, std::int64_t j) -> std::int64_t {
    const std::int64_t p = t + front - j * dilation.d;
    return p >= 0 && p % strides.d == 0 ? p / strides.d : -1;
  });
  // (kd, kh, kw, F, C) -> (kh, kw, F, C, kd): input channel c·kd + j meets tap j.
  const Tensor k2 = transpose(kernel, {1, 2, 3, 4, 0}).reshape({kernel.dim(1), kernel.dim(2), kernel.dim(3), x.dim(4) * kd});
  std::optional<Size2D> op2;
  if (output_padding) op2 = output_padding->hw();
  const Tensor y = conv2d_transpose(slices, k2, bias, strides.hw(), padding, op2, dilation.hw(), activation);
  return y.reshape({x.dim(0), od, y.dim(1), y.dim(2), y.dim(3)});
}

namespace {

using Pool2D = Tensor (*)(const Tensor&, Size2D, Size2D, Padding);

// A box's max is the max over depth of the (H, W) maxima; its average likewise, since the count of
// real elements in a box is the product of the counts along each axis.
Tensor pool3d(const char* op, Pool2D pool2d, const Tensor& x, Size3D pool_size, Size3D strides, Padding padding) {
  check_volume(op, x);
  check_positive(op, "pool_size", pool_size);
  check_positive(op, "strides", strides);
  const std::int64_t n = x.dim(0), d = x.dim(1), c = x.dim(4);
  const Tensor planes = pool2d(x.reshape({n * d, x.dim(2), x.dim(3), c}), pool_size.hw(), strides.hw(), padding);
  const std::int64_t oh = planes.dim(1), ow = planes.dim(2);
  const Tensor y = pool2d(planes.reshape({n, d, oh * ow, c}), {pool_size.d, 1}, {strides.d, 1}, padding);
  return y.reshape({n, y.dim(1), oh, ow, c});
}

}  // namespace

Tensor max_pool3d(const Tensor& x, Size3D pool_size, Size3D strides, Padding padding) {
  return pool3d("max_pool3d", &max_pool2d, x, pool_size, strides, padding);
}

Tensor avg_pool3d(const Tensor& x, Size3D pool_size, Size3D strides, Padding padding) {
  return pool3d("avg_pool3d", &avg_pool2d, x, pool_size, strides, padding);
}

namespace {

using Margin2D = Tensor (*)(const Tensor&, std::int64_t, std::int64_t, std::int64_t, std::int64_t);

// The (H, W) margins on every slice, then the depth margins with (H, W) flattened.
Tensor margins3d(const char* op, Margin2D margin2d, const Tensor& x, Size3D before, Size3D after) {
  check_volume(op, x);
  if (std::min({before.d, before.h, before.w, after.d, after.h, after.w}) < 0)
    throw ValueError(std::string(op) + ": amounts must be >= 0, got " + size_str(before) + " before and " +
                     size_str(after) + " after");
  const std::int64_t n = x.dim(0), d = x.dim(1), c = x.dim(4);
  const Tensor planes = margin2d(x.reshape({n * d, x.dim(2), x.dim(3), c}), before.h, after.h, before.w, after.w);
  const std::int64_t h = planes.dim(1), w = planes.dim(2);
  const Tensor y = margin2d(planes.reshape({n, d, h * w, c}), before.d, after.d, 0, 0);
  return y.reshape({n, y.dim(1), h, w, c});
}

}  // namespace

Tensor zero_pad3d(const Tensor& x, Size3D before, Size3D after) {
  return margins3d("zero_pad3d", &zero_pad2d, x, before, after);
}

Tensor crop3d(const Tensor& x, Size3D before, Size3D after) {
  return margins3d("crop3d", &crop2d, x, before, after);
}

Tensor upsample3d(const Tensor& x, Size3D size) {
  check_volume("upsample3d", x);
  check_positive("upsample3d", "size", size);
  const std::int64_t n = x.dim(0), d = x.dim(1), h = x.dim(2), w = x.dim(3), c = x.dim(4);
  return broadcast_to(x.reshape({n, d, 1, h, 1, w, 1, c}), {n, d, size.d, h, size.h, w, size.w, c})
      .reshape({n, d * size.d, h * size.h, w * size.w, c});
}

}  // namespace lamina
