// SPDX-License-Identifier: Apache-2.0
// The CUDA backend's own kernels: layout, elementwise, reductions, softmax and cross-entropy.
// Each mirrors the CPU kernel of the same name (src/backend/cpu/) formula for formula, so that
// the op harness can hold the two within its float32/float64 tolerances. Simple grid-stride
// loops and one thread per reduced row: correctness first, tuned kernels come with profiles from
// a GPU (bench/gpu/check.sh).
#include "backend/cuda/kernels.hpp"
#include "backend/cuda/philox_device.hpp"

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace lamina::gpu {
namespace {

using i64 = std::int64_t;

constexpr int kThreads = 256;

int blocks_for(i64 n) {
  const i64 b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

#define LAMINA_GRID_LOOP(i, n) \
  for (i64 i = blockIdx.x * i64(blockDim.x) + threadIdx.x; i < (n); i += i64(gridDim.x) * blockDim.x)

template <class F>
void launch(i64 n, cudaStream_t s, const char* what, F f);

// Element types by size, for the kernels that only move bytes.
template <int S> struct Bytes;
template <> struct Bytes<1> { using type = std::uint8_t; };
template <> struct Bytes<2> { using type = std::uint16_t; };
template <> struct Bytes<4> { using type = std::uint32_t; };
template <> struct Bytes<8> { using type = std::uint64_t; };

template <class F>
void by_size(int size, F f) {
  switch (size) {
    case 1: return f(Bytes<1>{});
    case 2: return f(Bytes<2>{});
    case 4: return f(Bytes<4>{});
    default: return f(Bytes<8>{});
  }
}

template <class F>
void by_float(Elem t, F f) {
  if (t == Elem::f64) f(double{});
  else f(float{});
}

template <class F>
void by_number(Elem t, F f) {
  switch (t) {
    case Elem::f64: return f(double{});
    case Elem::i32: return f(std::int32_t{});
    case Elem::i64: return f(std::int64_t{});
    case Elem::u8: return f(std::uint8_t{});
    default: return f(float{});
  }
}

__device__ inline i64 offset_of(i64 k, const Strided& g, const i64* stride) {
  i64 off = 0;
  for (int d = g.rank - 1; d >= 0; --d) {
    const i64 idx = k % g.shape[d];
    k /= g.shape[d];
    off += idx * stride[d];
  }
  return off;
}

// --- layout ----------------------------------------------------------------------------------

template <class T>
__global__ void fill_kernel(T* out, i64 n, T v) {
  LAMINA_GRID_LOOP(i, n) out[i] = v;
}

template <class T>
__global__ void strided_copy_kernel(const T* in, T* out, Strided g, i64 n) {
  LAMINA_GRID_LOOP(k, n) out[k] = in[offset_of(k, g, g.stride_a)];
}

__global__ void gather_rows_kernel(const char* x, const i64* rows, char* out, i64 m, i64 row_bytes) {
  LAMINA_GRID_LOOP(k, m * row_bytes) {
    const i64 i = k / row_bytes, j = k % row_bytes;
    out[k] = x[rows[i] * row_bytes + j];
  }
}

__global__ void reverse_steps_kernel(const char* x, char* out, i64 n, i64 steps, i64 step_bytes) {
  LAMINA_GRID_LOOP(k, n * steps * step_bytes) {
    const i64 j = k % step_bytes, t = (k / step_bytes) % steps, i = k / (step_bytes * steps);
    out[k] = x[(i * steps + steps - 1 - t) * step_bytes + j];
  }
}

template <class T>
__global__ void where_kernel(const std::uint8_t* c, const T* a, const T* b, T* out, i64 n) {
  LAMINA_GRID_LOOP(i, n) out[i] = c[i] ? a[i] : b[i];
}

template <class S, class T>
__global__ void cast_kernel(const S* src, T* dst, i64 n) {
  LAMINA_GRID_LOOP(i, n) dst[i] = static_cast<T>(src[i]);
}

template <class H>
__global__ void widen_kernel(const H* src, float* dst, i64 n) {
  LAMINA_GRID_LOOP(i, n) dst[i] = static_cast<float>(src[i]);
}
__device__ inline void narrow_to(float v, __half& h) { h = __float2half_rn(v); }
__device__ inline void narrow_to(float v, __nv_bfloat16& h) { h = __float2bfloat16_rn(v); }
template <class H>
__global__ void narrow_kernel(const float* src, H* dst, i64 n) {
  LAMINA_GRID_LOOP(i, n) narrow_to(src[i], dst[i]);
}

template <class T>
__global__ void scatter_add_kernel(const T* g, const i64* rows, T* dx, i64 m, i64 row) {
  LAMINA_GRID_LOOP(k, m * row) {
    const i64 i = k / row, j = k % row;
    atomicAdd(dx + rows[i] * row + j, g[k]);
  }
}

template <class T>
__global__ void one_hot_kernel(const i64* labels, T* out, i64 m, i64 depth) {
  LAMINA_GRID_LOOP(k, m * depth) out[k] = T(labels[k / depth] == k % depth ? 1 : 0);
}

// --- elementwise -----------------------------------------------------------------------------

template <class T>
__device__ inline T binary_value(int op, T x, T y) {
  switch (op) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    case 3: return x / y;
    case 4: return x >= y || x != x ? x : y;  // NaN on either side wins (CPU, NumPy)
    default: return x <= y || x != x ? x : y;
  }
}

template <class T>
__device__ inline std::uint8_t compare_value(int op, T x, T y) {
  switch (op) {
    case 6: return x == y;
    case 7: return x != y;
    case 8: return x < y;
    case 9: return x <= y;
    case 10: return x > y;
    default: return x >= y;
  }
}

template <class T>
__global__ void binary_kernel(int op, const T* a, const T* b, T* out, Strided g, i64 n) {
  LAMINA_GRID_LOOP(k, n)
  out[k] = binary_value(op, a[offset_of(k, g, g.stride_a)], b[offset_of(k, g, g.stride_b)]);
}

template <class T>
__global__ void compare_kernel(int op, const T* a, const T* b, std::uint8_t* out, Strided g, i64 n) {
  LAMINA_GRID_LOOP(k, n)
  out[k] = compare_value(op, a[offset_of(k, g, g.stride_a)], b[offset_of(k, g, g.stride_b)]);
}

__device__ inline float d_exp(float v) { return expf(v); }
__device__ inline double d_exp(double v) { return exp(v); }
__device__ inline float d_log(float v) { return logf(v); }
__device__ inline double d_log(double v) { return log(v); }
__device__ inline float d_tanh(float v) { return tanhf(v); }
__device__ inline double d_tanh(double v) { return tanh(v); }

template <class T>
__device__ inline T sigmoid_value(T v) {
  // Stable on both tails, as the CPU's.
  if (v >= 0) return T(1) / (T(1) + d_exp(-v));
  const T e = d_exp(v);
  return e / (T(1) + e);
}

// UnaryOp order: negative exp log sqrt square abs sign pow tanh sigmoid relu erf clip.
template <class T>
__device__ inline T unary_value(int op, T v, double pa, double pb) {
  switch (op) {
    case 0: return -v;
    case 1: return d_exp(v);
    case 2: return d_log(v);
    case 3: return sqrt(v);
    case 4: return v * v;
    case 5: return v < 0 ? -v : v;
    case 6: return T(v > 0 ? 1 : v < 0 ? -1 : 0);
    case 7: return static_cast<T>(pow(double(v), pa));
    case 8: return d_tanh(v);
    case 9: return sigmoid_value(v);
    case 10: return v < 0 ? T(0) : v;
    case 11: return erf(v);
    default: {
      const T lo = T(pa), hi = T(pb);
      return v < lo ? lo : v > hi ? hi : v;
    }
  }
}

template <class T>
__device__ inline T unary_derivative(int op, T v, T y, double pa, double pb) {
  switch (op) {
    case 0: return T(-1);
    case 1: return y;
    case 2: return 1 / v;
    case 3: return T(0.5) / y;
    case 4: return 2 * v;
    case 5: return T(v > 0 ? 1 : v < 0 ? -1 : 0);
    case 6: return T(0);
    case 7: return static_cast<T>(pa * pow(double(v), pa - 1));
    case 8: return 1 - y * y;
    case 9: return y * (1 - y);
    case 10: return T(v <= 0 ? 0 : 1);
    case 11: return static_cast<T>(1.1283791670955126 * exp(-double(v) * double(v)));
    default: return T(v >= T(pa) && v <= T(pb) ? 1 : 0);
  }
}

template <class T>
__global__ void unary_kernel(int op, const T* x, T* out, i64 n, double pa, double pb) {
  LAMINA_GRID_LOOP(i, n) out[i] = unary_value(op, x[i], pa, pb);
}

template <class T>
__global__ void unary_backward_kernel(int op, const T* x, const T* y, const T* g, T* dx, i64 n,
                                      double pa, double pb) {
  LAMINA_GRID_LOOP(i, n) dx[i] = g[i] * unary_derivative(op, x[i], y[i], pa, pb);
}

template <class T>
__global__ void masked_scale_kernel(const std::uint8_t* mask, T scale, const T* x, T* y, i64 n) {
  LAMINA_GRID_LOOP(i, n) y[i] = mask[i] ? x[i] * scale : T(0);
}

// Epilogue order: linear relu sigmoid tanh.
template <class T>
__global__ void bias_activation_kernel(int act, T* y, const T* bias, i64 rows, i64 units) {
  LAMINA_GRID_LOOP(k, rows * units) {
    T v = y[k];
    if (bias) v += bias[k % units];
    switch (act) {
      case 1: v = v < T(0) ? T(0) : v; break;
      case 2: v = T(1) / (T(1) + d_exp(-v)); break;
      case 3: v = d_tanh(v); break;
      default: break;
    }
    y[k] = v;
  }
}

template <class T>
__global__ void epilogue_backward_kernel(int act, const T* y, const T* g, T* dz, i64 n) {
  LAMINA_GRID_LOOP(i, n) {
    switch (act) {
      case 1: dz[i] = y[i] <= T(0) ? T(0) : g[i]; break;  // NaN passes the gradient (CPU)
      case 2: dz[i] = g[i] * y[i] * (T(1) - y[i]); break;
      case 3: dz[i] = g[i] * (T(1) - y[i] * y[i]); break;
      default: dz[i] = g[i]; break;
    }
  }
}

// --- reductions ------------------------------------------------------------------------------

template <class T> struct Acc { using type = T; };
template <> struct Acc<float> { using type = double; };
template <> struct Acc<std::int32_t> { using type = std::int32_t; };

template <class T>
__global__ void sum_axis_kernel(const T* x, T* out, i64 outer, i64 n, i64 inner) {
  LAMINA_GRID_LOOP(k, outer * inner) {
    const T* base = x + (k / inner) * n * inner + k % inner;
    typename Acc<T>::type acc = 0;
    for (i64 i = 0; i < n; ++i) acc += base[i * inner];
    out[k] = static_cast<T>(acc);
  }
}

template <class T>
__global__ void extreme_axis_kernel(const T* x, T* out, i64* index, i64 outer, i64 n, i64 inner,
                                    bool is_max) {
  LAMINA_GRID_LOOP(k, outer * inner) {
    const T* base = x + (k / inner) * n * inner + k % inner;
    T best = base[0];
    i64 bi = 0;
    for (i64 i = 1; i < n; ++i) {
      const T v = base[i * inner];
      if (is_max ? (v > best || (v != v && best == best)) : (v < best || (v != v && best == best))) {
        best = v;
        bi = i;
      }
    }
    out[k] = best;
    index[k] = bi;
  }
}

template <class T>
__global__ void extreme_backward_kernel(const T* g, const i64* index, T* dx, i64 outer, i64 n,
                                        i64 inner) {
  LAMINA_GRID_LOOP(k, outer * inner) dx[(k / inner) * n * inner + index[k] * inner + k % inner] = g[k];
}

template <class T>
__global__ void all_finite_kernel(const T* x, i64 n, int* flag) {
  LAMINA_GRID_LOOP(i, n) if (!isfinite(x[i])) *flag = 0;
}

// --- softmax and cross-entropy ---------------------------------------------------------------

template <class T>
__device__ void softmax_row(const T* xs, T* ys, i64 n, i64 inner, bool log) {
  T mx = -INFINITY;
  for (i64 i = 0; i < n; ++i) mx = fmax(mx, xs[i * inner]);
  T total = 0;
  for (i64 i = 0; i < n; ++i) {
    const T ev = d_exp(xs[i * inner] - mx);
    total += ev;
    if (!log) ys[i * inner] = ev;
  }
  if (log) {
    const T lse = mx + d_log(total);
    for (i64 i = 0; i < n; ++i) ys[i * inner] = xs[i * inner] - lse;
  } else {
    const T inv = T(1) / total;
    for (i64 i = 0; i < n; ++i) ys[i * inner] *= inv;
  }
}

template <class T>
__global__ void softmax_kernel(const T* x, T* y, i64 outer, i64 n, i64 inner, bool log) {
  LAMINA_GRID_LOOP(k, outer * inner) {
    const i64 base = (k / inner) * n * inner + k % inner;
    softmax_row(x + base, y + base, n, inner, log);
  }
}

template <class T>
__global__ void softmax_backward_kernel(const T* y, const T* g, T* dx, i64 outer, i64 n, i64 inner,
                                        bool log) {
  LAMINA_GRID_LOOP(k, outer * inner) {
    const i64 base = (k / inner) * n * inner + k % inner;
    T dot = 0;
    for (i64 i = 0; i < n; ++i) dot += log ? g[base + i * inner] : g[base + i * inner] * y[base + i * inner];
    for (i64 i = 0; i < n; ++i) {
      const i64 j = base + i * inner;
      dx[j] = log ? g[j] - d_exp(y[j]) * dot : y[j] * (g[j] - dot);
    }
  }
}

template <class T>
__global__ void sparse_ce_kernel(const T* logits, const i64* labels, T* p, T* loss, i64 rows, i64 classes) {
  LAMINA_GRID_LOOP(r, rows) {
    softmax_row(logits + r * classes, p + r * classes, classes, 1, true);
    loss[r] = -p[r * classes + labels[r]];
    for (i64 c = 0; c < classes; ++c) p[r * classes + c] = d_exp(p[r * classes + c]);
  }
}

template <class T>
__global__ void sparse_ce_backward_kernel(const T* p, const i64* labels, const T* g, T* d, i64 rows,
                                          i64 classes) {
  LAMINA_GRID_LOOP(k, rows * classes) {
    const i64 r = k / classes, c = k % classes;
    d[k] = p[k] * g[r] - (labels[r] == c ? g[r] : T(0));
  }
}

template <class T>
__global__ void ce_kernel(const T* logits, const T* t, T* logp, T* loss, i64 rows, i64 classes) {
  LAMINA_GRID_LOOP(r, rows) {
    softmax_row(logits + r * classes, logp + r * classes, classes, 1, true);
    T acc = 0;
    for (i64 c = 0; c < classes; ++c) acc -= t[r * classes + c] * logp[r * classes + c];
    loss[r] = acc;
  }
}

template <class T>
__global__ void ce_backward_kernel(const T* lp, const T* t, const T* g, T* d, T* dt, i64 rows, i64 classes) {
  LAMINA_GRID_LOOP(r, rows) {
    T tsum = 0;
    for (i64 c = 0; c < classes; ++c) tsum += t[r * classes + c];
    for (i64 c = 0; c < classes; ++c) {
      const i64 j = r * classes + c;
      if (d) d[j] = g[r] * (d_exp(lp[j]) * tsum - t[j]);
      if (dt) dt[j] = -g[r] * lp[j];
    }
  }
}

__global__ void bernoulli_kernel(std::uint64_t key, std::uint64_t offset, std::uint32_t stream, double threshold,
                                 std::uint8_t* mask, i64 n) {
  LAMINA_GRID_LOOP(i, n) mask[i] = keep(key, offset, stream, threshold, static_cast<std::uint64_t>(i));
}

// --- convolution and pooling -----------------------------------------------------------------

template <class T>
__global__ void im2col_kernel(const T* x, T* col, ConvShape g, i64 total) {
  const i64 width = g.kh * g.kw * g.c;
  LAMINA_GRID_LOOP(k, total) {
    const i64 r = k / width, q = k % width;
    const i64 ci = q % g.c, kx = (q / g.c) % g.kw, ky = q / (g.c * g.kw);
    const i64 ox = r % g.ow, oy = (r / g.ow) % g.oh, img = r / (g.ow * g.oh);
    const i64 iy = oy * g.sh - g.pad_top + ky * g.dh, ix = ox * g.sw - g.pad_left + kx * g.dw;
    col[k] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? x[((img * g.h + iy) * g.w + ix) * g.c + ci] : T(0);
  }
}

// Gathered per input element (no atomics: the same sum order on every run).
template <class T>
__global__ void col2im_kernel(const T* col, T* dx, ConvShape g, i64 total) {
  const i64 width = g.kh * g.kw * g.c;
  LAMINA_GRID_LOOP(k, total) {
    const i64 ci = k % g.c, ix = (k / g.c) % g.w, iy = (k / (g.c * g.w)) % g.h, img = k / (g.c * g.w * g.h);
    T acc = 0;
    for (i64 ky = 0; ky < g.kh; ++ky) {
      const i64 ty = iy + g.pad_top - ky * g.dh;
      if (ty < 0 || ty % g.sh) continue;
      const i64 oy = ty / g.sh;
      if (oy >= g.oh) continue;
      for (i64 kx = 0; kx < g.kw; ++kx) {
        const i64 tx = ix + g.pad_left - kx * g.dw;
        if (tx < 0 || tx % g.sw) continue;
        const i64 ox = tx / g.sw;
        if (ox >= g.ow) continue;
        acc += col[((img * g.oh + oy) * g.ow + ox) * width + (ky * g.kw + kx) * g.c + ci];
      }
    }
    dx[k] = acc;
  }
}

struct Window {
  i64 y0, y1, x0, x1;
};
__device__ inline Window window_at(const PoolShape& g, i64 oy, i64 ox) {
  const i64 ty = oy * g.sh - g.pad_top, tx = ox * g.sw - g.pad_left;
  return {ty > 0 ? ty : 0, ty + g.ph < g.h ? ty + g.ph : g.h, tx > 0 ? tx : 0, tx + g.pw < g.w ? tx + g.pw : g.w};
}

template <class T>
__global__ void max_pool_kernel(const T* x, T* y, std::int32_t* argmax, PoolShape g, i64 total) {
  LAMINA_GRID_LOOP(k, total) {
    const i64 ch = k % g.c, ox = (k / g.c) % g.ow, oy = (k / (g.c * g.ow)) % g.oh, img = k / (g.c * g.ow * g.oh);
    const Window win = window_at(g, oy, ox);
    const T* xi = x + img * g.h * g.w * g.c;
    T best = -INFINITY;
    std::int32_t at = static_cast<std::int32_t>((win.y0 * g.w + win.x0) * g.c + ch);
    for (i64 iy = win.y0; iy < win.y1; ++iy)
      for (i64 ix = win.x0; ix < win.x1; ++ix) {
        const i64 base = (iy * g.w + ix) * g.c + ch;
        const T v = xi[base];
        if (v > best || (v != v && best == best)) {  // the first NaN wins and stays (CPU)
          best = v;
          at = static_cast<std::int32_t>(base);
        }
      }
    y[k] = best;
    if (argmax) argmax[k] = at;
  }
}

// The outputs whose window holds input row (or column) i: o·s − pad ≤ i < o·s − pad + p.
__device__ inline void window_range(i64 i, i64 pad, i64 p, i64 s, i64 count, i64& lo, i64& hi) {
  const i64 a = i + pad - p + 1;
  lo = a <= 0 ? 0 : (a + s - 1) / s;
  hi = (i + pad) / s;
  if (hi >= count) hi = count - 1;
}

template <class T>
__global__ void max_pool_backward_kernel(const T* dy, const std::int32_t* argmax, T* dx, PoolShape g, i64 total) {
  LAMINA_GRID_LOOP(k, total) {
    const i64 per_image = g.h * g.w * g.c;
    const i64 img = k / per_image, within = k % per_image;
    const i64 ch = k % g.c, ix = (k / g.c) % g.w, iy = (k / (g.c * g.w)) % g.h;
    i64 oy0, oy1, ox0, ox1;
    window_range(iy, g.pad_top, g.ph, g.sh, g.oh, oy0, oy1);
    window_range(ix, g.pad_left, g.pw, g.sw, g.ow, ox0, ox1);
    T acc = 0;
    for (i64 oy = oy0; oy <= oy1; ++oy)
      for (i64 ox = ox0; ox <= ox1; ++ox) {
        const i64 o = ((img * g.oh + oy) * g.ow + ox) * g.c + ch;
        if (argmax[o] == within) acc += dy[o];
      }
    dx[k] = acc;
  }
}

template <class T>
__global__ void avg_pool_kernel(const T* x, T* y, PoolShape g, i64 total) {
  LAMINA_GRID_LOOP(k, total) {
    const i64 ch = k % g.c, ox = (k / g.c) % g.ow, oy = (k / (g.c * g.ow)) % g.oh, img = k / (g.c * g.ow * g.oh);
    const Window win = window_at(g, oy, ox);
    const T* xi = x + img * g.h * g.w * g.c;
    T acc = 0;
    for (i64 iy = win.y0; iy < win.y1; ++iy)
      for (i64 ix = win.x0; ix < win.x1; ++ix) acc += xi[(iy * g.w + ix) * g.c + ch];
    y[k] = acc * (T(1) / static_cast<T>((win.y1 - win.y0) * (win.x1 - win.x0)));
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(const T* dy, T* dx, PoolShape g, i64 total) {
  LAMINA_GRID_LOOP(k, total) {
    const i64 ch = k % g.c, ix = (k / g.c) % g.w, iy = (k / (g.c * g.w)) % g.h, img = k / (g.c * g.w * g.h);
    i64 oy0, oy1, ox0, ox1;
    window_range(iy, g.pad_top, g.ph, g.sh, g.oh, oy0, oy1);
    window_range(ix, g.pad_left, g.pw, g.sw, g.ow, ox0, ox1);
    T acc = 0;
    for (i64 oy = oy0; oy <= oy1; ++oy)
      for (i64 ox = ox0; ox <= ox1; ++ox) {
        const Window win = window_at(g, oy, ox);
        const T inv = T(1) / static_cast<T>((win.y1 - win.y0) * (win.x1 - win.x0));
        acc += dy[((img * g.oh + oy) * g.ow + ox) * g.c + ch] * inv;
      }
    dx[k] = acc;
  }
}

// --- batch normalization ---------------------------------------------------------------------

// Round-to-nearest operations that nvcc never contracts into a fused multiply-add.
__device__ inline float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ inline double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ inline float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline double div(double a, double b) { return __ddiv_rn(a, b); }
__device__ inline float root(float a) { return __fsqrt_rn(a); }
__device__ inline double root(double a) { return __dsqrt_rn(a); }


constexpr int kReduceThreads = 256;

// Σ over the block's threads of v, in a fixed tree order; every thread gets the sum.
__device__ double block_sum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

// Block j: mean_j, var_j (biased), scale_j = γ/sqrt(var + ε), shift_j = β − mean·scale, as the CPU
// rounds them.
template <class T>
__global__ void bn_stats_kernel(const T* x, const T* gamma, const T* beta, T eps, T* mean, T* var, T* scale,
                                T* shift, i64 rows, i64 c) {
  __shared__ double shared[kReduceThreads];
  const i64 j = blockIdx.x;
  double acc = 0;
  for (i64 i = threadIdx.x; i < rows; i += kReduceThreads) acc += x[i * c + j];
  const T mu = static_cast<T>(block_sum(acc, shared) / static_cast<double>(rows));
  acc = 0;
  for (i64 i = threadIdx.x; i < rows; i += kReduceThreads) {
    const double d = static_cast<double>(x[i * c + j]) - mu;
    acc += d * d;
  }
  const T v = static_cast<T>(block_sum(acc, shared) / static_cast<double>(rows));
  if (threadIdx.x == 0) {
    mean[j] = mu;
    var[j] = v;
    const T sc = (gamma ? gamma[j] : T(1)) / sqrt(v + eps);
    scale[j] = sc;
    shift[j] = sub((beta ? beta[j] : T(0)), mul(mu, sc));
  }
}

template <class T>
__global__ void bn_apply_kernel(const T* x, const T* scale, const T* shift, T* y, i64 n, i64 c) {
  LAMINA_GRID_LOOP(k, n) y[k] = add(mul(x[k], scale[k % c]), shift[k % c]);
}

// Block j: dbeta = Σ dy, dgamma = Σ dy·(x − mean)·inv_std, and dx's coefficients:
// dx = k1·dy − k2 − k3·(x − mean).
template <class T>
__global__ void bn_backward_stats_kernel(const T* x, const T* gamma, const T* mean, const T* var, T eps, const T* dy,
                                         T* dgamma, T* dbeta, T* k1, T* k2, T* k3, i64 rows, i64 c) {
  __shared__ double shared[kReduceThreads];
  const i64 j = blockIdx.x;
  double a0 = 0, a1 = 0;
  for (i64 i = threadIdx.x; i < rows; i += kReduceThreads) {
    a0 += dy[i * c + j];
    a1 += static_cast<double>(dy[i * c + j]) * (x[i * c + j] - mean[j]);
  }
  const double s0 = block_sum(a0, shared), s1 = block_sum(a1, shared);
  if (threadIdx.x == 0) {
    const double m = static_cast<double>(rows);
    const T inv_std = T(1) / sqrt(var[j] + eps);
    if (dbeta) dbeta[j] = static_cast<T>(s0);
    if (dgamma) dgamma[j] = static_cast<T>(s1 * inv_std);
    const T k = (gamma ? gamma[j] : T(1)) * inv_std;
    k1[j] = k;
    k2[j] = static_cast<T>(k * s0 / m);
    k3[j] = static_cast<T>(k * s1 * inv_std * inv_std / m);
  }
}

template <class T>
__global__ void bn_backward_apply_kernel(const T* x, const T* mean, const T* dy, const T* k1, const T* k2, const T* k3,
                                         T* dx, i64 n, i64 c) {
  LAMINA_GRID_LOOP(k, n) {
    const i64 j = k % c;
    dx[k] = sub(sub(mul(k1[j], dy[k]), k2[j]), mul(k3[j], sub(x[k], mean[j])));
  }
}

// --- optimizer updates -----------------------------------------------------------------------


template <class T>
__global__ void update_kernel(int rule, const UpdateSpan* spans, int count, i64 total, T c0, T c1, T c2,
                              T c3, bool flag) {
  LAMINA_GRID_LOOP(k, total) {
    int lo = 0, hi = count - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (spans[mid].begin <= k) lo = mid;
      else hi = mid - 1;
    }
    const UpdateSpan& sp = spans[lo];
    const i64 j = k - sp.begin;
    T* w = static_cast<T*>(sp.w);
    const T grad = static_cast<const T*>(sp.g)[j];
    if (rule == 0) {  // SGD: c0 = lr, c1 = momentum
      T* m = static_cast<T*>(sp.s[0]);
      if (!m) {
        w[j] = sub(w[j], mul(grad, c0));
      } else {
        m[j] = sub(mul(m[j], c1), mul(grad, c0));
        w[j] = flag ? add(w[j], sub(mul(m[j], c1), mul(grad, c0))) : add(w[j], m[j]);
      }
    } else {  // Adam: c0 = alpha, c1 = 1 − β1, c2 = 1 − β2, c3 = ε
      T* m = static_cast<T*>(sp.s[0]);
      T* v = static_cast<T*>(sp.s[1]);
      const T mj = add(m[j], mul(sub(grad, m[j]), c1));
      T vj = add(v[j], mul(sub(mul(grad, grad), v[j]), c2));
      m[j] = mj;
      v[j] = vj;
      if (flag) {
        T* vhat = static_cast<T*>(sp.s[2]);
        vj = vhat[j] > vj ? vhat[j] : vj;
        vhat[j] = vj;
      }
      w[j] = sub(w[j], div(mul(c0, mj), add(root(vj), c3)));
    }
  }
}

template <class F>
void launch(i64 n, cudaStream_t s, const char* what, F f) {
  if (n <= 0) return;
  f(blocks_for(n), s);
  check_launch(what);
}

}  // namespace

// --- launchers -------------------------------------------------------------------------------

void fill_bits(void* out, i64 n, int elem_size, std::uint64_t bits, cudaStream_t s) {
  by_size(elem_size, [&](auto z) {
    using T = typename decltype(z)::type;
    launch(n, s, "fill", [&](int b, cudaStream_t st) {
      fill_kernel<<<b, kThreads, 0, st>>>(static_cast<T*>(out), n, static_cast<T>(bits));
    });
  });
}

void strided_copy(const void* in, void* out, int elem_size, const Strided& g, i64 n, cudaStream_t s) {
  by_size(elem_size, [&](auto z) {
    using T = typename decltype(z)::type;
    launch(n, s, "strided copy", [&](int b, cudaStream_t st) {
      strided_copy_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(in), static_cast<T*>(out), g, n);
    });
  });
}

void gather_rows(const void* x, const i64* rows, void* out, i64 m, i64 row_bytes, cudaStream_t s) {
  launch(m * row_bytes, s, "gather_rows", [&](int b, cudaStream_t st) {
    gather_rows_kernel<<<b, kThreads, 0, st>>>(static_cast<const char*>(x), rows, static_cast<char*>(out), m, row_bytes);
  });
}

void reverse_steps(const void* x, void* out, i64 n, i64 steps, i64 step_bytes, cudaStream_t s) {
  launch(n * steps * step_bytes, s, "reverse_steps", [&](int b, cudaStream_t st) {
    reverse_steps_kernel<<<b, kThreads, 0, st>>>(static_cast<const char*>(x), static_cast<char*>(out), n, steps, step_bytes);
  });
}

void where(const std::uint8_t* cond, const void* a, const void* b, void* out, i64 n, int elem_size,
           cudaStream_t s) {
  by_size(elem_size, [&](auto z) {
    using T = typename decltype(z)::type;
    launch(n, s, "where", [&](int bl, cudaStream_t st) {
      where_kernel<<<bl, kThreads, 0, st>>>(cond, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), n);
    });
  });
}

