// SPDX-License-Identifier: Apache-2.0
// tests/losses/loss_metric_fixture.hpp — tests/fixtures/loss_metric.json (made by
// make_loss_metric_fixtures.py) and its tensor encoding, for the loss and metric tests.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <lamina/tensor.hpp>
#include <nlohmann/json.hpp>

namespace lamina::testing {

inline const nlohmann::json& loss_metric_fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/loss_metric.json");
    if (!in.good()) throw std::runtime_error("missing tests/fixtures/loss_metric.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

/// {"shape", "dtype", "data"} as a float64 or int64 tensor.
inline Tensor decode_tensor(const nlohmann::json& j) {
  Shape shape(j["shape"].get<std::vector<std::int64_t>>());
  if (j["dtype"] == "int64") return Tensor::from_vector(j["data"].get<std::vector<std::int64_t>>(), shape);
  return Tensor::from_vector(j["data"].get<std::vector<double>>(), shape);
}

}  // namespace lamina::testing
