// SPDX-License-Identifier: Apache-2.0
// src/ops/broadcast.hpp — NumPy broadcasting's shape rule, checked by the ops.
#pragma once

#include "lamina/tensor.hpp"

namespace lamina::detail {

/// The broadcast result shape; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace lamina::detail
