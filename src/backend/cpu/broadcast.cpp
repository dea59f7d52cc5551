// SPDX-License-Identifier: Apache-2.0
#include "backend/cpu/broadcast.hpp"

namespace lamina::cpu {

std::vector<std::int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  const int r = out.rank(), off = r - in.rank();
  std::vector<std::int64_t> strides(static_cast<std::size_t>(r), 0);
  std::int64_t s = 1;
  for (int i = in.rank() - 1; i >= 0; --i) {
    strides[i + off] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return strides;
}

}  // namespace lamina::cpu
