// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/recurrent.hpp — the time loop of SimpleRNN, LSTM and GRU with Keras's weight
// layouts: the input projection xp = x·kernel + bias is computed beforehand for every step at
// once (one GEMM); here each step does one GEMM h·recurrent_kernel and one fused pass over the
// gates. The backward pass (BPTT) is written by hand and reuses what the forward pass saved.
#pragma once

#include <cstdint>

#include "backend/geometry.hpp"

namespace lamina::cpu {

using backend::CellKind;

using backend::GateActivation;

using backend::RecurrentGeometry;

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
