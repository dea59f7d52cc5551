// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/gemv.hpp — products with one row or one column of C as BLAS matrix-vector calls.
// OpenBLAS's sgemm packs the whole of op(B) into its panel layout on every call, even for a
// single row of A: a batch-1 Dense layer then reads its weights twice and writes them once. The
// gemv kernels stream the matrix once: the benchmark MLP's predict_on_batch of one image went from
// 808 k to 145 k instructions a call (callgrind, bench/infer.cpp), this and the StatefulGuard's
// config walk removed together.
#pragma once

#include <cstdint>

namespace lamina::cpu {

/// C = alpha·op(A)·op(B) + beta·C (row-major, as cpu::gemm) when m == 1 or n == 1, through
/// ?gemv; returns false, doing nothing, for any other shape. k must be positive. With beta == 0
/// C's old values are ignored (NaN included), as gemm does.
template <class T>  // float and double
bool gemm_as_gemv(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                  std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

}  // namespace lamina::cpu
