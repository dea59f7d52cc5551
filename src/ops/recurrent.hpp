// SPDX-License-Identifier: Apache-2.0
// src/ops/recurrent.hpp — the differentiable time loop behind SimpleRNN, LSTM and GRU (internal:
// the layers call it; users reach it through the layers).
#pragma once

#include "backend/geometry.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

/// Runs the recurrence of `spec` (kind, activations, reset_after, go_backwards; n, steps and
/// units are taken from the tensors) over input projections xp (N, T, G·u) = x·kernel + bias.
/// recurrent_kernel (u, G·u); recurrent_bias (G·u) for a reset-after GRU, else undefined;
/// h0 and c0 (N, u) (c0 undefined except for LSTM); mask (N, T) of any dtype (0 = skip the step)
/// or undefined; recurrent_mask (N, u), the scaled recurrent-dropout mask, or undefined.
/// Returns the states time-major, shape (T + S − 1, N, u): row t the hidden state after step t
/// (in processing order), and for LSTM row T the final carry. Differentiable in xp, the kernels,
/// the bias and the initial states (hand-written BPTT).
Tensor recurrent_scan(backend::RecurrentGeometry spec, const Tensor& xp, const Tensor& recurrent_kernel,
                      const Tensor& recurrent_bias, const Tensor& h0, const Tensor& c0,
                      const Tensor& mask, const Tensor& recurrent_mask);

}  // namespace lamina

namespace lamina {

/// x (N, T, ...) with its time axis reversed: out[n, t] = x[n, T − 1 − t]. Differentiable.
Tensor reverse_steps(const Tensor& x);

}  // namespace lamina

