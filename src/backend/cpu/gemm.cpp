// SPDX-License-Identifier: Apache-2.0
#include "backend/cpu/gemm.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>

#include "backend/cpu/gemv.hpp"
#include "backend/cpu/parallel.hpp"

namespace lamina::cpu {
namespace {
// k == 0: an empty sum, C = beta·C. BLAS would reject lda = 0 (and print to stderr) instead.
template <class T>
void scale_only(std::int64_t m, std::int64_t n, T beta, T* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

void blas(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
  if (gemm_as_gemv(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

void blas(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc) {
  if (gemm_as_gemv(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

// Below this many multiply-adds (about 30 us on one core) waking a second thread costs more
// than it saves: MLP batches of 32 run their 10-unit layers inline.
constexpr std::int64_t kParallelMacs = std::int64_t(1) << 21;
// Narrowest block a thread takes; a multiple of the kernels' 16-wide AVX-512 / 8-wide AVX2 tiles.
constexpr std::int64_t kMinBlock = 64;
constexpr std::int64_t kAlignBlock = 16;

// C = alpha·op(A)·op(B) + beta·C, row-major. Large products are cut along the longer side of C
// into blocks (about 4 per thread) that the pool's threads claim one at a time: a thread that
// the OS deschedules leaves its blocks to the others instead of stalling the whole product, as
// a static split does. Block i covers rows (or columns) [lo_i, lo_{i+1}) with
// lo_i = 16·floor(i·len / (16·blocks)), so the blocks depend only on the shape and thread count
// and every element is computed by the same single-threaded kernel call whichever thread runs
// it: results are bit-identical from run to run.
template <class T>
void gemm_split(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  const int threads = in_parallel_region() ? 1 : num_threads();
  const bool split_n = n >= m;
  const std::int64_t len = split_n ? n : m;
  const std::int64_t blocks = std::min<std::int64_t>(len / kMinBlock, 4 * threads);
  if (threads <= 1 || m * n * k < kParallelMacs || blocks < 2)
    return blas(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  auto bound = [&](std::int64_t i) {
    return i == blocks ? len : (i * len / blocks) / kAlignBlock * kAlignBlock;
  };
  std::atomic<std::int64_t> next{0};
  parallel_for(threads, 1, [&](std::int64_t, std::int64_t) {
    for (std::int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < blocks;) {
      const std::int64_t lo = bound(i), hi = bound(i + 1);
      if (lo == hi) continue;
      if (split_n)  // columns lo..hi of op(B) and C
        blas(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo,
             ldc);
      else  // rows lo..hi of op(A) and C
        blas(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
             c + lo * ldc, ldc);
    }
  });
}

}  // namespace

void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
  gemm_split(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc) {
  gemm_split(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace lamina::cpu