void cast_float(Elem from, const void* src, Elem to, void* dst, i64 n, cudaStream_t s) {
  by_float(from, [&](auto zs) {
    using S = decltype(zs);
    by_float(to, [&](auto zt) {
      using T = decltype(zt);
      launch(n, s, "cast", [&](int b, cudaStream_t st) {
        cast_kernel<<<b, kThreads, 0, st>>>(static_cast<const S*>(src), static_cast<T*>(dst), n);
      });
    });
  });
}

void cast_half(Elem half, bool widen, const void* src, void* dst, i64 n, cudaStream_t s) {
  auto run = [&](auto z) {
    using H = decltype(z);
    launch(n, s, "cast", [&](int b, cudaStream_t st) {
      if (widen) widen_kernel<<<b, kThreads, 0, st>>>(static_cast<const H*>(src), static_cast<float*>(dst), n);
      else narrow_kernel<<<b, kThreads, 0, st>>>(static_cast<const float*>(src), static_cast<H*>(dst), n);
    });
  };
  if (half == Elem::bf16) run(__nv_bfloat16{});
  else run(__half{});
}

void scatter_add_rows(Elem t, const void* g, const i64* rows, void* dx, i64 m, i64 row, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(m * row, s, "scatter_add_rows", [&](int b, cudaStream_t st) {
      scatter_add_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(g), rows, static_cast<T*>(dx), m, row);
    });
  });
}

