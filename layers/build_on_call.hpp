// SPDX-License-Identifier: Apache-2.0
// layers/build_on_call.hpp — internal: a layer called eagerly builds itself for its first input.
#pragma once

#include "lamina/layer.hpp"
#include "lamina/tensor.hpp"

namespace lamina::layers {

/// Builds `layer` for x's shape (batch unknown) unless it is built: the recurrent layers' entry
/// points that take extra arguments (states, masks) bypass Layer::operator().
inline void build_on(Layer& layer, const Tensor& x) {
  if (layer.built()) return;
  Shape s = x.shape();
  if (!s.empty()) s[0] = -1;
  layer.build_for(s);
}

}  // namespace lamina::layers
