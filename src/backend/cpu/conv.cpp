// SPDX-License-Identifier: Apache-2.0
// NHWC convolution on the CPU: im2col into a cached scratch buffer, then one OpenBLAS GEMM per
// chunk of images and group. The pool parallelises the copies (im2col, col2im, epilogues); the
// GEMMs run with OpenBLAS's own threads while the pool sleeps, so one owner has the cores at a
// time.
#include "tensor/dispatch.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/conv.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/gemm.hpp"
#include "backend/cpu/parallel.hpp"

namespace lamina::cpu {
namespace {

// A scratch buffer from the host's caching allocator: the same sizes come back every step, so
// they are reused instead of faulted in again.
template <class T>
struct Scratch {
  std::size_t bytes;
  T* p;
  explicit Scratch(std::int64_t count)
      : bytes(static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * sizeof(T)),
        p(static_cast<T*>(backend::get(Device::cpu()).allocate(bytes))) {}
  ~Scratch() { backend::get(Device::cpu()).deallocate(p, bytes); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// Images per im2col chunk: as many as fit a 16 MiB column buffer (at least one). Big enough that
// the GEMM's M is in the thousands, small enough to stay near the caches.
std::int64_t images_per_chunk(const ConvGeometry& g, std::size_t elem) {
  const std::int64_t per_image =
      std::max<std::int64_t>(1, g.oh * g.ow * g.col_width()) * static_cast<std::int64_t>(elem);
  return std::clamp<std::int64_t>((std::int64_t{16} << 20) / per_image, 1,
                                  std::max<std::int64_t>(g.n, 1));
}

// col[r, (ky·kw + kx)·cg + ci] = x[img, oy·sh − pad_top + ky·dh, ox·sw − pad_left + kx·dw, c0 + ci]
// (zero outside the image), with r = ((img − n0)·oh + oy)·ow + ox.
template <class T>
void im2col(const ConvGeometry& g, const T* x, std::int64_t n0, std::int64_t count, std::int64_t c0,
            T* col) {
  const std::int64_t K = g.col_width(), cg = g.cg();
  const std::int64_t grain = std::max<std::int64_t>(2, grain_for(g.ow * K));
  parallel_for(count * g.oh, grain, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t r = b; r < e; ++r) {
      const std::int64_t img = n0 + r / g.oh, oy = r % g.oh;
      const T* xi = x + img * g.h * g.w * g.c + c0;
      T* row = col + r * g.ow * K;
      for (std::int64_t ox = 0; ox < g.ow; ++ox, row += K) {
        for (std::int64_t ky = 0; ky < g.kh; ++ky) {
          const std::int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
          T* dst = row + ky * g.kw * cg;
          if (iy < 0 || iy >= g.h) {
            std::fill(dst, dst + g.kw * cg, T(0));
            continue;
          }
          const T* xrow = xi + iy * g.w * g.c;
          if (cg == 1) {  // a first layer on grey images: single elements, no memmove calls
            for (std::int64_t kx = 0; kx < g.kw; ++kx) {
              const std::int64_t ix = ox * g.sw - g.pad_left + kx * g.dw;
              dst[kx] = ix < 0 || ix >= g.w ? T(0) : xrow[ix * g.c];
            }
            continue;
          }
          for (std::int64_t kx = 0; kx < g.kw; ++kx, dst += cg) {
            const std::int64_t ix = ox * g.sw - g.pad_left + kx * g.dw;
            if (ix < 0 || ix >= g.w)
              std::fill(dst, dst + cg, T(0));
            else
              std::copy_n(xrow + ix * g.c, cg, dst);
          }
        }
      }
    }
  });
}

// The adjoint of im2col: dx[img, iy, ix, c0 + ci] += dcol[r, (ky·kw + kx)·cg + ci] for every
// window position reading (iy, ix). Parallel over images, whose dx regions are disjoint.
template <class T>
void col2im(const ConvGeometry& g, const T* dcol, std::int64_t n0, std::int64_t count,
            std::int64_t c0, T* dx) {
  const std::int64_t K = g.col_width(), cg = g.cg();
  parallel_for(count, 1, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t i = b; i < e; ++i) {
      T* dxi = dx + (n0 + i) * g.h * g.w * g.c + c0;
      const T* row = dcol + i * g.oh * g.ow * K;
      for (std::int64_t oy = 0; oy < g.oh; ++oy) {
        for (std::int64_t ox = 0; ox < g.ow; ++ox, row += K) {
          for (std::int64_t ky = 0; ky < g.kh; ++ky) {
            const std::int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
            if (iy < 0 || iy >= g.h) continue;
            for (std::int64_t kx = 0; kx < g.kw; ++kx) {
              const std::int64_t ix = ox * g.sw - g.pad_left + kx * g.dw;
              if (ix < 0 || ix >= g.w) continue;
              const T* src = row + (ky * g.kw + kx) * cg;
              T* dst = dxi + (iy * g.w + ix) * g.c;
              for (std::int64_t ci = 0; ci < cg; ++ci) dst[ci] += src[ci];
            }
          }
        }
      }
    }
  });
}