void one_hot(Elem t, const i64* labels, void* out, i64 m, i64 depth, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(m * depth, s, "one_hot", [&](int b, cudaStream_t st) {
      one_hot_kernel<<<b, kThreads, 0, st>>>(labels, static_cast<T*>(out), m, depth);
    });
  });
}

void binary(int op, Elem t, const void* a, const void* b, void* out, const Strided& g, i64 n, cudaStream_t s) {
  by_number(t, [&](auto z) {
    using T = decltype(z);
    launch(n, s, "binary", [&](int bl, cudaStream_t st) {
      if (op >= 6)
        compare_kernel<<<bl, kThreads, 0, st>>>(op, static_cast<const T*>(a), static_cast<const T*>(b),
                                                 static_cast<std::uint8_t*>(out), g, n);
      else
        binary_kernel<<<bl, kThreads, 0, st>>>(op, static_cast<const T*>(a), static_cast<const T*>(b),
                                                static_cast<T*>(out), g, n);
    });
  });
}

void unary(int op, Elem t, const void* x, void* out, i64 n, double pa, double pb, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(n, s, "unary", [&](int b, cudaStream_t st) {
      unary_kernel<<<b, kThreads, 0, st>>>(op, static_cast<const T*>(x), static_cast<T*>(out), n, pa, pb);
    });
  });
}

