// SPDX-License-Identifier: Apache-2.0
// The host's reductions: sums in a fixed order (so never dependent on the thread count), max/min
// with their indices, and the finiteness check.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::cpu {
namespace {

using backend::ptr;

// Σ p[0..n) with eight interleaved accumulators (vectorisable, and a fixed order, so the result
// never depends on the thread count), combined pairwise.
template <class Acc, class T>
Acc row_sum(const T* p, std::int64_t n) {
  Acc a[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) a[j] += static_cast<Acc>(p[i + j]);
  for (int j = 0; i < n; ++i, ++j) a[j] += static_cast<Acc>(p[i]);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

}  // namespace

void CpuBackend::sum_axis(const Tensor& x, const AxisView& v, Tensor& out) {
  if (any_half({&x, &out})) {
    Tensor wide_out = widened(out);
    sum_axis(widened(x), v, wide_out);
    narrow_into(wide_out, out);
    return;
  }
  const std::int64_t outer = v.outer, n = v.n, inner = v.inner;
  const DType dt = out.dtype();
  fill(out, 0.0);
  detail::dispatch_all(dt, [&](auto z) {
    using T = decltype(z);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
    const T* p = ptr<T>(x);
    T* o = ptr<T>(out);
    constexpr std::int64_t kBlock = 1 << 14;
    if (inner == 1 && n >= 4 * kBlock) {
      // Long rows (a full reduction): fixed-size blocks summed in parallel, then in order.
      const std::int64_t blocks = (n + kBlock - 1) / kBlock;
      std::vector<Acc> partial(static_cast<std::size_t>(outer * blocks));
      parallel_for(outer * blocks, 1, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t k = b; k < e; ++k) {
          const std::int64_t r = k / blocks, blk = k % blocks;
          const std::int64_t begin = blk * kBlock, len = std::min(kBlock, n - begin);
          partial[k] = row_sum<Acc>(p + r * n + begin, len);
        }
      });
      for (std::int64_t r = 0; r < outer; ++r) {
        Acc acc = 0;
        for (std::int64_t blk = 0; blk < blocks; ++blk) acc += partial[r * blocks + blk];
        o[r] = static_cast<T>(acc);
      }
    } else if (inner == 1) {
      parallel_for(outer, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1)),
                        [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = b; r < e; ++r) o[r] = static_cast<T>(row_sum<Acc>(p + r * n, n));
      });
    } else {
      // Column sums: add rows into the output, vectorised along `inner`.
      parallel_for(inner, 256, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = 0; r < outer; ++r) {
          T* dst = o + r * inner;
          for (std::int64_t i = 0; i < n; ++i) {
            const T* src = p + (r * n + i) * inner;
            for (std::int64_t j = b; j < e; ++j) dst[j] += src[j];
          }
        }
      });
    }
  });
}

void CpuBackend::extreme_axis(const Tensor& x, const AxisView& v, bool is_max, Tensor& out,
                              Tensor& idx) {
  if (any_half({&x, &out, &idx})) {
    Tensor wide_out = widened(out);
    Tensor wide_idx = widened(idx);
    extreme_axis(widened(x), v, is_max, wide_out, wide_idx);
    narrow_into(wide_out, out);
    narrow_into(wide_idx, idx);
    return;
  }
  const std::int64_t outer = v.outer, n = v.n, inner = v.inner;
  detail::dispatch_all(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* p = ptr<T>(x);
    T* o = ptr<T>(out);
    std::int64_t* ix = ptr<std::int64_t>(idx);
    parallel_for(outer * inner, 1024, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t k = b; k < e; ++k) {
        std::int64_t r = k / inner, c = k % inner;
        const T* base = p + r * n * inner + c;
        T best = base[0];
        std::int64_t bi = 0;
        for (std::int64_t i = 1; i < n; ++i) {
          T v = base[i * inner];
          if (is_max ? (v > best || (v != v && best == best)) : (v < best || (v != v && best == best))) {
            best = v;
            bi = i;
          }
        }
        o[k] = best;
        ix[k] = bi;
      }
    });
  });
}

void CpuBackend::extreme_axis_backward(const Tensor& g, const Tensor& idx, const AxisView& v,
                                       Tensor& dx) {
  if (any_half({&g, &idx, &dx})) {
    Tensor wide_dx = widened(dx);
    extreme_axis_backward(widened(g), widened(idx), v, wide_dx);
    narrow_into(wide_dx, dx);
    return;
  }
  const std::int64_t outer = v.outer, n = v.n, inner = v.inner;
  detail::dispatch_float(g.dtype(), "max", [&](auto z) {
    using T = decltype(z);
    const T* gp = ptr<T>(g);
    const std::int64_t* ix = ptr<std::int64_t>(idx);
    T* d = ptr<T>(dx);
    for (std::int64_t k = 0; k < outer * inner; ++k) {
      std::int64_t r = k / inner, c = k % inner;
      d[r * n * inner + ix[k] * inner + c] = gp[k];
    }
  });
}

bool CpuBackend::all_finite(const Tensor& x) {
  if (any_half({&x})) return all_finite(widened(x));
  if (!is_floating(x.dtype())) return true;
  return detail::dispatch_float(x.dtype(), "all_finite", [&](auto z) {
    using T = decltype(z);
    const T* p = ptr<T>(x);
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  });
}

double CpuBackend::sum_of_squares(const Tensor& x) {
  return detail::dispatch_float(x.dtype(), "sum_of_squares", [&](auto z) {
    using T = decltype(z);
    const T* p = ptr<T>(x);
    double sum = 0.0;
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i) sum += static_cast<double>(p[i]) * p[i];
    return sum;
  });
}

}  // namespace lamina::cpu
