// SPDX-License-Identifier: Apache-2.0
// src/backend/cuda/philox_device.hpp — Philox4x32-10 and the dropout mask's rule, written once for
// the GPU kernels (kernels.cu) and the host: tests/backend/test_cuda_philox.cpp checks them on the
// CPU against the CPU backend's draws (Random123), so the GPU's masks equal the CPU's bit for bit
// by construction. No CUDA header: plain integer arithmetic.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LAMINA_HOST_DEVICE __host__ __device__
#else
#define LAMINA_HOST_DEVICE
#endif

namespace lamina::gpu {

struct Philox4 {
  std::uint32_t v[4];
};

/// Random123's philox4x32 with 10 rounds: counter `c` under key (k0, k1).
LAMINA_HOST_DEVICE inline Philox4 philox4x32_10(Philox4 c, std::uint32_t k0, std::uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the key is bumped between rounds
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const std::uint64_t p0 = std::uint64_t{0xD2511F53u} * c.v[0], p1 = std::uint64_t{0xCD9E8D57u} * c.v[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c = Philox4{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
  }
  return c;
}

/// Element i of a dropout mask drawn at (key, offset, stream): word i mod 4 of block
/// offset + ⌊i/4⌋ (counter: the block index's two halves, attempt 0, the stream), kept (1) when
/// at least threshold = rate·2³² (the CPU backend's bernoulli_mask).
LAMINA_HOST_DEVICE inline std::uint8_t keep(std::uint64_t key, std::uint64_t offset, std::uint32_t stream,
                                            double threshold, std::uint64_t i) {
  const std::uint64_t block = offset + i / 4;
  const Philox4 b = philox4x32_10(
      Philox4{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0u, stream}},
      static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32));
  return static_cast<double>(b.v[i % 4]) >= threshold ? 1 : 0;
}

}  // namespace lamina::gpu
