// SPDX-License-Identifier: Apache-2.0
#include "tensor/allocator.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace lamina::cpu {
namespace {

constexpr std::size_t kAlign = 64;
// Blocks above this many cached bytes are freed instead of cached, bounding the cache.
constexpr std::size_t kMaxCached = std::size_t(2) << 30;

std::size_t rounded(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks;
  std::size_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed during static teardown
  return *c;
}

}  // namespace

void* allocate(std::size_t nbytes) {
  std::size_t size = rounded(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.bytes -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, size);
  if (!p) {
    empty_cache();
    p = std::aligned_alloc(kAlign, size);
    if (!p) throw std::bad_alloc();
  }
  return p;
}

void deallocate(void* ptr, std::size_t nbytes) {
  if (!ptr) return;
  std::size_t size = rounded(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.bytes + size <= kMaxCached) {
      c.free_blocks[size].push_back(ptr);
      c.bytes += size;
      return;
    }
  }
  std::free(ptr);
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.bytes = 0;
}

std::size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

}  // namespace lamina::cpu
