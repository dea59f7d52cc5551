// SPDX-License-Identifier: Apache-2.0
// Pooling layers: MaxPooling1D/2D, AveragePooling1D/2D, GlobalMax/AveragePooling1D/2D.
#include "lamina/layers/pooling.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"

namespace lamina::layers {

using spatial::pair_json;
using spatial::pair_str;

// --- windowed pooling ----------------------------------------------------------------------------

PoolingLayer::PoolingLayer(Kind kind, int rank, Size2D pool_size, Size2D strides,
                           const std::string& padding, std::string name,
                           const std::string& data_format)
    : Layer(std::move(name)),
      kind_(kind),
      rank_(rank),
      pool_(pool_size),
      strides_(strides == Size2D{0, 0} ? pool_size : strides),
      padding_(Padding::valid) {
  const std::string cls = class_name();
  spatial::check_pair(cls, "pool_size", pool_, rank);
  spatial::check_pair(cls, "strides", strides_, rank);
  padding_ = spatial::padding_for(cls, padding, false);
  channels_first_ = spatial::channels_first(cls, data_format);
}

std::string PoolingLayer::class_name() const {
  return std::string(kind_ == Kind::max ? "MaxPooling" : "AveragePooling") + std::to_string(rank_) +
         "D";
}

Shape PoolingLayer::compute_output_shape(const Shape& input_shape) {
  return spatial::in_channels_last(channels_first_, input_shape,
                                   [&](const Shape& s) { return output_shape_last(s); });
}

Shape PoolingLayer::output_shape_last(const Shape& s) const {
  if (s.rank() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + s.str());
  Shape out = s;
  const std::int64_t oh = rank_ == 2 ? conv_output_length(s[1], pool_.h, strides_.h, padding_) : 1;
  const std::int64_t ow = conv_output_length(s[rank_], pool_.w, strides_.w, padding_);
  if (oh == 0 || ow == 0)
    fail_shape("pool_size " + pair_str(pool_, rank_) + " is larger than the input " + s.str() +
               " with 'valid' padding: the output would be empty");
  if (rank_ == 2) out[1] = oh;
  out[rank_] = ow;
  return out;
}

Tensor PoolingLayer::call(const Tensor& input, bool) {
  if (input.ndim() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + input.shape().str());
  return spatial::in_channels_last(channels_first_, input, [&](const Tensor& x) {
    Tensor in = is_floating(x.dtype()) ? x : x.astype(float32);
    if (rank_ == 2)
      return kind_ == Kind::max ? max_pool2d(in, pool_, strides_, padding_)
                                : avg_pool2d(in, pool_, strides_, padding_);
    return kind_ == Kind::max ? max_pool1d(in, pool_.w, strides_.w, padding_)
                              : avg_pool1d(in, pool_.w, strides_.w, padding_);
  });
}

nlohmann::json PoolingLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["pool_size"] = pair_json(pool_, rank_);
  c["padding"] = padding_name(padding_);
  c["strides"] = pair_json(strides_, rank_);
  c["data_format"] = spatial::data_format_name(channels_first_);
  return c;
}

