// SPDX-License-Identifier: Apache-2.0
// Philox4x32-10 draws. Built with -ffp-contract=off (CMakeLists.txt): a fused multiply-add would
// round differently from the separate × and + that another build or device performs.
#include "tensor/dispatch.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/random.hpp"

#include <Random123/philox.h>

#include <cmath>
#include <utility>
#include <vector>

#include "backend/cpu/parallel.hpp"

namespace lamina::cpu {
namespace {

// One Philox block costs about as much as 20 multiply-adds; below this many elements the pool's
// wake-up costs more than it saves.
constexpr std::int64_t kGrain = 1 << 13;
constexpr double kTwoPow53Inv = 1.0 / 9007199254740992.0;  // 2⁻⁵³

std::array<std::uint32_t, 4> block(const PhiloxPlace& p, std::uint64_t i, std::uint32_t attempt = 0) {
  const std::uint64_t c = p.offset + i;
  return philox4x32_10({static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32), attempt, p.stream},
                       {static_cast<std::uint32_t>(p.key), static_cast<std::uint32_t>(p.key >> 32)});
}

std::uint64_t low64(const std::array<std::uint32_t, 4>& b) { return b[0] | std::uint64_t{b[1]} << 32; }
std::uint64_t high64(const std::array<std::uint32_t, 4>& b) { return b[2] | std::uint64_t{b[3]} << 32; }

// [0, 1) with 53 random bits.
double unit(std::uint64_t bits) { return backend::unit_interval(bits); }

// 1/k and 1/(k·(k − 1)) as constants (rounded once, at compile time), so the series below
// multiply instead of divide.
constexpr std::array<double, 26> kInverse = [] {
  std::array<double, 26> r{};
  for (int k = 1; k < 26; ++k) r[k] = 1.0 / k;
  return r;
}();
constexpr std::array<double, 21> kInverseFalling = [] {
  std::array<double, 21> r{};
  for (int k = 2; k < 21; ++k) r[k] = 1.0 / (k * (k - 1));
  return r;
}();

// ln x for x in (0, 1]. x = 2^e·m with m in [√½, √2) (frexp is exact), ln m = 2·atanh(s) with
// s = (m − 1)/(m + 1), |s| <= 0.1716, and atanh s = s·Σₖ s²ᵏ/(2k + 1), k = 0..12: the first term
// left out is below 1e-19 of s. Error a few ulp, and the same bits on every IEEE machine.
double portable_log(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    --e;
  }
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double series = kInverse[25];
  for (int k = 23; k >= 1; k -= 2) series = series * s2 + kInverse[k];
  return e * 0.69314718055994530942 + 2.0 * s * series;
}

// Taylor series on |x| <= π/4, nested (Horner): sin x = x·(1 − x²/(2·3)·(1 − x²/(4·5)·(…))),
// up to x¹⁹/19!; the first term left out is below 1e-19.
double sin_poly(double x) {
  const double x2 = x * x;
  double p = 1.0;
  for (int k = 19; k >= 3; k -= 2) p = 1.0 - x2 * kInverseFalling[k] * p;
  return x * p;
}

// cos x = 1 − x²/(1·2)·(1 − x²/(3·4)·(…)), up to x²⁰/20!.
double cos_poly(double x) {
  const double x2 = x * x;
  double p = 1.0;
  for (int k = 20; k >= 2; k -= 2) p = 1.0 - x2 * kInverseFalling[k] * p;
  return p;
}

// (cos 2πu, sin 2πu) for u in [0, 1): quadrant q = ⌊4u⌋ and fraction f = 4u − q are exact, and
// with C = cos(f·π/2), S = sin(f·π/2) the pair is (C, S), (−S, C), (−C, −S), (S, −C) for q = 0..3.
// An angle past π/4 is folded (C = sin((1 − f)·π/2), 1 − f exact) so the series above apply.
struct CosSin {
  double cos, sin;
};
CosSin cos_sin_two_pi(double u) {
  constexpr double kHalfPi = 1.57079632679489661923;
  const double t = 4.0 * u;
  const int q = static_cast<int>(t);
  const double f = t - q;
  const bool fold = f > 0.5;
  const double angle = (fold ? 1.0 - f : f) * kHalfPi;
  const double a = cos_poly(angle), b = sin_poly(angle);
  const double c = fold ? b : a, s = fold ? a : b;
  switch (q) {
    case 0: return {c, s};
    case 1: return {-s, c};
    case 2: return {-c, -s};
    default: return {s, -c};
  }
}

