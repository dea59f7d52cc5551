// SPDX-License-Identifier: Apache-2.0
// src/tensor/half.hpp — bit-level conversions between float32/float64 and the two 16-bit float
// formats, float16 (IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits) and bfloat16 (the
// top half of a float32: 1, 8, 7). Narrowing rounds to nearest, ties to even; overflow gives
// Inf; float16 subnormals are exact; Inf and -0 are kept; NaN stays a quiet NaN of the same
// sign (float16 keeps the top payload bits, as numpy; bfloat16 gives the canonical 0x7fc0, as
// ml_dtypes). The reference bits are in tests/fixtures/half.json.
#pragma once

#include <bit>
#include <cstdint>

#include "lamina/tensor.hpp"

namespace lamina::half {

inline float f16_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // Inf, NaN
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return std::bit_cast<float>(sign);
  // Subnormal: normalise the mantissa (value = mant · 2^-24).
  int e = 113;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return std::bit_cast<float>(sign | (static_cast<std::uint32_t>(e) << 23) | ((mant & 0x3ffu) << 13));
}

inline std::uint16_t float_to_f16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u | static_cast<std::uint16_t>((abs >> 13) & 0x3ffu);
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 (Inf included) rounds to Inf
  if (abs >= 0x38800000u) {                       // normal float16: rebias, round at bit 13
    const std::uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return sign | static_cast<std::uint16_t>((rounded - 0x38000000u) >> 13);
  }
  // Subnormal float16 (or zero): the result is round(|f| · 2^24), at most 0x400 (the smallest
  // normal, whose encoding follows on).
  const std::uint32_t exp = abs >> 23;
  if (exp < 102) return sign;  // |f| < 2^-25: rounds to zero (2^-25 itself is a tie to even 0)
  const std::uint32_t sig = (abs & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126 - exp;  // 14..24
  std::uint32_t m = sig >> shift;
  const std::uint32_t rest = sig & ((1u << shift) - 1);
  const std::uint32_t half_way = 1u << (shift - 1);
  if (rest > half_way || (rest == half_way && (m & 1u))) ++m;
  return sign | static_cast<std::uint16_t>(m);
}

inline float bf16_to_float(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

inline std::uint16_t float_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>(((x >> 16) & 0x8000u) | 0x7fc0u);
  // Adding 0x7fff plus the kept part's lowest bit rounds ties to even; a carry into the exponent
  // is the right result, up to Inf.
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/// float64 -> float32 rounded to odd (truncate, then set the lowest bit if inexact). Rounding
/// that on to 16 bits gives the correctly rounded result, where rounding to nearest twice could
/// land on a false tie.
inline float round_to_odd(double d) {
  float f = static_cast<float>(d);
  if (f != f || static_cast<double>(f) == d) return f;
  const double af = f < 0 ? -static_cast<double>(f) : static_cast<double>(f);
  const double ad = d < 0 ? -d : d;
  std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  if (af > ad) --bits;  // rounded away from zero: step back toward it (Inf becomes the max float)
  return std::bit_cast<float>(bits | 1u);
}

inline std::uint16_t double_to_f16(double d) { return float_to_f16(round_to_odd(d)); }
inline std::uint16_t double_to_bf16(double d) { return float_to_bf16(round_to_odd(d)); }

/// True for float16 and bfloat16.
inline bool is_half(DType dtype) { return dtype == DType::float16 || dtype == DType::bfloat16; }

// Array converters, for the tensor code and the backend. `half_type` is float16 or bfloat16;
// `bits` points to its 16-bit patterns.
void to_float(DType half_type, const std::uint16_t* bits, float* out, std::int64_t n);
void from_float(DType half_type, const float* in, std::uint16_t* bits, std::int64_t n);
void from_double(DType half_type, const double* in, std::uint16_t* bits, std::int64_t n);

}  // namespace lamina::half
