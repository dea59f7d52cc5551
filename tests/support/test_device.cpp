// SPDX-License-Identifier: Apache-2.0
#include "support/test_device.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "backend/cpu/cpu_backend.hpp"

namespace lamina::testing {
namespace {

std::atomic<std::size_t> g_to_device{0}, g_to_host{0};

// Fresh device memory is filled with a NaN pattern, so a kernel that reads what nobody wrote
// shows up in the results instead of passing by luck with zeros.
void* device_alloc(std::size_t n) {
  void* p = std::aligned_alloc(64, n);
  if (p) std::memset(p, 0xFF, n);
  return p;
}
void device_free(void* p) { std::free(p); }

class TestBackend final : public cpu::CpuBackend {
 public:
  explicit TestBackend(Device d) : CpuBackend(d, device_alloc, device_free) {}

  void copy_from_host(void* dst, const void* src, std::size_t n) override {
    g_to_device += n;
    CpuBackend::copy_from_host(dst, src, n);
  }
  void copy_to_host(void* dst, const void* src, std::size_t n) override {
    g_to_host += n;
    CpuBackend::copy_to_host(dst, src, n);
  }
};

}  // namespace

Device test_device() {
  // LAMINA_TEST_DEVICE=cuda:0 runs the harness and the flows written for the test device on a
  // real one (CTest label cuda; tests/main.cpp skips the run when that device is not visible).
  static const Device chosen = [] {
    const char* name = std::getenv("LAMINA_TEST_DEVICE");
    return name && *name ? Device::parse(name) : Device{DeviceType::Test, 0};
  }();
  if (chosen.type != DeviceType::Test) return chosen;
  static const bool registered = [] {
    backend::register_backend(DeviceType::Test, [](Device d) -> std::unique_ptr<backend::Backend> {
      return std::make_unique<TestBackend>(d);
    });
    return true;
  }();
  (void)registered;
  return Device{DeviceType::Test, 0};
}

TransferCounts transfer_counts() { return {g_to_device.load(), g_to_host.load()}; }

}  // namespace lamina::testing
