// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/conv.hpp — NHWC convolution kernels: im2col + OpenBLAS GEMM forward, GEMM +
// col2im backward. Keras's kernel layout (kh, kw, in/groups, out) is already the (K, F) matrix the
// GEMM wants, so no kernel transpose is ever made.
#pragma once

#include <cstdint>

namespace lamina::cpu {

/// Everything a convolution kernel needs to know. Input (n, h, w, c), output (n, oh, ow, f),
/// kernel (kh, kw, c/groups, f). Positions outside the input (padding) read as zero.
struct ConvGeometry {
  std::int64_t n, h, w, c;
  std::int64_t kh, kw, f;
  std::int64_t groups = 1;
  std::int64_t sh = 1, sw = 1, dh = 1, dw = 1;  ///< strides and dilation
  std::int64_t pad_top = 0, pad_left = 0;       ///< bottom/right padding is implied by oh/ow
  std::int64_t oh, ow;

  std::int64_t cg() const { return c / groups; }
  std::int64_t fg() const { return f / groups; }
  std::int64_t col_width() const { return kh * kw * cg(); }  ///< K of the GEMM
  /// A 1x1, stride-1, unpadded, ungrouped conv: the input already is the im2col matrix.
  bool pointwise() const {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pad_top == 0 && pad_left == 0 &&
           groups == 1 && oh == h && ow == w;
  }
};

/// The activation applied after the bias, inside the kernel's pass over the output.
enum class Epilogue { linear, relu, sigmoid, tanh };

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

/// In-place act(y) over n elements.
template <class T>
void apply_epilogue(Epilogue act, T* y, std::int64_t n);

/// out[j] = Σ_i a[i·cols + j] over rows, summed in a fixed order (deterministic per thread count).
template <class T>
void column_sums(const T* a, std::int64_t rows, std::int64_t cols, T* out);

}  // namespace lamina::cpu
