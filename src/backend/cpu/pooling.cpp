// SPDX-License-Identifier: Apache-2.0
// NHWC pooling on the CPU. Channels are innermost, so every window step is a contiguous,
// vectorisable pass over c values. Forward is parallel over output rows, backward over images
// (whose dx regions are disjoint, so the scatter needs no atomics).
#include "tensor/dispatch.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/pooling.hpp"

#include <algorithm>
#include <limits>

#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"

namespace lamina::cpu {
namespace {

// The window's real rows [y0, y1) and columns [x0, x1) for output (oy, ox).
struct Window {
  std::int64_t y0, y1, x0, x1;
  std::int64_t count() const { return (y1 - y0) * (x1 - x0); }
};

Window window_at(const PoolGeometry& g, std::int64_t oy, std::int64_t ox) {
  const std::int64_t ty = oy * g.sh - g.pad_top, tx = ox * g.sw - g.pad_left;
  return {std::max<std::int64_t>(ty, 0), std::min(ty + g.ph, g.h), std::max<std::int64_t>(tx, 0),
          std::min(tx + g.pw, g.w)};
}

std::int64_t row_grain(const PoolGeometry& g) {
  return grain_for(g.ow * g.c * g.ph * g.pw);
}

// One window element into the running maxima of c channels: yo = max(yo, xp), ao = where the
// maximum came from. The first NaN of the window wins and stays (max-pooling propagates NaN).
// Branch-free selects through restrict pointers: GCC vectorises this; the if with two stores it
// kept scalar.
template <class T>
LAMINA_KERNEL void max_with_argmax(const T* __restrict xp, std::int32_t base, std::int64_t c,
                                   T* __restrict yo, std::int32_t* __restrict ao) {
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const T v = xp[ch], cur = yo[ch];
    const bool take = v > cur || (v != v && cur == cur);
    yo[ch] = take ? v : cur;
    ao[ch] = take ? base + static_cast<std::int32_t>(ch) : ao[ch];
  }
}

}  // namespace

template <class T>
void max_pool2d_forward(const PoolGeometry& g, const T* x, T* y, std::int32_t* argmax) {
  // y[n, oy, ox, ch] = max over the window's real (iy, ix) of x[n, iy, ix, ch]
  parallel_for(g.n * g.oh, row_grain(g), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t r = b; r < e; ++r) {
      const std::int64_t img = r / g.oh, oy = r % g.oh;
      const T* xi = x + img * g.h * g.w * g.c;
      for (std::int64_t ox = 0; ox < g.ow; ++ox) {
        const std::int64_t o = (r * g.ow + ox) * g.c;
        T* yo = y + o;
        const Window win = window_at(g, oy, ox);
        std::fill(yo, yo + g.c, -std::numeric_limits<T>::infinity());
        if (argmax) {
          std::int32_t* ao = argmax + o;
          const auto first = static_cast<std::int32_t>((win.y0 * g.w + win.x0) * g.c);
          for (std::int64_t ch = 0; ch < g.c; ++ch) ao[ch] = first + static_cast<std::int32_t>(ch);
          for (std::int64_t iy = win.y0; iy < win.y1; ++iy)
            for (std::int64_t ix = win.x0; ix < win.x1; ++ix) {
              const std::int64_t base = (iy * g.w + ix) * g.c;
              max_with_argmax(xi + base, static_cast<std::int32_t>(base), g.c, yo, ao);
            }
        } else {
          for (std::int64_t iy = win.y0; iy < win.y1; ++iy)
            for (std::int64_t ix = win.x0; ix < win.x1; ++ix) {
              const T* xp = xi + (iy * g.w + ix) * g.c;
              for (std::int64_t ch = 0; ch < g.c; ++ch)
                yo[ch] = xp[ch] > yo[ch] || xp[ch] != xp[ch] ? xp[ch] : yo[ch];
            }
        }
      }
    }
  });
}

template <class T>
void max_pool2d_backward(const PoolGeometry& g, const T* dy, const std::int32_t* argmax, T* dx) {
  // dx[n, argmax[n, oy, ox, ch]] += dy[n, oy, ox, ch]
  const std::int64_t in_size = g.h * g.w * g.c, out_size = g.oh * g.ow * g.c;
  parallel_for(g.n, 1, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t img = b; img < e; ++img) {
      T* dxi = dx + img * in_size;
      std::fill(dxi, dxi + in_size, T(0));
      const T* dyi = dy + img * out_size;
      const std::int32_t* ai = argmax + img * out_size;
      for (std::int64_t k = 0; k < out_size; ++k) dxi[ai[k]] += dyi[k];
    }
  });
}

