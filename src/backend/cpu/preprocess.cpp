// SPDX-License-Identifier: Apache-2.0
// Kernels of the preprocessing layers: sorted search (Discretization, IntegerLookup), integer
// hashing as TensorFlow hashes the decimal text of integers (Hashing, IntegerLookup's OOV
// buckets), and the projective image transform of the random rotation / zoom / translation
// layers (TensorFlow's ImageProjectiveTransformV3, reproduced operation for operation in float32).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/parallel.hpp"
#include "backend/cpu/widen.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::cpu {

namespace {

using backend::FillMode;
using backend::HashMethod;
using backend::ImageTransform;
using backend::SampleInterpolation;

// --- FarmHash Fingerprint64 (farmhashna::Hash64) for strings of at most 32 bytes --------------
// The decimal text of an int64 has at most 20 bytes, so the longer branches are never needed.

constexpr std::uint64_t k0 = 0xc3a5c85c97cb3127ULL;
constexpr std::uint64_t k1 = 0xb492b66fbe98f273ULL;
constexpr std::uint64_t k2 = 0x9ae16a3b2f90404fULL;

std::uint64_t fetch64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian hosts only, as lamina's files assume
  return v;
}
std::uint32_t fetch32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint64_t rotate(std::uint64_t v, int shift) { return shift == 0 ? v : (v >> shift) | (v << (64 - shift)); }
std::uint64_t shift_mix(std::uint64_t v) { return v ^ (v >> 47); }
std::uint64_t hash_len16(std::uint64_t u, std::uint64_t v, std::uint64_t mul) {
  std::uint64_t a = (u ^ v) * mul;
  a ^= a >> 47;
  std::uint64_t b = (v ^ a) * mul;
  b ^= b >> 47;
  return b * mul;
}

std::uint64_t fingerprint64(const char* s, std::size_t len) {
  if (len > 16) {  // HashLen17to32
    const std::uint64_t mul = k2 + len * 2;
    const std::uint64_t a = fetch64(s) * k1, b = fetch64(s + 8);
    const std::uint64_t c = fetch64(s + len - 8) * mul, d = fetch64(s + len - 16) * k2;
    return hash_len16(rotate(a + b, 43) + rotate(c, 30) + d, a + rotate(b + k2, 18) + c, mul);
  }
  if (len >= 8) {
    const std::uint64_t mul = k2 + len * 2;
    const std::uint64_t a = fetch64(s) + k2, b = fetch64(s + len - 8);
    return hash_len16(rotate(b, 37) * mul + a, (rotate(a, 25) + b) * mul, mul);
  }
  if (len >= 4) {
    const std::uint64_t mul = k2 + len * 2;
    const std::uint64_t a = fetch32(s);
    return hash_len16(len + (a << 3), fetch32(s + len - 4), mul);
  }
  if (len > 0) {
    const auto a = static_cast<std::uint8_t>(s[0]), b = static_cast<std::uint8_t>(s[len >> 1]),
               c = static_cast<std::uint8_t>(s[len - 1]);
    const std::uint32_t y = static_cast<std::uint32_t>(a) + (static_cast<std::uint32_t>(b) << 8);
    const std::uint32_t z = static_cast<std::uint32_t>(len) + (static_cast<std::uint32_t>(c) << 2);
    return shift_mix(y * k2 ^ z * k0) * k2;
  }
  return k2;
}

// --- SipHash-2-4 (TensorFlow's StrongKeyedHash) ------------------------------------------------

std::uint64_t rotl(std::uint64_t v, int b) { return (v << b) | (v >> (64 - b)); }

std::uint64_t siphash(std::uint64_t key0, std::uint64_t key1, const char* s, std::size_t len) {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ key0, v1 = 0x646f72616e646f6dULL ^ key1;
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ key0, v3 = 0x7465646279746573ULL ^ key1;
  auto round = [&] {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  };
  auto absorb = [&](std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  };
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) absorb(fetch64(s + i));
  std::uint64_t last = static_cast<std::uint64_t>(len & 0xff) << 56;
  for (std::size_t j = 0; i + j < len; ++j) last |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(s[i + j])) << (8 * j);
  absorb(last);
  v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

// --- the projective transform --------------------------------------------------------------------