// Depthwise convolution (one group per input channel, m = f / c filters each), directly: im2col
// with one channel per group would feed c GEMMs of width m, far from what BLAS is good at.
// y[b, oy, ox, ci·m + j] (+)= Σ_{ky,kx} x[b, iy, ix, ci] · k[ky, kx, ci·m + j] with
// iy = oy·sh − pad_top + ky·dh, ix = ox·sw − pad_left + kx·dw inside the image.
template <class T>
void depthwise_forward(const ConvGeometry& g, const T* x, const T* kernel, const T* bias, T* y) {
  const std::int64_t m = g.f / g.c;
  parallel_for(g.n * g.oh, 4, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t r = s; r < e; ++r) {
      const std::int64_t b = r / g.oh, oy = r % g.oh;
      for (std::int64_t ox = 0; ox < g.ow; ++ox) {
        T* out = y + (r * g.ow + ox) * g.f;
        if (bias)
          std::copy_n(bias, g.f, out);
        else
          std::fill(out, out + g.f, T(0));
        for (std::int64_t ky = 0; ky < g.kh; ++ky) {
          const std::int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          for (std::int64_t kx = 0; kx < g.kw; ++kx) {
            const std::int64_t ix = ox * g.sw - g.pad_left + kx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            const T* xp = x + ((b * g.h + iy) * g.w + ix) * g.c;
            const T* kp = kernel + (ky * g.kw + kx) * g.f;
            if (m == 1)  // the common case, one contiguous vector loop
              for (std::int64_t ci = 0; ci < g.c; ++ci) out[ci] += xp[ci] * kp[ci];
            else
              for (std::int64_t ci = 0; ci < g.c; ++ci)
                for (std::int64_t j = 0; j < m; ++j) out[ci * m + j] += xp[ci] * kp[ci * m + j];
          }
        }
      }
    }
  });
}

// The window walk of depthwise_forward, visiting (input pixel, kernel tap, output pixel) triples
// of images [b0, b1): fn(x offset, kernel offset, y offset), offsets at channel 0.
template <class Fn>
void depthwise_windows(const ConvGeometry& g, std::int64_t b0, std::int64_t b1, Fn fn) {
  for (std::int64_t b = b0; b < b1; ++b)
    for (std::int64_t oy = 0; oy < g.oh; ++oy)
      for (std::int64_t ox = 0; ox < g.ow; ++ox)
        for (std::int64_t ky = 0; ky < g.kh; ++ky) {
          const std::int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          for (std::int64_t kx = 0; kx < g.kw; ++kx) {
            const std::int64_t ix = ox * g.sw - g.pad_left + kx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            fn(((b * g.h + iy) * g.w + ix) * g.c, (ky * g.kw + kx) * g.f,
               ((b * g.oh + oy) * g.ow + ox) * g.f);
          }
        }
}

