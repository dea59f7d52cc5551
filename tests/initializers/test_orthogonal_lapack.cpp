// SPDX-License-Identifier: Apache-2.0
// Orthogonal through LAPACK's blocked QR: the same unique Q (R's diagonal positive) as a
// modified Gram-Schmidt of the same seeded sample, and an LSTM(600)-sized recurrent kernel
// orthonormal to 1e-6 in float32.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <lamina/initializers.hpp>
#include <lamina/ops.hpp>

using namespace lamina;

namespace {

// Q (m×n, row-major) of the row-major m×n matrix a by modified Gram-Schmidt: column j is a's
// column j minus its projections on the earlier columns, normalised. Its R's diagonal is the
// norms, positive: the Q Keras's sign correction selects.
std::vector<double> gram_schmidt_q(std::vector<double> a, std::int64_t m, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) {
    for (std::int64_t k = 0; k < j; ++k) {
      double dot = 0;
      for (std::int64_t i = 0; i < m; ++i) dot += a[i * n + k] * a[i * n + j];
      for (std::int64_t i = 0; i < m; ++i) a[i * n + j] -= dot * a[i * n + k];
    }
    double norm = 0;
    for (std::int64_t i = 0; i < m; ++i) norm += a[i * n + j] * a[i * n + j];
    norm = std::sqrt(norm);
    for (std::int64_t i = 0; i < m; ++i) a[i * n + j] /= norm;
  }
  return a;
}

}  // namespace

TEST_CASE("orthogonal equals the Gram-Schmidt Q of its seeded normal sample, times gain",
          "[initializers]") {
  const std::int64_t m = 120, n = 40;
  for (bool wide : {false, true}) {
    INFO((wide ? "wide (40, 120)" : "tall (120, 40)"));
    set_seed(17);
    Tensor q = initializers::Orthogonal(1.5)(wide ? Shape{n, m} : Shape{m, n}, float64);
    set_seed(17);
    const auto expected = gram_schmidt_q(random_normal({m, n}, 0.0, 1.0, float64).to_vector<double>(), m, n);
    const auto got = q.to_vector<double>();
    double worst = 0;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        worst = std::max(worst, std::abs((wide ? got[j * m + i] : got[i * n + j]) - 1.5 * expected[i * n + j]));
    CHECK(worst < 1e-10);
  }
}

TEST_CASE("orthogonal makes an LSTM(600) recurrent kernel with orthonormal rows in float32",
          "[initializers]") {
  set_seed(8);
  const Tensor q = Initializer("orthogonal")({600, 2400}, float32);
  const Tensor q64 = q.astype(float64);
  const auto gram = matmul(q64, q64, false, true).to_vector<double>();  // Q·Qᵀ, 600×600
  double worst = 0;
  for (std::int64_t i = 0; i < 600; ++i)
    for (std::int64_t j = 0; j < 600; ++j) worst = std::max(worst, std::abs(gram[i * 600 + j] - (i == j)));
  CHECK(worst < 1e-6);
}
