// SPDX-License-Identifier: Apache-2.0
#include "backend/caching_allocator.hpp"

#include <algorithm>
#include <bit>
#include <string>

#include "lamina/errors.hpp"

namespace lamina::backend {

CachingAllocator::CachingAllocator(Device device, RawAlloc alloc, RawFree free,
                                   std::size_t max_cached, std::size_t uncached_from)
    : device_(device), alloc_(alloc), free_(free), max_cached_(max_cached), uncached_from_(uncached_from) {}

std::size_t CachingAllocator::size_class(std::size_t nbytes) {
  constexpr std::size_t kSmall = 4096, kAlign = 64;
  std::size_t n = std::max<std::size_t>(nbytes, 1);
  if (n <= kSmall) return (n + kAlign - 1) / kAlign * kAlign;
  // 2^(p−1) < n <= 2^p: steps of 2^(p−5) give 16 classes in that octave.
  const int p = std::bit_width(n - 1);
  const std::size_t step = std::size_t(1) << (p - 5);
  return (n + step - 1) / step * step;
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  const std::size_t size = size_class(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    // Its own class, else the smallest cached block up to largest_fit(size).
    auto it = free_blocks_.lower_bound(size);
    if (it != free_blocks_.end() && it->first <= largest_fit(size)) {
      const std::size_t block = it->first;
      void* p = it->second.back();
      it->second.pop_back();
      if (it->second.empty()) free_blocks_.erase(it);
      if (block != size) larger_blocks_.emplace(p, block);
      stats_.bytes_cached -= block;
      ++stats_.cache_hits;
      stats_.bytes_in_use += block;
      stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
      return p;
    }
  }
  void* p = alloc_(size);
  if (!p) {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
    p = alloc_(size);
    if (!p)
      throw OutOfMemoryError("out of memory on " + device_.str() + ": a request of " +
                             std::to_string(nbytes) + " bytes failed with " +
                             std::to_string(stats_.bytes_in_use) + " bytes in use (peak " +
                             std::to_string(stats_.peak_bytes_in_use) + ")");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.bytes_in_use += size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return p;
}

void CachingAllocator::deallocate(void* ptr, std::size_t nbytes) {
  if (!ptr) return;
  std::size_t size = size_class(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!larger_blocks_.empty())
      if (auto it = larger_blocks_.find(ptr); it != larger_blocks_.end()) {
        size = it->second;
        larger_blocks_.erase(it);
      }
    stats_.bytes_in_use -= size;
    if (size < uncached_from_ && stats_.bytes_cached + size <= max_cached_) {
      free_blocks_[size].push_back(ptr);
      stats_.bytes_cached += size;
      return;
    }
  }
  free_(ptr);
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [size, blocks] : free_blocks_)
    for (void* p : blocks) free_(p);
  free_blocks_.clear();
  stats_.bytes_cached = 0;
}

}  // namespace lamina::backend
