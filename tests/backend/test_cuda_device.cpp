// SPDX-License-Identifier: Apache-2.0
// The CUDA backend as seen from a machine without a GPU (CI): lamina loads and runs, reports the
// build and the devices it sees, and refuses cuda:N with a clear error instead of crashing. The
// kernels themselves run under the CTest label cuda (LAMINA_TEST_DEVICE=cuda:0), on a GPU.
#include <catch2/catch.hpp>

#include <lamina/cuda.hpp>
#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

using Catch::Matchers::Contains;

namespace lamina::testing {

TEST_CASE("the build reports whether it has the CUDA backend", "[backend][cuda_host]") {
#ifdef LAMINA_TEST_CUDA_BUILT
  CHECK(cuda::is_built());
#else
  CHECK_FALSE(cuda::is_built());
  CHECK(cuda::device_count() == 0);
#endif
  CHECK(cuda::is_available() == (cuda::device_count() > 0));
}

TEST_CASE("cuda devices parse whatever the build", "[backend][cuda_host]") {
  CHECK(Device::parse("cuda") == Device{DeviceType::CUDA, 0});
  CHECK(Device::parse("cuda:1") == Device{DeviceType::CUDA, 1});
  CHECK(Device::parse("gpu:0") == Device{DeviceType::CUDA, 0});
  CHECK(Device::parse("cuda:1").str() == "cuda:1");
  CHECK_THROWS_AS(Device::parse("cuda:x"), ValueError);
}

TEST_CASE("a CUDA device that is not visible is refused by name, never a crash", "[backend][cuda_host]") {
  const int visible = cuda::device_count();
  // Past the last visible device (every device where there is no GPU).
  const Device missing{DeviceType::CUDA, visible};
  const std::string expected = cuda::is_built() ? "no CUDA device visible" : "is not available";
  CHECK_THROWS_AS(Tensor::zeros({2, 3}, float32, missing), DeviceError);
  CHECK_THROWS_WITH(Tensor::zeros({2, 3}, float32, missing), Contains(expected));
  CHECK_THROWS_WITH(Tensor::ones({4}).to(missing), Contains(expected));
  CHECK_THROWS_WITH(memory_stats(missing), Contains(expected));
  // Asked again: the same error (no half-made backend was kept), and the host is unaffected.
  CHECK_THROWS_WITH(Tensor::zeros({1}, float32, missing), Contains(expected));
  CHECK(sum(Tensor::ones({3})).item() == 3.0);
  if (!cuda::is_built()) CHECK_THROWS_AS(cuda::synchronize(0), DeviceError);
}

}  // namespace lamina::testing
