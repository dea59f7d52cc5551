// SPDX-License-Identifier: Apache-2.0
// The caching allocator's release policy: a miss takes the smallest cached block up to twice its
// size before asking the system, such a block goes back under its own class, and blocks from the
// uncached size on are handed back to the system when freed.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "backend/caching_allocator.hpp"

namespace lamina::testing {
namespace {

int g_raw_allocs = 0, g_raw_frees = 0;
void* counting_alloc(std::size_t n) {
  ++g_raw_allocs;
  return std::malloc(n);
}
void counting_free(void* p) {
  ++g_raw_frees;
  std::free(p);
}

}  // namespace

TEST_CASE("a cache miss takes the smallest cached block up to twice the request", "[backend]") {
  using backend::CachingAllocator;
  g_raw_allocs = g_raw_frees = 0;
  CachingAllocator memory(Device::cpu(), counting_alloc, counting_free, std::size_t(1) << 30);
  const std::size_t big = CachingAllocator::size_class(100000), small = CachingAllocator::size_class(60000);
  REQUIRE(big > small);
  REQUIRE(big <= CachingAllocator::largest_fit(small));
  void* a = memory.allocate(100000);
  memory.deallocate(a, 100000);
  CHECK(memory.stats().bytes_cached == big);

  void* b = memory.allocate(60000);  // no block of its class: takes the larger one
  CHECK(b == a);
  CHECK(g_raw_allocs == 1);
  CHECK(memory.stats().bytes_in_use == big);
  CHECK(memory.stats().bytes_cached == 0);
  memory.deallocate(b, 60000);  // back under the block's own class, whatever the request was
  CHECK(memory.stats().bytes_in_use == 0);
  CHECK(memory.stats().bytes_cached == big);
  void* c = memory.allocate(100000);
  CHECK(c == a);
  CHECK(g_raw_allocs == 1);
  memory.deallocate(c, 100000);

  void* d = memory.allocate(20000);  // the cached block is more than twice as large: a new one
  CHECK(d != a);
  CHECK(g_raw_allocs == 2);
  CHECK(memory.stats().bytes_in_use == CachingAllocator::size_class(20000));
  memory.deallocate(d, 20000);
  memory.empty_cache();
  CHECK(g_raw_frees == 2);
}

TEST_CASE("blocks from the uncached size on go back to the system when freed", "[backend]") {
  using backend::CachingAllocator;
  g_raw_allocs = g_raw_frees = 0;
  CachingAllocator memory(Device::cpu(), counting_alloc, counting_free, std::size_t(1) << 30,
                          std::size_t(1) << 20);
  void* big = memory.allocate(std::size_t(1) << 20);
  memory.deallocate(big, std::size_t(1) << 20);
  CHECK(g_raw_frees == 1);
  CHECK(memory.stats().bytes_cached == 0);
  void* small = memory.allocate(std::size_t(1) << 19);
  memory.deallocate(small, std::size_t(1) << 19);
  CHECK(g_raw_frees == 1);  // below the limit: cached
  CHECK(memory.stats().bytes_cached == std::size_t(1) << 19);
  memory.empty_cache();
  CHECK(g_raw_frees == 2);
}

}  // namespace lamina::testing
