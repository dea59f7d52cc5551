// SPDX-License-Identifier: Apache-2.0
// Reshaping layers: ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D, Permute, RepeatVector.
#include "common/json_int.hpp"
#include "lamina/layers/reshaping.hpp"
#include "catalogue.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <numeric>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {

namespace {
std::string margins_str(const Margins& m) {
  return "(" + std::to_string(m.before) + ", " + std::to_string(m.after) + ")";
}

nlohmann::json margins_json(const Margins& m) { return nlohmann::json::array({m.before, m.after}); }

std::string format_of(const MarginOptions& o) { return o.data_format.value_or("channels_last"); }

// A 1-D input (batch, steps, channels) as the image (batch, 1, steps, channels).
Tensor as_image(const Tensor& x) { return x.reshape({x.dim(0), 1, x.dim(1), x.dim(2)}); }
}  // namespace

// --- ZeroPadding / Cropping ----------------------------------------------------------------------

MarginLayer::MarginLayer(Kind kind, int rank, Margins2D margins, std::string name,
                         const std::string& data_format)
    : Layer(std::move(name)), kind_(kind), rank_(rank), margins_(margins) {
  if (kind == Kind::cropping && rank == 1)
    spatial::require_channels_last(class_name(), data_format);
  channels_first_ = spatial::channels_first(class_name(), data_format);
  if (rank == 1) margins_.rows = 0;
  const auto& m = margins_;
  if (std::min({m.rows.before, m.rows.after, m.cols.before, m.cols.after}) < 0 ||
      std::max({m.rows.before, m.rows.after, m.cols.before, m.cols.after}) > sizes::kMaxDimension)
    throw ValueError(class_name() + ": " + (kind == Kind::zero_padding ? "padding" : "cropping") +
                     " must be >= 0 and at most " + std::to_string(sizes::kMaxDimension) + ", got " +
                     (rank == 1 ? margins_str(m.cols)
                                : "(" + margins_str(m.rows) + ", " + margins_str(m.cols) + ")"));
}

std::string MarginLayer::class_name() const {
  return std::string(kind_ == Kind::zero_padding ? "ZeroPadding" : "Cropping") +
         std::to_string(rank_) + "D";
}

Shape MarginLayer::compute_output_shape(const Shape& input_shape) {
  return spatial::in_channels_last(channels_first_, input_shape,
                                   [&](const Shape& s) { return output_shape_last(s); });
}

Shape MarginLayer::output_shape_last(const Shape& s) const {
  if (s.rank() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + s.str());
  const int sign = kind_ == Kind::zero_padding ? 1 : -1;
  Shape out = s;
  auto resize = [&](int axis, const Margins& m) {
    if (s[axis] < 0) return;
    out[axis] = s[axis] + sign * (m.before + m.after);
    if (out[axis] <= 0)
      fail_shape("cropping " + margins_str(m) + " leaves nothing of axis " + std::to_string(axis) +
                 " of input " + s.str());
  };
  if (rank_ == 2) resize(1, margins_.rows);
  resize(rank_, margins_.cols);
  return out;
}

Tensor MarginLayer::call(const Tensor& input, bool) {
  return spatial::in_channels_last(channels_first_, input, [&](const Tensor& x) {
    const Shape out = output_shape_last(x.shape());
    Tensor img = rank_ == 2 ? x : as_image(x);
    const auto& [r, c] = margins_;
    Tensor y = kind_ == Kind::zero_padding ? zero_pad2d(img, r.before, r.after, c.before, c.after)
                                           : crop2d(img, r.before, r.after, c.before, c.after);
    return rank_ == 2 ? y : y.reshape(out);
  });
}

nlohmann::json MarginLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  const char* key = kind_ == Kind::zero_padding ? "padding" : "cropping";
  if (rank_ == 1) {
    c[key] = margins_json(margins_.cols);
  } else {
    c[key] = nlohmann::json::array({margins_json(margins_.rows), margins_json(margins_.cols)});
  }
  // Keras 3's ZeroPadding1D has a data_format; its Cropping1D has none.
  if (rank_ == 2 || kind_ == Kind::zero_padding)
    c["data_format"] = spatial::data_format_name(channels_first_);
  return c;
}

ZeroPadding2D::ZeroPadding2D(Margins2D padding, MarginOptions o)
    : LayerHandle(std::make_shared<MarginLayer>(MarginLayer::Kind::zero_padding, 2, padding,
                                                std::move(o.name), format_of(o))) {}