void unary_backward(int op, Elem t, const void* x, const void* y, const void* g, void* dx, i64 n,
                    double pa, double pb, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(n, s, "unary_backward", [&](int b, cudaStream_t st) {
      unary_backward_kernel<<<b, kThreads, 0, st>>>(op, static_cast<const T*>(x), static_cast<const T*>(y),
                                                     static_cast<const T*>(g), static_cast<T*>(dx), n, pa, pb);
    });
  });
}

void masked_scale(Elem t, const std::uint8_t* mask, double scale, const void* x, void* y, i64 n,
                  cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(n, s, "masked_scale", [&](int b, cudaStream_t st) {
      masked_scale_kernel<<<b, kThreads, 0, st>>>(mask, static_cast<T>(scale), static_cast<const T*>(x),
                                                   static_cast<T*>(y), n);
    });
  });
}

void bias_activation(int act, Elem t, void* y, const void* bias, i64 rows, i64 units, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(rows * units, s, "bias_activation", [&](int b, cudaStream_t st) {
      bias_activation_kernel<<<b, kThreads, 0, st>>>(act, static_cast<T*>(y), static_cast<const T*>(bias), rows, units);
    });
  });
}

void epilogue_backward(int act, Elem t, const void* y, const void* g, void* dz, i64 n, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(n, s, "epilogue_backward", [&](int b, cudaStream_t st) {
      epilogue_backward_kernel<<<b, kThreads, 0, st>>>(act, static_cast<const T*>(y), static_cast<const T*>(g),
                                                        static_cast<T*>(dz), n);
    });
  });
}

