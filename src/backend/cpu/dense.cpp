// SPDX-License-Identifier: Apache-2.0
// The host's matrix products: batched matmul and the fused dense layer (GEMM, bias and
// activation in one pass; the bias gradient in the same sweep as the activation's).
#include <algorithm>
#include <cmath>

#include "backend/cpu/conv.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/gemm.hpp"
#include "backend/cpu/parallel.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::cpu {
namespace {

using backend::Epilogue;
using backend::ptr;

// One sweep over the rows gives both the gradient at the pre-activation z and the bias
// gradient: gz = g·act'(z) (from y = act(z)); gb_j += Σ_r gz_rj (rows added in order).
template <class T>
LAMINA_KERNEL void dense_pre_activation_grad(Epilogue act, std::int64_t rows,
                                             std::int64_t units, const T* gp, const T* yp, T* d,
                                             T* gbp) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* __restrict gr = gp + r * units;
    const T* __restrict yr = yp + r * units;
    T* __restrict dr = d + r * units;
    if (act != Epilogue::linear) epilogue_backward_serial(act, yr, gr, dr, units);
    if (gbp) {
      const T* __restrict src = act == Epilogue::linear ? gr : dr;
      for (std::int64_t j = 0; j < units; ++j) gbp[j] += src[j];
    }
  }
}

}  // namespace

void CpuBackend::matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, Tensor& out) {
  if (any_half({&a, &b, &out})) {
    Tensor wide_out = widened(out);
    matmul(widened(a), widened(b), ta, tb, wide_out);
    narrow_into(wide_out, out);
    return;
  }
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::int64_t ar = sa[sa.rank() - 2], ac = sa[sa.rank() - 1];
  const std::int64_t br = sb[sb.rank() - 2], bc = sb[sb.rank() - 1];
  const std::int64_t m = ta ? ac : ar, k = ta ? ar : ac;
  const std::int64_t n = tb ? br : bc;
  std::int64_t batch = 1;
  for (int i = 0; i < sa.rank() - 2; ++i) batch *= sa[i];
  std::int64_t b_batch = 1;
  for (int i = 0; i < sb.rank() - 2; ++i) b_batch *= sb[i];
  detail::dispatch_float(a.dtype(), "matmul", [&](auto z) {
    using T = decltype(z);
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    T* pc = ptr<T>(out);
    if (b_batch == 1 && !ta) {
      // Leading axes fold into the rows: one GEMM.
      gemm(false, tb, batch * m, n, k, T(1), pa, ac, pb, bc, T(0), pc, n);
      return;
    }
    for (std::int64_t i = 0; i < batch; ++i)
      gemm(ta, tb, m, n, k, T(1), pa + i * ar * ac, ac, pb + (b_batch == 1 ? 0 : i * br * bc), bc,
           T(0), pc + i * m * n, n);
  });
}

void CpuBackend::dense_forward(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                               Epilogue act, Tensor& out) {
  if (any_half({&x, &kernel, &bias, &out})) {
    Tensor wide_out = widened(out);
    dense_forward(widened(x), widened(kernel), widened(bias), act, wide_out);
    narrow_into(wide_out, out);
    return;
  }
  const std::int64_t in = kernel.shape()[0], units = kernel.shape()[1];
  const std::int64_t rows = in ? x.numel() / in : out.numel() / std::max<std::int64_t>(units, 1);
  detail::dispatch_float(x.dtype(), "dense", [&](auto z) {
    using T = decltype(z);
    T* y = ptr<T>(out);
    T beta = T(0);
    if (bias.defined()) {
      // Start from the broadcast bias and let GEMM accumulate into it (beta = 1).
      const T* b = ptr<T>(bias);
      for (std::int64_t r = 0; r < rows; ++r) std::copy(b, b + units, y + r * units);
      beta = T(1);
    }
    gemm(false, false, rows, units, in, T(1), ptr<T>(x), in, ptr<T>(kernel), units, beta, y, units);
    // ReLU is one compare per element: a batch of MLP activations (~1e5) takes microseconds, less
    // than waking the pool while OpenBLAS's threads still hold the cores.
    apply_epilogue(act, y, rows * units, std::int64_t{1} << 20);
  });
}

void CpuBackend::dense_backward(const Tensor& x, const Tensor& kernel, const Tensor& y,
                                const Tensor& g, Epilogue act, Tensor& gx, Tensor& gk,
                                Tensor& gb) {
  if (any_half({&x, &kernel, &y, &g, &gx, &gk, &gb})) {
    Tensor wide_gx = widened(gx);
    Tensor wide_gk = widened(gk);
    Tensor wide_gb = widened(gb);
    dense_backward(widened(x), widened(kernel), widened(y), widened(g), act, wide_gx, wide_gk, wide_gb);
    narrow_into(wide_gx, gx);
    narrow_into(wide_gk, gk);
    narrow_into(wide_gb, gb);
    return;
  }
  const std::int64_t in = kernel.shape()[0], units = kernel.shape()[1];
  const std::int64_t rows = units ? g.numel() / units : 0;
  // The gradient at the pre-activation: g itself when linear, else a scratch tensor.
  Tensor gz = act == Epilogue::linear ? g : Tensor::empty(g.shape(), g.dtype(), g.device());
  detail::dispatch_float(g.dtype(), "dense", [&](auto z) {
    using T = decltype(z);
    dense_pre_activation_grad(act, rows, units, ptr<T>(g), ptr<T>(y), ptr<T>(gz), ptr<T>(gb));
    if (gx.defined())
      gemm(false, true, rows, in, units, T(1), ptr<T>(gz), units, ptr<T>(kernel), units, T(0),
           ptr<T>(gx), in);
    if (gk.defined())
      gemm(true, false, in, units, rows, T(1), ptr<T>(x), in, ptr<T>(gz), units, T(0),
           ptr<T>(gk), units);
  });
}

}  // namespace lamina::cpu
