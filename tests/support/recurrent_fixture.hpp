// SPDX-License-Identifier: Apache-2.0
// tests/support/recurrent_fixture.hpp — the PyTorch fixture of the recurrent layers
// (tests/fixtures/recurrent.json, made by tests/fixtures/make_recurrent_fixtures.py) and its
// input formula.
#pragma once

#include <fstream>
#include <stdexcept>
#include <string>

#include <lamina/layers/recurrent.hpp>
#include <nlohmann/json.hpp>

#include "support/op_testing.hpp"

namespace lamina::testing {

inline const nlohmann::json& recurrent_fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/recurrent.json");
    if (!in.good()) throw std::runtime_error("missing tests/fixtures/recurrent.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

/// The fixture's formula for tensor `name` (seq · scale + shift), times `factor`, a float64 leaf.
inline Tensor recurrent_leaf(const Shape& shape, const std::string& name, double factor = 1.0) {
  const auto& s = recurrent_fixture()["scales"][name];
  return (seq(shape, s[0].get<double>(), float64, s[1].get<double>()) * factor).detach().set_requires_grad(true);
}

/// Gives `cell` the fixture's weights (times `factor`) as float64 leaves.
inline void set_fixture_weights(layers::RecurrentCellLayer& cell, double factor = 1.0) {
  cell.kernel = recurrent_leaf(cell.kernel.shape(), "kernel", factor);
  cell.recurrent_kernel = recurrent_leaf(cell.recurrent_kernel.shape(), "recurrent_kernel", factor);
  cell.bias = recurrent_leaf(cell.bias.shape(), "bias", factor);
}

}  // namespace lamina::testing
