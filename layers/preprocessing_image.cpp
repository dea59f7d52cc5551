// SPDX-License-Identifier: Apache-2.0
// The image preprocessing layers: Resizing and CenterCrop, and the augmentations RandomFlip,
// RandomRotation, RandomZoom, RandomTranslation, RandomContrast, RandomBrightness and RandomCrop.
// Each follows Keras 3's algorithm (keras/src/layers/preprocessing/image_preprocessing/*.py) with
// lamina's ops: image_resize and crop2d for sizes, reverse_steps for flips, affine_transform
// (TensorFlow's projective transform) for the geometric augmentations. Augmentations draw from
// the layer's own stream when it has a seed (SeededDraws).
#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>
#include "common/json_int.hpp"
#include "catalogue.hpp"

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/layers/preprocessing.hpp"
#include "lamina/ops.hpp"
#include "ops/random.hpp"
#include "ops/recurrent.hpp"

namespace lamina::layers {

namespace {

using json = nlohmann::json;

// Images of rank 3 (one image) run as a batch of one: the callable gets (n, h, w, c).
template <class F>
Tensor per_batch(const Tensor& x, const std::string& who, F&& f) {
  if (x.ndim() == 4) return f(x);
  if (x.ndim() != 3)
    throw ShapeError(who + ": expected images (batch, height, width, channels) or (height, width, channels), got " +
                     x.shape().str());
  Shape one = x.shape();
  one.insert(one.begin(), 1);
  Tensor y = f(x.reshape(one));
  Shape back = y.shape();
  back.erase(back.begin());
  return y.reshape(back);
}

// The image layers compute in floats: integer images become the compute dtype (Keras casts them).
Tensor as_float(const Layer& layer, const Tensor& x) {
  return is_floating(x.dtype()) ? x : x.astype(layer.dtype_policy().compute_dtype());
}

// Height and width axes of a (batched or single) channels-last image shape.
std::pair<int, int> hw_axes(const Shape& s) { return {s.rank() - 3, s.rank() - 2}; }

// Keras's crop to the target's aspect ratio (smart_resize and Resizing's crop_to_aspect_ratio):
// the largest centred window of height/width's shape, in float32 arithmetic as TensorFlow.
struct Window {
  std::int64_t top, left, height, width;
};
Window aspect_window(std::int64_t h, std::int64_t w, std::int64_t th, std::int64_t tw) {
  auto f32 = [](double v) { return static_cast<double>(static_cast<float>(v)); };
  std::int64_t ch = static_cast<std::int64_t>(f32(f32(static_cast<double>(w * th)) / static_cast<double>(tw)));
  ch = std::max<std::int64_t>(std::min(h, ch), 1);
  std::int64_t cw = static_cast<std::int64_t>(f32(f32(static_cast<double>(h * tw)) / static_cast<double>(th)));
  cw = std::max<std::int64_t>(std::min(w, cw), 1);
  return {static_cast<std::int64_t>(f32(static_cast<double>(h - ch)) / 2),
          static_cast<std::int64_t>(f32(static_cast<double>(w - cw)) / 2), ch, cw};
}

Tensor crop(const Tensor& x, const Window& win) {
  const std::int64_t h = x.dim(1), w = x.dim(2);
  return crop2d(x, win.top, h - win.top - win.height, win.left, w - win.left - win.width);
}

// Keras's smart_resize: crop to the target's aspect ratio, then bilinear resize.
Tensor smart_resize(const Tensor& x, std::int64_t th, std::int64_t tw) {
  const Tensor c = crop(x, aspect_window(x.dim(1), x.dim(2), th, tw));
  return c.dim(1) == th && c.dim(2) == tw ? c : image_resize(c, th, tw, "bilinear");
}

Shape with_hw(Shape s, std::int64_t h, std::int64_t w) {
  auto [ha, wa] = hw_axes(s);
  s[ha] = h;
  s[wa] = w;
  return s;
}

void check_image_shape(const Layer& layer, const Shape& s, const std::function<void(const std::string&)>& fail) {
  (void)layer;
  if (s.rank() != 3 && s.rank() != 4)
    fail("expected images (batch, height, width, channels) or (height, width, channels), got " + s.str());
}

void check_size(const std::string& cls, std::int64_t h, std::int64_t w) {
  if (h < 1 || w < 1)
    throw ValueError(cls + ": height and width must be >= 1, got (" + std::to_string(h) + ", " + std::to_string(w) + ")");
}

}  // namespace

// --- Resizing ----------------------------------------------------------------------------------------

ResizingLayer::ResizingLayer(std::int64_t height, std::int64_t width, ResizingOptions options)
    : Layer(std::move(options.name)), height_(height), width_(width), options_(std::move(options)) {
  apply_dtype_option(*this, options_.dtype);
  check_size("Resizing", height, width);
  if (options_.interpolation != "bilinear" && options_.interpolation != "nearest")
    throw ValueError("Resizing: interpolation \"" + options_.interpolation +
                     "\" is not implemented (lamina resizes with \"bilinear\" or \"nearest\")");
  if (options_.crop_to_aspect_ratio && options_.pad_to_aspect_ratio)
    throw ValueError("Resizing: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be true");
}

Shape ResizingLayer::compute_output_shape(const Shape& s) {
  check_image_shape(*this, s, [this](const std::string& w) { fail_shape(w); });
  return with_hw(s, height_, width_);
}

Tensor ResizingLayer::call(const Tensor& x, bool) {
  const std::string who = "Resizing '" + name() + "'";
  if (!is_floating(x.dtype()))
    throw ValueError(who + ": Keras resizes " + dtype_name(x.dtype()) +
                     " images to rounded integers of the same dtype, which lamina does not compute; cast them to "
                     "float32 first");
  return per_batch(x, who, [&](Tensor img) {
    const std::int64_t h = img.dim(1), w = img.dim(2);
    if (options_.crop_to_aspect_ratio) {
      img = crop(img, aspect_window(h, w, height_, width_));
    } else if (options_.pad_to_aspect_ratio) {
      // TensorFlow's backend: the same margin on both sides, read as fill_value.
      auto f32 = [](double v) { return static_cast<double>(static_cast<float>(v)); };
      const std::int64_t ph = std::max<std::int64_t>(h, static_cast<std::int64_t>(f32(f32(static_cast<double>(w * height_)) / static_cast<double>(width_))));
      const std::int64_t pw = std::max<std::int64_t>(w, static_cast<std::int64_t>(f32(f32(static_cast<double>(h * width_)) / static_cast<double>(height_))));
      const auto top = static_cast<std::int64_t>(f32(static_cast<double>(ph - h)) / 2);
      const auto left = static_cast<std::int64_t>(f32(static_cast<double>(pw - w)) / 2);
      if (top > 0 || left > 0) {
        const double v = options_.fill_value;
        img = zero_pad2d(img - v, top, top, left, left) + v;
      }
    }
    return image_resize(img, height_, width_, options_.interpolation);
  });
}

json ResizingLayer::get_config() const {
  json c = Layer::get_config();
  c["data_format"] = "channels_last";
  c["height"] = height_;
  c["width"] = width_;
  c["interpolation"] = options_.interpolation;
  c["crop_to_aspect_ratio"] = options_.crop_to_aspect_ratio;
  c["pad_to_aspect_ratio"] = options_.pad_to_aspect_ratio;
  c["fill_mode"] = "constant";
  c["fill_value"] = options_.fill_value;
  c["antialias"] = false;
  return c;
}

Resizing::Resizing(std::int64_t height, std::int64_t width, ResizingOptions options)
    : LayerHandle(std::make_shared<ResizingLayer>(height, width, std::move(options))) {}

// --- CenterCrop ----------------------------------------------------------------------------------------

CenterCropLayer::CenterCropLayer(std::int64_t height, std::int64_t width, std::string name)
    : Layer(std::move(name)), height_(height), width_(width) {
  check_size("CenterCrop", height, width);
}

Shape CenterCropLayer::compute_output_shape(const Shape& s) {
  check_image_shape(*this, s, [this](const std::string& w) { fail_shape(w); });
  return with_hw(s, height_, width_);
}

Tensor CenterCropLayer::call(const Tensor& x, bool) {
  return per_batch(as_float(*this, x), "CenterCrop '" + name() + "'", [&](const Tensor& img) {
    const std::int64_t dh = img.dim(1) - height_, dw = img.dim(2) - width_;
    if (dh >= 0 && dw >= 0) return crop(img, {dh / 2, dw / 2, height_, width_});
    return smart_resize(img, height_, width_);
  });
}

json CenterCropLayer::get_config() const {
  json c = Layer::get_config();
  c["data_format"] = "channels_last";
  c["height"] = height_;
  c["width"] = width_;
  return c;
}

CenterCrop::CenterCrop(std::int64_t height, std::int64_t width, Name name)
    : LayerHandle(std::make_shared<CenterCropLayer>(height, width, std::move(name))) {}

// --- the augmentations' common parts -------------------------------------------------------------------

Tensor SeededDraws::uniform(std::int64_t n, double lo, double hi) {
  std::optional<random::Generator> own;
  std::optional<random::GeneratorScope> scope;
  if (seed_) {
    own.emplace(static_cast<std::uint64_t>(*seed_), random::Stream::seeded, draws_);
    scope.emplace(*own);
  }
  Tensor u = random_uniform(Shape{n}, lo, hi, float32);
  if (own) draws_ = own->offset();
  return u;
}

Shape RandomImageLayer::compute_output_shape(const Shape& s) {
  check_image_shape(*this, s, [this](const std::string& w) { fail_shape(w); });
  return s;
}

json RandomImageLayer::base_config() const {
  json c = Layer::get_config();
  c["data_format"] = "channels_last";
  c["seed"] = seed() ? json(*seed()) : json(nullptr);
  return c;
}

namespace {
json factor_json(const FactorRange& f) { return json::array({f.lower, f.upper}); }
// Zoom and translation write their factors back as given: a number or a pair.
json given_factor_json(const FactorRange& f) { return f.given_as_pair ? factor_json(f) : json(f.upper); }

void check_bounds(const std::string& cls, const char* key, const FactorRange& f, double lo, double hi, bool open_low) {
  auto bad = [&](double v) { return open_low ? (v <= lo || v > hi) : (v < lo || v > hi); };
  if (bad(f.lower) || bad(f.upper))
    throw ValueError(cls + ": " + key + " must lie in " + (open_low ? "(" : "[") + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got [" + std::to_string(f.lower) + ", " + std::to_string(f.upper) + "]");
}

// Keras's BaseImagePreprocessingLayer._set_factor: a number is clipped to the bounds' lower end;
// a pair must overlap the bounds.
FactorRange bounded_factor(const std::string& cls, FactorRange f, double lo, double hi) {
  if (f.given_as_pair) {
    if (f.lower > hi || f.upper < lo)
      throw ValueError(cls + ": factor [" + std::to_string(f.lower) + ", " + std::to_string(f.upper) +
                       "] lies outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return f;
  }
  if (f.upper > hi) throw ValueError(cls + ": factor " + std::to_string(f.upper) + " must be at most " + std::to_string(hi));
  f.lower = std::max(f.lower, lo);
  return f;
}
}  // namespace

// --- RandomFlip ---------------------------------------------------------------------------------------

RandomFlipLayer::RandomFlipLayer(std::string mode, std::optional<std::int64_t> seed, std::string name)
    : RandomImageLayer(seed, std::move(name)), mode_(std::move(mode)) {
  if (mode_ != "horizontal" && mode_ != "vertical" && mode_ != "horizontal_and_vertical")
    throw ValueError("RandomFlip: mode must be \"horizontal\", \"vertical\" or \"horizontal_and_vertical\", got \"" +
                     mode_ + "\"");
}

Tensor RandomFlipLayer::call(const Tensor& x, bool training) {
  const Tensor in = as_float(*this, x);
  if (!training) return in;
  return per_batch(in, "RandomFlip '" + name() + "'", [&](const Tensor& img) {
    const std::int64_t n = img.dim(0), h = img.dim(1), w = img.dim(2), c = img.dim(3);
    // One draw per image decides both axes (Keras 3 flips horizontally and vertically together).
    const Tensor flips = (draws_.uniform(n, 0.0, 1.0) <= 0.5).reshape({n, 1, 1, 1}).to(img.device());
    Tensor flipped = img;
    if (mode_ != "vertical") flipped = reverse_steps(flipped.reshape({n * h, w, c})).reshape(img.shape());
    if (mode_ != "horizontal") flipped = reverse_steps(flipped.reshape({n, h, w * c})).reshape(img.shape());
    return where(flips, flipped, img);
  });
}

json RandomFlipLayer::get_config() const {
  json c = base_config();
  c["mode"] = mode_;
  return c;
}

RandomFlip::RandomFlip(std::string mode, RandomOptions o)
    : LayerHandle(std::make_shared<RandomFlipLayer>(std::move(mode), o.seed, std::move(o.name))) {
  apply_dtype_option(**this, o.dtype);
}

// --- the geometric augmentations ---------------------------------------------------------------------

RandomTransformLayer::RandomTransformLayer(const TransformOptions& options)
    : RandomImageLayer(options.seed, options.name), options_(options) {
  const std::string& f = options_.fill_mode;
  if (f != "reflect" && f != "wrap" && f != "constant" && f != "nearest")
    throw ValueError("fill_mode \"" + f + "\" is not one of \"reflect\", \"wrap\", \"constant\", \"nearest\"");
  if (options_.interpolation != "bilinear" && options_.interpolation != "nearest")
    throw ValueError("interpolation \"" + options_.interpolation + "\" is not one of \"bilinear\", \"nearest\"");
  apply_dtype_option(*this, options_.dtype);
}

Tensor RandomTransformLayer::call(const Tensor& x, bool training) {
  if (!training) return x;
  return per_batch(as_float(*this, x), class_name() + " '" + name() + "'", [&](const Tensor& img) {
    return affine_transform(img, transforms(img.shape()), options_.interpolation, options_.fill_mode,
                            options_.fill_value);
  });
}

json RandomTransformLayer::transform_config() const {
  json c = base_config();
  c["fill_mode"] = options_.fill_mode;
  c["fill_value"] = options_.fill_value;
  c["interpolation"] = options_.interpolation;
  return c;
}

namespace {
// (n, 8) transforms from one row of 8 coefficients per image.
template <class F>
Tensor transform_rows(std::int64_t n, F&& row) {
  std::vector<float> t;
  t.reserve(static_cast<std::size_t>(n * 8));
  for (std::int64_t i = 0; i < n; ++i)
    for (double v : row(i)) t.push_back(static_cast<float>(v));
  return Tensor::from_vector(t, {n, 8});
}
}  // namespace

RandomRotationLayer::RandomRotationLayer(FactorRange factor, const TransformOptions& options)
    : RandomTransformLayer(options), factor_(bounded_factor("RandomRotation", factor, -1, 1)) {}

Tensor RandomRotationLayer::transforms(const Shape& s) {
  const std::int64_t n = s[0];
  const std::vector<double> angle = draws_.uniform(n, factor_.lower * 360.0, factor_.upper * 360.0).to_vector<double>();
  const double cx = 0.5 * static_cast<double>(s[2] - 1), cy = 0.5 * static_cast<double>(s[1] - 1);
  // Keras's _compute_affine_matrix without translation, scale or shear: the output→input map.
  return transform_rows(n, [&](std::int64_t i) {
    const double t = angle[static_cast<std::size_t>(i)] * std::numbers::pi / 180.0;
    const double a0 = std::cos(t), a1 = -std::sin(t), b0 = std::sin(t), b1 = std::cos(t);
    return std::array<double, 8>{a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1, 0, 0};
  });
}

json RandomRotationLayer::get_config() const {
  json c = transform_config();
  c["factor"] = factor_json(factor_);
  return c;
}

RandomRotation::RandomRotation(FactorRange factor, TransformOptions options)
    : LayerHandle(std::make_shared<RandomRotationLayer>(factor, options)) {}

RandomZoomLayer::RandomZoomLayer(FactorRange height_factor, std::optional<FactorRange> width_factor,
                                 const TransformOptions& options)
    : RandomTransformLayer(options), height_(height_factor), width_(width_factor.value_or(FactorRange())),
      has_width_(width_factor.has_value()) {
  check_bounds("RandomZoom", "height_factor", height_, -1, 1, true);
  if (has_width_) check_bounds("RandomZoom", "width_factor", width_, -1, 1, true);
}

Tensor RandomZoomLayer::transforms(const Shape& s) {
  const std::int64_t n = s[0];
  const std::vector<double> hz = draws_.uniform(n, 1.0 + height_.lower, 1.0 + height_.upper).to_vector<double>();
  const std::vector<double> wz =
      has_width_ ? draws_.uniform(n, 1.0 + width_.lower, 1.0 + width_.upper).to_vector<double>() : hz;
  const double h = static_cast<double>(s[1]), w = static_cast<double>(s[2]);
  return transform_rows(n, [&](std::int64_t i) {
    const double zx = wz[static_cast<std::size_t>(i)], zy = hz[static_cast<std::size_t>(i)];
    return std::array<double, 8>{zx, 0, (w - 1) / 2 * (1 - zx), 0, zy, (h - 1) / 2 * (1 - zy), 0, 0};
  });
}

json RandomZoomLayer::get_config() const {
  json c = transform_config();
  c["height_factor"] = given_factor_json(height_);
  c["width_factor"] = has_width_ ? given_factor_json(width_) : json(nullptr);
  return c;
}

RandomZoom::RandomZoom(FactorRange height_factor, std::optional<FactorRange> width_factor, TransformOptions options)
    : LayerHandle(std::make_shared<RandomZoomLayer>(height_factor, width_factor, options)) {}

RandomTranslationLayer::RandomTranslationLayer(FactorRange height_factor, FactorRange width_factor,
                                               const TransformOptions& options)
    : RandomTransformLayer(options), height_(height_factor), width_(width_factor) {
  check_bounds("RandomTranslation", "height_factor", height_, -1, 1, false);
  check_bounds("RandomTranslation", "width_factor", width_, -1, 1, false);
}

Tensor RandomTranslationLayer::transforms(const Shape& s) {
  const std::int64_t n = s[0];
  const double h = static_cast<double>(s[1]), w = static_cast<double>(s[2]);
  const std::vector<double> dy = draws_.uniform(n, height_.lower, height_.upper).to_vector<double>();
  const std::vector<double> dx = draws_.uniform(n, width_.lower, width_.upper).to_vector<double>();
  return transform_rows(n, [&](std::int64_t i) {
    const auto k = static_cast<std::size_t>(i);
    return std::array<double, 8>{1, 0, -dx[k] * w, 0, 1, -dy[k] * h, 0, 0};
  });
}

json RandomTranslationLayer::get_config() const {
  json c = transform_config();
  c["height_factor"] = given_factor_json(height_);
  c["width_factor"] = given_factor_json(width_);
  return c;
}

RandomTranslation::RandomTranslation(FactorRange height_factor, FactorRange width_factor, TransformOptions options)
    : LayerHandle(std::make_shared<RandomTranslationLayer>(height_factor, width_factor, options)) {}

// --- RandomContrast / RandomBrightness ---------------------------------------------------------------

namespace {
std::array<double, 2> sorted_range(const std::string& cls, std::array<double, 2> r) {
  if (r[0] > r[1]) std::swap(r[0], r[1]);
  if (r[0] == r[1]) throw ValueError(cls + ": value_range must span an interval, got [" + std::to_string(r[0]) + ", " + std::to_string(r[1]) + "]");
  return r;
}
}  // namespace

ValueRangeLayer::ValueRangeLayer(const std::string& cls, FactorRange factor, double lo, double hi,
                                 const ValueRangeOptions& options)
    : RandomImageLayer(options.seed, options.name),
      factor_(bounded_factor(cls, factor, lo, hi)),
      range_(sorted_range(cls, options.value_range)) {
  apply_dtype_option(*this, options.dtype);
}

json ValueRangeLayer::get_config() const {
  json c = base_config();
  c["factor"] = factor_json(factor_);
  c["value_range"] = range_;
  return c;
}

Tensor RandomContrastLayer::call(const Tensor& x, bool training) {
  if (!training) return x;
  return per_batch(as_float(*this, x), "RandomContrast '" + name() + "'", [&](const Tensor& img) {
    const std::int64_t n = img.dim(0);
    const Tensor f = draws_.uniform(n, 1.0 - factor_.lower, 1.0 + factor_.upper).reshape({n, 1, 1, 1}).to(img.device());
    const Tensor m = mean(img, {1, 2}, true);
    return clip((img - m) * f.astype(img.dtype()) + m, range_[0], range_[1]);
  });
}

RandomContrast::RandomContrast(FactorRange factor, ValueRangeOptions options)
    : LayerHandle(std::make_shared<RandomContrastLayer>(factor, options)) {}

Tensor RandomBrightnessLayer::call(const Tensor& x, bool training) {
  if (!training) return x;
  return per_batch(as_float(*this, x), "RandomBrightness '" + name() + "'", [&](const Tensor& img) {
    const std::int64_t n = img.dim(0);
    const Tensor delta = draws_.uniform(n, factor_.lower, factor_.upper) * (range_[1] - range_[0]);
    return clip(img + delta.reshape({n, 1, 1, 1}).to(img.device()).astype(img.dtype()), range_[0], range_[1]);
  });
}

RandomBrightness::RandomBrightness(FactorRange factor, ValueRangeOptions options)
    : LayerHandle(std::make_shared<RandomBrightnessLayer>(factor, options)) {}

// --- RandomCrop -----------------------------------------------------------------------------------------

RandomCropLayer::RandomCropLayer(std::int64_t height, std::int64_t width, std::optional<std::int64_t> seed,
                                 std::string name)
    : RandomImageLayer(seed, std::move(name)), height_(height), width_(width) {
  check_size("RandomCrop", height, width);
}

Shape RandomCropLayer::compute_output_shape(const Shape& s) {
  return with_hw(RandomImageLayer::compute_output_shape(s), height_, width_);
}

Tensor RandomCropLayer::call(const Tensor& x, bool training) {
  return per_batch(as_float(*this, x), "RandomCrop '" + name() + "'", [&](const Tensor& img) {
    const std::int64_t h = img.dim(1), w = img.dim(2);
    if (!training) return smart_resize(img, height_, width_);
    Window win;
    if (h > height_ && w > width_) {
      // One window for the whole batch, as Keras.
      const auto top = static_cast<std::int64_t>(draws_.uniform(1, 0, static_cast<double>(h - height_ + 1)).item());
      const auto left = static_cast<std::int64_t>(draws_.uniform(1, 0, static_cast<double>(w - width_ + 1)).item());
      win = {top, left, height_, width_};
    } else {
      // Keras slices the target's size from the aspect window's corner, then resizes what it got.
      const Window a = aspect_window(h, w, height_, width_);
      win = {a.top, a.left, std::min(height_, h - a.top), std::min(width_, w - a.left)};
    }
    const Tensor c = crop(img, win);
    return c.dim(1) == height_ && c.dim(2) == width_ ? c : image_resize(c, height_, width_, "bilinear");
  });
}

json RandomCropLayer::get_config() const {
  json c = base_config();
  c["height"] = height_;
  c["width"] = width_;
  return c;
}

RandomCrop::RandomCrop(std::int64_t height, std::int64_t width, RandomOptions o)
    : LayerHandle(std::make_shared<RandomCropLayer>(height, width, o.seed, std::move(o.name))) {
  apply_dtype_option(**this, o.dtype);
}

// --- from_config ------------------------------------------------------------------------------------------

namespace {

using engine::name_of;

std::optional<std::int64_t> seed_of(const json& c) {
  if (!c.contains("seed") || c["seed"].is_null()) return std::nullopt;
  return json_int<std::int64_t>(c["seed"], "seed");
}

FactorRange factor_of(const json& c, const char* key) {
  const json& v = c.at(key);
  if (v.is_number()) return FactorRange(v.get<double>());
  if (v.is_array() && v.size() == 2) return FactorRange(v[0].get<double>(), v[1].get<double>());
  throw ValueError(std::string(key) + "=" + v.dump() + " must be a number or a pair of numbers");
}

TransformOptions transform_options(const json& c) {
  return {.fill_mode = c.value("fill_mode", std::string("reflect")),
          .interpolation = c.value("interpolation", std::string("bilinear")),
          .fill_value = c.value("fill_value", 0.0),
          .seed = seed_of(c),
          .name = name_of(c)};
}

ValueRangeOptions value_range_options(const json& c) {
  ValueRangeOptions o{.seed = seed_of(c), .name = name_of(c)};
  if (c.contains("value_range") && !c["value_range"].is_null()) {
    const auto r = c["value_range"].get<std::vector<double>>();
    if (r.size() != 2) throw ValueError("value_range=" + c["value_range"].dump() + " must hold two numbers");
    o.value_range = {r[0], r[1]};
  }
  return o;
}

// What every image preprocessing layer implements only at Keras's default.
std::vector<engine::KeyRule> image_rules() {
  return {{"data_format", {nullptr, "channels_last"},
           "lamina's image preprocessing layers compute on channels_last (NHWC) images only"},
          {"bounding_box_format", {nullptr}, "bounding boxes are not implemented"}};
}

// The keys of the geometric augmentations. seed (and tf.keras 2's rng_type) pick the
// training-time draws, which no file records.
std::set<std::string> transform_keys() { return {"fill_mode", "fill_value", "interpolation", "seed", "rng_type"}; }

}  // namespace

void register_preprocessing_image_layers() {
  engine::register_layer_spec({
      .class_name = "Resizing",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return Resizing(json_int<std::int64_t>(c.at("height"), "height"), json_int<std::int64_t>(c.at("width"), "width"),
                        {.interpolation = c.value("interpolation", std::string("bilinear")),
                         .crop_to_aspect_ratio = c.value("crop_to_aspect_ratio", false),
                         .pad_to_aspect_ratio = c.value("pad_to_aspect_ratio", false),
                         .fill_value = c.value("fill_value", 0.0),
                         .name = name_of(c)})
            .ptr();
      },
      .honoured_keys = {"height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
                        "fill_value"},
      .key_rules = [] {
        std::vector<engine::KeyRule> rules = image_rules();
        rules.push_back({"antialias", {false}, "antialiased resizing is not implemented"});
        rules.push_back({"fill_mode", {nullptr, "constant"}, "Keras pads with a constant only"});
        return rules;
      }(),
  });
  engine::register_layer_spec({
      .class_name = "CenterCrop",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return CenterCrop(json_int<std::int64_t>(c.at("height"), "height"), json_int<std::int64_t>(c.at("width"), "width"), name_of(c)).ptr();
      },
      .honoured_keys = {"height", "width"},
      .key_rules = image_rules(),
  });
  engine::register_layer_spec({
      .class_name = "RandomFlip",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return RandomFlip(c.value("mode", std::string("horizontal_and_vertical")),
                          {.seed = seed_of(c), .name = name_of(c)})
            .ptr();
      },
      .honoured_keys = {"mode", "seed", "rng_type"},
      .key_rules = image_rules(),
      .call_kwargs = {{"training", true}},
  });
  engine::register_layer_spec({
      .class_name = "RandomRotation",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return RandomRotation(factor_of(c, "factor"), transform_options(c)).ptr();
      },
      .honoured_keys = keys::join({transform_keys(), {"factor"}}),
      .key_rules = image_rules(),
      .call_kwargs = {{"training", true}},
  });
  engine::register_layer_spec({
      .class_name = "RandomZoom",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        std::optional<FactorRange> width;
        if (c.contains("width_factor") && !c["width_factor"].is_null()) width = factor_of(c, "width_factor");
        return RandomZoom(factor_of(c, "height_factor"), width, transform_options(c)).ptr();
      },
      .honoured_keys = keys::join({transform_keys(), {"height_factor", "width_factor"}}),
      .key_rules = image_rules(),
      .call_kwargs = {{"training", true}},
  });
  engine::register_layer_spec({
      .class_name = "RandomTranslation",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return RandomTranslation(factor_of(c, "height_factor"), factor_of(c, "width_factor"), transform_options(c))
            .ptr();
      },
      .honoured_keys = keys::join({transform_keys(), {"height_factor", "width_factor"}}),
      .key_rules = image_rules(),
      .call_kwargs = {{"training", true}},
  });
  engine::register_layer_spec({
      .class_name = "RandomContrast",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return RandomContrast(factor_of(c, "factor"), value_range_options(c)).ptr();
      },
      .honoured_keys = {"factor", "value_range", "seed", "rng_type"},
      .key_rules = image_rules(),
      .call_kwargs = {{"training", true}},
  });
  engine::register_layer_spec({
      .class_name = "RandomBrightness",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return RandomBrightness(factor_of(c, "factor"), value_range_options(c)).ptr();
      },
      .honoured_keys = {"factor", "value_range", "seed", "rng_type"},
      .key_rules = image_rules(),
      .call_kwargs = {{"training", true}},
  });
  engine::register_layer_spec({
      .class_name = "RandomCrop",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        return RandomCrop(json_int<std::int64_t>(c.at("height"), "height"), json_int<std::int64_t>(c.at("width"), "width"),
                          {.seed = seed_of(c), .name = name_of(c)})
            .ptr();
      },
      .honoured_keys = {"height", "width", "seed", "rng_type"},
      .key_rules = image_rules(),
      .call_kwargs = {{"training", true}},
  });
}

}  // namespace lamina::layers
