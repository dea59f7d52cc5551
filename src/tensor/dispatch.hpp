// SPDX-License-Identifier: Apache-2.0
// src/tensor/dispatch.hpp — run a templated body for a runtime dtype.
//
// The bodies are arithmetic kernels, so T is always a C++ arithmetic type: float16 and bfloat16
// (plain 16-bit patterns) are never handed to them. A half input throws TypeError naming the op,
// until the backend computes in those types (upcasting to float32 inside its kernels).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "lamina/errors.hpp"
#include "lamina/tensor.hpp"

namespace lamina::detail {

[[noreturn]] inline void no_half_kernel(DType dtype, const char* op) {
  throw TypeError(std::string(op ? op : "this operation") + ": no CPU kernel computes in " +
                  dtype_name(dtype) + " yet; cast the tensor with astype(float32) first");
}

/// Every dtype with an arithmetic C++ type; `op` names the operation in the error for a
/// float16/bfloat16 input.
template <class F>
decltype(auto) dispatch_all(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::float32: return f(float{});
    case DType::float64: return f(double{});
    case DType::int32: return f(std::int32_t{});
    case DType::int64: return f(std::int64_t{});
    case DType::uint8: return f(std::uint8_t{});
    case DType::float16:
    case DType::bfloat16: no_half_kernel(dtype, op);
  }
  throw TypeError("unknown dtype");
}

template <class F>
decltype(auto) dispatch_all(DType dtype, F&& f) {
  return dispatch_all(dtype, nullptr, std::forward<F>(f));
}

/// For ops defined on floating point only; other dtypes throw TypeError naming the op.
template <class F>
decltype(auto) dispatch_float(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::float32: return f(float{});
    case DType::float64: return f(double{});
    case DType::float16:
    case DType::bfloat16: no_half_kernel(dtype, op);
    default:
      throw TypeError(std::string(op) + ": expected a float32 or float64 tensor, got " +
                      dtype_name(dtype));
  }
}

}  // namespace lamina::detail
