// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/gemm.hpp — C = alpha·op(A)·op(B) + beta·C through single-threaded OpenBLAS
// calls, split across the pool for large products; row-major.
#pragma once

#include <cstdint>

namespace lamina::cpu {

/// op(A) is (m, k), op(B) is (k, n), C is (m, n); lda/ldb/ldc are the row strides as stored.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc);
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc);

}  // namespace lamina::cpu
