// SPDX-License-Identifier: Apache-2.0
// lamina/layers/axes.hpp — one axis or several, as Keras's `axis` arguments take them.
#pragma once

#include <initializer_list>
#include <utility>
#include <vector>

namespace lamina::layers {

/// An `axis` option that is one axis or a list: `.axis = -1`, `.axis = {1, 2}`. Negative axes
/// count from the end; axis 0 is the batch.
struct Axes {
  std::vector<int> values{};
  Axes(int axis) : values{axis} {}                                    // NOLINT(google-explicit-constructor)
  Axes(std::initializer_list<int> axes) : values(axes) {}            // NOLINT(google-explicit-constructor)
  Axes(std::vector<int> axes) : values(std::move(axes)) {}           // NOLINT(google-explicit-constructor)
  bool single() const { return values.size() == 1; }
  friend bool operator==(const Axes&, const Axes&) = default;
};

}  // namespace lamina::layers
