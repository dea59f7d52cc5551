// SPDX-License-Identifier: Apache-2.0
// tests/support/thread_count.hpp — restores the thread count a test started with.
#pragma once

#include <lamina/tensor.hpp>

namespace lamina::testing {

struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace lamina::testing
