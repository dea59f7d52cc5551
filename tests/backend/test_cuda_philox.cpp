// SPDX-License-Identifier: Apache-2.0
// The GPU's Philox and dropout-mask rule (src/backend/cuda/philox_device.hpp, shared with the
// CUDA kernels) checked on the host against the CPU backend's draws, which use Random123: the
// same counters give the same words, and the same place gives the same mask. Runs in every build.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include <lamina/tensor.hpp>

#include "backend/backend.hpp"
#include "backend/cuda/philox_device.hpp"

namespace lamina::testing {

TEST_CASE("the GPU's Philox4x32-10 gives Random123's words", "[backend][random][cuda_host]") {
  const std::vector<std::array<std::uint32_t, 6>> cases = {
      {0, 0, 0, 0, 0, 0},
      {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
      {0x243F6A88u, 0x85A308D3u, 0x13198A2Eu, 0x03707344u, 0xA4093822u, 0x299F31D0u},
      {7, 1, 0, 3, 42, 0},
      {123456789u, 0, 2, 11, 0xDEADBEEFu, 0xCAFEF00Du}};
  for (const auto& c : cases) {
    const std::array<std::uint32_t, 4> want = backend::philox4x32_10({c[0], c[1], c[2], c[3]}, {c[4], c[5]});
    const gpu::Philox4 got = gpu::philox4x32_10(gpu::Philox4{{c[0], c[1], c[2], c[3]}}, c[4], c[5]);
    for (int k = 0; k < 4; ++k) CHECK(got.v[k] == want[k]);
  }
}

TEST_CASE("the GPU's dropout mask rule equals the CPU backend's bernoulli_mask", "[backend][random][cuda_host]") {
  for (double rate : {0.0, 0.2, 0.5, 0.93}) {
    const backend::PhiloxPlace place{0x1234567890ABCDEFull, 977, 5};
    Tensor mask = Tensor::empty({1027}, uint8);
    backend::get(Device::cpu()).bernoulli_mask(place, rate, mask);
    const std::vector<double> want = mask.to_vector<double>();
    const double threshold = rate * 4294967296.0;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const int got = gpu::keep(place.key, place.offset, place.stream, threshold, i);
      if (got != static_cast<int>(want[i])) FAIL("element " << i << " at rate " << rate);
      kept += static_cast<std::size_t>(got);
    }
    CHECK((rate == 0.0 ? kept == want.size() : kept < want.size()));
  }
}

}  // namespace lamina::testing
