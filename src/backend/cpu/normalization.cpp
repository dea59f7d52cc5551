// SPDX-License-Identifier: Apache-2.0
// Fused batch / layer normalisation on the CPU. Per-channel sums run over fixed blocks of rows in
// parallel and are combined in block order (deterministic for a thread count), accumulated in
// double so float32 batches of any size keep their statistics exact to float precision.
#include "tensor/dispatch.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/normalization.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"

namespace lamina::cpu {
namespace {

// out[k·c + j] = Σ over rows of what body(begin, end, acc) adds into acc[k·c + j], k < nacc.
template <class F>
std::vector<double> channel_sums(std::int64_t rows, std::int64_t c, int nacc, F body) {
  const std::int64_t blocks = std::clamp<std::int64_t>(rows / 512, 1, 32);
  const std::int64_t step = (rows + blocks - 1) / blocks, width = nacc * c;
  std::vector<double> partial(static_cast<std::size_t>(blocks * width), 0.0);
  parallel_for(blocks, 1, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t blk = b; blk < e; ++blk)
      body(blk * step, std::min(rows, (blk + 1) * step), partial.data() + blk * width);
  });
  std::vector<double> out(static_cast<std::size_t>(width), 0.0);
  for (std::int64_t blk = 0; blk < blocks; ++blk)
    for (std::int64_t j = 0; j < width; ++j) out[j] += partial[blk * width + j];
  return out;
}

std::int64_t row_grain(std::int64_t c) {
  return std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(c, 1));
}

}  // namespace

template <class T>
void batch_norm_forward(std::int64_t rows, std::int64_t c, const T* x, const T* gamma,
                        const T* beta, T eps, T* y, T* mean, T* var) {
  // mean_j = Σ_i x_ij / M;  var_j = Σ_i (x_ij − mean_j)² / M  (two passes: no cancellation)
  auto s1 = channel_sums(rows, c, 1, [&](std::int64_t b, std::int64_t e, double* acc) {
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < c; ++j) acc[j] += x[i * c + j];
  });
  for (std::int64_t j = 0; j < c; ++j) mean[j] = static_cast<T>(s1[j] / static_cast<double>(rows));
  auto s2 = channel_sums(rows, c, 1, [&](std::int64_t b, std::int64_t e, double* acc) {
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < c; ++j) {
        const double d = static_cast<double>(x[i * c + j]) - mean[j];
        acc[j] += d * d;
      }
  });
  // y_ij = x_ij·scale_j + shift_j with scale = gamma/sqrt(var + eps), shift = beta − mean·scale
  std::vector<T> scale(c), shift(c);
  for (std::int64_t j = 0; j < c; ++j) {
    var[j] = static_cast<T>(s2[j] / static_cast<double>(rows));
    scale[j] = (gamma ? gamma[j] : T(1)) / std::sqrt(var[j] + eps);
    shift[j] = (beta ? beta[j] : T(0)) - mean[j] * scale[j];
  }
  parallel_for(rows, row_grain(c), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < c; ++j) y[i * c + j] = x[i * c + j] * scale[j] + shift[j];
  });
}

template <class T>
void batch_norm_backward(std::int64_t rows, std::int64_t c, const T* x, const T* gamma,
                         const T* mean, const T* var, T eps, const T* dy, T* dx, T* dgamma,
                         T* dbeta) {
  // dbeta_j = Σ_i dy_ij;  dgamma_j = Σ_i dy_ij·x̂_ij  with x̂ = (x − mean)·inv_std
  // dx_ij = gamma_j·inv_std_j·(dy_ij − dbeta_j/M − x̂_ij·dgamma_j/M)
  auto s = channel_sums(rows, c, 2, [&](std::int64_t b, std::int64_t e, double* acc) {
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < c; ++j) {
        acc[j] += dy[i * c + j];
        acc[c + j] += static_cast<double>(dy[i * c + j]) * (x[i * c + j] - mean[j]);
      }
  });
  std::vector<T> inv_std(c), k1(c), k2(c), k3(c);
  const double m = static_cast<double>(rows);
  for (std::int64_t j = 0; j < c; ++j) {
    inv_std[j] = T(1) / std::sqrt(var[j] + eps);
    dbeta[j] = static_cast<T>(s[j]);
    dgamma[j] = static_cast<T>(s[c + j] * inv_std[j]);
    // dx = k1·dy − k2 − k3·(x − mean)
    k1[j] = (gamma ? gamma[j] : T(1)) * inv_std[j];
    k2[j] = static_cast<T>(k1[j] * s[j] / m);
    k3[j] = static_cast<T>(k1[j] * s[c + j] * inv_std[j] * inv_std[j] / m);
  }
  parallel_for(rows, row_grain(c), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < c; ++j)
        dx[i * c + j] = k1[j] * dy[i * c + j] - k2[j] - k3[j] * (x[i * c + j] - mean[j]);
  });
}

