// SPDX-License-Identifier: Apache-2.0
// layers/spatial_config.hpp — how the conv, pooling and reshaping families print and read their
// per-axis arguments (kernel_size, strides, padding pairs) in messages and Keras configs. Private
// to layers/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "engine/config.hpp"
#include "lamina/activations.hpp"
#include "lamina/errors.hpp"
#include "lamina/layer.hpp"
#include "lamina/ops.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers::spatial {

/// Python tuple notation of a per-axis pair: "(3, 3)", or "(3,)" for a 1-D layer (width only).
inline std::string pair_str(Size2D s, int rank) {
  return rank == 1 ? "(" + std::to_string(s.w) + ",)"
                   : "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
}

/// Keras config form: [h, w], or [w] for a 1-D layer.
inline nlohmann::json pair_json(Size2D s, int rank) {
  return rank == 1 ? nlohmann::json::array({s.w}) : nlohmann::json::array({s.h, s.w});
}

/// Reads an `int or tuple` config value written by pair_json (or by Keras, which may write a bare
/// integer): [h, w], [w] or n. Absent or null gives `fallback`.
inline Size2D pair_of(const nlohmann::json& c, const char* key, int rank, Size2D fallback) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  const auto& v = c[key];
  if (v.is_number()) {
    const auto n = v.get<std::int64_t>();
    return rank == 1 ? Size2D{1, n} : Size2D{n, n};
  }
  if (rank == 1) return {1, v.at(0).get<std::int64_t>()};
  if (v.size() != 2)
    throw ValueError("config key '" + std::string(key) + "' must hold 2 integers, got " + v.dump());
  return {v.at(0).get<std::int64_t>(), v.at(1).get<std::int64_t>()};
}

/// Keras's argument checks shared by the convolution layers: every kernel_size, strides and
/// dilation_rate entry positive and, when `exclusive` (the transposed, depthwise and separable
/// convs), not strides > 1 together with dilation_rate > 1. Throws ValueError "<cls>: ...".
/// ValueError "<cls>: <what> must be positive, got (3, 0)" unless both entries are in 1 ..
/// sizes::kMaxDimension (so that window arithmetic on them cannot overflow).
inline void check_pair(const std::string& cls, const char* what, Size2D s, int rank) {
  if (s.h <= 0 || s.w <= 0)
    throw ValueError(cls + ": " + what + " must be positive, got " + pair_str(s, rank));
  if (s.h > sizes::kMaxDimension || s.w > sizes::kMaxDimension)
    throw ValueError(cls + ": " + what + " must be at most " + std::to_string(sizes::kMaxDimension) +
                     ", got " + pair_str(s, rank));
}

inline void check_window_args(const std::string& cls, int rank, Size2D kernel, Size2D strides,
                              Size2D dilation, bool exclusive) {
  check_pair(cls, "kernel_size", kernel, rank);
  check_pair(cls, "strides", strides, rank);
  check_pair(cls, "dilation_rate", dilation, rank);
  if (exclusive && std::max(strides.h, strides.w) > 1 && std::max(dilation.h, dilation.w) > 1)
    throw ValueError(cls +
                     ": strides > 1 is not supported together with dilation_rate > 1, got "
                     "strides=" +
                     pair_str(strides, rank) + " and dilation_rate=" + pair_str(dilation, rank));
}

/// The padding by name, "valid" or "same" (or "causal" when allowed); ValueError "<cls>: ...".
inline Padding padding_for(const std::string& cls, const std::string& name, bool allow_causal) {
  Padding p;
  try {
    p = padding_from_name(name);
  } catch (const ValueError& e) {
    throw ValueError(cls + ": " + e.what());
  }
  if (p == Padding::causal && !allow_causal)
    throw ValueError(cls + ": padding must be \"valid\" or \"same\", got \"" + name + "\"");
  return p;
}

/// The activation run inside a fused kernel (linear when the activation has no fused form, in
/// which case the caller applies it afterwards).
inline FusedActivation fused_part(const Activation& act) {
  return act.fused().value_or(FusedActivation::linear);
}

/// The "padding" of a conv or pooling config, "valid" when absent.
inline std::string padding_of(const nlohmann::json& c) {
  return c.value("padding", std::string("valid"));
}

/// The "data_format" of a config; absent or null: "channels_last" (Keras's image_data_format).
inline std::string data_format_of(const nlohmann::json& c) {
  return c.contains("data_format") && c["data_format"].is_string() ? c["data_format"].get<std::string>()
                                                                   : std::string("channels_last");
}

/// Reads what a layer with a kernel and a bias shares with Dense into options `o`: activation,
/// use_bias, kernel/bias initializers, regularizers and constraints, and the name.
template <class Options>
void read_kernel_bias_arguments(const nlohmann::json& c, Options& o) {
  const auto r = KernelBiasRegularization::from_config(c);
  o.activation = engine::activation_of(c, "activation", "linear");
  o.use_bias = c.value("use_bias", true);
  o.kernel_initializer = engine::initializer_of(c, "kernel_initializer", "glorot_uniform");
  o.bias_initializer = engine::initializer_of(c, "bias_initializer", "zeros");
  o.kernel_regularizer = r.kernel_regularizer;
  o.bias_regularizer = r.bias_regularizer;
  o.activity_regularizer = r.activity_regularizer;
  o.kernel_constraint = r.kernel_constraint;
  o.bias_constraint = r.bias_constraint;
  o.name = engine::name_of(c);
}

/// A 1-D layer's options in its 2-D form: strides (and dilation_rate) keep their width entry.
template <class Options>
Options width_only(Options o) {
  o.strides = {1, o.strides.w};
  if constexpr (requires { o.dilation_rate.w; }) o.dilation_rate = {1, o.dilation_rate.w};
  return o;
}

/// A (before, after) amount along one axis: ZeroPadding and Cropping.
using Margins = std::pair<std::int64_t, std::int64_t>;

/// Reads Keras's padding/cropping forms for one axis: n (both sides) or [before, after].
inline Margins margins_of(const nlohmann::json& v) {
  if (v.is_number()) return {v.get<std::int64_t>(), v.get<std::int64_t>()};
  return {v.at(0).get<std::int64_t>(), v.at(1).get<std::int64_t>()};
}

}  // namespace lamina::layers::spatial