// dx[.., ci] = Σ dy[.., ci·m + j]·k[.., ci·m + j] (images in parallel: disjoint dx);
// dkernel[.., ci·m + j] = Σ x[.., ci]·dy[.., ci·m + j] over fixed blocks of images, summed in
// block order, so the result does not depend on the thread count.
template <class T>
void depthwise_backward(const ConvGeometry& g, const T* x, const T* kernel, const T* dy, T* dx,
                        T* dkernel) {
  const std::int64_t m = g.f / g.c, taps = g.kh * g.kw * g.f;
  if (dx)
    parallel_for(g.n, 1, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      std::fill(dx + s * g.h * g.w * g.c, dx + e * g.h * g.w * g.c, T(0));
      depthwise_windows(g, s, e, [&](std::int64_t xo, std::int64_t ko, std::int64_t yo) {
        T* d = dx + xo;
        const T *gy = dy + yo, *k = kernel + ko;
        if (m == 1)
          for (std::int64_t ci = 0; ci < g.c; ++ci) d[ci] += gy[ci] * k[ci];
        else
          for (std::int64_t ci = 0; ci < g.c; ++ci)
            for (std::int64_t j = 0; j < m; ++j) d[ci] += gy[ci * m + j] * k[ci * m + j];
      });
    });
  if (!dkernel) return;
  const std::int64_t blocks = std::clamp<std::int64_t>(g.n, 1, 16);
  const std::int64_t step = (g.n + blocks - 1) / blocks;
  std::vector<T> partial(static_cast<std::size_t>(blocks * taps), T(0));
  parallel_for(blocks, 1, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t blk = s; blk < e; ++blk) {
      T* p = partial.data() + blk * taps;
      depthwise_windows(g, blk * step, std::min(g.n, (blk + 1) * step),
                        [&](std::int64_t xo, std::int64_t ko, std::int64_t yo) {
                          T* dk = p + ko;
                          const T *xp = x + xo, *gy = dy + yo;
                          if (m == 1)
                            for (std::int64_t ci = 0; ci < g.c; ++ci) dk[ci] += xp[ci] * gy[ci];
                          else
                            for (std::int64_t ci = 0; ci < g.c; ++ci)
                              for (std::int64_t j = 0; j < m; ++j)
                                dk[ci * m + j] += xp[ci] * gy[ci * m + j];
                        });
    }
  });
  std::fill(dkernel, dkernel + taps, T(0));
  for (std::int64_t blk = 0; blk < blocks; ++blk)
    for (std::int64_t i = 0; i < taps; ++i) dkernel[i] += partial[blk * taps + i];
}

bool is_depthwise(const ConvGeometry& g) { return g.groups > 1 && g.groups == g.c; }

}  // namespace

template <class T>
void apply_epilogue(Epilogue act, T* y, std::int64_t n, std::int64_t relu_grain) {
  if (act == Epilogue::linear) return;
  const std::int64_t grain = act == Epilogue::relu ? relu_grain : (1 << 14);
  parallel_for(n, grain, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
    switch (act) {
      case Epilogue::relu:
        // NaN fails the test and stays NaN, as relu's.
        for (std::int64_t i = s; i < e; ++i) y[i] = y[i] < T(0) ? T(0) : y[i];
        break;
      case Epilogue::sigmoid:
        for (std::int64_t i = s; i < e; ++i) y[i] = T(1) / (T(1) + std::exp(-y[i]));
        break;
      case Epilogue::tanh:
        for (std::int64_t i = s; i < e; ++i) y[i] = std::tanh(y[i]);
        break;
      default:
        break;
    }
  });
}

template <class T>
void epilogue_backward(Epilogue act, const T* y, const T* dy, T* dz, std::int64_t n) {
  // relu: dz = dy·[y > 0] (NaN passes dy, as PyTorch's); sigmoid: dz = dy·y·(1 − y); tanh: dz = dy·(1 − y²).
  parallel_for(n, 1 << 14, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
    switch (act) {
      case Epilogue::relu:
        for (std::int64_t i = s; i < e; ++i) dz[i] = y[i] <= T(0) ? T(0) : dy[i];
        break;
      case Epilogue::sigmoid:
        for (std::int64_t i = s; i < e; ++i) dz[i] = dy[i] * y[i] * (T(1) - y[i]);
        break;
      case Epilogue::tanh:
        for (std::int64_t i = s; i < e; ++i) dz[i] = dy[i] * (T(1) - y[i] * y[i]);
        break;
      default:
        std::copy(dy + s, dy + e, dz + s);
    }
  });
}