void sum_axis(Elem t, const void* x, void* out, i64 outer, i64 n, i64 inner, cudaStream_t s) {
  by_number(t, [&](auto z) {
    using T = decltype(z);
    launch(outer * inner, s, "sum_axis", [&](int b, cudaStream_t st) {
      sum_axis_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), static_cast<T*>(out), outer, n, inner);
    });
  });
}

void extreme_axis(Elem t, const void* x, void* out, i64* index, i64 outer, i64 n, i64 inner,
                  bool is_max, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(outer * inner, s, "extreme_axis", [&](int b, cudaStream_t st) {
      extreme_axis_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), static_cast<T*>(out), index,
                                                   outer, n, inner, is_max);
    });
  });
}

void extreme_axis_backward(Elem t, const void* g, const i64* index, void* dx, i64 outer, i64 n,
                           i64 inner, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(outer * inner, s, "extreme_axis_backward", [&](int b, cudaStream_t st) {
      extreme_backward_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(g), index, static_cast<T*>(dx),
                                                       outer, n, inner);
    });
  });
}

void all_finite(Elem t, const void* x, i64 n, int* flag, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(n, s, "all_finite", [&](int b, cudaStream_t st) {
      all_finite_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), n, flag);
    });
  });
}

void softmax(Elem t, const void* x, void* y, i64 outer, i64 n, i64 inner, bool log, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(outer * inner, s, "softmax", [&](int b, cudaStream_t st) {
      softmax_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), static_cast<T*>(y), outer, n, inner, log);
    });
  });
}

