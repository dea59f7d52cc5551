// SPDX-License-Identifier: Apache-2.0
// src/backend/geometry.hpp — device-neutral descriptions of the structured kernels (convolution,
// pooling, recurrent scans, resampling): what every backend is told, whatever computes it.
#pragma once

#include <cstdint>
#include <vector>

namespace lamina::backend {

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

/// Input (n, h, w, c), output (n, oh, ow, c), window (ph, pw) moved by (sh, sw). Window positions
/// outside the input (padding) are skipped: they never win a max and never count in an average.
struct PoolGeometry {
  std::int64_t n, h, w, c;
  std::int64_t ph, pw;
  std::int64_t sh, sw;
  std::int64_t pad_top = 0, pad_left = 0;
  std::int64_t oh, ow;
};

enum class CellKind { simple, lstm, gru };

/// The activations a fused cell can apply; the derivative is taken from the output.
/// hard_sigmoid: Keras 3, clip(x/6 + 1/2, 0, 1); hard_sigmoid_keras2: clip(0.2·x + 1/2, 0, 1).
enum class GateActivation { linear, tanh, sigmoid, relu, hard_sigmoid, hard_sigmoid_keras2 };

/// One recurrent layer's time loop. Tensors are row-major:
///   xp    (n, steps, G·u)  input projections, batch-major as the layer's input (G = gates())
///   rk    (u, G·u)         Keras's recurrent_kernel, gate blocks along the columns
///   rbias (G·u) or null    GRU reset_after only: the recurrent bias (row 1 of Keras's bias)
///   h0, c0 (n, u)          initial state (c0 for LSTM only)
///   mask  (n, steps) or null; 0 = skip the step: the state (and so the output) is carried over
///   rmask (n, u) or null   recurrent dropout, already scaled: h_prev·rmask feeds the recurrence
///   out   (steps + states() − 1, n, u)  time-major: out[t] = h after step t in processing order
///                          (the last input first when go_backwards); LSTM: out[steps] = final c
///   work  (steps, n, work_width())  what the backward pass needs
struct RecurrentGeometry {
  CellKind kind = CellKind::lstm;
  std::int64_t n = 0, steps = 0, units = 0;
  bool reset_after = true;  ///< GRU: reset gate applied after the recurrent matmul (cuDNN style)
  bool go_backwards = false;
  GateActivation activation = GateActivation::tanh;
  GateActivation recurrent_activation = GateActivation::sigmoid;

  std::int64_t gates() const { return kind == CellKind::lstm ? 4 : kind == CellKind::gru ? 3 : 1; }
  std::int64_t states() const { return kind == CellKind::lstm ? 2 : 1; }
  std::int64_t work_width() const {
    return units * (kind == CellKind::lstm ? 7 : kind == CellKind::gru ? 5 : 1);
  }
  /// The input step read at processing step t.
  std::int64_t source_step(std::int64_t t) const { return go_backwards ? steps - 1 - t : t; }
};

/// Where output index o along one axis reads: (1 − weight)·in[lo] + weight·in[hi].
struct Tap {
  std::int64_t lo, hi;
  double weight;
};

/// The taps of one axis resized from `in` to `out` positions, as TensorFlow's resize with
/// half-pixel centres (bilinear) or nearest neighbour.
std::vector<Tap> resize_taps(std::int64_t in, std::int64_t out, bool bilinear);

}  // namespace lamina::backend
