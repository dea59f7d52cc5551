// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/parallel.hpp — lamina's small thread pool. Workers sleep on a condition
// variable between jobs (never spin), so they do not compete with OpenBLAS's threads for the cores.
#pragma once

#include <cstdint>
#include <functional>

namespace lamina::cpu {

/// Calls fn(begin, end) over [0, n) split into at most get_num_threads() contiguous chunks of at
/// least `grain` items. The split depends only on n, grain and the thread count, so results
/// are deterministic for a given thread count. Runs inline when one chunk suffices.
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn);

/// The least work worth a chunk of its own, in elementary steps (a float read, compared or written):
/// about 32 k of them take 5-10 µs on one core, what waking a sleeping worker and waiting for it
/// costs. Kernels size their grains with grain_for() so that small inputs (a batch of one image)
/// run on the calling thread: a batch-1 CNN prediction woke the pool six times per call, +35 % on
/// its median latency (bench/infer.cpp).
inline constexpr std::int64_t kMinChunkWork = std::int64_t{1} << 15;

/// The grain for items of `work_per_item` steps each: kMinChunkWork / work_per_item, at least 1.
constexpr std::int64_t grain_for(std::int64_t work_per_item) {
  return work_per_item >= kMinChunkWork ? 1 : kMinChunkWork / (work_per_item < 1 ? 1 : work_per_item);
}

/// The pool's thread count (the caller included); get_num_threads() without the lamina namespace.
int num_threads();

/// How many jobs the pool has handed to its workers since the program started (tests: which
/// work stays on the calling thread).
std::uint64_t pool_jobs();

/// True on a thread that is running a chunk of a parallel_for (nested calls run inline).
bool in_parallel_region();

/// Sets flush-to-zero and denormals-are-zero on the calling thread (denormals slowed training
/// by 11-29 % in our measurements).
void set_flush_denormals();

}  // namespace lamina::cpu
