// SPDX-License-Identifier: Apache-2.0
// Volumetric pooling layers: MaxPooling3D, AveragePooling3D, GlobalMax/AveragePooling3D.
#include "lamina/layers/pooling3d.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"
#include "volume_config.hpp"

namespace lamina::layers {

namespace {
const char* kind_name(PoolingLayer::Kind kind) { return kind == PoolingLayer::Kind::max ? "Max" : "Average"; }

volume::DataFormat format_of(bool channels_first) {
  return channels_first ? volume::DataFormat::channels_first : volume::DataFormat::channels_last;
}
}  // namespace

// --- windowed pooling ----------------------------------------------------------------------------

Pooling3DLayer::Pooling3DLayer(PoolingLayer::Kind kind, Size3D pool_size, Size3D strides, const std::string& padding,
                               const std::string& data_format, std::string name)
    : Layer(std::move(name)),
      kind_(kind),
      pool_(pool_size),
      strides_(strides == Size3D{0} ? pool_size : strides),
      padding_(Padding::valid),
      channels_first_(false) {
  const std::string cls = class_name();
  volume::check_size(cls, "pool_size", pool_, 3);
  volume::check_size(cls, "strides", strides_, 3);
  padding_ = spatial::padding_for(cls, padding, false);
  channels_first_ = volume::data_format_for(cls, data_format) == volume::DataFormat::channels_first;
}

std::string Pooling3DLayer::class_name() const { return std::string(kind_name(kind_)) + "Pooling3D"; }

Shape Pooling3DLayer::compute_output_shape(const Shape& given) {
  if (given.rank() != 5) fail_shape(volume::volume_requirement(channels_first_) + ", got " + given.str());
  const Shape s = channels_first_ ? volume::permuted(given, true) : given;
  const std::int64_t od = conv_output_length(s[1], pool_.d, strides_.d, padding_);
  const std::int64_t oh = conv_output_length(s[2], pool_.h, strides_.h, padding_);
  const std::int64_t ow = conv_output_length(s[3], pool_.w, strides_.w, padding_);
  if (od == 0 || oh == 0 || ow == 0)
    fail_shape("pool_size " + volume::size_str(pool_, 3) + " is larger than the input " + given.str() +
               " with 'valid' padding: the output would be empty");
  const Shape out{s[0], od, oh, ow, s[4]};
  return channels_first_ ? volume::permuted(out, false) : out;
}

Tensor Pooling3DLayer::call(const Tensor& x, bool) {
  compute_output_shape(x.shape());
  const Tensor in = volume::input_as_channels_last(is_floating(x.dtype()) ? x : x.astype(float32),
                                                   format_of(channels_first_));
  const Tensor y = kind_ == PoolingLayer::Kind::max ? max_pool3d(in, pool_, strides_, padding_)
                                                    : avg_pool3d(in, pool_, strides_, padding_);
  return volume::output_in_format(y, format_of(channels_first_));
}

nlohmann::json Pooling3DLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["pool_size"] = volume::size_json(pool_, 3);
  c["padding"] = padding_name(padding_);
  c["strides"] = volume::size_json(strides_, 3);
  c["data_format"] = volume::data_format_name(format_of(channels_first_));
  return c;
}

MaxPooling3D::MaxPooling3D(Size3D pool_size, Pooling3DOptions o)
    : LayerHandle(std::make_shared<Pooling3DLayer>(PoolingLayer::Kind::max, pool_size, o.strides, o.padding,
                                                   o.data_format, std::move(o.name))) {
  apply_dtype_option(**this, o.dtype);
}

AveragePooling3D::AveragePooling3D(Size3D pool_size, Pooling3DOptions o)
    : LayerHandle(std::make_shared<Pooling3DLayer>(PoolingLayer::Kind::average, pool_size, o.strides, o.padding,
                                                   o.data_format, std::move(o.name))) {
  apply_dtype_option(**this, o.dtype);
}

// --- global pooling ------------------------------------------------------------------------------