void softmax_backward(Elem t, const void* y, const void* g, void* dx, i64 outer, i64 n, i64 inner,
                      bool log, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(outer * inner, s, "softmax_backward", [&](int b, cudaStream_t st) {
      softmax_backward_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(y), static_cast<const T*>(g),
                                                       static_cast<T*>(dx), outer, n, inner, log);
    });
  });
}

void sparse_softmax_cross_entropy(Elem t, const void* logits, const i64* labels, void* probs,
                                  void* loss, i64 rows, i64 classes, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(rows, s, "sparse_softmax_cross_entropy", [&](int b, cudaStream_t st) {
      sparse_ce_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(logits), labels, static_cast<T*>(probs),
                                                static_cast<T*>(loss), rows, classes);
    });
  });
}

void sparse_softmax_cross_entropy_backward(Elem t, const void* probs, const i64* labels,
                                           const void* g, void* dx, i64 rows, i64 classes,
                                           cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(rows * classes, s, "sparse_softmax_cross_entropy_backward", [&](int b, cudaStream_t st) {
      sparse_ce_backward_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(probs), labels,
                                                         static_cast<const T*>(g), static_cast<T*>(dx), rows, classes);
    });
  });
}

void softmax_cross_entropy(Elem t, const void* logits, const void* targets, void* logp, void* loss,
                           i64 rows, i64 classes, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(rows, s, "softmax_cross_entropy", [&](int b, cudaStream_t st) {
      ce_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(logits), static_cast<const T*>(targets),
                                         static_cast<T*>(logp), static_cast<T*>(loss), rows, classes);
    });
  });
}