MaxPooling2D::MaxPooling2D(Size2D pool_size, Pooling2DOptions o)
    : LayerHandle(std::make_shared<PoolingLayer>(PoolingLayer::Kind::max, 2, pool_size, o.strides,
                                                 o.padding, std::move(o.name), o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}

AveragePooling2D::AveragePooling2D(Size2D pool_size, Pooling2DOptions o)
    : LayerHandle(std::make_shared<PoolingLayer>(PoolingLayer::Kind::average, 2, pool_size,
                                                 o.strides, o.padding, std::move(o.name),
                                                 o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}

namespace {
Size2D strides_1d(std::int64_t s) { return s == 0 ? Size2D{0, 0} : Size2D{1, s}; }
}  // namespace

MaxPooling1D::MaxPooling1D(std::int64_t pool_size, Pooling1DOptions o)
    : LayerHandle(std::make_shared<PoolingLayer>(PoolingLayer::Kind::max, 1, Size2D{1, pool_size},
                                                 strides_1d(o.strides), o.padding,
                                                 std::move(o.name), o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}

AveragePooling1D::AveragePooling1D(std::int64_t pool_size, Pooling1DOptions o)
    : LayerHandle(std::make_shared<PoolingLayer>(PoolingLayer::Kind::average, 1,
                                                 Size2D{1, pool_size}, strides_1d(o.strides),
                                                 o.padding, std::move(o.name), o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}

// --- global pooling ------------------------------------------------------------------------------

GlobalPoolingLayer::GlobalPoolingLayer(PoolingLayer::Kind kind, int rank, bool keepdims,
                                       std::string name, const std::string& data_format)
    : Layer(std::move(name)), kind_(kind), rank_(rank), keepdims_(keepdims) {
  channels_first_ = spatial::channels_first(class_name(), data_format);
}

std::vector<int> GlobalPoolingLayer::spatial_axes() const {
  std::vector<int> axes;
  for (int i = 1; i <= rank_; ++i) axes.push_back(channels_first_ ? i + 1 : i);
  return axes;
}

std::string GlobalPoolingLayer::class_name() const {
  return std::string(kind_ == PoolingLayer::Kind::max ? "GlobalMaxPooling"
                                                      : "GlobalAveragePooling") +
         std::to_string(rank_) + "D";
}

// The channels stay where they are: the spatial axes are reduced in place, no transpose needed.
Shape GlobalPoolingLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + s.str());
  for (int i : spatial_axes())
    if (s[static_cast<std::size_t>(i)] == 0) fail_shape("cannot pool over an empty input " + s.str());
  if (!keepdims_) return {s[0], s[channels_first_ ? 1 : s.size() - 1]};
  Shape out = s;
  for (int i : spatial_axes()) out[static_cast<std::size_t>(i)] = 1;
  return out;
}

Tensor GlobalPoolingLayer::call(const Tensor& x, bool) {
  if (x.ndim() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + x.shape().str());
  Tensor in = is_floating(x.dtype()) ? x : x.astype(float32);
  const std::vector<int> axes = spatial_axes();
  return kind_ == PoolingLayer::Kind::max ? max(in, axes, keepdims_) : mean(in, axes, keepdims_);
}

Tensor GlobalPoolingLayer::call_masked(const Tensor& x, const Tensor& mask, bool training) {
  if (!supports_masking()) return call(x, training);
  if (x.ndim() != rank_ + 2)
    fail_shape(spatial::input_requirement(rank_, channels_first_) + ", got " + x.shape().str());
  const Tensor in = is_floating(x.dtype()) ? x : x.astype(float32);
  const int steps_axis = channels_first_ ? 2 : 1;
  const Tensor kept = reshape(mask, channels_first_ ? Shape{x.shape()[0], 1, x.shape()[2]}
                                                    : Shape{x.shape()[0], x.shape()[1], 1}) > 0.0;
  const Tensor zero = Tensor::scalar(0.0, in.dtype());
  const Tensor weights = where(kept, Tensor::scalar(1.0, in.dtype()), zero);
  return sum(where(kept, in, zero), {steps_axis}, keepdims_) / sum(weights, {steps_axis}, keepdims_);
}

nlohmann::json GlobalPoolingLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["data_format"] = spatial::data_format_name(channels_first_);
  c["keepdims"] = keepdims_;
  return c;
}

GlobalMaxPooling2D::GlobalMaxPooling2D(GlobalPoolingOptions o)
    : LayerHandle(std::make_shared<GlobalPoolingLayer>(PoolingLayer::Kind::max, 2, o.keepdims,
                                                       std::move(o.name), o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}
GlobalAveragePooling2D::GlobalAveragePooling2D(GlobalPoolingOptions o)
    : LayerHandle(std::make_shared<GlobalPoolingLayer>(PoolingLayer::Kind::average, 2, o.keepdims,
                                                       std::move(o.name), o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}
GlobalMaxPooling1D::GlobalMaxPooling1D(GlobalPoolingOptions o)
    : LayerHandle(std::make_shared<GlobalPoolingLayer>(PoolingLayer::Kind::max, 1, o.keepdims,
                                                       std::move(o.name), o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}
GlobalAveragePooling1D::GlobalAveragePooling1D(GlobalPoolingOptions o)
    : LayerHandle(std::make_shared<GlobalPoolingLayer>(PoolingLayer::Kind::average, 1, o.keepdims,
                                                       std::move(o.name), o.data_format)) {
  apply_dtype_option(**this, o.dtype);
}

namespace {
using json = nlohmann::json;

// Keras writes strides null for "same as pool_size"; the constructor's 0 means that. A 0 written in
// a file is Keras's ValueError, not that sentinel.
Size2D strides_of(const json& c, const std::string& cls, int rank) {
  const Size2D strides = spatial::pair_of(c, "strides", rank, {0, 0});
  if (c.contains("strides") && !c["strides"].is_null()) spatial::check_pair(cls, "strides", strides, rank);
  return strides;
}
}  // namespace

void register_pooling_layers() {
  for (auto kind : {PoolingLayer::Kind::max, PoolingLayer::Kind::average}) {
    for (int rank : {1, 2}) {
      const std::string cls =
          std::string(kind == PoolingLayer::Kind::max ? "MaxPooling" : "AveragePooling") +
          std::to_string(rank) + "D";
      engine::register_layer_spec({
          .class_name = cls,
          .factory = [kind, rank, cls](const json& c) -> std::shared_ptr<Layer> {
            const Size2D pool =
                spatial::pair_of(c, "pool_size", rank, rank == 1 ? Size2D{1, 2} : Size2D{2});
            return std::make_shared<PoolingLayer>(kind, rank, pool,
                                                  strides_of(c, cls, rank),
                                                  spatial::padding_of(c), engine::name_of(c),
                                                  spatial::data_format_of(c));
          },
          .honoured_keys = {"pool_size", "strides", "padding", "data_format"},
          .build_config = false,
      });
      const std::string global =
          std::string(kind == PoolingLayer::Kind::max ? "GlobalMaxPooling"
                                                      : "GlobalAveragePooling") +
          std::to_string(rank) + "D";
      engine::register_layer_spec({
          .class_name = global,
          .factory = [kind, rank](const json& c) -> std::shared_ptr<Layer> {
            return std::make_shared<GlobalPoolingLayer>(kind, rank, c.value("keepdims", false),
                                                        engine::name_of(c),
                                                        spatial::data_format_of(c));
          },
          .honoured_keys = {"data_format", "keepdims"},
          .build_config = false,
          .call_kwargs = global == "GlobalAveragePooling1D" ? json{{"mask", nullptr}} : json::object(),
      });
    }
  }
}

}  // namespace lamina::layers