ZeroPadding1D::ZeroPadding1D(Margins padding, MarginOptions o)
    : LayerHandle(std::make_shared<MarginLayer>(MarginLayer::Kind::zero_padding, 1,
                                                Margins2D(0, padding), std::move(o.name),
                                                format_of(o))) {}
Cropping2D::Cropping2D(Margins2D cropping, MarginOptions o)
    : LayerHandle(std::make_shared<MarginLayer>(MarginLayer::Kind::cropping, 2, cropping,
                                                std::move(o.name), format_of(o))) {}
Cropping1D::Cropping1D(Margins cropping, MarginOptions o)
    : LayerHandle(std::make_shared<MarginLayer>(MarginLayer::Kind::cropping, 1,
                                                Margins2D(0, cropping), std::move(o.name),
                                                format_of(o))) {}

// --- UpSampling ----------------------------------------------------------------------------------

UpSamplingLayer::UpSamplingLayer(int rank, Size2D size, std::string interpolation, std::string name,
                                 const std::string& data_format)
    : Layer(std::move(name)), rank_(rank), size_(size), interpolation_(std::move(interpolation)) {
  if (rank == 1) spatial::require_channels_last(class_name(), data_format);
  channels_first_ = spatial::channels_first(class_name(), data_format);
  std::transform(interpolation_.begin(), interpolation_.end(), interpolation_.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  spatial::check_pair(class_name(), "size", size_, rank);
  if (interpolation_ != "nearest" && interpolation_ != "bilinear")
    throw ValueError(class_name() + ": interpolation must be \"nearest\" or \"bilinear\", got \"" +
                     interpolation_ + "\"");
}

Shape UpSamplingLayer::compute_output_shape(const Shape& input_shape) {
  return spatial::in_channels_last(channels_first_, input_shape,
                                   [&](const Shape& s) { return output_shape_last(s); });
}

Shape UpSamplingLayer::output_shape_last(const Shape& s) const {
  if (s.rank() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + s.str());
  Shape out = s;
  if (rank_ == 2 && s[1] >= 0) out[1] = s[1] * size_.h;
  if (s[rank_] >= 0) out[rank_] = s[rank_] * size_.w;
  return out;
}

Tensor UpSamplingLayer::call(const Tensor& input, bool) {
  return spatial::in_channels_last(channels_first_, input, [&](const Tensor& x) {
    const Shape out = output_shape_last(x.shape());
    Tensor in = is_floating(x.dtype()) ? x : x.astype(float32);
    if (rank_ == 1) return image_resize(as_image(in), 1, out[1], "nearest").reshape(out);
    return image_resize(in, out[1], out[2], interpolation_);
  });
}

nlohmann::json UpSamplingLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  if (rank_ == 1) {
    c["size"] = size_.w;
  } else {
    c["size"] = spatial::pair_json(size_, 2);
    c["data_format"] = spatial::data_format_name(channels_first_);
    c["interpolation"] = interpolation_;
  }
  return c;
}

UpSampling2D::UpSampling2D(Size2D size, UpSampling2DOptions o)
    : LayerHandle(std::make_shared<UpSamplingLayer>(2, size, std::move(o.interpolation),
                                                    std::move(o.name), o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}
UpSampling1D::UpSampling1D(std::int64_t size, Name name)
    : LayerHandle(
          std::make_shared<UpSamplingLayer>(1, Size2D{1, size}, "nearest", std::move(name))) {}

// --- Permute -------------------------------------------------------------------------------------

PermuteLayer::PermuteLayer(std::vector<int> dims, std::string name)
    : Layer(std::move(name)), dims_(std::move(dims)) {
  std::vector<int> sorted = dims_, expected(dims_.size());
  std::sort(sorted.begin(), sorted.end());
  std::iota(expected.begin(), expected.end(), 1);
  if (sorted != expected || dims_.empty()) {
    std::string got;
    for (int d : dims_) got += (got.empty() ? "" : ", ") + std::to_string(d);
    throw ValueError("Permute: dims must be a permutation of 1.." + std::to_string(dims_.size()) +
                     " (the non-batch axes, counted from 1), got (" + got + ")");
  }
}

Shape PermuteLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != static_cast<int>(dims_.size()) + 1)
    fail_shape("dims has " + std::to_string(dims_.size()) + " axes but the input " + s.str() +
               " has " + std::to_string(s.rank() - 1) + " besides the batch");
  Shape out{s[0]};
  for (int d : dims_) out.push_back(s[static_cast<std::size_t>(d)]);
  return out;
}

