// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/broadcast.hpp — NumPy broadcasting for the elementwise kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"
#include "lamina/tensor.hpp"

namespace lamina::cpu {

/// Element strides of `in` viewed at the rank of `out`, 0 along broadcast axes.
std::vector<std::int64_t> broadcast_strides(const Shape& in, const Shape& out);

/// o[i] = f(a[ia], b[ib]) over `out` with broadcasting. Rows along the last axis are the unit of
/// work; the inner loops are unit-stride or scalar so the compiler vectorises them.
template <class A, class B, class O, class F>
void broadcast_binary(const A* a, const Shape& sa, const B* b, const Shape& sb, O* o,
                      const Shape& out, F f) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  constexpr std::int64_t kGrain = 1 << 15;
  if (sa == out && sb == out) {
    parallel_for(n, kGrain, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t i = s; i < e; ++i) o[i] = f(a[i], b[i]);
    });
    return;
  }
  if (sb.numel() == 1 && sa == out) {
    const B bv = b[0];
    parallel_for(n, kGrain, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t i = s; i < e; ++i) o[i] = f(a[i], bv);
    });
    return;
  }
  if (sa.numel() == 1 && sb == out) {
    const A av = a[0];
    parallel_for(n, kGrain, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t i = s; i < e; ++i) o[i] = f(av, b[i]);
    });
    return;
  }
  const int r = out.rank();
  const auto ta = broadcast_strides(sa, out), tb = broadcast_strides(sb, out);
  const std::int64_t inner = out[r - 1];
  const std::int64_t rows = n / inner;
  const std::int64_t la = ta[r - 1], lb = tb[r - 1];
  parallel_for(rows, std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(inner, 1)),
                    [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t row = s; row < e; ++row) {
      std::int64_t rem = row, oa = 0, ob = 0;
      for (int d = r - 2; d >= 0; --d) {
        std::int64_t idx = rem % out[d];
        rem /= out[d];
        oa += idx * ta[d];
        ob += idx * tb[d];
      }
      const A* pa = a + oa;
      const B* pb = b + ob;
      O* po = o + row * inner;
      if (la == 1 && lb == 1) {
        for (std::int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], pb[i]);
      } else if (la == 1) {
        const B bv = pb[0];
        for (std::int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], bv);
      } else if (lb == 1) {
        const A av = pa[0];
        for (std::int64_t i = 0; i < inner; ++i) po[i] = f(av, pb[i]);
      } else {
        const O v = f(pa[0], pb[0]);
        for (std::int64_t i = 0; i < inner; ++i) po[i] = v;
      }
    }
  });
}

}  // namespace lamina::cpu