// Where an output coordinate reads along an axis of `len` pixels (TensorFlow's MapCoordinate,
// which follows scipy.ndimage; the reflect branch keeps TensorFlow's always-true `< sz2` test).
float map_coordinate(FillMode mode, float in, std::int64_t len) {
  const auto top = static_cast<float>(len - 1);
  switch (mode) {
    case FillMode::reflect:
      if (in < 0) {
        if (len <= 1) {
          in = 0;
        } else {
          const std::int64_t sz2 = 2 * len;
          if (in < static_cast<float>(sz2))
            in = static_cast<float>(sz2 * static_cast<std::int64_t>(-in / static_cast<float>(sz2))) + in;
          in = in < static_cast<float>(-len) ? in + static_cast<float>(sz2) : -in - 1;
        }
      } else if (in > top) {
        if (len <= 1) {
          in = 0;
        } else {
          const std::int64_t sz2 = 2 * len;
          in -= static_cast<float>(sz2 * static_cast<std::int64_t>(in / static_cast<float>(sz2)));
          if (in >= static_cast<float>(len)) in = static_cast<float>(sz2) - in - 1;
        }
      }
      return std::clamp(in, 0.0f, top);
    case FillMode::wrap:
      if (in < 0) {
        if (len <= 1) {
          in = 0;
        } else {
          const std::int64_t sz = len - 1;
          in += static_cast<float>(len * (static_cast<std::int64_t>(-in / static_cast<float>(sz)) + 1));
        }
      } else if (in > top) {
        if (len <= 1) {
          in = 0;
        } else {
          const std::int64_t sz = len - 1;
          in -= static_cast<float>(len * static_cast<std::int64_t>(in / static_cast<float>(sz)));
        }
      }
      return std::clamp(in, 0.0f, top);
    case FillMode::nearest:
      return std::clamp(in, 0.0f, top);
    case FillMode::constant:
      break;
  }
  return in;
}

// The input pixels (row, column) that output pixel (i, j) of image b reads, and the blend
// weights along x and y; a row of -1 reads the fill value. Bilinear reads four pixels (row-major
// 2×2), nearest one.
struct Taps {
  std::int64_t row[4], col[4];
  float wx[2] = {1, 0}, wy[2] = {1, 0};
  int count = 0;
  bool fill_only = false;  // the projection is infinite: the fill value alone
  // The weight of tap q (the adjoint's factor).
  float weight(int q) const { return count == 1 ? 1.f : wy[q / 2] * wx[q % 2]; }
};

Taps taps_of(const ImageTransform& t, std::int64_t b, std::int64_t i, std::int64_t j, std::int64_t h,
             std::int64_t w) {
  Taps k;
  const float* m = t.coefficients.data() + (t.coefficients.size() == 8 ? 0 : 8 * b);
  const auto ox = static_cast<float>(j), oy = static_cast<float>(i);
  const float projection = m[6] * ox + m[7] * oy + 1.f;
  if (projection == 0) {
    k.fill_only = true;
    return k;
  }
  const float x = map_coordinate(t.fill_mode, (m[0] * ox + m[1] * oy + m[2]) / projection, w);
  const float y = map_coordinate(t.fill_mode, (m[3] * ox + m[4] * oy + m[5]) / projection, h);
  auto add = [&](float r, float c) {
    const auto ri = static_cast<std::int64_t>(r), ci = static_cast<std::int64_t>(c);
    const bool inside = 0 <= ri && ri < h && 0 <= ci && ci < w;
    k.row[k.count] = inside ? ri : -1;
    k.col[k.count++] = inside ? ci : -1;
  };
  if (t.interpolation == SampleInterpolation::nearest) {
    add(std::round(y), std::round(x));
    return k;
  }
  const float y0 = std::floor(y), x0 = std::floor(x), y1 = y0 + 1, x1 = x0 + 1;
  add(y0, x0);
  add(y0, x1);
  add(y1, x0);
  add(y1, x1);
  k.wx[0] = x1 - x, k.wx[1] = x - x0, k.wy[0] = y1 - y, k.wy[1] = y - y0;
  return k;
}

template <class T>
void affine_forward(const ImageTransform& t, std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                    const T* x, T* y) {
  // float32 images blend in float as TensorFlow does; float64 ones keep their precision.
  using Acc = std::conditional_t<std::is_same_v<T, float>, float, double>;
  const auto fill = static_cast<Acc>(static_cast<T>(t.fill_value));
  parallel_for(n * h, 4, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t r = s; r < e; ++r) {
      const std::int64_t b = r / h, i = r % h;
      for (std::int64_t j = 0; j < w; ++j) {
        T* out = y + ((b * h + i) * w + j) * c;
        const Taps k = taps_of(t, b, i, j, h, w);
        for (std::int64_t ch = 0; ch < c; ++ch) {
          auto read = [&](int q) {
            return k.row[q] < 0 ? fill : static_cast<Acc>(x[((b * h + k.row[q]) * w + k.col[q]) * c + ch]);
          };
          const auto wx0 = static_cast<Acc>(k.wx[0]), wx1 = static_cast<Acc>(k.wx[1]);
          const auto wy0 = static_cast<Acc>(k.wy[0]), wy1 = static_cast<Acc>(k.wy[1]);
          // TensorFlow's order: each row blended along x, then the two rows along y.
          const Acc v = k.fill_only    ? fill
                        : k.count == 1 ? read(0)
                                       : wy0 * (wx0 * read(0) + wx1 * read(1)) + wy1 * (wx0 * read(2) + wx1 * read(3));
          out[ch] = static_cast<T>(v);
        }
      }
    }
  });
}