template <class T>
void column_sums(const T* a, std::int64_t rows, std::int64_t cols, T* out) {
  // out[j] = Σ_blocks Σ_{i in block} a[i, j]; fixed blocks so the order never depends on timing.
  const std::int64_t blocks = std::clamp<std::int64_t>(rows / 2048, 1, 16);
  const std::int64_t step = (rows + blocks - 1) / blocks;
  std::vector<T> partial(static_cast<std::size_t>(blocks * cols), T(0));
  parallel_for(blocks, 1, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t blk = b; blk < e; ++blk) {
      T* p = partial.data() + blk * cols;
      for (std::int64_t i = blk * step; i < std::min(rows, (blk + 1) * step); ++i)
        for (std::int64_t j = 0; j < cols; ++j) p[j] += a[i * cols + j];
    }
  });
  std::fill(out, out + cols, T(0));
  for (std::int64_t blk = 0; blk < blocks; ++blk)
    for (std::int64_t j = 0; j < cols; ++j) out[j] += partial[blk * cols + j];
}

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* kernel, const T* bias, Epilogue act,
                    T* y) {
  const std::int64_t K = g.col_width(), fg = g.fg(), per_image = g.oh * g.ow;
  const std::int64_t rows = g.n * per_image;
  if (is_depthwise(g)) {
    depthwise_forward(g, x, kernel, bias, y);
    apply_epilogue(act, y, rows * g.f);
    return;
  }
  T beta = T(0);
  if (bias) {  // start from the broadcast bias; the GEMMs accumulate into it
    parallel_for(rows, grain_for(g.f), [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t r = s; r < e; ++r) std::copy_n(bias, g.f, y + r * g.f);
    });
    beta = T(1);
  }
  if (g.pointwise()) {
    // y (n·h·w, f) += x (n·h·w, c) · kernel (c, f)
    gemm(false, false, rows, g.f, g.c, T(1), x, g.c, kernel, g.f, beta, y, g.f);
  } else {
    // y[rows of the chunk, group's columns] += col (M, K) · kernel[:, group's columns] (K, fg)
    const std::int64_t chunk = images_per_chunk(g, sizeof(T));
    Scratch<T> col(chunk * per_image * K);
    for (std::int64_t n0 = 0; n0 < g.n; n0 += chunk) {
      const std::int64_t count = std::min(chunk, g.n - n0);
      for (std::int64_t gi = 0; gi < g.groups; ++gi) {
        im2col(g, x, n0, count, gi * g.cg(), col.p);
        gemm(false, false, count * per_image, fg, K, T(1), col.p, K, kernel + gi * fg, g.f, beta,
             y + n0 * per_image * g.f + gi * fg, g.f);
      }
    }
  }
  apply_epilogue(act, y, rows * g.f);
}