template <class T>
void layer_norm_forward(std::int64_t rows, std::int64_t c, const T* x, const T* gamma,
                        const T* beta, T eps, T* y, T* mean, T* inv_std) {
  // per row: mean = Σ_j x_j / c; var = Σ_j (x_j − mean)² / c; y_j = gamma_j·x̂_j + beta_j
  parallel_for(rows, row_grain(c), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t i = b; i < e; ++i) {
      const T* xr = x + i * c;
      double s = 0, ss = 0;
      for (std::int64_t j = 0; j < c; ++j) s += xr[j];
      const double mu = s / static_cast<double>(c);
      for (std::int64_t j = 0; j < c; ++j) ss += (xr[j] - mu) * (xr[j] - mu);
      const T is = static_cast<T>(1.0 / std::sqrt(ss / static_cast<double>(c) + eps));
      mean[i] = static_cast<T>(mu);
      inv_std[i] = is;
      for (std::int64_t j = 0; j < c; ++j) {
        const T xh = (xr[j] - mean[i]) * is;
        y[i * c + j] = (gamma ? gamma[j] : T(1)) * xh + (beta ? beta[j] : T(0));
      }
    }
  });
}

template <class T>
void layer_norm_backward(std::int64_t rows, std::int64_t c, const T* x, const T* gamma,
                         const T* mean, const T* inv_std, const T* dy, T* dx, T* dgamma, T* dbeta) {
  // per row, with g_j = dy_j·gamma_j: dx_j = inv_std·(g_j − mean(g) − x̂_j·mean(g·x̂))
  parallel_for(rows, row_grain(c), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t i = b; i < e; ++i) {
      const T* xr = x + i * c;
      const T* dr = dy + i * c;
      double sg = 0, sgx = 0;
      for (std::int64_t j = 0; j < c; ++j) {
        const double g = static_cast<double>(dr[j]) * (gamma ? gamma[j] : T(1));
        sg += g;
        sgx += g * (xr[j] - mean[i]) * inv_std[i];
      }
      const T a = static_cast<T>(sg / static_cast<double>(c));
      const T bb = static_cast<T>(sgx / static_cast<double>(c));
      for (std::int64_t j = 0; j < c; ++j) {
        const T xh = (xr[j] - mean[i]) * inv_std[i];
        dx[i * c + j] = inv_std[i] * (dr[j] * (gamma ? gamma[j] : T(1)) - a - xh * bb);
      }
    }
  });
  if (!dgamma && !dbeta) return;
  // dgamma_j = Σ_rows dy·x̂;  dbeta_j = Σ_rows dy
  auto s = channel_sums(rows, c, 2, [&](std::int64_t b, std::int64_t e, double* acc) {
    for (std::int64_t i = b; i < e; ++i)
      for (std::int64_t j = 0; j < c; ++j) {
        acc[j] += static_cast<double>(dy[i * c + j]) * (x[i * c + j] - mean[i]) * inv_std[i];
        acc[c + j] += dy[i * c + j];
      }
  });
  for (std::int64_t j = 0; j < c; ++j) {
    if (dgamma) dgamma[j] = static_cast<T>(s[j]);
    if (dbeta) dbeta[j] = static_cast<T>(s[c + j]);
  }
}

#define LAMINA_NORM_INSTANTIATE(T)                                                                 \
  template void batch_norm_forward<T>(std::int64_t, std::int64_t, const T*, const T*, const T*, T, \
                                      T*, T*, T*);                                                 \
  template void batch_norm_backward<T>(std::int64_t, std::int64_t, const T*, const T*, const T*,   \
                                       const T*, T, const T*, T*, T*, T*);                         \
  template void layer_norm_forward<T>(std::int64_t, std::int64_t, const T*, const T*, const T*, T, \
                                      T*, T*, T*);                                                 \
  template void layer_norm_backward<T>(std::int64_t, std::int64_t, const T*, const T*, const T*,   \
                                       const T*, const T*, T*, T*, T*);
LAMINA_NORM_INSTANTIATE(float)
LAMINA_NORM_INSTANTIATE(double)
#undef LAMINA_NORM_INSTANTIATE

// --- the backend's normalization kernels -------------------------------------------------------