template <class T>
void avg_pool2d_forward(const PoolGeometry& g, const T* x, T* y) {
  // y[n, oy, ox, ch] = Σ_window x[n, iy, ix, ch] / (number of real elements in the window)
  parallel_for(g.n * g.oh, row_grain(g), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t r = b; r < e; ++r) {
      const std::int64_t img = r / g.oh, oy = r % g.oh;
      const T* xi = x + img * g.h * g.w * g.c;
      for (std::int64_t ox = 0; ox < g.ow; ++ox) {
        T* yo = y + (r * g.ow + ox) * g.c;
        const Window win = window_at(g, oy, ox);
        std::fill(yo, yo + g.c, T(0));
        for (std::int64_t iy = win.y0; iy < win.y1; ++iy)
          for (std::int64_t ix = win.x0; ix < win.x1; ++ix) {
            const T* xp = xi + (iy * g.w + ix) * g.c;
            for (std::int64_t ch = 0; ch < g.c; ++ch) yo[ch] += xp[ch];
          }
        const T inv = T(1) / static_cast<T>(win.count());
        for (std::int64_t ch = 0; ch < g.c; ++ch) yo[ch] *= inv;
      }
    }
  });
}

template <class T>
void avg_pool2d_backward(const PoolGeometry& g, const T* dy, T* dx) {
  // dx[n, iy, ix, ch] += dy[n, oy, ox, ch] / count(window) for every window holding (iy, ix)
  const std::int64_t in_size = g.h * g.w * g.c;
  parallel_for(g.n, 1, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t img = b; img < e; ++img) {
      T* dxi = dx + img * in_size;
      std::fill(dxi, dxi + in_size, T(0));
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox) {
          const T* dyo = dy + ((img * g.oh + oy) * g.ow + ox) * g.c;
          const Window win = window_at(g, oy, ox);
          const T inv = T(1) / static_cast<T>(win.count());
          for (std::int64_t iy = win.y0; iy < win.y1; ++iy)
            for (std::int64_t ix = win.x0; ix < win.x1; ++ix) {
              T* dp = dxi + (iy * g.w + ix) * g.c;
              for (std::int64_t ch = 0; ch < g.c; ++ch) dp[ch] += dyo[ch] * inv;
            }
        }
    }
  });
}

#define LAMINA_POOL_INSTANTIATE(T)                                                              \
  template void max_pool2d_forward<T>(const PoolGeometry&, const T*, T*, std::int32_t*);        \
  template void max_pool2d_backward<T>(const PoolGeometry&, const T*, const std::int32_t*, T*); \
  template void avg_pool2d_forward<T>(const PoolGeometry&, const T*, T*);                       \
  template void avg_pool2d_backward<T>(const PoolGeometry&, const T*, T*);
LAMINA_POOL_INSTANTIATE(float)
LAMINA_POOL_INSTANTIATE(double)
#undef LAMINA_POOL_INSTANTIATE

// --- the backend's pooling kernels -------------------------------------------------------------

void CpuBackend::max_pool2d_forward(const PoolGeometry& g, const Tensor& x, Tensor& y,
                                    Tensor& argmax) {
  if (any_half({&x, &y, &argmax})) {
    Tensor wide_y = widened(y);
    Tensor wide_argmax = widened(argmax);
    max_pool2d_forward(g, widened(x), wide_y, wide_argmax);
    narrow_into(wide_y, y);
    narrow_into(wide_argmax, argmax);
    return;
  }
  detail::dispatch_float(x.dtype(), "max_pool", [&](auto z) {
    using T = decltype(z);
    cpu::max_pool2d_forward<T>(g, backend::ptr<T>(x), backend::ptr<T>(y),
                               backend::ptr<std::int32_t>(argmax));
  });
}

void CpuBackend::max_pool2d_backward(const PoolGeometry& g, const Tensor& dy, const Tensor& argmax,
                                     Tensor& dx) {
  if (any_half({&dy, &argmax, &dx})) {
    Tensor wide_dx = widened(dx);
    max_pool2d_backward(g, widened(dy), widened(argmax), wide_dx);
    narrow_into(wide_dx, dx);
    return;
  }
  detail::dispatch_float(dy.dtype(), "max_pool", [&](auto z) {
    using T = decltype(z);
    cpu::max_pool2d_backward<T>(g, backend::ptr<T>(dy), backend::ptr<std::int32_t>(argmax),
                                backend::ptr<T>(dx));
  });
}

void CpuBackend::avg_pool2d_forward(const PoolGeometry& g, const Tensor& x, Tensor& y) {
  if (any_half({&x, &y})) {
    Tensor wide_y = widened(y);
    avg_pool2d_forward(g, widened(x), wide_y);
    narrow_into(wide_y, y);
    return;
  }
  detail::dispatch_float(x.dtype(), "avg_pool", [&](auto z) {
    using T = decltype(z);
    cpu::avg_pool2d_forward<T>(g, backend::ptr<T>(x), backend::ptr<T>(y));
  });
}

void CpuBackend::avg_pool2d_backward(const PoolGeometry& g, const Tensor& dy, Tensor& dx) {
  if (any_half({&dy, &dx})) {
    Tensor wide_dx = widened(dx);
    avg_pool2d_backward(g, widened(dy), wide_dx);
    narrow_into(wide_dx, dx);
    return;
  }
  detail::dispatch_float(dy.dtype(), "avg_pool", [&](auto z) {
    using T = decltype(z);
    cpu::avg_pool2d_backward<T>(g, backend::ptr<T>(dy), backend::ptr<T>(dx));
  });
}

}  // namespace lamina::cpu
