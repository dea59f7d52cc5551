// SPDX-License-Identifier: Apache-2.0
// Image padding, cropping and resizing ops (NHWC): argument checks, dispatch to the CPU kernels,
// and backward passes that are the kernels' adjoints.
#include "backend/backend.hpp"

#include <string>

#include "autograd/node.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace {

void check_image(const char* op, const Tensor& x) {
  if (x.ndim() != 4)
    throw ShapeError(std::string(op) +
                     ": input must be 4-D (batch, height, width, channels), got " +
                     x.shape().str());
}

// y (n, oh, ow, c) with y[b, i, j] = x[b, i − top, j − left] (zero outside x).
Tensor shift(const Tensor& x, std::int64_t oh, std::int64_t ow, std::int64_t top,
             std::int64_t left) {
  const Shape& s = x.shape();
  Tensor out = make_tensor({s[0], oh, ow, s[3]}, x.dtype(), x.device());
  backend::of("zero_pad2d", x).shift_window(x, top, left, out);
  if (!autograd::any_requires_grad({&x})) return out;
  const std::int64_t h = s[1], w = s[2];
  return autograd::record_fn(out, "ShiftWindow", {x}, [h, w, top, left](const Tensor& g) {
    return std::vector<Tensor>{shift(g, h, w, -top, -left)};
  });
}

}  // namespace

Tensor zero_pad2d(const Tensor& x, std::int64_t top, std::int64_t bottom, std::int64_t left,
                  std::int64_t right) {
  check_image("zero_pad2d", x);
  if (top < 0 || bottom < 0 || left < 0 || right < 0)
    throw ValueError("zero_pad2d: padding must be >= 0, got ((" + std::to_string(top) + ", " +
                     std::to_string(bottom) + "), (" + std::to_string(left) + ", " +
                     std::to_string(right) + "))");
  return shift(x, top + x.shape()[1] + bottom, left + x.shape()[2] + right, top, left);
}

Tensor crop2d(const Tensor& x, std::int64_t top, std::int64_t bottom, std::int64_t left,
              std::int64_t right) {
  check_image("crop2d", x);
  const std::string amounts = "((" + std::to_string(top) + ", " + std::to_string(bottom) + "), (" +
                              std::to_string(left) + ", " + std::to_string(right) + "))";
  if (top < 0 || bottom < 0 || left < 0 || right < 0)
    throw ValueError("crop2d: cropping must be >= 0, got " + amounts);
  const std::int64_t oh = x.shape()[1] - top - bottom, ow = x.shape()[2] - left - right;
  if (oh <= 0 || ow <= 0)
    throw ShapeError("crop2d: cropping " + amounts + " leaves nothing of input " + x.shape().str());
  return shift(x, oh, ow, -top, -left);
}

Tensor image_resize(const Tensor& x, std::int64_t height, std::int64_t width,
                    const std::string& interpolation) {
  check_image("image_resize", x);
  if (interpolation != "bilinear" && interpolation != "nearest")
    throw ValueError("image_resize: interpolation must be \"bilinear\" or \"nearest\", got \"" +
                     interpolation + "\"");
  if (height <= 0 || width <= 0)
    throw ValueError("image_resize: size must be positive, got (" + std::to_string(height) + ", " +
                     std::to_string(width) + ")");
  const Shape& s = x.shape();
  const bool bilinear = interpolation == "bilinear";
  auto rows = backend::resize_taps(s[1], height, bilinear);
  auto cols = backend::resize_taps(s[2], width, bilinear);
  backend::Backend& be = backend::of("image_resize", x);
  Tensor out = make_tensor({s[0], height, width, s[3]}, x.dtype(), x.device());
  be.resize_forward(rows, cols, x, out);
  if (!autograd::any_requires_grad({&x})) return out;
  const Shape in_shape = s;
  return autograd::record_fn(out, "ImageResize", {x}, [in_shape, rows, cols, &be](const Tensor& g) {
    Tensor dx = make_tensor(in_shape, g.dtype(), g.device());
    be.resize_backward(rows, cols, g, dx);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace lamina