void CpuBackend::batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    double eps, Tensor& y, Tensor& mean, Tensor& var) {
  if (any_half({&x, &gamma, &beta, &y, &mean, &var})) {
    Tensor wide_y = widened(y);
    Tensor wide_mean = widened(mean);
    Tensor wide_var = widened(var);
    batch_norm_forward(widened(x), widened(gamma), widened(beta), eps, wide_y, wide_mean, wide_var);
    narrow_into(wide_y, y);
    narrow_into(wide_mean, mean);
    narrow_into(wide_var, var);
    return;
  }
  const std::int64_t c = mean.numel(), rows = c ? x.numel() / c : 0;
  detail::dispatch_float(x.dtype(), "batch_norm", [&](auto z) {
    using T = decltype(z);
    cpu::batch_norm_forward<T>(rows, c, backend::ptr<T>(x), backend::ptr<T>(gamma),
                               backend::ptr<T>(beta), static_cast<T>(eps), backend::ptr<T>(y),
                               backend::ptr<T>(mean), backend::ptr<T>(var));
  });
}

void CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                     const Tensor& var, double eps, const Tensor& dy, Tensor& dx,
                                     Tensor& dgamma, Tensor& dbeta) {
  if (any_half({&x, &gamma, &mean, &var, &dy, &dx, &dgamma, &dbeta})) {
    Tensor wide_dx = widened(dx);
    Tensor wide_dgamma = widened(dgamma);
    Tensor wide_dbeta = widened(dbeta);
    batch_norm_backward(widened(x), widened(gamma), widened(mean), widened(var), eps, widened(dy), wide_dx, wide_dgamma, wide_dbeta);
    narrow_into(wide_dx, dx);
    narrow_into(wide_dgamma, dgamma);
    narrow_into(wide_dbeta, dbeta);
    return;
  }
  const std::int64_t c = mean.numel(), rows = c ? x.numel() / c : 0;
  detail::dispatch_float(x.dtype(), "batch_norm", [&](auto z) {
    using T = decltype(z);
    cpu::batch_norm_backward<T>(rows, c, backend::ptr<T>(x), backend::ptr<T>(gamma),
                                backend::ptr<T>(mean), backend::ptr<T>(var), static_cast<T>(eps),
                                backend::ptr<T>(dy), backend::ptr<T>(dx), backend::ptr<T>(dgamma),
                                backend::ptr<T>(dbeta));
  });
}

void CpuBackend::layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    double eps, Tensor& y, Tensor& mean, Tensor& inv_std) {
  if (any_half({&x, &gamma, &beta, &y, &mean, &inv_std})) {
    Tensor wide_y = widened(y);
    Tensor wide_mean = widened(mean);
    Tensor wide_inv_std = widened(inv_std);
    layer_norm_forward(widened(x), widened(gamma), widened(beta), eps, wide_y, wide_mean, wide_inv_std);
    narrow_into(wide_y, y);
    narrow_into(wide_mean, mean);
    narrow_into(wide_inv_std, inv_std);
    return;
  }
  const std::int64_t rows = mean.numel(), c = rows ? x.numel() / rows : 0;
  detail::dispatch_float(x.dtype(), "layer_norm", [&](auto z) {
    using T = decltype(z);
    cpu::layer_norm_forward<T>(rows, c, backend::ptr<T>(x), backend::ptr<T>(gamma),
                               backend::ptr<T>(beta), static_cast<T>(eps), backend::ptr<T>(y),
                               backend::ptr<T>(mean), backend::ptr<T>(inv_std));
  });
}

void CpuBackend::layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                     const Tensor& inv_std, const Tensor& dy, Tensor& dx,
                                     Tensor& dgamma, Tensor& dbeta) {
  if (any_half({&x, &gamma, &mean, &inv_std, &dy, &dx, &dgamma, &dbeta})) {
    Tensor wide_dx = widened(dx);
    Tensor wide_dgamma = widened(dgamma);
    Tensor wide_dbeta = widened(dbeta);
    layer_norm_backward(widened(x), widened(gamma), widened(mean), widened(inv_std), widened(dy), wide_dx, wide_dgamma, wide_dbeta);
    narrow_into(wide_dx, dx);
    narrow_into(wide_dgamma, dgamma);
    narrow_into(wide_dbeta, dbeta);
    return;
  }
  const std::int64_t rows = mean.numel(), c = rows ? x.numel() / rows : 0;
  detail::dispatch_float(x.dtype(), "layer_norm", [&](auto z) {
    using T = decltype(z);
    cpu::layer_norm_backward<T>(rows, c, backend::ptr<T>(x), backend::ptr<T>(gamma),
                                backend::ptr<T>(mean), backend::ptr<T>(inv_std),
                                backend::ptr<T>(dy), backend::ptr<T>(dx), backend::ptr<T>(dgamma),
                                backend::ptr<T>(dbeta));
  });
}

}  // namespace lamina::cpu
