// SPDX-License-Identifier: Apache-2.0
// src/backend/caching_allocator.hpp — the per-device caching allocator. Training asks for the
// same buffer sizes every step; handing large blocks back to the system and faulting them in
// again costs millions of page faults per epoch on the CPU (and a synchronisation per call on a
// GPU), so freed blocks are kept in size classes and reused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina::backend {

class CachingAllocator {
 public:
  /// Raw system allocation for a device; returns null when the device is out of memory.
  using RawAlloc = void* (*)(std::size_t nbytes);
  using RawFree = void (*)(void* ptr);

  /// Freed blocks are cached while the cache holds at most `max_cached` bytes; blocks of
  /// `uncached_from` bytes or more go straight back to the system (see cpu_backend.cpp).
  CachingAllocator(Device device, RawAlloc alloc, RawFree free, std::size_t max_cached,
                   std::size_t uncached_from = SIZE_MAX);
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  /// Never null: on failure the cache is emptied and the request retried, then OutOfMemoryError.
  void* allocate(std::size_t nbytes);
  /// `nbytes` is the size given to allocate().
  void deallocate(void* ptr, std::size_t nbytes);
  MemoryStats stats() const;
  void reset_peak();
  void empty_cache();

  /// The block size serving a request: 64-byte steps up to 4 KiB, then 16 classes per power of
  /// two (at most 1/16 wasted).
  static std::size_t size_class(std::size_t nbytes);
  /// The largest cached block that may serve a request of class `size` when its own class has
  /// none: twice the size. A step's backward asks for sizes its forward freed nearby; taking
  /// those blocks instead of new ones keeps the cache near the live peak rather than the sum
  /// of every class a step uses.
  static std::size_t largest_fit(std::size_t size) { return 2 * size; }

 private:
  void release_cached_locked();

  Device device_;
  RawAlloc alloc_;
  RawFree free_;
  std::size_t max_cached_;
  std::size_t uncached_from_;
  mutable std::mutex mutex_;
  // By class, ordered, so that a miss can take the smallest larger block; no empty lists.
  std::map<std::size_t, std::vector<void*>> free_blocks_;
  // Blocks handed out for a smaller class than their own, with their own: deallocate() is told
  // the request, not the block.
  std::unordered_map<void*, std::size_t> larger_blocks_;
  MemoryStats stats_;
};

}  // namespace lamina::backend
