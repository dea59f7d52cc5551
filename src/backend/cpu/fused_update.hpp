// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/fused_update.hpp — internal: runs an optimizer's elementwise rule over all its
// variables in one parallel pass. Variables of one dtype are treated as one concatenated array:
// one wake-up of the pool per step instead of one per variable, and the small biases ride along
// with the kernels instead of running alone. Rules mark their per-element kernel LAMINA_KERNEL
// (backend/cpu/dispatch.hpp) so that it runs with AVX2 or AVX-512 where the CPU has them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"
#include "lamina/tensor.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::cpu {

/// The most state arrays (slots) one rule reads per variable.
constexpr std::size_t kMaxSlots = 3;

/// Elements per thread chunk: models smaller than this update on the calling thread.
constexpr std::int64_t kUpdateGrain = 1 << 15;

/// For each dtype, calls make_kernel(T{}) once to get kernel(lo, hi, w, g, slots), then runs it
/// over [lo, hi) of every variable with a gradient. `slots` lists per-variable tensors (one list
/// per slot kind, in the order the kernel reads them in `slots[k]`); an empty list gives nullptr.
template <class MakeKernel>
void fused_update(const char* optimizer, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& vars, const std::vector<std::vector<Tensor>>& slots,
                  MakeKernel&& make_kernel) {
  for (DType dt : {float32, float64}) {
    lamina::detail::dispatch_float(dt, optimizer, [&](auto tag) {
      using T = decltype(tag);
      struct Span {
        T* w;
        const T* g;
        std::array<T*, kMaxSlots> s;
        std::int64_t begin;  // offset of this variable in the concatenation
      };
      std::vector<Span> spans;
      std::int64_t total = 0;
      for (std::size_t i = 0; i < vars.size(); ++i) {
        if (!grads[i].defined() || vars[i].dtype() != dt) continue;
        Span span{backend::ptr<T>(vars[i]), backend::ptr<T>(grads[i]), {}, total};
        std::size_t k = 0;
        for (const std::vector<Tensor>& list : slots)
          span.s[k++] = list.empty() ? nullptr : backend::ptr<T>(list[i]);
        spans.push_back(span);
        total += vars[i].numel();
      }
      if (spans.empty()) return;
      const auto kernel = make_kernel(tag);
      parallel_for(total, kUpdateGrain, [&](std::int64_t begin, std::int64_t end) {
        // The first span that ends after `begin`, then every span overlapping [begin, end).
        auto it = std::upper_bound(spans.begin(), spans.end(), begin,
                                   [](std::int64_t b, const Span& s) { return b < s.begin; });
        for (--it; it != spans.end() && it->begin < end; ++it) {
          const std::int64_t next = it + 1 == spans.end() ? total : (it + 1)->begin;
          const std::int64_t lo = std::max(begin, it->begin) - it->begin;
          const std::int64_t hi = std::min(end, next) - it->begin;
          kernel(lo, hi, it->w, it->g, it->s.data());
        }
      });
    });
  }
}

}  // namespace lamina::cpu