template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* kernel, const T* dy, T* dx,
                     T* dkernel, T* dbias) {
  const std::int64_t K = g.col_width(), fg = g.fg(), per_image = g.oh * g.ow;
  const std::int64_t rows = g.n * per_image;
  if (dbias) column_sums(dy, rows, g.f, dbias);
  if (is_depthwise(g)) {
    depthwise_backward(g, x, kernel, dy, dx, dkernel);
    return;
  }
  if (g.pointwise()) {
    // dkernel = xᵀ·dy; dx = dy·kernelᵀ
    if (dkernel) gemm(true, false, g.c, g.f, rows, T(1), x, g.c, dy, g.f, T(0), dkernel, g.f);
    if (dx) gemm(false, true, rows, g.c, g.f, T(1), dy, g.f, kernel, g.f, T(0), dx, g.c);
    return;
  }
  if (dx) {
    const std::int64_t total = g.n * g.h * g.w * g.c;
    parallel_for(total, 1 << 16,
                 [&](std::int64_t s, std::int64_t e) { std::fill(dx + s, dx + e, T(0)); });
  }
  const std::int64_t chunk = images_per_chunk(g, sizeof(T));
  Scratch<T> col(chunk * per_image * K);
  for (std::int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const std::int64_t count = std::min(chunk, g.n - n0), m = count * per_image;
    for (std::int64_t gi = 0; gi < g.groups; ++gi) {
      const T* dyc = dy + n0 * per_image * g.f + gi * fg;
      if (dkernel) {
        // dkernel[:, group] (+)= colᵀ (K, M) · dy[chunk, group] (M, fg)
        im2col(g, x, n0, count, gi * g.cg(), col.p);
        gemm(true, false, K, fg, m, T(1), col.p, K, dyc, g.f, n0 == 0 ? T(0) : T(1),
             dkernel + gi * fg, g.f);
      }
      if (dx) {
        // dcol (M, K) = dy[chunk, group] (M, fg) · kernel[:, group]ᵀ (fg, K), then col2im
        gemm(false, true, m, K, fg, T(1), dyc, g.f, kernel + gi * fg, g.f, T(0), col.p, K);
        col2im(g, col.p, n0, count, gi * g.cg(), dx);
      }
    }
  }
}

template <class T>
void conv2d_transpose_forward(const ConvGeometry& g, const T* x, const T* kernel, const T* bias,
                              Epilogue act, T* y) {
  conv2d_backward<T>(g, nullptr, kernel, x, y, nullptr, nullptr);
  const std::int64_t rows = g.n * g.h * g.w;
  if (bias)
    parallel_for(rows, 256, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t r = s; r < e; ++r)
        for (std::int64_t ci = 0; ci < g.c; ++ci) y[r * g.c + ci] += bias[ci];
    });
  apply_epilogue(act, y, rows * g.c);
}

template <class T>
void conv2d_transpose_backward(const ConvGeometry& g, const T* x, const T* kernel, const T* dy,
                               T* dx, T* dkernel, T* dbias) {
  if (dbias) column_sums(dy, g.n * g.h * g.w, g.c, dbias);
  if (dx) conv2d_forward<T>(g, dy, kernel, nullptr, Epilogue::linear, dx);
  if (dkernel) conv2d_backward<T>(g, dy, kernel, x, nullptr, dkernel, nullptr);
}

#define LAMINA_CONV_INSTANTIATE(T)                                                                 \
  template void conv2d_forward<T>(const ConvGeometry&, const T*, const T*, const T*, Epilogue,     \
                                  T*);                                                             \
  template void conv2d_backward<T>(const ConvGeometry&, const T*, const T*, const T*, T*, T*, T*); \
  template void conv2d_transpose_forward<T>(const ConvGeometry&, const T*, const T*, const T*,     \
                                            Epilogue, T*);                                         \
  template void conv2d_transpose_backward<T>(const ConvGeometry&, const T*, const T*, const T*,    \
                                             T*, T*, T*);                                          \
  template void epilogue_backward<T>(Epilogue, const T*, const T*, T*, std::int64_t);              \
  template void apply_epilogue<T>(Epilogue, T*, std::int64_t, std::int64_t);                                     \
  template void column_sums<T>(const T*, std::int64_t, std::int64_t, T*);
LAMINA_CONV_INSTANTIATE(float)
LAMINA_CONV_INSTANTIATE(double)
#undef LAMINA_CONV_INSTANTIATE

// --- the backend's convolution kernels ---------------------------------------------------------

void CpuBackend::conv2d_forward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel,
                                const Tensor& bias, Epilogue act, Tensor& y) {
  if (any_half({&x, &kernel, &bias, &y})) {
    Tensor wide_y = widened(y);
    conv2d_forward(g, widened(x), widened(kernel), widened(bias), act, wide_y);
    narrow_into(wide_y, y);
    return;
  }
  detail::dispatch_float(x.dtype(), "conv", [&](auto z) {
    using T = decltype(z);
    cpu::conv2d_forward<T>(g, backend::ptr<T>(x), backend::ptr<T>(kernel), backend::ptr<T>(bias),
                           act, backend::ptr<T>(y));
  });
}

