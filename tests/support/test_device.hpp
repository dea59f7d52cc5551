// SPDX-License-Identifier: Apache-2.0
// tests/support/test_device.hpp — the test device: the CPU backend's kernels on memory of its
// own, which the host may not read (Tensor::data<T>() throws for it). Flows that run on it prove
// that nothing above the backend reads device memory and that every transfer is in place,
// without a GPU.
#pragma once

#include <cstddef>

#include "lamina/tensor.hpp"

namespace lamina::testing {

/// "test:0", with its backend registered on first use; or the device named by the environment
/// variable LAMINA_TEST_DEVICE (e.g. cuda:0), where the same tests then run.
Device test_device();

/// Bytes copied between the host and the test device since the start.
struct TransferCounts {
  std::size_t to_device = 0, to_host = 0;
};
TransferCounts transfer_counts();

}  // namespace lamina::testing