void softmax_cross_entropy_backward(Elem t, const void* logp, const void* targets, const void* g,
                                    void* dx, void* dt, i64 rows, i64 classes, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(rows, s, "softmax_cross_entropy_backward", [&](int b, cudaStream_t st) {
      ce_backward_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(logp), static_cast<const T*>(targets),
                                                  static_cast<const T*>(g), static_cast<T*>(dx),
                                                  static_cast<T*>(dt), rows, classes);
    });
  });
}

void apply_update(int rule, Elem t, const UpdateSpan* spans, int count, i64 total, const double c[4], bool flag,
                  cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    // The constants rounded to T on the host, as the CPU's rules convert them.
    launch(total, s, "apply_update", [&](int b, cudaStream_t st) {
      update_kernel<T><<<b, kThreads, 0, st>>>(rule, spans, count, total, static_cast<T>(c[0]), static_cast<T>(c[1]),
                                               static_cast<T>(c[2]), static_cast<T>(c[3]), flag);
    });
  });
}

void im2col(Elem t, const void* x, void* col, const ConvShape& g, cudaStream_t s) {
  const i64 total = g.n * g.oh * g.ow * g.kh * g.kw * g.c;
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(total, s, "im2col", [&](int b, cudaStream_t st) {
      im2col_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), static_cast<T*>(col), g, total);
    });
  });
}