Tensor PermuteLayer::call(const Tensor& x, bool) {
  compute_output_shape(x.shape());
  std::vector<int> perm{0};
  perm.insert(perm.end(), dims_.begin(), dims_.end());
  return transpose(x, perm);
}

nlohmann::json PermuteLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["dims"] = dims_;
  return c;
}

Permute::Permute(std::vector<int> dims, Name name)
    : LayerHandle(std::make_shared<PermuteLayer>(std::move(dims), std::move(name))) {}

// --- RepeatVector --------------------------------------------------------------------------------

RepeatVectorLayer::RepeatVectorLayer(std::int64_t n, std::string name)
    : Layer(std::move(name)), n_(n) {
  sizes::require_size("RepeatVector", "n", n);
}

Shape RepeatVectorLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != 2) fail_shape("input must be 2-D (batch, features), got " + s.str());
  return {s[0], n_, s[1]};
}

Tensor RepeatVectorLayer::call(const Tensor& x, bool) {
  compute_output_shape(x.shape());
  return broadcast_to(x.reshape({x.dim(0), 1, x.dim(1)}), {x.dim(0), n_, x.dim(1)});
}

nlohmann::json RepeatVectorLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["n"] = n_;
  return c;
}

RepeatVector::RepeatVector(std::int64_t n, Name name)
    : LayerHandle(std::make_shared<RepeatVectorLayer>(n, std::move(name))) {}

// --- from_config ---------------------------------------------------------------------------------

namespace {
using engine::name_of;
using json = nlohmann::json;

// ZeroPadding2D/Cropping2D write ((top, bottom), (left, right)); Keras also accepts n or
// (rows, cols).
Margins2D margins2d_of(const json& v) {
  if (v.is_number()) return Margins2D(json_int<std::int64_t>(v));
  const auto r = spatial::margins_of(v.at(0)), c = spatial::margins_of(v.at(1));
  return {{r.first, r.second}, {c.first, c.second}};
}

Margins margins_of(const json& v) {
  const auto m = spatial::margins_of(v);
  return {m.first, m.second};
}

MarginOptions margin_options_of(const json& c) {
  return {.name = name_of(c), .data_format = spatial::data_format_of(c)};
}

}  // namespace

void register_reshaping_layers() {
  engine::register_layer_spec({
      .class_name = "ZeroPadding2D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return ZeroPadding2D(c.contains("padding") ? margins2d_of(c["padding"]) : Margins2D(1),
                             margin_options_of(c))
            .ptr();
      },
      .honoured_keys = {"padding", "data_format"},
  });
  engine::register_layer_spec({
      .class_name = "ZeroPadding1D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return ZeroPadding1D(c.contains("padding") ? margins_of(c["padding"]) : Margins(1),
                             margin_options_of(c))
            .ptr();
      },
      .honoured_keys = {"padding", "data_format"},
  });
  engine::register_layer_spec({
      .class_name = "Cropping2D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Cropping2D(c.contains("cropping") ? margins2d_of(c["cropping"]) : Margins2D(0),
                          margin_options_of(c))
            .ptr();
      },
      .honoured_keys = {"cropping", "data_format"},
  });
  engine::register_layer_spec({
      .class_name = "Cropping1D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Cropping1D(c.contains("cropping") ? margins_of(c["cropping"]) : Margins(1),
                          margin_options_of(c))
            .ptr();
      },
      .honoured_keys = {"cropping"},
      .key_rules = {keys::steps_only()},
  });
  engine::register_layer_spec({
      .class_name = "UpSampling2D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return UpSampling2D(spatial::pair_of(c, "size", 2, 2),
                            {.data_format = spatial::data_format_of(c),
                             .interpolation = c.value("interpolation", std::string("nearest")),
                             .name = name_of(c)})
            .ptr();
      },
      .honoured_keys = {"size", "data_format", "interpolation"},
  });
  engine::register_layer_spec({
      .class_name = "UpSampling1D",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return UpSampling1D(spatial::pair_of(c, "size", 1, {1, 2}).w, name_of(c)).ptr();
      },
      .honoured_keys = {"size"},
      .key_rules = {keys::steps_only()},
  });
  engine::register_layer_spec({
      .class_name = "Permute",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Permute(json_ints<int>(c.at("dims"), "dims"), name_of(c)).ptr();
      },
      .honoured_keys = {"dims"},
  });
  engine::register_layer_spec({
      .class_name = "RepeatVector",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return RepeatVector(json_int<std::int64_t>(c.at("n"), "n"), name_of(c)).ptr();
      },
      .honoured_keys = {"n"},
  });
}

}  // namespace lamina::layers
