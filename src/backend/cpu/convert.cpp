// SPDX-License-Identifier: Apache-2.0
#include "backend/cpu/convert.hpp"

#include <algorithm>

#include "tensor/dispatch.hpp"
#include "tensor/half.hpp"

namespace lamina::cpu {
namespace {

// n elements of type S at `src` converted into type T at `dst`.
void convert_plain(DType s, const void* src, DType t, void* dst, std::int64_t n) {
  detail::dispatch_all(s, [&](auto zs) {
    using S = decltype(zs);
    detail::dispatch_all(t, [&](auto zt) {
      using T = decltype(zt);
      const S* from = static_cast<const S*>(src);
      T* to = static_cast<T*>(dst);
      for (std::int64_t i = 0; i < n; ++i) to[i] = convert_value<T>(from[i]);
    });
  });
}

// Conversions to and from the 16-bit floats go through float32 (exact from a half type), or
// through float64 from float64 and the integers (a single rounding: half.hpp), a block at a time.
}  // namespace

void convert_elements(DType s, const void* src, DType t, void* dst, std::int64_t n) {
  if (!half::is_half(s) && !half::is_half(t)) return convert_plain(s, src, t, dst, n);
  constexpr std::int64_t kBlock = 1024;
  float wide[kBlock];
  double wider[kBlock];
  const auto* src_bytes = static_cast<const char*>(src);
  auto* dst_bytes = static_cast<char*>(dst);
  const std::size_t ss = dtype_size(s), ts = dtype_size(t);
  for (std::int64_t i = 0; i < n; i += kBlock) {
    const std::int64_t m = std::min(kBlock, n - i);
    const void* from = src_bytes + i * ss;
    void* to = dst_bytes + i * ts;
    if (half::is_half(s)) {
      float* f = t == float32 ? static_cast<float*>(to) : wide;
      half::to_float(s, static_cast<const std::uint16_t*>(from), f, m);
      if (half::is_half(t)) half::from_float(t, f, static_cast<std::uint16_t*>(to), m);
      else if (t != float32) convert_plain(float32, f, t, to, m);
    } else if (s == float32) {
      half::from_float(t, static_cast<const float*>(from), static_cast<std::uint16_t*>(to), m);
    } else {
      const double* d = s == float64 ? static_cast<const double*>(from) : wider;
      if (s != float64) convert_plain(s, from, float64, wider, m);
      half::from_double(t, d, static_cast<std::uint16_t*>(to), m);
    }
  }
}

}  // namespace lamina::cpu
