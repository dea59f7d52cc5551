// SPDX-License-Identifier: Apache-2.0
// src/backend/philox.hpp — the counter-based generator every device draws from (Philox4x32-10,
// Random123): value i of a draw is a function of (key, stream, offset + i) alone, so a seed gives
// the same numbers on any thread count and on any device. The host's generators (ops/random.hpp)
// hand out places; the backends' random kernels fill tensors from them.
#pragma once

#include <array>
#include <cstdint>

namespace lamina::backend {

/// Where a draw reads Philox: block (offset + i) of (key, stream) for element i. The caller
/// reserves [offset, offset + n) so that successive draws use disjoint blocks.
struct PhiloxPlace {
  std::uint64_t key = 0;
  std::uint64_t offset = 0;
  std::uint32_t stream = 0;
};

/// One Philox4x32-10 block: the 4 words of `counter` encrypted under `key` (Random123's philox4x32).
std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                           std::array<std::uint32_t, 2> key);

/// Values per block of each kind.
inline constexpr int kUniformsPerBlock = 1, kNormalsPerBlock = 2, kMaskBitsPerBlock = 4;
/// The counters a draw of n values of a kind with K values per block uses: ⌈n/K⌉.
inline std::uint64_t counters(std::int64_t n, int per_block) {
  return (static_cast<std::uint64_t>(n) + static_cast<std::uint64_t>(per_block) - 1) / static_cast<std::uint64_t>(per_block);
}

/// The 64 bits of value i (one per block): words 0 (low half) and 1 (high half) of block offset + i.
std::uint64_t random_bits(const PhiloxPlace& place, std::uint64_t i);

/// [0, 1) from the top 53 of 64 random bits (the uniform kernels' rule).
inline double unit_interval(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1p-53;
}
/// [0, range) from 64 random bits: ⌊bits·range / 2⁶⁴⌋ (Lemire's multiply-shift).
inline std::uint64_t below(std::uint64_t bits, std::uint64_t range) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(bits) * range) >> 64);
}

}  // namespace lamina::backend
