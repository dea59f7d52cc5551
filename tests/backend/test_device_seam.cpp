// SPDX-License-Identifier: Apache-2.0
// The device seam: the registry, host access refused on device memory, transfers through the
// backend, the device check of every op, and the per-device caching allocator's statistics.
#include <catch2/catch.hpp>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>

#include "backend/caching_allocator.hpp"
#include "support/op_testing.hpp"
#include "support/test_device.hpp"

namespace lamina::testing {

TEST_CASE("Device names parse and print", "[backend]") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("cuda") == Device{DeviceType::CUDA, 0});
  CHECK(Device::parse("cuda:3").index == 3);
  CHECK(Device::parse("test:0").str() == "test:0");
  CHECK_THROWS_AS(Device::parse("tpu"), ValueError);
  CHECK_THROWS_AS(Device::parse("cuda:"), ValueError);
  CHECK_THROWS_AS(Device::parse("cuda:x"), ValueError);
}

TEST_CASE("the host cannot read test-device memory, to() and item() copy", "[backend]") {
  const Device dev = test_device();
  Tensor host = seq({2, 3}, 1.0, float32);
  Tensor t = host.to(dev);
  CHECK(t.device() == dev);
  CHECK_THROWS_AS(t.data<float>(), DeviceError);
  CHECK_THROWS_WITH(t.raw_data(), Catch::Contains("test:0") && Catch::Contains("to(Device::cpu())"));
  const auto before = transfer_counts();
  CHECK(t.to(Device::cpu()).to_vector<float>() == host.to_vector<float>());
  CHECK(t.at(4) == Approx(host.at(4)));
  CHECK(t.sum().item() == Approx(host.sum().item()));
  CHECK(transfer_counts().to_host > before.to_host);
  CHECK(t.to(dev).shares_storage(t));  // already there: no copy
}

TEST_CASE("an op given tensors on two devices names both", "[backend]") {
  Tensor a = seq({3}, 1.0, float32);
  Tensor b = a.to(test_device());
  CHECK_THROWS_AS(a + b, DeviceError);
  CHECK_THROWS_WITH(matmul(a.reshape({1, 3}), b.reshape({3, 1})),
                    Catch::Contains("cpu") && Catch::Contains("test:0"));
}

TEST_CASE("a device without a backend is refused by name", "[backend]") {
  CHECK_THROWS_WITH(Tensor::zeros({2}, float32, Device{DeviceType::CUDA, 7}),
                    Catch::Contains("cuda:7"));
}

TEST_CASE("assign, fill, astype and clone stay on the tensor's device", "[backend]") {
  const Device dev = test_device();
  Tensor t = Tensor::zeros({4}, float32, dev);
  t.assign(Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {4}));  // host -> device
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  Tensor h = Tensor::zeros({4}, float32);
  h.assign(t);  // device -> host
  CHECK(h.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  Tensor c = t.astype(float64);
  CHECK(c.device() == dev);
  CHECK(c.to_vector<double>() == std::vector<double>{1, 2, 3, 4});
  Tensor k = t.clone();
  t.fill(7);
  CHECK(k.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  CHECK(t.to_vector<float>() == std::vector<float>(4, 7.0f));
}

TEST_CASE("gradients flow back across to()", "[backend]") {
  Tensor x = seq({3}, 1.0, float64);
  x.set_requires_grad();
  Tensor y = square(x.to(test_device())).sum();
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().device() == Device::cpu());
  check_same(x.grad(), x * 2.0, 1e-12);
}

TEST_CASE("memory_stats counts each device's blocks in use, at peak and cached", "[backend]") {
  const Device dev = test_device();
  empty_cache(dev);
  const MemoryStats start = memory_stats(dev);
  {
    Tensor t = Tensor::empty({1000}, float32, dev);  // 4000 bytes: the 4032-byte class
    const MemoryStats s = memory_stats(dev);
    CHECK(s.bytes_in_use == start.bytes_in_use + 4032);
    CHECK(s.peak_bytes_in_use >= s.bytes_in_use);
  }
  const MemoryStats freed = memory_stats(dev);
  CHECK(freed.bytes_in_use == start.bytes_in_use);
  CHECK(freed.bytes_cached == start.bytes_cached + 4032);
  {
    Tensor again = Tensor::empty({1000}, float32, dev);  // served from the cache
    CHECK(memory_stats(dev).cache_hits == freed.cache_hits + 1);
  }
  empty_cache(dev);
  CHECK(memory_stats(dev).bytes_cached == 0);
  reset_peak_memory_stats(dev);
  CHECK(memory_stats(dev).peak_bytes_in_use == memory_stats(dev).bytes_in_use);
  // The host's allocator is a different one.
  const std::size_t host_in_use = memory_stats().bytes_in_use;
  Tensor on_device = Tensor::empty({1 << 16}, float32, dev);
  CHECK(memory_stats().bytes_in_use == host_in_use);
}

TEST_CASE("size classes waste at most 1/16 above 4 KiB", "[backend]") {
  using backend::CachingAllocator;
  CHECK(CachingAllocator::size_class(0) == 64);
  CHECK(CachingAllocator::size_class(64) == 64);
  CHECK(CachingAllocator::size_class(65) == 128);
  CHECK(CachingAllocator::size_class(4096) == 4096);
  for (std::size_t n : {4097ul, 5000ul, 65537ul, 1000000ul, 123456789ul}) {
    const std::size_t c = CachingAllocator::size_class(n);
    CHECK(c >= n);
    CHECK(c - n <= n / 16);
    CHECK(CachingAllocator::size_class(c) == c);  // a class is its own class
  }
}

}  // namespace lamina::testing
