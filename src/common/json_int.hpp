// SPDX-License-Identifier: Apache-2.0
// src/common/json_int.hpp — an integer read from a config or a file's JSON, checked. nlohmann's
// get<int>() casts whatever number it finds: a float such as 3e30 (undefined behaviour) or an integer
// past the target's range (a different, silently wrong value). Every integer lamina takes from
// untrusted JSON goes through json_int instead, which refuses both, naming the key and the value.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lamina/errors.hpp"

namespace lamina {

/// `v` as a T: an integer within T's range, or a float with an integral value within it (Keras
/// files sometimes write 64.0). Anything else throws ValueError naming `key` (when given) and `v`.
template <class T = std::int64_t>
T json_int(const nlohmann::json& v, const std::string& key = {}) {
  using limits = std::numeric_limits<T>;
  const auto refuse = [&] {
    return ValueError((key.empty() ? std::string() : key + "=") + v.dump(-1, ' ', true) +
                      " is not an integer in [" + std::to_string(limits::min()) + ", " +
                      std::to_string(limits::max()) + "]");
  };
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(limits::max())) throw refuse();
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if ((i < 0 && (!limits::is_signed || i < static_cast<std::int64_t>(limits::min()))) ||
        (i > 0 && static_cast<std::uint64_t>(i) > static_cast<std::uint64_t>(limits::max())))
      throw refuse();
    return static_cast<T>(i);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // 2^digits is exact as a double; limits::max() may not be (int64's rounds up to 2^63).
    const double upper = std::ldexp(1.0, limits::digits);
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(limits::min()) || d >= upper)
      throw refuse();
    return static_cast<T>(d);
  }
  throw refuse();
}

/// config[key] as a T through json_int, or `fallback` when the key is absent or null (nlohmann's
/// value(key, fallback), checked).
template <class T>
T json_int(const nlohmann::json& config, const char* key, T fallback) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return fallback;
  return json_int<T>(config[key], key);
}

/// `v`, an array of integers, as a std::vector<T>: each element through json_int.
template <class T = std::int64_t>
std::vector<T> json_ints(const nlohmann::json& v, const std::string& key = {}) {
  if (!v.is_array()) throw ValueError((key.empty() ? std::string() : key + "=") + v.dump(-1, ' ', true) + " is not a list of integers");
  std::vector<T> out;
  out.reserve(v.size());
  for (const auto& e : v) out.push_back(json_int<T>(e, key));
  return out;
}

}  // namespace lamina
