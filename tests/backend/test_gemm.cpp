// SPDX-License-Identifier: Apache-2.0
// cpu::gemm cuts large products into blocks that the pool's threads claim in turn; every
// transpose combination and both cut directions must match a plain triple loop, with alpha and
// beta applied once per element, and repeat bit for bit for a fixed thread count.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <vector>

#include <lamina/tensor.hpp>

#include "backend/cpu/gemm.hpp"

using namespace lamina;

namespace {

struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

template <class T>
std::vector<T> filled(std::size_t n, int salt) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = T(((i * 7 + salt * 13) % 23) - 11) / T(8);
  return v;
}

// C = alpha·op(A)·op(B) + beta·C, the definition, in double.
template <class T>
std::vector<T> reference(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                         const std::vector<T>& a, const std::vector<T>& b, T beta,
                         std::vector<T> c) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::int64_t p = 0; p < k; ++p)
        acc += double(ta ? a[p * m + i] : a[i * k + p]) * double(tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = T(alpha * acc + beta * double(c[i * n + j]));
    }
  return c;
}

template <class T>
void check_shape(std::int64_t m, std::int64_t n, std::int64_t k) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      INFO("m " << m << " n " << n << " k " << k << " ta " << ta << " tb " << tb);
      auto a = filled<T>(m * k, 1), b = filled<T>(k * n, 2), c0 = filled<T>(m * n, 3);
      const T alpha = T(0.5), beta = T(0.25);
      auto c = c0;
      cpu::gemm(ta, tb, m, n, k, alpha, a.data(), ta ? m : k, b.data(), tb ? k : n, beta,
                c.data(), n);
      auto want = reference(ta, tb, m, n, k, alpha, a, b, beta, c0);
      for (std::size_t i = 0; i < c.size(); ++i) REQUIRE(c[i] == Approx(want[i]).margin(1e-3));
      auto again = c0;
      cpu::gemm(ta, tb, m, n, k, alpha, a.data(), ta ? m : k, b.data(), tb ? k : n, beta,
                again.data(), n);
      REQUIRE(again == c);
    }
}

}  // namespace

TEST_CASE("gemm split across threads matches the definition", "[backend]") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    INFO("threads " << threads);
    check_shape<float>(70, 517, 96);   // wide: cut along columns, a ragged last block
    check_shape<float>(389, 66, 120);  // tall: cut along rows
    check_shape<double>(130, 300, 64);
    check_shape<float>(8, 10, 5);      // small: one call, no split
  }
}

// One row or one column of C goes to ?gemv (backend/cpu/gemv.cpp), strided operands included.
TEST_CASE("gemm with one row or one column of C matches the definition", "[backend]") {
  ThreadCountGuard guard;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    INFO("threads " << threads);
    check_shape<float>(1, 517, 96);   // a batch-1 Dense layer
    check_shape<float>(1, 24000, 96);  // large enough to be cut into column blocks
    check_shape<float>(300, 1, 64);   // a 1-unit Dense layer
    check_shape<float>(1, 1, 50);
    check_shape<double>(1, 70, 33);
    check_shape<double>(45, 1, 20);
  }
}

TEST_CASE("gemm with one row of C and beta 0 ignores what C held", "[backend]") {
  const std::int64_t n = 40, k = 30;
  auto a = filled<float>(k, 1), b = filled<float>(k * n, 2);
  for (std::int64_t m : {std::int64_t(1), n}) {  // a row, then a column (a and b swapped)
    std::vector<float> c(n, std::numeric_limits<float>::quiet_NaN());
    if (m == 1)
      cpu::gemm(false, false, 1, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    else
      cpu::gemm(true, false, n, 1, k, 1.0f, b.data(), n, a.data(), 1, 0.0f, c.data(), 1);
    const auto want = reference<float>(false, false, 1, n, k, 1.0f, a, b, 0.0f, std::vector<float>(n, 0.0f));
    for (std::int64_t j = 0; j < n; ++j) REQUIRE(c[j] == Approx(want[j]).margin(1e-4));
  }
}
