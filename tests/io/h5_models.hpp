// SPDX-License-Identifier: Apache-2.0
// tests/io/h5_models.hpp — small models and data for the file tests, and exact comparisons.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/layers/normalization.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>

namespace lamina::testing {

/// Input(6) -> Dense(8, relu) -> BatchNormalization -> Dense(3, softmax), seeded.
inline Model small_mlp(std::uint64_t seed, std::int64_t hidden = 8) {
  set_seed(seed);
  return Sequential({layers::Input({6}), layers::Dense(hidden, {.activation = "relu"}),
                     layers::BatchNormalization(), layers::Dense(3, {.activation = "softmax"})});
}

/// A Functional DAG: x -> Dense(5) -> Concatenate(with x) -> Dense(2).
inline Model small_functional(std::uint64_t seed) {
  set_seed(seed);
  auto x = layers::Input({4}, {.name = "features"});
  auto h = layers::Dense(5, {.activation = "tanh"})(x);
  auto c = layers::Concatenate()({h, x});
  auto y = layers::Dense(2, {.name = "head"})(c);
  return Model(x, y, "two_path");
}

inline Tensor features(std::int64_t n, std::int64_t width, std::uint64_t seed) {
  set_seed(seed);
  return random_normal({n, width});
}

inline Tensor labels(std::int64_t n, std::int64_t classes) {
  std::vector<std::int64_t> y;
  for (std::int64_t i = 0; i < n; ++i) y.push_back((i * 7 + 3) % classes);
  return Tensor::from_vector(y, {n});
}

/// True when both lists hold tensors of the same shapes and identical bytes.
inline bool same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape() || a[i].dtype() != b[i].dtype()) return false;
    if (std::memcmp(a[i].raw_data(), b[i].raw_data(), a[i].nbytes()) != 0) return false;
  }
  return true;
}

inline std::vector<Tensor> optimizer_values(const Model& m) {
  std::vector<Tensor> out;
  for (const auto& [name, value] : m.optimizer()->variables()) out.push_back(value.clone());
  return out;
}

}  // namespace lamina::testing
