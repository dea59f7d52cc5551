// SPDX-License-Identifier: Apache-2.0
#include "backend/geometry.hpp"

#include <algorithm>

namespace lamina::backend {

std::vector<Tap> resize_taps(std::int64_t in, std::int64_t out, bool bilinear) {
  std::vector<Tap> taps(static_cast<std::size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (std::int64_t o = 0; o < out; ++o) {
    Tap& t = taps[static_cast<std::size_t>(o)];
    if (!bilinear) {
      t.lo = t.hi = std::min<std::int64_t>(static_cast<std::int64_t>((o + 0.5) * scale), in - 1);
      t.weight = 0;
      continue;
    }
    const double s = std::max(0.0, (o + 0.5) * scale - 0.5);
    const auto f = static_cast<std::int64_t>(s);
    t.lo = std::min(f, in - 1);
    t.hi = std::min(f + 1, in - 1);
    t.weight = s - static_cast<double>(f);
  }
  return taps;
}

}  // namespace lamina::backend
