// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/resample.hpp — NHWC kernels that move pixels without weights: shifting a window
// (zero padding and cropping) and separable interpolation (nearest and bilinear resizing).
#pragma once

#include <cstdint>

#include "backend/geometry.hpp"
#include <vector>

namespace lamina::cpu {

/// y[b, i, j, :] = x[b, i − top, j − left, :] where that lies inside x, else 0. x (n, h, w, c),
/// y (n, oh, ow, c). Positive top/left pad, negative ones crop. The adjoint is the same kernel
/// with (−top, −left) and the two sizes swapped.
template <class T>
void shift_window(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t oh,
                  std::int64_t ow, std::int64_t top, std::int64_t left, const T* x, T* y);

using backend::Tap;


/// y[b, i, j, :] = Σ of the 4 tap combinations of rows[i] and cols[j] over x (n, h, w, c);
/// y is (n, rows.size(), cols.size(), c).
template <class T>
void resize_forward(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                    const std::vector<Tap>& rows, const std::vector<Tap>& cols, const T* x, T* y);

/// The adjoint: dx (overwritten) from dy through the same taps.
template <class T>
void resize_backward(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                     const std::vector<Tap>& rows, const std::vector<Tap>& cols, const T* dy,
                     T* dx);

}  // namespace lamina::cpu