void CpuBackend::conv2d_transpose_forward(const ConvGeometry& g, const Tensor& x,
                                          const Tensor& kernel, const Tensor& bias, Epilogue act,
                                          Tensor& y) {
  if (any_half({&x, &kernel, &bias, &y})) {
    Tensor wide_y = widened(y);
    conv2d_transpose_forward(g, widened(x), widened(kernel), widened(bias), act, wide_y);
    narrow_into(wide_y, y);
    return;
  }
  detail::dispatch_float(x.dtype(), "conv_transpose", [&](auto z) {
    using T = decltype(z);
    cpu::conv2d_transpose_forward<T>(g, backend::ptr<T>(x), backend::ptr<T>(kernel),
                                     backend::ptr<T>(bias), act, backend::ptr<T>(y));
  });
}

void CpuBackend::epilogue_backward(Epilogue act, const Tensor& y, const Tensor& g, Tensor& dz) {
  if (any_half({&y, &g, &dz})) {
    Tensor wide_dz = widened(dz);
    epilogue_backward(act, widened(y), widened(g), wide_dz);
    narrow_into(wide_dz, dz);
    return;
  }
  detail::dispatch_float(g.dtype(), "conv", [&](auto z) {
    using T = decltype(z);
    cpu::epilogue_backward<T>(act, backend::ptr<T>(y), backend::ptr<T>(g), backend::ptr<T>(dz),
                              g.numel());
  });
}

void CpuBackend::conv2d_backward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel,
                                 const Tensor& dz, Tensor& dx, Tensor& dkernel, Tensor& dbias) {
  if (any_half({&x, &kernel, &dz, &dx, &dkernel, &dbias})) {
    Tensor wide_dx = widened(dx);
    Tensor wide_dkernel = widened(dkernel);
    Tensor wide_dbias = widened(dbias);
    conv2d_backward(g, widened(x), widened(kernel), widened(dz), wide_dx, wide_dkernel, wide_dbias);
    narrow_into(wide_dx, dx);
    narrow_into(wide_dkernel, dkernel);
    narrow_into(wide_dbias, dbias);
    return;
  }
  detail::dispatch_float(dz.dtype(), "conv", [&](auto z) {
    using T = decltype(z);
    cpu::conv2d_backward<T>(g, backend::ptr<T>(x), backend::ptr<T>(kernel), backend::ptr<T>(dz),
                            backend::ptr<T>(dx), backend::ptr<T>(dkernel), backend::ptr<T>(dbias));
  });
}

void CpuBackend::conv2d_transpose_backward(const ConvGeometry& g, const Tensor& x,
                                           const Tensor& kernel, const Tensor& dz, Tensor& dx,
                                           Tensor& dkernel, Tensor& dbias) {
  if (any_half({&x, &kernel, &dz, &dx, &dkernel, &dbias})) {
    Tensor wide_dx = widened(dx);
    Tensor wide_dkernel = widened(dkernel);
    Tensor wide_dbias = widened(dbias);
    conv2d_transpose_backward(g, widened(x), widened(kernel), widened(dz), wide_dx, wide_dkernel, wide_dbias);
    narrow_into(wide_dx, dx);
    narrow_into(wide_dkernel, dkernel);
    narrow_into(wide_dbias, dbias);
    return;
  }
  detail::dispatch_float(dz.dtype(), "conv_transpose", [&](auto z) {
    using T = decltype(z);
    cpu::conv2d_transpose_backward<T>(g, backend::ptr<T>(x), backend::ptr<T>(kernel),
                                      backend::ptr<T>(dz), backend::ptr<T>(dx),
                                      backend::ptr<T>(dkernel), backend::ptr<T>(dbias));
  });
}

}  // namespace lamina::cpu