GlobalPooling3DLayer::GlobalPooling3DLayer(PoolingLayer::Kind kind, bool keepdims, const std::string& data_format,
                                           std::string name)
    : Layer(std::move(name)), kind_(kind), keepdims_(keepdims), channels_first_(false) {
  channels_first_ = volume::data_format_for(class_name(), data_format) == volume::DataFormat::channels_first;
}

std::string GlobalPooling3DLayer::class_name() const {
  return std::string("Global") + kind_name(kind_) + "Pooling3D";
}

Shape GlobalPooling3DLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != 5) fail_shape(volume::volume_requirement(channels_first_) + ", got " + s.str());
  const int channel_axis = channels_first_ ? 1 : 4;
  for (int i = 1; i < 5; ++i)
    if (i != channel_axis && s[i] == 0) fail_shape("cannot pool over an empty input " + s.str());
  if (!keepdims_) return {s[0], s[channel_axis]};
  Shape out(5, 1);
  out[0] = s[0];
  out[channel_axis] = s[channel_axis];
  return out;
}

Tensor GlobalPooling3DLayer::call(const Tensor& x, bool) {
  compute_output_shape(x.shape());
  const Tensor in = is_floating(x.dtype()) ? x : x.astype(float32);
  const std::vector<int> axes = channels_first_ ? std::vector<int>{2, 3, 4} : std::vector<int>{1, 2, 3};
  return kind_ == PoolingLayer::Kind::max ? max(in, axes, keepdims_) : mean(in, axes, keepdims_);
}

nlohmann::json GlobalPooling3DLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["data_format"] = volume::data_format_name(format_of(channels_first_));
  c["keepdims"] = keepdims_;
  return c;
}

GlobalMaxPooling3D::GlobalMaxPooling3D(GlobalPooling3DOptions o)
    : LayerHandle(std::make_shared<GlobalPooling3DLayer>(PoolingLayer::Kind::max, o.keepdims, o.data_format,
                                                         std::move(o.name))) {
  apply_dtype_option(**this, o.dtype);
}
GlobalAveragePooling3D::GlobalAveragePooling3D(GlobalPooling3DOptions o)
    : LayerHandle(std::make_shared<GlobalPooling3DLayer>(PoolingLayer::Kind::average, o.keepdims, o.data_format,
                                                         std::move(o.name))) {
  apply_dtype_option(**this, o.dtype);
}

namespace {
using json = nlohmann::json;

// As the 2-D pooling's: null strides mean "same as pool_size" (the constructor's 0); a 0 written in
// a file is refused.
Size3D strides_of(const json& c, const std::string& cls) {
  const Size3D strides = volume::size_of(c, "strides", 3, 0);
  if (c.contains("strides") && !c["strides"].is_null()) volume::check_size(cls, "strides", strides, 3);
  return strides;
}
}  // namespace

void register_pooling3d_layers() {
  for (auto kind : {PoolingLayer::Kind::max, PoolingLayer::Kind::average}) {
    // data_format is honoured, channels_first included.
    engine::register_layer_spec({
        .class_name = std::string(kind_name(kind)) + "Pooling3D",
        .factory = [kind](const json& c) -> std::shared_ptr<Layer> {
          return std::make_shared<Pooling3DLayer>(kind, volume::size_of(c, "pool_size", 3, 2),
                                                  strides_of(c, std::string(kind_name(kind)) + "Pooling3D"), spatial::padding_of(c),
                                                  volume::data_format_of(c), engine::name_of(c));
        },
        .honoured_keys = {"pool_size", "strides", "padding", "data_format"},
        .build_config = false,
    });
    engine::register_layer_spec({
        .class_name = std::string("Global") + kind_name(kind) + "Pooling3D",
        .factory = [kind](const json& c) -> std::shared_ptr<Layer> {
          return std::make_shared<GlobalPooling3DLayer>(kind, c.value("keepdims", false), volume::data_format_of(c),
                                                        engine::name_of(c));
        },
        .honoured_keys = {"keepdims", "data_format"},
        .build_config = false,
    });
  }
}

}  // namespace lamina::layers
