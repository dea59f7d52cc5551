// SPDX-License-Identifier: Apache-2.0
// Normalisation ops with fused kernels and hand-written backward: batch_norm_training (batch
// statistics over every axis but the last) and layer_norm (statistics over the last axis).
#include <string>

#include "autograd/node.hpp"
#include "backend/cpu/normalization.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/dispatch.hpp"
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

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

Tensor batch_norm_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, double epsilon,
                           Tensor* batch_mean, Tensor* batch_variance) {
  const std::int64_t c = channels_of("batch_norm", x, gamma, beta);
  const std::int64_t rows = c == 0 ? 0 : x.numel() / c;
  if (rows == 0)
    throw ShapeError("batch_norm: cannot take batch statistics of an empty input " +
                     x.shape().str());
  Tensor out = make_tensor(x.shape(), x.dtype());
  Tensor mean = make_tensor({c}, x.dtype()), var = make_tensor({c}, x.dtype());
  detail::dispatch_float(x.dtype(), "batch_norm", [&](auto z) {
    using T = decltype(z);
    cpu::batch_norm_forward<T>(rows, c, x.data<T>(), ptr_or_null<T>(gamma), ptr_or_null<T>(beta),
                               static_cast<T>(epsilon), out.data<T>(), mean.data<T>(),
                               var.data<T>());
  });
  if (batch_mean) *batch_mean = mean;
  if (batch_variance) *batch_variance = var;
  if (!autograd::any_requires_grad({&x, &gamma, &beta})) return out;
  return autograd::record_fn(
      out, "BatchNorm", {x, gamma, beta},
      [x, gamma, beta, mean, var, rows, c, epsilon](const Tensor& g) {
        Tensor dx = make_tensor(x.shape(), x.dtype());
        Tensor dgamma = make_tensor({c}, x.dtype()), dbeta = make_tensor({c}, x.dtype());
        detail::dispatch_float(x.dtype(), "batch_norm", [&](auto z) {
          using T = decltype(z);
          cpu::batch_norm_backward<T>(rows, c, x.data<T>(), ptr_or_null<T>(gamma), mean.data<T>(),
                                      var.data<T>(), static_cast<T>(epsilon), g.data<T>(),
                                      dx.data<T>(), dgamma.data<T>(), dbeta.data<T>());
        });
        return std::vector<Tensor>{dx, gamma.defined() ? dgamma : Tensor(),
                                   beta.defined() ? dbeta : Tensor()};
      });
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double epsilon) {
  const std::int64_t c = channels_of("layer_norm", x, gamma, beta);
  const std::int64_t rows = c == 0 ? 0 : x.numel() / c;
  Tensor out = make_tensor(x.shape(), x.dtype());
  Tensor mean = make_tensor({rows}, x.dtype()), inv_std = make_tensor({rows}, x.dtype());
  detail::dispatch_float(x.dtype(), "layer_norm", [&](auto z) {
    using T = decltype(z);
    cpu::layer_norm_forward<T>(rows, c, x.data<T>(), ptr_or_null<T>(gamma), ptr_or_null<T>(beta),
                               static_cast<T>(epsilon), out.data<T>(), mean.data<T>(),
                               inv_std.data<T>());
  });
  if (!autograd::any_requires_grad({&x, &gamma, &beta})) return out;
  return autograd::record_fn(
      out, "LayerNorm", {x, gamma, beta},
      [x, gamma, beta, mean, inv_std, rows, c](const Tensor& g) {
        Tensor dx = make_tensor(x.shape(), x.dtype());
        Tensor dgamma = gamma.defined() ? make_tensor({c}, x.dtype()) : Tensor();
        Tensor dbeta = beta.defined() ? make_tensor({c}, x.dtype()) : Tensor();
        detail::dispatch_float(x.dtype(), "layer_norm", [&](auto z) {
          using T = decltype(z);
          cpu::layer_norm_backward<T>(rows, c, x.data<T>(), ptr_or_null<T>(gamma), mean.data<T>(),
                                      inv_std.data<T>(), g.data<T>(), dx.data<T>(),
                                      dgamma.defined() ? dgamma.data<T>() : nullptr,
                                      dbeta.defined() ? dbeta.data<T>() : nullptr);
        });
        return std::vector<Tensor>{dx, dgamma, dbeta};
      });
}

}  // namespace lamina