template <class T>
void affine_backward(const ImageTransform& t, std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                     const T* dy, T* dx) {
  std::fill(dx, dx + n * h * w * c, T(0));
  // One image per task: each writes only its own image's gradient.
  parallel_for(n, 1, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t b = s; b < e; ++b)
      for (std::int64_t i = 0; i < h; ++i)
        for (std::int64_t j = 0; j < w; ++j) {
          const Taps k = taps_of(t, b, i, j, h, w);
          if (k.fill_only) continue;
          const T* g = dy + ((b * h + i) * w + j) * c;
          for (int q = 0; q < k.count; ++q) {
            if (k.row[q] < 0) continue;
            T* d = dx + ((b * h + k.row[q]) * w + k.col[q]) * c;
            const auto wq = static_cast<T>(k.weight(q));
            for (std::int64_t ch = 0; ch < c; ++ch) d[ch] += wq * g[ch];
          }
        }
  });
}

}  // namespace

void CpuBackend::search_sorted(const Tensor& sorted, const Tensor& x, bool right, Tensor& out) {
  const std::int64_t n = x.numel(), m = sorted.numel();
  std::int64_t* o = backend::ptr<std::int64_t>(out);
  detail::dispatch_all(x.dtype(), "search_sorted", [&](auto z) {
    using T = decltype(z);
    const T* v = backend::ptr<T>(x);
    const T* s = backend::ptr<T>(sorted);
    parallel_for(n, 1024, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i)
        o[i] = (right ? std::upper_bound(s, s + m, v[i]) : std::lower_bound(s, s + m, v[i])) - s;
    });
  });
}

void CpuBackend::hash_bucket(HashMethod method, std::int64_t num_bins, std::uint64_t key0, std::uint64_t key1,
                             const Tensor& x, Tensor& out) {
  const std::int64_t* v = backend::ptr<std::int64_t>(x);
  std::int64_t* o = backend::ptr<std::int64_t>(out);
  const auto bins = static_cast<std::uint64_t>(num_bins);
  parallel_for(x.numel(), 1024, [&](std::int64_t b, std::int64_t e) {
    char text[24];
    for (std::int64_t i = b; i < e; ++i) {
      if (method == HashMethod::floormod) {
        const std::int64_t r = v[i] % num_bins;
        o[i] = r != 0 && ((r < 0) != (num_bins < 0)) ? r + num_bins : r;
        continue;
      }
      const auto len = static_cast<std::size_t>(std::to_chars(text, text + sizeof text, v[i]).ptr - text);
      const std::uint64_t hash = method == HashMethod::fingerprint64 ? fingerprint64(text, len)
                                                                     : siphash(key0, key1, text, len);
      o[i] = static_cast<std::int64_t>(hash % bins);
    }
  });
}

void CpuBackend::affine_transform(const ImageTransform& t, const Tensor& x, Tensor& y) {
  if (any_half({&x, &y})) {
    Tensor wide_y = widened(y);
    affine_transform(t, widened(x), wide_y);
    narrow_into(wide_y, y);
    return;
  }
  const Shape& s = x.shape();
  detail::dispatch_float(x.dtype(), "affine_transform", [&](auto z) {
    using T = decltype(z);
    affine_forward<T>(t, s[0], s[1], s[2], s[3], backend::ptr<T>(x), backend::ptr<T>(y));
  });
}

void CpuBackend::affine_transform_backward(const ImageTransform& t, const Tensor& dy, Tensor& dx) {
  if (any_half({&dy, &dx})) {
    Tensor wide_dx = widened(dx);
    affine_transform_backward(t, widened(dy), wide_dx);
    narrow_into(wide_dx, dx);
    return;
  }
  const Shape& s = dx.shape();
  detail::dispatch_float(dy.dtype(), "affine_transform", [&](auto z) {
    using T = decltype(z);
    affine_backward<T>(t, s[0], s[1], s[2], s[3], backend::ptr<T>(dy), backend::ptr<T>(dx));
  });
}

}  // namespace lamina::cpu
