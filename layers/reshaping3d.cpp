// SPDX-License-Identifier: Apache-2.0
// Volumetric reshaping layers: ZeroPadding3D, Cropping3D, UpSampling3D, and SpatialDropout3D
// (the feature-volume dropout, an op expression over lamina's seeded stream).
#include "common/json_int.hpp"
#include "lamina/layers/reshaping3d.hpp"
#include "catalogue.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "ops/random.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"
#include "volume_config.hpp"

namespace lamina::layers {

namespace {
using json = nlohmann::json;

volume::DataFormat format_of(bool channels_first) {
  return channels_first ? volume::DataFormat::channels_first : volume::DataFormat::channels_last;
}

bool is_channels_first(const std::string& cls, const std::string& data_format) {
  return volume::data_format_for(cls, data_format) == volume::DataFormat::channels_first;
}

// The input shape as channels last; empty when the rank is not 5 (the caller fails naming itself).
Shape channels_last_shape(const Shape& s, bool channels_first) {
  if (s.rank() != 5) return {};
  return channels_first ? volume::permuted(s, true) : s;
}

std::string margins_str(const Margins3D& m) {
  auto one = [](const Margins& a) { return "(" + std::to_string(a.before) + ", " + std::to_string(a.after) + ")"; };
  return "(" + one(m.depth) + ", " + one(m.rows) + ", " + one(m.cols) + ")";
}
}  // namespace

// --- ZeroPadding3D / Cropping3D ------------------------------------------------------------------

Margin3DLayer::Margin3DLayer(MarginLayer::Kind kind, Margins3D margins, const std::string& data_format,
                             std::string name)
    : Layer(std::move(name)), kind_(kind), margins_(margins), channels_first_(false) {
  const auto& m = margins_;
  const auto [lo, hi] = std::minmax({m.depth.before, m.depth.after, m.rows.before, m.rows.after, m.cols.before,
                                     m.cols.after});
  if (lo < 0 || hi > sizes::kMaxDimension)
    throw ValueError(class_name() + ": " + (kind == MarginLayer::Kind::zero_padding ? "padding" : "cropping") +
                     " must be >= 0 and at most " + std::to_string(sizes::kMaxDimension) + ", got " + margins_str(m));
  channels_first_ = is_channels_first(class_name(), data_format);
}

std::string Margin3DLayer::class_name() const {
  return kind_ == MarginLayer::Kind::zero_padding ? "ZeroPadding3D" : "Cropping3D";
}

Shape Margin3DLayer::compute_output_shape(const Shape& given) {
  Shape out = channels_last_shape(given, channels_first_);
  if (out.empty()) fail_shape(volume::volume_requirement(channels_first_) + ", got " + given.str());
  const int sign = kind_ == MarginLayer::Kind::zero_padding ? 1 : -1;
  const Margins* per_axis[] = {&margins_.depth, &margins_.rows, &margins_.cols};
  for (int axis = 1; axis <= 3; ++axis) {
    const Margins& m = *per_axis[axis - 1];
    if (out[axis] < 0) continue;
    out[axis] += sign * (m.before + m.after);
    if (out[axis] <= 0) fail_shape("cropping " + margins_str(margins_) + " leaves nothing of input " + given.str());
  }
  return channels_first_ ? volume::permuted(out, false) : out;
}

Tensor Margin3DLayer::call(const Tensor& x, bool) {
  compute_output_shape(x.shape());
  const auto& m = margins_;
  const Size3D before{m.depth.before, m.rows.before, m.cols.before}, after{m.depth.after, m.rows.after, m.cols.after};
  const Tensor in = volume::input_as_channels_last(x, format_of(channels_first_));
  const Tensor y = kind_ == MarginLayer::Kind::zero_padding ? zero_pad3d(in, before, after) : crop3d(in, before, after);
  return volume::output_in_format(y, format_of(channels_first_));
}

json Margin3DLayer::get_config() const {
  json c = Layer::get_config();
  auto pair = [](const Margins& a) { return json::array({a.before, a.after}); };
  c[kind_ == MarginLayer::Kind::zero_padding ? "padding" : "cropping"] =
      json::array({pair(margins_.depth), pair(margins_.rows), pair(margins_.cols)});
  c["data_format"] = volume::data_format_name(format_of(channels_first_));
  return c;
}

ZeroPadding3D::ZeroPadding3D(Margins3D padding, Margin3DOptions o)
    : LayerHandle(std::make_shared<Margin3DLayer>(MarginLayer::Kind::zero_padding, padding, o.data_format,
                                                  std::move(o.name))) {}
Cropping3D::Cropping3D(Margins3D cropping, Margin3DOptions o)
    : LayerHandle(std::make_shared<Margin3DLayer>(MarginLayer::Kind::cropping, cropping, o.data_format,
                                                  std::move(o.name))) {}

// --- UpSampling3D --------------------------------------------------------------------------------

UpSampling3DLayer::UpSampling3DLayer(Size3D size, const std::string& data_format, std::string name)
    : Layer(std::move(name)), size_(size), channels_first_(is_channels_first("UpSampling3D", data_format)) {
  volume::check_size("UpSampling3D", "size", size_, 3);
}

Shape UpSampling3DLayer::compute_output_shape(const Shape& given) {
  Shape out = channels_last_shape(given, channels_first_);
  if (out.empty()) fail_shape(volume::volume_requirement(channels_first_) + ", got " + given.str());
  const std::int64_t factors[] = {size_.d, size_.h, size_.w};
  for (int axis = 1; axis <= 3; ++axis)
    if (out[axis] >= 0) out[axis] *= factors[axis - 1];
  return channels_first_ ? volume::permuted(out, false) : out;
}

Tensor UpSampling3DLayer::call(const Tensor& x, bool) {
  compute_output_shape(x.shape());
  const Tensor in = is_floating(x.dtype()) ? x : x.astype(float32);
  return volume::output_in_format(upsample3d(volume::input_as_channels_last(in, format_of(channels_first_)), size_),
                                  format_of(channels_first_));
}

json UpSampling3DLayer::get_config() const {
  json c = Layer::get_config();
  c["size"] = volume::size_json(size_, 3);
  c["data_format"] = volume::data_format_name(format_of(channels_first_));
  return c;
}

UpSampling3D::UpSampling3D(Size3D size, UpSampling3DOptions o)
    : LayerHandle(std::make_shared<UpSampling3DLayer>(size, o.data_format, std::move(o.name))) {
  apply_dtype_option(**this, o.dtype);
}

// --- SpatialDropout3D ----------------------------------------------------------------------------

SpatialDropout3DLayer::SpatialDropout3DLayer(double rate, const std::string& data_format, std::string name)
    : Layer(std::move(name)), rate_(rate), channels_first_(is_channels_first("SpatialDropout3D", data_format)) {
  if (!(rate >= 0 && rate < 1))
    throw ValueError("SpatialDropout3D: rate must be in [0, 1), got " + std::to_string(rate));
}

Shape SpatialDropout3DLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != 5) fail_shape(volume::volume_requirement(channels_first_) + ", got " + s.str());
  return s;
}

