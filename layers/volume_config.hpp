// SPDX-License-Identifier: Apache-2.0
// layers/volume_config.hpp — what the 3-D layers (and the 1-D ones computed in their form) share:
// per-axis sizes as Keras prints and writes them, and data_format, honoured by transposing a
// channels_first input to channels last at entry and the output back at exit. Private to layers/.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/json_int.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "lamina/ops/conv3d.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers::volume {

/// The axes a layer of `rank` uses: (d, h, w) for 3, the width alone for 1 (held as (1, 1, w)).
inline std::vector<std::int64_t> axes_of(Size3D s, int rank) {
  return rank == 1 ? std::vector<std::int64_t>{s.w} : std::vector<std::int64_t>{s.d, s.h, s.w};
}

/// Python tuple notation: "(2, 3, 3)", or "(3,)" for rank 1.
inline std::string size_str(Size3D s, int rank) {
  std::string out = "(";
  for (std::int64_t v : axes_of(s, rank)) out += (out.size() > 1 ? ", " : "") + std::to_string(v);
  return out + (rank == 1 ? ",)" : ")");
}

/// Keras config form: [d, h, w] or [w].
inline nlohmann::json size_json(Size3D s, int rank) { return axes_of(s, rank); }

/// Reads an `int or tuple` config value of a layer of `rank`: n, [w] or [d, h, w]; absent or null
/// gives `fallback`. Throws ValueError on another count.
inline Size3D size_of(const nlohmann::json& c, const char* key, int rank, Size3D fallback) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  const auto& v = c[key];
  if (v.is_number()) {
    const auto n = json_int<std::int64_t>(v);
    return rank == 1 ? Size3D{1, 1, n} : Size3D{n};
  }
  if (!v.is_array() || v.size() != static_cast<std::size_t>(rank))
    throw ValueError("config key '" + std::string(key) + "' must hold " + std::to_string(rank) + " integer" +
                     (rank == 1 ? "" : "s") + ", got " + v.dump());
  if (rank == 1) return {1, 1, json_int<std::int64_t>(v[0])};
  return {json_int<std::int64_t>(v[0]), json_int<std::int64_t>(v[1]), json_int<std::int64_t>(v[2])};
}

/// ValueError "<cls>: <what> must be positive, got (2, 0, 2)" unless every entry is in 1 ..
/// sizes::kMaxDimension.
inline void check_size(const std::string& cls, const char* what, Size3D s, int rank) {
  for (std::int64_t v : axes_of(s, rank))
    if (v <= 0 || v > sizes::kMaxDimension)
      throw ValueError(cls + ": " + what + " must be positive and at most " + std::to_string(sizes::kMaxDimension) +
                       ", got " + size_str(s, rank));
}

/// What a 3-D layer says of an input of another rank.
inline std::string volume_requirement(bool channels_first) {
  return channels_first ? "input must be 5-D (batch, channels, depth, height, width)"
                        : "input must be 5-D (batch, depth, height, width, channels)";
}

/// Keras's data_format: where the channels are.
enum class DataFormat { channels_last, channels_first };

/// "channels_last" | "channels_first" (Keras's None, an empty string here, is channels_last).
/// Throws ValueError "<cls>: ...".
inline DataFormat data_format_for(const std::string& cls, const std::string& name) {
  if (name.empty() || name == "channels_last") return DataFormat::channels_last;
  if (name == "channels_first") return DataFormat::channels_first;
  throw ValueError(cls + ": data_format must be \"channels_last\" or \"channels_first\", got \"" + name + "\"");
}

inline const char* data_format_name(DataFormat f) {
  return f == DataFormat::channels_first ? "channels_first" : "channels_last";
}

/// The "data_format" of a config; null or absent is channels_last.
inline std::string data_format_of(const nlohmann::json& c) {
  return c.contains("data_format") && c["data_format"].is_string() ? c["data_format"].get<std::string>()
                                                                   : std::string("channels_last");
}

/// The permutation that moves axis 1 (channels first) to the end, or back.
inline std::vector<int> channel_perm(int ndim, bool to_last) {
  std::vector<int> p{0};
  if (!to_last) p.push_back(ndim - 1);
  for (int i = 1; i < ndim - 1; ++i) p.push_back(to_last ? i + 1 : i);
  if (to_last) p.push_back(1);
  return p;
}

/// A shape (batch, channels, spatial...) as (batch, spatial..., channels), or back.
inline Shape permuted(const Shape& s, bool to_last) {
  if (s.rank() < 3) return s;
  Shape out;
  for (int i : channel_perm(s.rank(), to_last)) out.push_back(s[static_cast<std::size_t>(i)]);
  return out;
}

/// The input as channels last: transposed when the layer's format is channels_first.
inline Tensor input_as_channels_last(const Tensor& x, DataFormat f) {
  return f == DataFormat::channels_first && x.ndim() >= 3 ? transpose(x, channel_perm(x.ndim(), true)) : x;
}
/// A channels-last output in the layer's format.
inline Tensor output_in_format(const Tensor& y, DataFormat f) {
  return f == DataFormat::channels_first && y.ndim() >= 3 ? transpose(y, channel_perm(y.ndim(), false)) : y;
}

}  // namespace lamina::layers::volume
