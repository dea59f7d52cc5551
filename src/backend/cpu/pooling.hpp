// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/pooling.hpp — NHWC max and average pooling kernels, threaded over the batch.
#pragma once

#include <cstdint>

#include "backend/geometry.hpp"

namespace lamina::cpu {

using backend::PoolGeometry;

/// y = window max; when `argmax` is not null it receives, per output element, the index of the
/// winning input element within its image ((iy·w + ix)·c + ch; the first maximum on ties).
template <class T>
void max_pool2d_forward(const PoolGeometry& g, const T* x, T* y, std::int32_t* argmax);
/// dx (overwritten) = dy scattered to the argmax positions.
template <class T>
void max_pool2d_backward(const PoolGeometry& g, const T* dy, const std::int32_t* argmax, T* dx);

/// y = mean of the real (unpadded) elements of each window.
template <class T>
void avg_pool2d_forward(const PoolGeometry& g, const T* x, T* y);
/// dx (overwritten) = each dy spread evenly over its window's real elements.
template <class T>
void avg_pool2d_backward(const PoolGeometry& g, const T* dy, T* dx);

}  // namespace lamina::cpu
