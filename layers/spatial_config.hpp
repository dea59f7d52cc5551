// SPDX-License-Identifier: Apache-2.0
// layers/spatial_config.hpp — how the conv, pooling and reshaping families print and read their
// per-axis arguments (kernel_size, strides, padding pairs) in messages and Keras configs, and how
// they honour Keras's data_format. Private to layers/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/json_int.hpp"
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
    const auto n = json_int<std::int64_t>(v);
    return rank == 1 ? Size2D{1, n} : Size2D{n, n};
  }
  if (rank == 1) return {1, json_int<std::int64_t>(v.at(0))};
  if (v.size() != 2)
    throw ValueError("config key '" + std::string(key) + "' must hold 2 integers, got " + v.dump());
  return {json_int<std::int64_t>(v.at(0)), json_int<std::int64_t>(v.at(1))};
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
inline FusedActivation fused_part(const lamina::Activation& act) {
  return act.fused().value_or(FusedActivation::linear);
}

/// The "padding" of a conv or pooling config, "valid" when absent.
inline std::string padding_of(const nlohmann::json& c) {
  return c.value("padding", std::string("valid"));
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
  if (v.is_number()) return {json_int<std::int64_t>(v), json_int<std::int64_t>(v)};
  return {json_int<std::int64_t>(v.at(0)), json_int<std::int64_t>(v.at(1))};
}

// --- data_format ---------------------------------------------------------------------------------
// Every spatial layer computes on channels_last (batch, d1.., channels); a channels_first layer
// moves the channel axis last on entry and back on exit (transpose carries autograd). Keras's
// weight layouts do not depend on data_format, so the weights are the same either way.

/// Keras's data_format: false for "channels_last", true for "channels_first"; anything else is a
/// ValueError naming the class, the key and the value.
inline bool channels_first(const std::string& cls, const std::string& data_format) {
  if (data_format == "channels_last") return false;
  if (data_format == "channels_first") return true;
  throw ValueError(cls + ": data_format must be \"channels_last\" or \"channels_first\", got \"" +
                   data_format + "\"");
}

/// For the layers Keras gives no data_format (Cropping1D, UpSampling1D, SpatialDropout1D): only
/// channels_last is accepted.
inline void require_channels_last(const std::string& cls, const std::string& data_format) {
  if (channels_first(cls, data_format))
    throw ValueError(cls + ": data_format=\"channels_first\" is not supported: Keras's " + cls +
                     " has no data_format, its input is (batch, steps, channels)");
}

inline const char* data_format_name(bool channels_first) {
  return channels_first ? "channels_first" : "channels_last";
}

/// The "data_format" of a config; absent or null (Keras's image_data_format(), channels_last
/// unless a keras.json says otherwise) reads "channels_last".
inline std::string data_format_of(const nlohmann::json& c) {
  if (!c.contains("data_format") || c["data_format"].is_null()) return "channels_last";
  return c["data_format"].get<std::string>();
}

/// "input must be 4-D (batch, height, width, channels)" and its 1-D and channels_first forms.
inline std::string input_requirement(int rank, bool channels_first) {
  if (rank == 2)
    return channels_first ? "input must be 4-D (batch, channels, height, width)"
                          : "input must be 4-D (batch, height, width, channels)";
  return channels_first ? "input must be 3-D (batch, channels, steps)"
                        : "input must be 3-D (batch, steps, channels)";
}

/// The axis order that moves axis 1 last ((N, C, H, W) -> (N, H, W, C)), or, with `back`, the
/// last axis to 1.
inline std::vector<int> channel_move(int ndim, bool back) {
  std::vector<int> perm{0};
  if (back) perm.push_back(ndim - 1);
  for (int i = back ? 1 : 2; i < (back ? ndim - 1 : ndim); ++i) perm.push_back(i);
  if (!back) perm.push_back(1);
  return perm;
}

inline Tensor permuted(const Tensor& x, const std::vector<int>& perm) { return transpose(x, perm); }
inline Shape permuted(const Shape& s, const std::vector<int>& perm) {
  Shape out;
  for (int i : perm) out.push_back(s[static_cast<std::size_t>(i)]);
  return out;
}
inline int rank_of(const Tensor& x) { return x.ndim(); }
inline int rank_of(const Shape& s) { return s.rank(); }

/// A tensor or shape (batch, channels, d1, ...) as (batch, d1, ..., channels), and back. Ranks
/// below 3 pass unchanged: the layer's own rank check reports them.
template <class T>
T to_channels_last(const T& x) {
  return rank_of(x) < 3 ? x : permuted(x, channel_move(rank_of(x), false));
}
template <class T>
T to_channels_first(const T& x) {
  return rank_of(x) < 3 ? x : permuted(x, channel_move(rank_of(x), true));
}

/// `f`, written for channels_last, applied to a tensor or shape in the layer's data_format. A
/// ShapeError from `f` says that it saw a channels_first input moved to channels_last.
template <class T, class F>
T in_channels_last(bool channels_first, const T& x, F&& f) {
  if (!channels_first) return f(x);
  try {
    return to_channels_first(f(to_channels_last(x)));
  } catch (const ShapeError& e) {
    throw ShapeError(std::string(e.what()) + " (a channels_first input, shown as channels_last)");
  }
}

}  // namespace lamina::layers::spatial
