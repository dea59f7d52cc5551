// SPDX-License-Identifier: Apache-2.0
// Normalisation ops with fused kernels and hand-written backward: batch_norm_training (batch
// statistics over every axis but the last) and layer_norm (statistics over the last axis).
#include <string>

#include "autograd/node.hpp"
#include "backend/backend.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace {

// Checks x (..., C) against optional gamma/beta (C,) and returns C.
std::int64_t channels_of(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  if (x.ndim() < 1) throw ShapeError(std::string(op) + ": input must have a channel axis");
  const std::int64_t c = x.shape().back();
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    if (p->ndim() != 1 || p->shape()[0] != c)
      throw ShapeError(std::string(op) + ": gamma and beta must have shape (" + std::to_string(c) +
                       ",) for input " + x.shape().str() + ", got " + p->shape().str());
    if (p->dtype() != x.dtype())
      throw TypeError(std::string(op) + ": gamma/beta are " + dtype_name(p->dtype()) +
                      " but the input is " + dtype_name(x.dtype()));
  }
  return c;
}

}  // namespace

Tensor batch_norm_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, double epsilon,
                           Tensor* batch_mean, Tensor* batch_variance) {
  const std::int64_t c = channels_of("batch_norm", x, gamma, beta);
  const std::int64_t rows = c == 0 ? 0 : x.numel() / c;
  if (rows == 0)
    throw ShapeError("batch_norm: cannot take batch statistics of an empty input " +
                     x.shape().str());
  backend::Backend& be = backend::of("batch_norm", {&x, &gamma, &beta});
  const Device dev = x.device();
  Tensor out = make_tensor(x.shape(), x.dtype(), dev);
  Tensor mean = make_tensor({c}, x.dtype(), dev), var = make_tensor({c}, x.dtype(), dev);
  be.batch_norm_forward(x, gamma, beta, epsilon, out, mean, var);
  if (batch_mean) *batch_mean = mean;
  if (batch_variance) *batch_variance = var;
  if (!autograd::any_requires_grad({&x, &gamma, &beta})) return out;
  return autograd::record_fn(
      out, "BatchNorm", {x, gamma, beta},
      [x, gamma, beta, mean, var, c, epsilon, &be](const Tensor& g) {
        const Device dev = g.device();
        Tensor dx = make_tensor(x.shape(), x.dtype(), dev);
        Tensor dgamma = make_tensor({c}, x.dtype(), dev), dbeta = make_tensor({c}, x.dtype(), dev);
        be.batch_norm_backward(x, gamma, mean, var, epsilon, g, dx, dgamma, dbeta);
        return std::vector<Tensor>{dx, gamma.defined() ? dgamma : Tensor(),
                                   beta.defined() ? dbeta : Tensor()};
      });
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double epsilon) {
  const std::int64_t c = channels_of("layer_norm", x, gamma, beta);
  const std::int64_t rows = c == 0 ? 0 : x.numel() / c;
  backend::Backend& be = backend::of("layer_norm", {&x, &gamma, &beta});
  const Device dev = x.device();
  Tensor out = make_tensor(x.shape(), x.dtype(), dev);
  Tensor mean = make_tensor({rows}, x.dtype(), dev), inv_std = make_tensor({rows}, x.dtype(), dev);
  be.layer_norm_forward(x, gamma, beta, epsilon, out, mean, inv_std);
  if (!autograd::any_requires_grad({&x, &gamma, &beta})) return out;
  return autograd::record_fn(
      out, "LayerNorm", {x, gamma, beta},
      [x, gamma, beta, mean, inv_std, c, &be](const Tensor& g) {
        const Device dev = g.device();
        Tensor dx = make_tensor(x.shape(), x.dtype(), dev);
        Tensor dgamma = gamma.defined() ? make_tensor({c}, x.dtype(), dev) : Tensor();
        Tensor dbeta = beta.defined() ? make_tensor({c}, x.dtype(), dev) : Tensor();
        be.layer_norm_backward(x, gamma, mean, inv_std, g, dx, dgamma, dbeta);
        return std::vector<Tensor>{dx, dgamma, dbeta};
      });
}

}  // namespace lamina
