// SPDX-License-Identifier: Apache-2.0
// Philox4x32-10 draws. Built with -ffp-contract=off (CMakeLists.txt): a fused multiply-add would
// round differently from the separate × and + that another build or device performs.
#include "backend/cpu/random.hpp"

#include <Random123/philox.h>

#include <cmath>
#include <limits>
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
double unit(std::uint64_t bits) { return static_cast<double>(bits >> 11) * kTwoPow53Inv; }

// ln x for x in (0, 1]. x = 2^e·m with m in [√½, √2) (frexp is exact), ln m = 2·atanh(s) with
// s = (m − 1)/(m + 1), |s| <= 0.1716, and atanh s = s·Σ s^2k/(2k + 1): 12 terms leave
// s²¹²/25 < 1e-19 of s. Error a few ulp, and the same bits on every IEEE machine.
double portable_log(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    --e;
  }
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double series = 1.0 / 25.0;
  for (int k = 23; k >= 1; k -= 2) series = series * s2 + 1.0 / k;
  return e * 0.69314718055994530942 + 2.0 * s * series;
}

// Taylor series on |x| <= π/4, nested (Horner): sin x = x·(1 − x²/(2·3)·(1 − x²/(4·5)·(…))).
// The first omitted terms are below 1e-19.
double sin_poly(double x) {
  const double x2 = x * x;
  double p = 1.0;
  for (int k = 19; k >= 3; k -= 2) p = 1.0 - x2 / (k * (k - 1)) * p;
  return x * p;
}

// cos x = 1 − x²/(1·2)·(1 − x²/(3·4)·(…)).
double cos_poly(double x) {
  const double x2 = x * x;
  double p = 1.0;
  for (int k = 20; k >= 2; k -= 2) p = 1.0 - x2 / (k * (k - 1)) * p;
  return p;
}

// cos(2π u) for u in [0, 1): quadrant q = ⌊4u⌋ and fraction f = 4u − q are exact; the angle
// within the quadrant is folded to [0, π/4] so the series above apply.
double cos_two_pi(double u) {
  const double t = 4.0 * u;
  const int q = static_cast<int>(t);
  const double f = t - q;
  constexpr double kHalfPi = 1.57079632679489661923;
  // c = cos(f·π/2), s = sin(f·π/2).
  double c, s;
  if (f <= 0.5) {
    c = cos_poly(f * kHalfPi);
    s = sin_poly(f * kHalfPi);
  } else {
    c = sin_poly((1.0 - f) * kHalfPi);
    s = cos_poly((1.0 - f) * kHalfPi);
  }
  switch (q) {
    case 0: return c;
    case 1: return -s;
    case 2: return -c;
    default: return s;
  }
}

// Box–Muller on one block.
double standard_normal(const std::array<std::uint32_t, 4>& b) {
  const double u1 = static_cast<double>((low64(b) >> 11) + 1) * kTwoPow53Inv;  // (0, 1]: ln u1 finite
  return std::sqrt(-2.0 * portable_log(u1)) * cos_two_pi(unit(high64(b)));
}

// out[i] = value(i) for i in [0, n), split over the pool.
template <class T, class Value>
void fill(std::int64_t n, T* out, Value value) {
  parallel_for(n, kGrain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) out[i] = static_cast<T>(value(static_cast<std::uint64_t>(i)));
  });
}

}  // namespace

std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                           std::array<std::uint32_t, 2> key) {
  const philox4x32_ctr_t c = {{counter[0], counter[1], counter[2], counter[3]}};
  const philox4x32_key_t k = {{key[0], key[1]}};
  const philox4x32_ctr_t r = philox4x32_R(10, c, k);
  return {r.v[0], r.v[1], r.v[2], r.v[3]};
}

std::uint64_t random_bits(const PhiloxPlace& place, std::uint64_t i) { return low64(block(place, i)); }

template <class T>
void random_uniform(const PhiloxPlace& place, std::int64_t n, double lo, double hi, T* out) {
  const T top = std::nextafter(static_cast<T>(hi), static_cast<T>(lo));
  fill(n, out, [&](std::uint64_t i) {
    const T v = static_cast<T>(lo + (hi - lo) * unit(random_bits(place, i)));
    return v < top || lo == hi ? v : top;
  });
}

template <class T>
void random_normal(const PhiloxPlace& place, std::int64_t n, double mean, double stddev, T* out) {
  fill(n, out, [&](std::uint64_t i) { return mean + stddev * standard_normal(block(place, i)); });
}

template <class T>
void truncated_normal(const PhiloxPlace& place, std::int64_t n, double mean, double stddev, T* out) {
  fill(n, out, [&](std::uint64_t i) {
    // Each try is outside ±2 with probability 0.0455: three redraws or more happen once in
    // about 10⁴ elements, a thousand never.
    for (std::uint32_t attempt = 0;; ++attempt) {
      const double z = standard_normal(block(place, i, attempt));
      if (std::abs(z) <= 2.0) return mean + stddev * z;
    }
  });
}

void bernoulli_mask(const PhiloxPlace& place, std::int64_t n, double rate, std::uint8_t* mask) {
  fill(n, mask, [&](std::uint64_t i) { return unit(random_bits(place, i)) >= rate; });
}

template <class T>
void masked_scale(std::int64_t n, const std::uint8_t* mask, double scale, const T* x, T* y) {
  const T s = static_cast<T>(scale);
  parallel_for(n, 1 << 15, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) y[i] = mask[i] ? x[i] * s : T(0);
  });
}

void random_integers(const PhiloxPlace& place, std::int64_t n, std::int64_t lo, std::int64_t hi,
                     std::int64_t* out) {
  const std::uint64_t range = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  fill(n, out, [&](std::uint64_t i) {
    const auto hi64 = static_cast<std::uint64_t>((static_cast<unsigned __int128>(random_bits(place, i)) * range) >> 64);
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + hi64);
  });
}

void random_permutation(const PhiloxPlace& place, std::int64_t n, std::int64_t* out) {
  // j[i] uniform in [0, i]: element i's bits times (i + 1), as random_integers.
  std::vector<std::int64_t> j(static_cast<std::size_t>(n));
  fill(n, j.data(), [&](std::uint64_t i) {
    return static_cast<std::int64_t>((static_cast<unsigned __int128>(random_bits(place, i)) * (i + 1)) >> 64);
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

}  // namespace lamina::cpu
