// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/conv.hpp — NHWC convolution kernels: im2col + OpenBLAS GEMM forward, GEMM +
// col2im backward. Keras's kernel layout (kh, kw, in/groups, out) is already the (K, F) matrix the
// GEMM wants, so no kernel transpose is ever made.
#pragma once

#include <cstdint>

#include "backend/cpu/parallel.hpp"
#include "backend/geometry.hpp"

namespace lamina::cpu {

using backend::ConvGeometry;

using backend::Epilogue;

/// y = act(conv(x, kernel) + bias); bias may be null.
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* kernel, const T* bias, Epilogue act,
                    T* y);

/// Given dy, the gradient at the pre-activation output, writes the gradients that are asked for
/// (null pointers are skipped): dx (overwritten), dkernel (overwritten), dbias (overwritten).
template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* kernel, const T* dy, T* dx,
                     T* dkernel, T* dbias);

/// Transposed convolution: the input gradient of the convolution described by `g`, whose input is
/// this op's output y (n, h, w, c) and whose output is this op's input x (n, oh, ow, f); the
/// kernel keeps its conv layout (kh, kw, c, f), which is Keras's (kh, kw, filters, in). Then
/// y = act(y + bias); bias (c,) may be null. Ungrouped.
template <class T>
void conv2d_transpose_forward(const ConvGeometry& g, const T* x, const T* kernel, const T* bias,
                              Epilogue act, T* y);

/// Backward of conv2d_transpose_forward given dy at the pre-activation output: dx is a forward
/// convolution of dy, dkernel the conv's kernel gradient with the roles of x and dy swapped.
/// Null pointers are skipped; the rest are overwritten.
template <class T>
void conv2d_transpose_backward(const ConvGeometry& g, const T* x, const T* kernel, const T* dy,
                               T* dx, T* dkernel, T* dbias);

/// dz = dy · act'(z) expressed through the activation's output y (n elements).
template <class T>
void epilogue_backward(Epilogue act, const T* y, const T* dy, T* dz, std::int64_t n);

/// The same on the calling thread only (dz = dy when linear).
template <class T>
void epilogue_backward_serial(Epilogue act, const T* y, const T* dy, T* dz, std::int64_t n);

/// In-place act(y) over n elements.
template <class T>
void apply_epilogue(Epilogue act, T* y, std::int64_t n, std::int64_t relu_grain = kMinChunkWork);

/// out[j] = Σ_i a[i·cols + j] over rows, summed in a fixed order (deterministic per thread count).
template <class T>
void column_sums(const T* a, std::int64_t rows, std::int64_t cols, T* out);

}  // namespace lamina::cpu
