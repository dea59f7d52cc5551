// SPDX-License-Identifier: Apache-2.0
#include "backend/cpu/gemv.hpp"

#include <cblas.h>

namespace lamina::cpu {
namespace {

void blas_gemv(bool trans, std::int64_t rows, std::int64_t cols, float alpha, const float* a, std::int64_t lda,
               const float* x, std::int64_t incx, float beta, float* y, std::int64_t incy) {
  cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(rows),
              static_cast<blasint>(cols), alpha, a, static_cast<blasint>(lda), x, static_cast<blasint>(incx), beta,
              y, static_cast<blasint>(incy));
}

void blas_gemv(bool trans, std::int64_t rows, std::int64_t cols, double alpha, const double* a, std::int64_t lda,
               const double* x, std::int64_t incx, double beta, double* y, std::int64_t incy) {
  cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(rows),
              static_cast<blasint>(cols), alpha, a, static_cast<blasint>(lda), x, static_cast<blasint>(incx), beta,
              y, static_cast<blasint>(incy));
}

}  // namespace

template <class T>
bool gemm_as_gemv(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                  std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if (m != 1 && n != 1) return false;
  const std::int64_t len = m == 1 ? n : m, inc = m == 1 ? 1 : ldc;
  // BLAS's ?gemv scales y by beta, and 0·NaN is NaN: C may be uninitialised memory.
  if (beta == T(0)) {
    for (std::int64_t i = 0; i < len; ++i) c[i * inc] = T(0);
    beta = T(1);
  }
  if (m == 1) {
    // C (1, n) = x (1, k) · op(B) (k, n): x is A's row (a column of Aᵀ when ta); B is stored
    // (k, n), or (n, k) when tb.
    const std::int64_t incx = ta ? lda : 1;
    if (tb)
      blas_gemv(false, n, k, alpha, b, ldb, a, incx, beta, c, inc);
    else
      blas_gemv(true, k, n, alpha, b, ldb, a, incx, beta, c, inc);
  } else {
    // C (m, 1) = op(A) (m, k) · x (k, 1): x is B's column (a row of Bᵀ when tb); A is stored
    // (m, k), or (k, m) when ta.
    const std::int64_t incx = tb ? 1 : ldb;
    if (ta)
      blas_gemv(true, k, m, alpha, a, lda, b, incx, beta, c, inc);
    else
      blas_gemv(false, m, k, alpha, a, lda, b, incx, beta, c, inc);
  }
  return true;
}

template bool gemm_as_gemv<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                                  std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template bool gemm_as_gemv<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*,
                                   std::int64_t, const double*, std::int64_t, double, double*, std::int64_t);

}  // namespace lamina::cpu
