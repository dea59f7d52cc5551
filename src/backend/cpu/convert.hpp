// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/convert.hpp — one element converted between dtypes, as NumPy converts it.
#pragma once

#include <cstdint>
#include <type_traits>

#include "lamina/tensor.hpp"

namespace lamina::cpu {

/// static_cast, except that float -> integer (undefined in C++ when out of range) truncates toward
/// zero through int64 and then wraps like NumPy on x86 (-1.0 -> 255 as uint8); NaN becomes 0.
template <class T, class S>
T convert_value(S v) {
  if constexpr (std::is_integral_v<T> && std::is_floating_point_v<S>) {
    if (v != v) return T(0);
    constexpr double kMax = 9223372036854775807.0;
    std::int64_t i = v >= kMax ? INT64_MAX : v <= -kMax ? INT64_MIN : static_cast<std::int64_t>(v);
    return static_cast<T>(i);
  } else {
    return static_cast<T>(v);
  }
}

/// n elements of dtype s at src written as dtype t at dst, every dtype including the 16-bit floats.
void convert_elements(DType s, const void* src, DType t, void* dst, std::int64_t n);

}  // namespace lamina::cpu