// Box–Muller on one block: two independent standard normals.
std::array<double, 2> normal_pair(const std::array<std::uint32_t, 4>& b) {
  const double u1 = static_cast<double>((low64(b) >> 11) + 1) * kTwoPow53Inv;  // (0, 1]: ln u1 finite
  const double r = std::sqrt(-2.0 * portable_log(u1));
  const CosSin cs = cos_sin_two_pi(unit(high64(b)));
  return {r * cs.cos, r * cs.sin};
}

// out[i] = value(group, i mod K, i) with group = make(⌊i/K⌋): K values from each block, whose
// shared work (the block, Box–Muller) is done once per group, split over the pool.
template <int K, class T, class Make, class Value>
void fill(std::int64_t n, T* out, Make make, Value value) {
  parallel_for(n, kGrain, [&](std::int64_t b, std::int64_t e) {
    decltype(make(std::uint64_t{0})) group{};
    for (std::int64_t i = b; i < e; ++i) {
      if (i == b || i % K == 0) group = make(static_cast<std::uint64_t>(i / K));
      out[i] = static_cast<T>(value(group, static_cast<std::size_t>(i % K), static_cast<std::uint64_t>(i)));
    }
  });
}

}  // namespace

template <class T>
void random_uniform(const PhiloxPlace& place, std::int64_t n, double lo, double hi, T* out) {
  const T top = std::nextafter(static_cast<T>(hi), static_cast<T>(lo));
  fill<kUniformsPerBlock>(n, out, [&](std::uint64_t j) { return random_bits(place, j); },
                          [&](std::uint64_t bits, std::size_t, std::uint64_t) {
                            const T v = static_cast<T>(lo + (hi - lo) * unit(bits));
                            return v < top || lo == hi ? v : top;
                          });
}

template <class T>
void random_normal(const PhiloxPlace& place, std::int64_t n, double mean, double stddev, T* out) {
  fill<kNormalsPerBlock>(n, out, [&](std::uint64_t j) { return normal_pair(block(place, j)); },
                         [&](const std::array<double, 2>& z, std::size_t k, std::uint64_t) { return mean + stddev * z[k]; });
}

template <class T>
void truncated_normal(const PhiloxPlace& place, std::int64_t n, double mean, double stddev, T* out) {
  fill<kNormalsPerBlock>(n, out, [&](std::uint64_t j) { return normal_pair(block(place, j)); },
                         [&](const std::array<double, 2>& first, std::size_t k, std::uint64_t i) {
                           // Each try is outside ±2 with probability 0.0455: three redraws or more
                           // happen once in about 10⁴ values, a thousand never.
                           double z = first[k];
                           for (std::uint32_t attempt = 1; std::abs(z) > 2.0; ++attempt)
                             z = normal_pair(block(place, i / kNormalsPerBlock, attempt))[k];
                           return mean + stddev * z;
                         });
}

void bernoulli_mask(const PhiloxPlace& place, std::int64_t n, double rate, std::uint8_t* mask) {
  const double threshold = rate * 4294967296.0;  // exact: a power-of-two scaling
  fill<kMaskBitsPerBlock>(n, mask, [&](std::uint64_t j) { return block(place, j); },
                          [threshold](const std::array<std::uint32_t, 4>& w, std::size_t k, std::uint64_t) {
                            return static_cast<double>(w[k]) >= threshold;
                          });
}

template <class T>
void masked_scale(std::int64_t n, const std::uint8_t* mask, double scale, const T* x, T* y) {
  const T s = static_cast<T>(scale);
  parallel_for(n, 1 << 15, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) y[i] = mask[i] ? x[i] * s : T(0);
  });
}

namespace {
// ⌊bits·range / 2⁶⁴⌋: uniform in [0, range) (Lemire's multiply-shift).
std::uint64_t scale_to(std::uint64_t bits, std::uint64_t range) { return backend::below(bits, range); }
}  // namespace

