// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/normalization.hpp — fused batch- and layer-normalisation kernels over a
// (rows, c) view with the normalised channels innermost (channels last).
#pragma once

#include <cstdint>

namespace lamina::cpu {

/// Batch statistics per channel over all rows (variance biased), then
/// y = gamma·(x − mean)/sqrt(var + eps) + beta. gamma/beta may be null (1 / 0).
template <class T>
void batch_norm_forward(std::int64_t rows, std::int64_t c, const T* x, const T* gamma,
                        const T* beta, T eps, T* y, T* mean, T* var);

/// Backward of batch_norm_forward given its mean and var. dgamma and dbeta are always written
/// (dx needs both sums); dx is overwritten.
template <class T>
void batch_norm_backward(std::int64_t rows, std::int64_t c, const T* x, const T* gamma,
                         const T* mean, const T* var, T eps, const T* dy, T* dx, T* dgamma,
                         T* dbeta);

/// Per-row statistics over the c channels: y = gamma·(x − mean_row)/sqrt(var_row + eps) + beta.
/// mean and inv_std (rows each) are written for the backward.
template <class T>
void layer_norm_forward(std::int64_t rows, std::int64_t c, const T* x, const T* gamma,
                        const T* beta, T eps, T* y, T* mean, T* inv_std);

/// Backward of layer_norm_forward; dx overwritten; dgamma / dbeta written when not null.
template <class T>
void layer_norm_backward(std::int64_t rows, std::int64_t c, const T* x, const T* gamma,
                         const T* mean, const T* inv_std, const T* dy, T* dx, T* dgamma, T* dbeta);

}  // namespace lamina::cpu
