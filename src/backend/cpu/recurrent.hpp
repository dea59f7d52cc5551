// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/recurrent.hpp — the time loop of SimpleRNN, LSTM and GRU with Keras's weight
// layouts: the input projection xp = x·kernel + bias is computed beforehand for every step at
// once (one GEMM); here each step does one GEMM h·recurrent_kernel and one fused pass over the
// gates. The backward pass (BPTT) is written by hand and reuses what the forward pass saved.
#pragma once

#include <cstdint>

namespace lamina::cpu {

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

template <class T>
void recurrent_forward(const RecurrentGeometry& g, const T* xp, const T* rk, const T* rbias,
                       const T* h0, const T* c0, const std::uint8_t* mask, const T* rmask, T* out,
                       T* work);

/// dout has out's shape (gradients of every saved state). Writes dxp (overwritten, zero on masked
/// steps), drk (overwritten), drbias (if non-null), dh0 and dc0 (if non-null).
template <class T>
void recurrent_backward(const RecurrentGeometry& g, const T* rk, const T* h0, const T* c0,
                        const std::uint8_t* mask, const T* rmask, const T* out, const T* work,
                        const T* dout, T* dxp, T* drk, T* drbias, T* dh0, T* dc0);

}  // namespace lamina::cpu
