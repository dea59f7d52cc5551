// SPDX-License-Identifier: Apache-2.0
// src/tensor/allocator.hpp — a caching allocator for CPU memory. Training asks for the same
// buffer sizes every step; glibc would hand large blocks back to the OS and fault them in again
// (millions of page faults per epoch), so freed blocks are kept per size and reused.
#pragma once

#include <cstddef>

namespace lamina::cpu {

/// 64-byte aligned block of at least `nbytes` bytes (never null; throws std::bad_alloc).
void* allocate(std::size_t nbytes);
/// Returns a block from allocate() to the cache.
void deallocate(void* ptr, std::size_t nbytes);
/// Gives every cached block back to the system.
void empty_cache();
/// Bytes currently held in the cache (not in use).
std::size_t cached_bytes();

}  // namespace lamina::cpu