Tensor SpatialDropout3DLayer::call(const Tensor& x, bool training) {
  compute_output_shape(x.shape());
  if (!training || rate_ == 0) return x;
  // One keep/drop draw per (sample, channel), broadcast over the voxels.
  Shape noise(5, 1);
  noise[0] = x.dim(0);
  noise[channels_first_ ? 1 : 4] = x.dim(channels_first_ ? 1 : 4);
  const DType dt = is_floating(x.dtype()) ? x.dtype() : float32;
  return (dt == x.dtype() ? x : x.astype(dt)) * random::dropout_mask(noise, rate_, dt, x.device());
}

json SpatialDropout3DLayer::get_config() const {
  json c = Layer::get_config();
  c.erase("trainable");  // Keras 3's SpatialDropout3D takes no such argument (nor writes it)
  c["rate"] = rate_;
  c["seed"] = nullptr;
  c["data_format"] = volume::data_format_name(format_of(channels_first_));
  return c;
}

SpatialDropout3D::SpatialDropout3D(double rate, SpatialDropout3DOptions o)
    : LayerHandle(std::make_shared<SpatialDropout3DLayer>(rate, o.data_format, std::move(o.name))) {}

// --- from_config ---------------------------------------------------------------------------------

namespace {
using engine::name_of;

// Keras writes ((front, back), (top, bottom), (left, right)); it also accepts n or (d, h, w).
Margins3D margins3d_of(const json& c, const char* key) {
  if (!c.contains(key) || c[key].is_null()) return Margins3D(1);
  const json& v = c[key];
  if (v.is_number()) return Margins3D(json_int<std::int64_t>(v));
  if (!v.is_array() || v.size() != 3)
    throw ValueError("config key '" + std::string(key) + "' must hold 3 entries, got " + v.dump());
  auto axis = [&](int i) {
    const auto m = spatial::margins_of(v.at(i));
    return Margins{m.first, m.second};
  };
  return {axis(0), axis(1), axis(2)};
}

}  // namespace

void register_reshaping3d_layers() {
  // data_format is honoured, channels_first included.
  engine::register_layer_spec({
      .class_name = "ZeroPadding3D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return std::make_shared<Margin3DLayer>(MarginLayer::Kind::zero_padding, margins3d_of(c, "padding"),
                                               volume::data_format_of(c), name_of(c));
      },
      .honoured_keys = {"padding", "data_format"},
  });
  engine::register_layer_spec({
      .class_name = "Cropping3D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return std::make_shared<Margin3DLayer>(MarginLayer::Kind::cropping, margins3d_of(c, "cropping"),
                                               volume::data_format_of(c), name_of(c));
      },
      .honoured_keys = {"cropping", "data_format"},
  });
  engine::register_layer_spec({
      .class_name = "UpSampling3D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return std::make_shared<UpSampling3DLayer>(volume::size_of(c, "size", 3, 2), volume::data_format_of(c),
                                                   name_of(c));
      },
      .honoured_keys = {"size", "data_format"},
  });
  engine::register_layer_spec({
      .class_name = "SpatialDropout3D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return std::make_shared<SpatialDropout3DLayer>(c.at("rate").get<double>(), volume::data_format_of(c),
                                                       name_of(c));
      },
      .honoured_keys = {"rate", "seed", "data_format"},
      .key_rules = {{"noise_shape", {nullptr}, "the mask's shape is fixed by the layer"}},
      .call_kwargs = {{"training", false}},
  });
}

}  // namespace lamina::layers
