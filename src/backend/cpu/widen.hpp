// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/widen.hpp — the host computes float16 and bfloat16 in float32: a kernel given a
// 16-bit tensor runs on float32 copies, and its outputs are rounded back (to nearest even). The
// 16-bit types save memory and bandwidth on a GPU; on the CPU they are a storage format.
#pragma once

#include <initializer_list>

#include "lamina/tensor.hpp"

namespace lamina::cpu {

/// Whether any defined tensor among `ts` is float16 or bfloat16.
bool any_half(std::initializer_list<const Tensor*> ts);
/// A float32 copy of a 16-bit tensor, on its device; any other tensor as it is.
Tensor widened(const Tensor& t);
/// Rounds `wide` back into the 16-bit `out` (nothing when `wide` is `out` itself).
void narrow_into(const Tensor& wide, const Tensor& out);

}  // namespace lamina::cpu
