// SPDX-License-Identifier: Apache-2.0
// matmul: all four transpose cases against a naive triple loop (float32 and float64, non-square),
// batched left operands, batched pairs, and shape/dtype errors.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_values;
using lamina::testing::ops_fixture;
using lamina::testing::seq;
using lamina::testing::values;

namespace {

// C[b] = op(A[b]) · op(B[b or 0]), by definition. a is (batch, m, k) or (batch, k, m) as stored.
std::vector<double> naive(const Tensor& a, const Tensor& b, bool ta, bool tb, std::int64_t batch,
                          std::int64_t m, std::int64_t k, std::int64_t n, bool b_batched) {
  std::vector<double> av = values(a), bv = values(b), c;
  for (std::int64_t z = 0; z < batch; ++z) {
    const double* A = av.data() + z * m * k;
    const double* B = bv.data() + (b_batched ? z * k * n : 0);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t p = 0; p < k; ++p)
          s += (ta ? A[p * m + i] : A[i * k + p]) * (tb ? B[j * k + p] : B[p * n + j]);
        c.push_back(s);
      }
  }
  return c;
}

}  // namespace

TEST_CASE("matmul matches a triple loop in all four transpose cases", "[ops]") {
  const std::int64_t m = 3, k = 5, n = 4;
  for (DType dt : {float32, float64}) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        INFO(dtype_name(dt) << " transpose_a=" << ta << " transpose_b=" << tb);
        Tensor a = seq(ta ? Shape{k, m} : Shape{m, k}, 1.0, dt);
        Tensor b = seq(tb ? Shape{n, k} : Shape{k, n}, 0.5, dt, 0.1);
        Tensor c = matmul(a, b, ta, tb);
        CHECK(c.dtype() == dt);
        REQUIRE(c.shape() == Shape{m, n});
        check_values(c, naive(a, b, ta, tb, 1, m, k, n, false), dt == float32 ? 1e-6 : 1e-14);
      }
    }
  }
}

TEST_CASE("matmul matches PyTorch values", "[ops]") {
  const auto& fx = ops_fixture()["matmul"];
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = seq(ta ? Shape{5, 3} : Shape{3, 5}, 1.0);
      Tensor b = seq(tb ? Shape{4, 5} : Shape{5, 4}, 0.5);
      std::string key = std::to_string(int(ta)) + std::to_string(int(tb));
      check_values(matmul(a, b, ta, tb), fx[key]["c"].get<std::vector<double>>(), 1e-13);
    }
}

TEST_CASE("matmul treats the leading axes of a 3-D left operand as a batch", "[ops]") {
  const std::int64_t batch = 3, m = 2, k = 4, n = 5;
  for (DType dt : {float32, float64}) {
    INFO(dtype_name(dt));
    Tensor a = seq({batch, m, k}, 1.0, dt);
    Tensor w = seq({k, n}, 0.7, dt, -0.2);
    Tensor c = matmul(a, w);
    REQUIRE(c.shape() == Shape{batch, m, n});
    double tol = dt == float32 ? 1e-6 : 1e-14;
    check_values(c, naive(a, w, false, false, batch, m, k, n, false), tol);
    Tensor wt = seq({n, k}, 0.7, dt);
    check_values(matmul(a, wt, false, true), naive(a, wt, false, true, batch, m, k, n, false), tol);
    Tensor at = seq({batch, k, m}, 1.0, dt);
    check_values(matmul(at, w, true, false), naive(at, w, true, false, batch, m, k, n, false), tol);
    // Four-D: (2, 3, m, k) folds both leading axes.
    Tensor a4 = seq({2, 3, m, k}, 1.0, dt);
    Tensor c4 = matmul(a4, w);
    CHECK(c4.shape() == Shape{2, 3, m, n});
    check_values(c4, naive(a4, w, false, false, 6, m, k, n, false), tol);
  }
}

TEST_CASE("matmul multiplies batches pairwise when both operands are batched", "[ops]") {
  const std::int64_t batch = 2, m = 3, k = 2, n = 4;
  Tensor a = seq({batch, m, k});
  Tensor b = seq({batch, k, n}, 1.3);
  Tensor c = matmul(a, b);
  REQUIRE(c.shape() == Shape{batch, m, n});
  check_values(c, naive(a, b, false, false, batch, m, k, n, true), 1e-14);
  Tensor bt = seq({batch, n, k}, 1.3);
  check_values(matmul(a, bt, false, true), naive(a, bt, false, true, batch, m, k, n, true), 1e-14);
}

TEST_CASE("matmul rejects shapes and dtypes that do not fit", "[ops]") {
  Tensor a = Tensor::zeros({3, 4});
  try {
    matmul(a, Tensor::zeros({5, 2}));
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("(3, 4)") && Catch::Contains("(5, 2)"));
  }
  CHECK_THROWS_AS(matmul(a, Tensor::zeros({4})), ShapeError);
  CHECK_THROWS_AS(matmul(a, Tensor::zeros({4, 2}, float64)), TypeError);
  CHECK_THROWS_AS(matmul(Tensor::zeros({3, 4}, int32), Tensor::zeros({4, 2}, int32)), TypeError);
  CHECK_THROWS_AS(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 2})), ShapeError);
  // Batch axes must agree as shapes, not just in their product.
  CHECK_THROWS_AS(matmul(Tensor::zeros({2, 3, 1, 4}), Tensor::zeros({3, 2, 4, 2})), ShapeError);
  CHECK_NOTHROW(matmul(a, Tensor::zeros({2, 4}), false, true));
}

TEST_CASE("matmul with an empty inner dimension gives zeros", "[ops]") {
  Tensor c = matmul(Tensor::zeros({3, 0}), Tensor::zeros({0, 2}));
  CHECK(c.shape() == Shape{3, 2});
  CHECK(values(c) == std::vector<double>(6, 0.0));
  Tensor d = dense(Tensor::zeros({2, 0}), Tensor::zeros({0, 3}), Tensor::ones({3}));
  CHECK(values(d) == std::vector<double>(6, 1.0));
}
