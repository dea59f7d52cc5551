// SPDX-License-Identifier: Apache-2.0
// Pooling ops (NHWC): argument checks, Keras's padding rule, dispatch and backward.
#include <algorithm>
#include <string>

#include "autograd/node.hpp"
#include "backend/backend.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace {

// Same rule as convolutions: total = max((out − 1)·stride + window − in, 0), smaller half first.
std::int64_t leading_pad(std::int64_t in, std::int64_t out, std::int64_t window,
                         std::int64_t stride, Padding padding) {
  if (padding != Padding::same) return 0;
  return std::max<std::int64_t>((out - 1) * stride + window - in, 0) / 2;
}

backend::PoolGeometry geometry(const char* op, const Tensor& x, Size2D pool, Size2D strides,
                           Padding padding) {
  if (x.ndim() != 4)
    throw ShapeError(std::string(op) +
                     ": input must be 4-D (batch, height, width, channels), got " +
                     x.shape().str());
  if (pool.h < 1 || pool.w < 1 || strides.h < 1 || strides.w < 1)
    throw ValueError(std::string(op) + ": pool_size and strides must be >= 1");
  if (padding == Padding::causal)
    throw ValueError(std::string(op) + ": padding must be \"valid\" or \"same\"");
  backend::PoolGeometry g{};
  g.n = x.shape()[0], g.h = x.shape()[1], g.w = x.shape()[2], g.c = x.shape()[3];
  g.ph = pool.h, g.pw = pool.w, g.sh = strides.h, g.sw = strides.w;
  g.oh = conv_output_length(g.h, g.ph, g.sh, padding);
  g.ow = conv_output_length(g.w, g.pw, g.sw, padding);
  if (g.oh <= 0 || g.ow <= 0)
    throw ShapeError(std::string(op) + ": pool_size (" + std::to_string(pool.h) + ", " +
                     std::to_string(pool.w) + ") does not fit input " + x.shape().str() +
                     " with 'valid' padding");
  g.pad_top = leading_pad(g.h, g.oh, g.ph, g.sh, padding);
  g.pad_left = leading_pad(g.w, g.ow, g.pw, g.sw, padding);
  return g;
}

Tensor max_pool_run(const Tensor& x, const backend::PoolGeometry& g) {
  backend::Backend& be = backend::of("max_pool", x);
  Tensor out = make_tensor({g.n, g.oh, g.ow, g.c}, x.dtype(), x.device());
  const bool track = autograd::any_requires_grad({&x});
  Tensor argmax = track ? make_tensor(out.shape(), int32, x.device()) : Tensor();
  be.max_pool2d_forward(g, x, out, argmax);
  if (!track) return out;
  return autograd::record_fn(out, "MaxPool", {x}, [g, argmax, &be](const Tensor& grad) {
    Tensor dx = make_tensor({g.n, g.h, g.w, g.c}, grad.dtype(), grad.device());
    be.max_pool2d_backward(g, grad, argmax, dx);
    return std::vector<Tensor>{dx};
  });
}

Tensor avg_pool_run(const Tensor& x, const backend::PoolGeometry& g) {
  backend::Backend& be = backend::of("avg_pool", x);
  Tensor out = make_tensor({g.n, g.oh, g.ow, g.c}, x.dtype(), x.device());
  be.avg_pool2d_forward(g, x, out);
  return autograd::record_fn(out, "AvgPool", {x}, [g, &be](const Tensor& grad) {
    Tensor dx = make_tensor({g.n, g.h, g.w, g.c}, grad.dtype(), grad.device());
    be.avg_pool2d_backward(g, grad, dx);
    return std::vector<Tensor>{dx};
  });
}

Tensor as_image(const char* op, const Tensor& x) {
  if (x.ndim() != 3)
    throw ShapeError(std::string(op) + ": input must be 3-D (batch, steps, channels), got " +
                     x.shape().str());
  return x.reshape({x.shape()[0], 1, x.shape()[1], x.shape()[2]});
}

Tensor from_image(const Tensor& y) { return y.reshape({y.shape()[0], y.shape()[2], y.shape()[3]}); }

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2D pool_size, Size2D strides, Padding padding) {
  return max_pool_run(x, geometry("max_pool2d", x, pool_size, strides, padding));
}

Tensor avg_pool2d(const Tensor& x, Size2D pool_size, Size2D strides, Padding padding) {
  return avg_pool_run(x, geometry("avg_pool2d", x, pool_size, strides, padding));
}

Tensor max_pool1d(const Tensor& x, std::int64_t pool_size, std::int64_t stride, Padding padding) {
  Tensor x4 = as_image("max_pool1d", x);
  return from_image(
      max_pool_run(x4, geometry("max_pool1d", x4, {1, pool_size}, {1, stride}, padding)));
}

Tensor avg_pool1d(const Tensor& x, std::int64_t pool_size, std::int64_t stride, Padding padding) {
  Tensor x4 = as_image("avg_pool1d", x);
  return from_image(
      avg_pool_run(x4, geometry("avg_pool1d", x4, {1, pool_size}, {1, stride}, padding)));
}

}  // namespace lamina
