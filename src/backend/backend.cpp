// SPDX-License-Identifier: Apache-2.0
// The backend registry, the device check every op makes, and the memory every Storage holds.
#include "backend/backend.hpp"

#include <array>
#include <map>
#include <mutex>

#include "lamina/cuda.hpp"
#include "lamina/errors.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina::backend {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<DeviceType, BackendFactory> factories;
  // Backends live as long as the process: tensors may be freed during static teardown.
  std::map<std::pair<DeviceType, int>, Backend*> made;
};

Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

}  // namespace

// Defined by the CPU backend (src/backend/cpu/cpu_backend.cpp): the host always has one.
std::unique_ptr<Backend> make_cpu_backend(Device device);
#ifdef LAMINA_HAVE_CUDA
// Defined by the CUDA backend (src/backend/cuda/cuda_backend.cpp), in builds that have it.
std::unique_ptr<Backend> make_cuda_backend(Device device);
int cuda_device_count();
void cuda_synchronize(Backend& backend);
#endif

bool is_comparison(BinaryOp op) { return op >= BinaryOp::equal; }

AxisView axis_view(const Shape& shape, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= shape[i];
  v.n = shape[axis];
  for (int i = axis + 1; i < shape.rank(); ++i) v.inner *= shape[i];
  return v;
}

void register_backend(DeviceType type, BackendFactory factory) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[type] = std::move(factory);
}

Backend& get(Device device) {
  // The host's backend is asked for on every allocation: keep it off the registry's lock.
  if (device.type == DeviceType::CPU) {
    static Backend* host = make_cpu_backend(Device::cpu()).release();
    return *host;
  }
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto key = std::make_pair(device.type, device.index);
  if (auto it = r.made.find(key); it != r.made.end()) return *it->second;
  auto f = r.factories.find(device.type);
#ifdef LAMINA_HAVE_CUDA
  // CUDA is built in: its backend is made on first use (and throws, naming the device, when no
  // GPU is visible; nothing is kept then, so a later call asks again).
  if (f == r.factories.end() && device.type == DeviceType::CUDA) {
    Backend* b = make_cuda_backend(device).release();
    r.made[key] = b;
    return *b;
  }
#endif
  if (f == r.factories.end())
    throw DeviceError("device " + device.str() + " is not available: no backend for it is " +
                      "registered in this build of lamina");
  Backend* b = f->second(device).release();
  r.made[key] = b;
  return *b;
}

Backend& of(const char* op, std::initializer_list<const Tensor*> tensors) {
  return of(op, std::vector<const Tensor*>(tensors));
}

Backend& of(const char* op, const std::vector<const Tensor*>& tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
    } else if (t->device() != first->device()) {
      throw DeviceError(std::string(op) + ": expected all tensors on one device, got " +
                        first->device().str() + " and " + t->device().str());
    }
  }
  return get(first ? first->device() : Device::cpu());
}

void* kernel_data(const Tensor& t) { return t.impl()->data(); }

}  // namespace lamina::backend

namespace lamina {

Storage::Storage(std::size_t n, Device d) : nbytes(n), device(d), owner(&backend::get(d)) {
  data = owner->allocate(n);
}

Storage::~Storage() { owner->deallocate(data, nbytes); }

MemoryStats memory_stats(Device device) { return backend::get(device).memory_stats(); }
void reset_peak_memory_stats(Device device) { backend::get(device).reset_peak_memory_stats(); }
void empty_cache(Device device) { backend::get(device).empty_cache(); }

}  // namespace lamina

namespace lamina::cuda {

#ifdef LAMINA_HAVE_CUDA
bool is_built() { return true; }
int device_count() { return backend::cuda_device_count(); }
void synchronize(int device) { backend::cuda_synchronize(backend::get(Device{DeviceType::CUDA, device})); }
#else
bool is_built() { return false; }
int device_count() { return 0; }
void synchronize(int device) {
  throw DeviceError("cuda:" + std::to_string(device) +
                    " is not available: this build of lamina has no CUDA backend");
}
#endif

}  // namespace lamina::cuda