void random_integers(const PhiloxPlace& place, std::int64_t n, std::int64_t lo, std::int64_t hi,
                     std::int64_t* out) {
  const std::uint64_t range = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  fill<kUniformsPerBlock>(n, out, [&](std::uint64_t j) { return random_bits(place, j); },
                          [&](std::uint64_t bits, std::size_t, std::uint64_t) {
                            return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + scale_to(bits, range));
                          });
}

void random_permutation(const PhiloxPlace& place, std::int64_t n, std::int64_t* out) {
  // j[i] uniform in [0, i] from value i's bits, drawn in parallel; the swaps then run in order.
  std::vector<std::int64_t> j(static_cast<std::size_t>(n));
  fill<kUniformsPerBlock>(n, j.data(), [&](std::uint64_t i) { return random_bits(place, i); },
                          [](std::uint64_t bits, std::size_t, std::uint64_t i) {
                            return static_cast<std::int64_t>(scale_to(bits, i + 1));
                          });
  for (std::int64_t i = 0; i < n; ++i) out[i] = i;
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(out[i], out[j[static_cast<std::size_t>(i)]]);
}

template void random_uniform<float>(const PhiloxPlace&, std::int64_t, double, double, float*);
template void random_uniform<double>(const PhiloxPlace&, std::int64_t, double, double, double*);
template void random_normal<float>(const PhiloxPlace&, std::int64_t, double, double, float*);
template void random_normal<double>(const PhiloxPlace&, std::int64_t, double, double, double*);
template void truncated_normal<float>(const PhiloxPlace&, std::int64_t, double, double, float*);
template void truncated_normal<double>(const PhiloxPlace&, std::int64_t, double, double, double*);
template void masked_scale<float>(std::int64_t, const std::uint8_t*, double, const float*, float*);
template void masked_scale<double>(std::int64_t, const std::uint8_t*, double, const double*, double*);

// --- the backend's random kernels --------------------------------------------------------------

void CpuBackend::random_fill(backend::Distribution d, const PhiloxPlace& place, double a,
                             double b, Tensor& out) {
  if (any_half({&out})) {
    Tensor wide_out = widened(out);
    random_fill(d, place, a, b, wide_out);
    narrow_into(wide_out, out);
    return;
  }
  detail::dispatch_float(out.dtype(), "random", [&](auto z) {
    using T = decltype(z);
    T* p = backend::ptr<T>(out);
    switch (d) {
      case backend::Distribution::uniform: return random_uniform(place, out.numel(), a, b, p);
      case backend::Distribution::normal: return random_normal(place, out.numel(), a, b, p);
      case backend::Distribution::truncated_normal:
        return truncated_normal(place, out.numel(), a, b, p);
    }
  });
}

void CpuBackend::bernoulli_mask(const PhiloxPlace& place, double rate, Tensor& mask) {
  cpu::bernoulli_mask(place, mask.numel(), rate, backend::ptr<std::uint8_t>(mask));
}

void CpuBackend::masked_scale(const Tensor& mask, double scale, const Tensor& x, Tensor& y) {
  if (any_half({&mask, &x, &y})) {
    Tensor wide_y = widened(y);
    masked_scale(widened(mask), scale, widened(x), wide_y);
    narrow_into(wide_y, y);
    return;
  }
  detail::dispatch_float(x.dtype(), "dropout", [&](auto z) {
    using T = decltype(z);
    cpu::masked_scale(x.numel(), backend::ptr<std::uint8_t>(mask), scale, backend::ptr<T>(x),
                      backend::ptr<T>(y));
  });
}

void CpuBackend::random_permutation(const PhiloxPlace& place, Tensor& out) {
  cpu::random_permutation(place, out.numel(), backend::ptr<std::int64_t>(out));
}

}  // namespace lamina::cpu

namespace lamina::backend {

std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                           std::array<std::uint32_t, 2> key) {
  const philox4x32_ctr_t c = {{counter[0], counter[1], counter[2], counter[3]}};
  const philox4x32_key_t k = {{key[0], key[1]}};
  const philox4x32_ctr_t r = philox4x32_R(10, c, k);
  return {r.v[0], r.v[1], r.v[2], r.v[3]};
}

std::uint64_t random_bits(const PhiloxPlace& place, std::uint64_t i) { return cpu::low64(cpu::block(place, i)); }

}  // namespace lamina::backend
