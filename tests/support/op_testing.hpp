// SPDX-License-Identifier: Apache-2.0
// tests/support/op_testing.hpp — small helpers shared by the tensor, ops and autograd tests:
// deterministic inputs, element-wise comparison, and the PyTorch fixture (tests/fixtures/ops.json,
// made by tests/fixtures/make_ops_fixtures.py).
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>
#include <nlohmann/json.hpp>

namespace lamina::testing {

/// x[i] = sin(1.7·i + 0.3)·scale + shift: distinct, tie-free, reproducible (the fixture script
/// uses the same formula).
inline Tensor seq(const Shape& shape, double scale = 1.0, DType dtype = float64,
                  double shift = 0.0) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(1.7 * i + 0.3) * scale + shift;
  return Tensor::from_vector(v, shape).astype(dtype);
}

inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

/// Element-wise |got - want| <= tol·(1 + |want|), reporting the first mismatch.
inline void check_values(const Tensor& got, const std::vector<double>& want, double tol = 1e-6) {
  REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
  for (std::size_t i = 0; i < want.size(); ++i) {
    double g = got.at(static_cast<std::int64_t>(i));
    if (!(std::abs(g - want[i]) <= tol * (1 + std::abs(want[i])))) {
      INFO("element " << i << ": got " << g << ", want " << want[i]);
      CHECK(g == Approx(want[i]));
      return;
    }
  }
  SUCCEED();
}

inline void check_same(const Tensor& got, const Tensor& want, double tol = 1e-6) {
  REQUIRE(got.shape() == want.shape());
  check_values(got, values(want), tol);
}

inline const nlohmann::json& ops_fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/ops.json");
    if (!in.good()) throw std::runtime_error("missing tests/fixtures/ops.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

}  // namespace lamina::testing
