// SPDX-License-Identifier: Apache-2.0
// tests/support/conv_fixture.hpp — the PyTorch fixture for convolution, pooling and normalisation
// (tests/fixtures/conv.json, made by tests/fixtures/make_conv_fixtures.py) and its input formulas.
#pragma once

#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <lamina/tensor.hpp>
#include <nlohmann/json.hpp>

namespace lamina::testing {

inline const nlohmann::json& conv_fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/conv.json");
    if (!in.good()) throw std::runtime_error("missing tests/fixtures/conv.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

inline Shape shape_of(const nlohmann::json& j) { return Shape(j.get<std::vector<std::int64_t>>()); }

inline std::vector<double> doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

/// The fixture's probe: p[i] = cos(0.37·i + 0.1).
inline Tensor cos_probe(const Shape& shape) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::cos(0.37 * i + 0.1);
  return Tensor::from_vector(v, shape);
}

}  // namespace lamina::testing
