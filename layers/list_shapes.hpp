// SPDX-License-Identifier: Apache-2.0
// layers/list_shapes.hpp — the shapes of a list-taking layer's inputs, as its build-time checks and
// messages use them (merge and attention layers). Private to layers/.
#pragma once

#include <string>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina::layers {

/// "[(None, 3, 8), (None, 4, 8)]".
inline std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string out = "[";
  for (std::size_t i = 0; i < shapes.size(); ++i) out += (i ? ", " : "") + shapes[i].str();
  return out + "]";
}

/// The shapes of concrete tensors with the batch as None (-1).
inline std::vector<Shape> symbolic_shapes(const std::vector<Tensor>& xs) {
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) {
    Shape s = x.shape();
    if (!s.empty()) s[0] = -1;
    shapes.push_back(s);
  }
  return shapes;
}

}  // namespace lamina::layers
