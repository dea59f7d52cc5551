// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/pooling.hpp — NHWC max and average pooling kernels, threaded over the batch.
#pragma once

#include <cstdint>

namespace lamina::cpu {

/// Input (n, h, w, c), output (n, oh, ow, c), window (ph, pw) moved by (sh, sw). Window positions
/// outside the input (padding) are skipped: they never win a max and never count in an average.
struct PoolGeometry {
  std::int64_t n, h, w, c;
  std::int64_t ph, pw;
  std::int64_t sh, sw;
  std::int64_t pad_top = 0, pad_left = 0;
  std::int64_t oh, ow;
};

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
