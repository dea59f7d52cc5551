// SPDX-License-Identifier: Apache-2.0
// Keras's one-or-several `axis` arguments (see axes_config.hpp).
#include "common/json_int.hpp"
#include "axes_config.hpp"

#include <algorithm>
#include <string>

#include "lamina/errors.hpp"

namespace lamina::layers::axes_config {

using json = nlohmann::json;

std::vector<int> resolve(const Layer& layer, const Axes& axes, int rank, bool batch_ok) {
  std::vector<int> out;
  for (int a : axes.values) {
    const int r = a < 0 ? a + rank : a;
    if (r < (batch_ok ? 0 : 1) || r >= rank || std::count(out.begin(), out.end(), r))
      throw ShapeError(layer.class_name() + " '" + layer.name() + "': axis " + std::to_string(a) +
                       (r == 0 && !batch_ok ? " is the batch axis" : " is out of range or repeated") +
                       " for an input of rank " + std::to_string(rank));
    out.push_back(r);
  }
  return out;
}

json to_json(const Axes& axes) { return axes.single() ? json(axes.values[0]) : json(axes.values); }

Axes from_json(const json& c, const char* key, int fallback) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  const json& a = c[key];
  if (a.is_number_integer()) return json_int<int>(a);
  std::vector<int> v;
  if (a.is_array())
    for (const json& e : a)
      if (e.is_number_integer()) v.push_back(json_int<int>(e));
  if (v.empty() || v.size() != a.size())
    throw ValueError(std::string(key) + "=" + a.dump() + " must be an integer or a non-empty list of integers");
  return v;
}

}  // namespace lamina::layers::axes_config
