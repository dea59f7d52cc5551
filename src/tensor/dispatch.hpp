// SPDX-License-Identifier: Apache-2.0
// src/tensor/dispatch.hpp — run a templated body for a runtime dtype.
#pragma once

#include <cstdint>
#include <string>

#include "lamina/errors.hpp"
#include "lamina/tensor.hpp"

namespace lamina::detail {

template <class F>
decltype(auto) dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::float32: return f(float{});
    case DType::float64: return f(double{});
    case DType::int32: return f(std::int32_t{});
    case DType::int64: return f(std::int64_t{});
    case DType::uint8: return f(std::uint8_t{});
  }
  throw TypeError("unknown dtype");
}

/// For ops defined on floating point only; other dtypes throw TypeError naming the op.
template <class F>
decltype(auto) dispatch_float(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::float32: return f(float{});
    case DType::float64: return f(double{});
    default:
      throw TypeError(std::string(op) + ": expected a float32 or float64 tensor, got " +
                      dtype_name(dtype));
  }
}

}  // namespace lamina::detail