void col2im(Elem t, const void* col, void* dx, const ConvShape& g, cudaStream_t s) {
  const i64 total = g.n * g.h * g.w * g.c;
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(total, s, "col2im", [&](int b, cudaStream_t st) {
      col2im_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(col), static_cast<T*>(dx), g, total);
    });
  });
}

void max_pool_forward(Elem t, const void* x, void* y, std::int32_t* argmax, const PoolShape& g, cudaStream_t s) {
  const i64 total = g.n * g.oh * g.ow * g.c;
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(total, s, "max_pool2d", [&](int b, cudaStream_t st) {
      max_pool_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), static_cast<T*>(y), argmax, g, total);
    });
  });
}

void max_pool_backward(Elem t, const void* dy, const std::int32_t* argmax, void* dx, const PoolShape& g,
                       cudaStream_t s) {
  const i64 total = g.n * g.h * g.w * g.c;
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(total, s, "max_pool2d_backward", [&](int b, cudaStream_t st) {
      max_pool_backward_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(dy), argmax, static_cast<T*>(dx), g,
                                                        total);
    });
  });
}

void avg_pool_forward(Elem t, const void* x, void* y, const PoolShape& g, cudaStream_t s) {
  const i64 total = g.n * g.oh * g.ow * g.c;
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(total, s, "avg_pool2d", [&](int b, cudaStream_t st) {
      avg_pool_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), static_cast<T*>(y), g, total);
    });
  });
}

void avg_pool_backward(Elem t, const void* dy, void* dx, const PoolShape& g, cudaStream_t s) {
  const i64 total = g.n * g.h * g.w * g.c;
  by_float(t, [&](auto z) {
    using T = decltype(z);
    launch(total, s, "avg_pool2d_backward", [&](int b, cudaStream_t st) {
      avg_pool_backward_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(dy), static_cast<T*>(dx), g, total);
    });
  });
}

void batch_norm_forward(Elem t, const void* x, const void* gamma, const void* beta, double eps, void* y, void* mean,
                        void* var, void* scratch, i64 rows, i64 c, cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    T* sc = static_cast<T*>(scratch);
    bn_stats_kernel<T><<<static_cast<unsigned>(c), kReduceThreads, 0, s>>>(
        static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta), static_cast<T>(eps),
        static_cast<T*>(mean), static_cast<T*>(var), sc, sc + c, rows, c);
    check_launch("batch_norm statistics");
    launch(rows * c, s, "batch_norm", [&](int b, cudaStream_t st) {
      bn_apply_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), sc, sc + c, static_cast<T*>(y), rows * c, c);
    });
  });
}

void batch_norm_backward(Elem t, const void* x, const void* gamma, const void* mean, const void* var, double eps,
                         const void* dy, void* dx, void* dgamma, void* dbeta, void* scratch, i64 rows, i64 c,
                         cudaStream_t s) {
  by_float(t, [&](auto z) {
    using T = decltype(z);
    T* k = static_cast<T*>(scratch);
    bn_backward_stats_kernel<T><<<static_cast<unsigned>(c), kReduceThreads, 0, s>>>(
        static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(mean),
        static_cast<const T*>(var), static_cast<T>(eps), static_cast<const T*>(dy), static_cast<T*>(dgamma),
        static_cast<T*>(dbeta), k, k + c, k + 2 * c, rows, c);
    check_launch("batch_norm_backward statistics");
    if (!dx) return;
    launch(rows * c, s, "batch_norm_backward", [&](int b, cudaStream_t st) {
      bn_backward_apply_kernel<<<b, kThreads, 0, st>>>(static_cast<const T*>(x), static_cast<const T*>(mean),
                                                        static_cast<const T*>(dy), k, k + c, k + 2 * c,
                                                        static_cast<T*>(dx), rows * c, c);
    });
  });
}

void bernoulli_mask(std::uint64_t key, std::uint64_t offset, std::uint32_t stream, double threshold,
                    std::uint8_t* mask, i64 n, cudaStream_t s) {
  launch(n, s, "bernoulli_mask", [&](int b, cudaStream_t st) {
    bernoulli_kernel<<<b, kThreads, 0, st>>>(key, offset, stream, threshold, mask, n);
  });
}

}  // namespace lamina::gpu
