// SPDX-License-Identifier: Apache-2.0
// Pixel-moving kernels (NHWC), threaded over images and rows.
#include "tensor/dispatch.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/resample.hpp"

#include <algorithm>
#include <cmath>

#include "backend/cpu/parallel.hpp"

namespace lamina::cpu {

template <class T>
void shift_window(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t oh,
                  std::int64_t ow, std::int64_t top, std::int64_t left, const T* x, T* y) {
  // Output columns [j0, j1) read input columns j − left inside [0, w); the rest are zero.
  const std::int64_t j0 = std::clamp<std::int64_t>(left, 0, ow);
  const std::int64_t j1 = std::clamp<std::int64_t>(w + left, j0, ow);
  parallel_for(n * oh, 16, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t r = s; r < e; ++r) {
      const std::int64_t b = r / oh, i = r % oh, src = i - top;
      T* row = y + r * ow * c;
      if (src < 0 || src >= h) {
        std::fill(row, row + ow * c, T(0));
        continue;
      }
      std::fill(row, row + j0 * c, T(0));
      std::copy_n(x + ((b * h + src) * w + (j0 - left)) * c, (j1 - j0) * c, row + j0 * c);
      std::fill(row + j1 * c, row + ow * c, T(0));
    }
  });
}

template <class T>
void resize_forward(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                    const std::vector<Tap>& rows, const std::vector<Tap>& cols, const T* x, T* y) {
  const auto oh = static_cast<std::int64_t>(rows.size());
  const auto ow = static_cast<std::int64_t>(cols.size());
  parallel_for(n * oh, 8, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t r = s; r < e; ++r) {
      const std::int64_t b = r / oh;
      const Tap& ty = rows[static_cast<std::size_t>(r % oh)];
      const T wy = static_cast<T>(ty.weight);
      const T* top = x + (b * h + ty.lo) * w * c;
      const T* bottom = x + (b * h + ty.hi) * w * c;
      T* out = y + r * ow * c;
      for (std::int64_t j = 0; j < ow; ++j, out += c) {
        const Tap& tx = cols[static_cast<std::size_t>(j)];
        const T wx = static_cast<T>(tx.weight);
        const T *a = top + tx.lo * c, *b2 = top + tx.hi * c;
        const T *d = bottom + tx.lo * c, *f = bottom + tx.hi * c;
        for (std::int64_t ch = 0; ch < c; ++ch) {
          const T upper = a[ch] + wx * (b2[ch] - a[ch]);
          const T lower = d[ch] + wx * (f[ch] - d[ch]);
          out[ch] = upper + wy * (lower - upper);
        }
      }
    }
  });
}

template <class T>
void resize_backward(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                     const std::vector<Tap>& rows, const std::vector<Tap>& cols, const T* dy,
                     T* dx) {
  const auto oh = static_cast<std::int64_t>(rows.size());
  const auto ow = static_cast<std::int64_t>(cols.size());
  // Parallel over images: each image's dx is written by one thread only.
  parallel_for(n, 1, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t b = s; b < e; ++b) {
      T* img = dx + b * h * w * c;
      std::fill(img, img + h * w * c, T(0));
      for (std::int64_t i = 0; i < oh; ++i) {
        const Tap& ty = rows[static_cast<std::size_t>(i)];
        const T wy = static_cast<T>(ty.weight);
        T* top = img + ty.lo * w * c;
        T* bottom = img + ty.hi * w * c;
        const T* g = dy + (b * oh + i) * ow * c;
        for (std::int64_t j = 0; j < ow; ++j, g += c) {
          const Tap& tx = cols[static_cast<std::size_t>(j)];
          const T wx = static_cast<T>(tx.weight);
          const T w00 = (T(1) - wy) * (T(1) - wx), w01 = (T(1) - wy) * wx;
          const T w10 = wy * (T(1) - wx), w11 = wy * wx;
          for (std::int64_t ch = 0; ch < c; ++ch) {
            top[tx.lo * c + ch] += w00 * g[ch];
            top[tx.hi * c + ch] += w01 * g[ch];
            bottom[tx.lo * c + ch] += w10 * g[ch];
            bottom[tx.hi * c + ch] += w11 * g[ch];
          }
        }
      }
    }
  });
}

#define LAMINA_RESAMPLE_INSTANTIATE(T)                                                             \
  template void shift_window<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t,            \
                                std::int64_t, std::int64_t, std::int64_t, std::int64_t, const T*,  \
                                T*);                                                               \
  template void resize_forward<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t,          \
                                  const std::vector<Tap>&, const std::vector<Tap>&, const T*, T*); \
  template void resize_backward<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t,         \
                                   const std::vector<Tap>&, const std::vector<Tap>&, const T*,     \
                                   T*);
LAMINA_RESAMPLE_INSTANTIATE(float)
LAMINA_RESAMPLE_INSTANTIATE(double)
#undef LAMINA_RESAMPLE_INSTANTIATE

// --- the backend's resampling kernels ----------------------------------------------------------

void CpuBackend::shift_window(const Tensor& x, std::int64_t top, std::int64_t left, Tensor& y) {
  if (any_half({&x, &y})) {
    Tensor wide_y = widened(y);
    shift_window(widened(x), top, left, wide_y);
    narrow_into(wide_y, y);
    return;
  }
  const Shape& s = x.shape();
  detail::dispatch_float(x.dtype(), "zero_pad2d", [&](auto z) {
    using T = decltype(z);
    cpu::shift_window<T>(s[0], s[1], s[2], s[3], y.shape()[1], y.shape()[2], top, left,
                         backend::ptr<T>(x), backend::ptr<T>(y));
  });
}

void CpuBackend::resize_forward(const std::vector<Tap>& rows, const std::vector<Tap>& cols,
                                const Tensor& x, Tensor& y) {
  if (any_half({&x, &y})) {
    Tensor wide_y = widened(y);
    resize_forward(rows, cols, widened(x), wide_y);
    narrow_into(wide_y, y);
    return;
  }
  const Shape& s = x.shape();
  detail::dispatch_float(x.dtype(), "image_resize", [&](auto z) {
    using T = decltype(z);
    cpu::resize_forward<T>(s[0], s[1], s[2], s[3], rows, cols, backend::ptr<T>(x),
                           backend::ptr<T>(y));
  });
}

void CpuBackend::resize_backward(const std::vector<Tap>& rows, const std::vector<Tap>& cols,
                                 const Tensor& dy, Tensor& dx) {
  if (any_half({&dy, &dx})) {
    Tensor wide_dx = widened(dx);
    resize_backward(rows, cols, widened(dy), wide_dx);
    narrow_into(wide_dx, dx);
    return;
  }
  const Shape& s = dx.shape();
  detail::dispatch_float(dy.dtype(), "image_resize", [&](auto z) {
    using T = decltype(z);
    cpu::resize_backward<T>(s[0], s[1], s[2], s[3], rows, cols, backend::ptr<T>(dy),
                            backend::ptr<T>(dx));
  });
}

}  // namespace lamina::cpu
