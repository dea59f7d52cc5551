// SPDX-License-Identifier: Apache-2.0
// lamina/layers/preprocessing.hpp — Keras's numeric preprocessing layers, which live inside models
// and are saved with them:
//   numbers:    Normalization (with adapt), Rescaling, Discretization, CategoryEncoding,
//               IntegerLookup, Hashing;
//   images:     Resizing, CenterCrop;
//   augmenting: RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast,
//               RandomBrightness, RandomCrop — active only in training, seeded.
// Names, arguments, defaults and results follow Keras 3 (keras/src/layers/preprocessing); images
// are channels_last (batch, height, width, channels). Lookups and hashes read integers (lamina has
// no string tensors).
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/batch_source.hpp"
#include "lamina/layer.hpp"

namespace lamina::layers {

// --- Normalization ---------------------------------------------------------------------------

struct NormalizationOptions {
  /// The axes that keep their own mean and variance (Keras's `axis`); empty: one scalar mean and
  /// variance for everything (Keras's axis=None).
  std::vector<int> axis = {-1};
  /// Fixed statistics (Keras's `mean` / `variance`), broadcast to the kept axes; undefined: learnt
  /// by adapt() into the weights mean, variance and count. Give both or neither.
  Tensor mean{};
  Tensor variance{};
  /// Undo the normalisation: mean + x·sqrt(variance).
  bool invert = false;
  std::string name{};
  std::string dtype{};  ///< dtype policy name; empty: the global policy
};

/// (x − mean) / max(sqrt(variance), 1e-7), per index of the kept axes.
class NormalizationLayer : public Layer {
 public:
  /// Throws ValueError when only one of mean and variance is given, or their shapes differ.
  explicit NormalizationLayer(NormalizationOptions options);
  std::string class_name() const override { return "Normalization"; }
  void build(const Shape& input_shape) override;
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;

  /// Keras's adapt: the mean and (biased) variance of `data` over every axis but the kept ones,
  /// written into the weights (count: the number of values reduced). Builds the layer for
  /// data's shape when needed. Throws ValueError with fixed statistics or a kept axis whose size
  /// differs from the built one.
  void adapt(const Tensor& data);
  /// The same over every batch of a stream (the first tensor of each), merged as Keras merges
  /// batches.
  void adapt(BatchSource& batches);
  /// A Dataset: `norm->adapt(ds)`.
  template <class D>
    requires requires(const D& d) {
      { d.batch_source() } -> std::convertible_to<std::shared_ptr<BatchSource>>;
    }
  void adapt(const D& dataset) {
    adapt(*dataset.batch_source());
  }
  const NormalizationOptions& options() const { return options_; }

 private:
  void check_kept_axes(const Shape& shape) const;
  NormalizationOptions options_;
  std::vector<int> keep_;    // kept axes, normalised, ascending
  Shape broadcast_;          // the statistics' shape broadcast against the input
  Tensor mean_, variance_;   // adapted weights (or undefined with fixed statistics)
  Tensor count_;
};

/// `Normalization()`, `Normalization({.axis = {}, .mean = Tensor::scalar(3), .variance = ...})`.
struct Normalization : LayerHandle<NormalizationLayer> {
  explicit Normalization(NormalizationOptions options = {});
};

// --- Rescaling -------------------------------------------------------------------------------

/// x·scale + offset in the compute dtype (integer images come out as floats). scale and offset
/// are scalars or per-channel lists (broadcast on the last axis).
class RescalingLayer : public Layer {
 public:
  RescalingLayer(std::vector<double> scale, std::vector<double> offset, bool scale_is_list,
                 bool offset_is_list, std::string name);
  std::string class_name() const override { return "Rescaling"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override { return input_shape; }
  bool supports_masking() const override { return true; }
  nlohmann::json get_config() const override;

 private:
  std::vector<double> scale_, offset_;
  bool scale_list_, offset_list_;
};

struct Rescaling : LayerHandle<RescalingLayer> {
  /// `Rescaling(1.0 / 255)`, `Rescaling(1.0 / 127.5, -1)`.
  explicit Rescaling(double scale, double offset = 0.0, Name name = {});
  /// Per-channel values (each list of size 1 or the channel count).
  Rescaling(std::vector<double> scale, std::vector<double> offset, Name name = {});
};

// --- Resizing / CenterCrop ---------------------------------------------------------------------

struct ResizingOptions {
  std::string interpolation = "bilinear";  ///< "bilinear" | "nearest"
  /// Resize the largest centred window of the target's aspect ratio (no distortion).
  bool crop_to_aspect_ratio = false;
  /// Pad (with fill_value) to the target's aspect ratio first, centred.
  bool pad_to_aspect_ratio = false;
  double fill_value = 0.0;
  std::string name{};
  std::string dtype{};  ///< dtype policy name; empty: the global policy
};

/// Images (batch, h, w, c) to (batch, height, width, c) by TensorFlow's resize (half-pixel
/// centres, no antialiasing). Integer images keep their dtype, rounded and saturated, as Keras.
class ResizingLayer : public Layer {
 public:
  /// Throws ValueError on a size < 1, an interpolation other than bilinear / nearest, or both
  /// aspect-ratio options.
  ResizingLayer(std::int64_t height, std::int64_t width, ResizingOptions options);
  std::string class_name() const override { return "Resizing"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;

 private:
  std::int64_t height_, width_;
  ResizingOptions options_;
};

struct Resizing : LayerHandle<ResizingLayer> {
  Resizing(std::int64_t height, std::int64_t width, ResizingOptions options = {});
};

/// The central height × width window of each image; an image smaller than that along an axis is
/// first cropped to the target's aspect ratio and resized (Keras's smart_resize).
class CenterCropLayer : public Layer {
 public:
  CenterCropLayer(std::int64_t height, std::int64_t width, std::string name);
  std::string class_name() const override { return "CenterCrop"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;

 private:
  std::int64_t height_, width_;
};

struct CenterCrop : LayerHandle<CenterCropLayer> {
  CenterCrop(std::int64_t height, std::int64_t width, Name name = {});
};

// --- the random augmentation layers ------------------------------------------------------------

/// A range of a random factor, as Keras's `factor` arguments: one number f means [−|f|, |f|]
/// (clipped to the layer's bounds); two numbers are the bounds themselves (sorted).
struct FactorRange {
  double lower = 0, upper = 0;
  bool given_as_pair = false;  ///< how the config writes it back
  FactorRange() = default;
  FactorRange(double f) : lower(-(f < 0 ? -f : f)), upper(f < 0 ? -f : f) {}  // NOLINT(google-explicit-constructor)
  FactorRange(double a, double b) : lower(a < b ? a : b), upper(a < b ? b : a), given_as_pair(true) {}
};

/// Where a seeded augmentation layer draws from: lamina's global stream (set_seed) unless it has
/// a seed, then its own stream (Keras's SeedGenerator(seed)), resumed call after call, so that
/// the same seed gives the same sequence of augmentations whatever else draws.
class SeededDraws {
 public:
  explicit SeededDraws(std::optional<std::int64_t> seed) : seed_(seed) {}
  std::optional<std::int64_t> seed() const { return seed_; }
  /// `n` uniform values in [lo, hi) (shape {n}, float32) from this layer's stream.
  Tensor uniform(std::int64_t n, double lo, double hi);

 private:
  std::optional<std::int64_t> seed_;
  std::uint64_t draws_ = 0;
};

struct RandomOptions {
  std::optional<std::int64_t> seed{};  ///< unset: lamina's global stream
  std::string name{};
  std::string dtype{};  ///< dtype policy name; empty: the global policy
};

/// Base of the augmentation layers: identity at inference (as Keras 3), one draw per image in
/// training.
class RandomImageLayer : public Layer {
 public:
  RandomImageLayer(std::optional<std::int64_t> seed, std::string name) : Layer(std::move(name)), draws_(seed) {}
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  std::optional<std::int64_t> seed() const { return draws_.seed(); }

 protected:
  /// Config keys every augmentation layer writes: seed and data_format.
  nlohmann::json base_config() const;
  SeededDraws draws_;
};

/// In training flips each image left–right and/or top–bottom with probability 1/2 each.
class RandomFlipLayer : public RandomImageLayer {
 public:
  /// mode: "horizontal" | "vertical" | "horizontal_and_vertical" (ValueError otherwise).
  RandomFlipLayer(std::string mode, std::optional<std::int64_t> seed, std::string name);
  std::string class_name() const override { return "RandomFlip"; }
  Tensor call(const Tensor& x, bool training) override;
  nlohmann::json get_config() const override;

 private:
  std::string mode_;
};

struct RandomFlip : LayerHandle<RandomFlipLayer> {
  explicit RandomFlip(std::string mode = "horizontal_and_vertical", RandomOptions options = {});
};

/// How the geometric augmentations sample and fill (Keras's arguments).
struct TransformOptions {
  std::string fill_mode = "reflect";       ///< "reflect" | "wrap" | "constant" | "nearest"
  std::string interpolation = "bilinear";  ///< "bilinear" | "nearest"
  double fill_value = 0.0;                 ///< read outside the image with fill_mode "constant"
  std::optional<std::int64_t> seed{};
  std::string name{};
  std::string dtype{};
};

/// The geometric augmentations: one projective transform per image (affine_transform).
class RandomTransformLayer : public RandomImageLayer {
 public:
  /// Throws ValueError naming an unknown fill_mode or interpolation.
  RandomTransformLayer(const TransformOptions& options);
  Tensor call(const Tensor& x, bool training) override;

 protected:
  nlohmann::json transform_config() const;
  /// The (batch, 8) transforms of one training call on images of `shape`.
  virtual Tensor transforms(const Shape& shape) = 0;
  TransformOptions options_;
};

/// In training rotates each image by a random angle of factor·360° about its centre.
class RandomRotationLayer : public RandomTransformLayer {
 public:
  RandomRotationLayer(FactorRange factor, const TransformOptions& options);
  std::string class_name() const override { return "RandomRotation"; }
  nlohmann::json get_config() const override;

 protected:
  Tensor transforms(const Shape& shape) override;

 private:
  FactorRange factor_;
};

struct RandomRotation : LayerHandle<RandomRotationLayer> {
  explicit RandomRotation(FactorRange factor, TransformOptions options = {});
};

/// In training zooms each image about its centre: a factor f in [lower, upper] scales the sampled
/// window by 1 + f (positive: zoom out). width_factor unset: the height's zoom for both axes.
class RandomZoomLayer : public RandomTransformLayer {
 public:
  /// Throws ValueError on a factor outside (−1, 1].
  RandomZoomLayer(FactorRange height_factor, std::optional<FactorRange> width_factor, const TransformOptions& options);
  std::string class_name() const override { return "RandomZoom"; }
  nlohmann::json get_config() const override;

 protected:
  Tensor transforms(const Shape& shape) override;

 private:
  FactorRange height_, width_;
  bool has_width_;
};

struct RandomZoom : LayerHandle<RandomZoomLayer> {
  explicit RandomZoom(FactorRange height_factor, std::optional<FactorRange> width_factor = {},
                      TransformOptions options = {});
};

/// In training shifts each image by fractions of its height and width drawn from the factors.
class RandomTranslationLayer : public RandomTransformLayer {
 public:
  /// Throws ValueError on a factor outside [−1, 1].
  RandomTranslationLayer(FactorRange height_factor, FactorRange width_factor, const TransformOptions& options);
  std::string class_name() const override { return "RandomTranslation"; }
  nlohmann::json get_config() const override;

 protected:
  Tensor transforms(const Shape& shape) override;

 private:
  FactorRange height_, width_;
};

struct RandomTranslation : LayerHandle<RandomTranslationLayer> {
  RandomTranslation(FactorRange height_factor, FactorRange width_factor, TransformOptions options = {});
};

struct ValueRangeOptions {
  std::array<double, 2> value_range = {0, 255};  ///< outputs are clipped to it
  std::optional<std::int64_t> seed{};
  std::string name{};
  std::string dtype{};
};

/// Base of RandomContrast and RandomBrightness: a factor range, and the value_range outputs are
/// clipped to.
class ValueRangeLayer : public RandomImageLayer {
 public:
  /// The factor is bounded to [lo, hi] as Keras's _set_factor does (ValueError outside).
  ValueRangeLayer(const std::string& cls, FactorRange factor, double lo, double hi, const ValueRangeOptions& options);
  nlohmann::json get_config() const override;

 protected:
  FactorRange factor_;
  std::array<double, 2> range_;
};

/// In training (x − mean)·c + mean per image and channel (mean over height and width), c drawn
/// in [1 − lower, 1 + upper] with the factor bounded to [0, 1] as Keras 3; clipped to value_range.
class RandomContrastLayer : public ValueRangeLayer {
 public:
  RandomContrastLayer(FactorRange factor, const ValueRangeOptions& options)
      : ValueRangeLayer("RandomContrast", factor, 0, 1, options) {}
  std::string class_name() const override { return "RandomContrast"; }
  Tensor call(const Tensor& x, bool training) override;
};

struct RandomContrast : LayerHandle<RandomContrastLayer> {
  explicit RandomContrast(FactorRange factor, ValueRangeOptions options = {});
};

/// In training adds f·(value_range span) per image, f drawn from the factor (within [−1, 1]),
/// then clips to value_range.
class RandomBrightnessLayer : public ValueRangeLayer {
 public:
  RandomBrightnessLayer(FactorRange factor, const ValueRangeOptions& options)
      : ValueRangeLayer("RandomBrightness", factor, -1, 1, options) {}
  std::string class_name() const override { return "RandomBrightness"; }
  Tensor call(const Tensor& x, bool training) override;
};

struct RandomBrightness : LayerHandle<RandomBrightnessLayer> {
  explicit RandomBrightness(FactorRange factor, ValueRangeOptions options = {});
};

/// In training a random height × width window (the same for the whole batch); at inference, and
/// in training on images not larger than the window, the largest centred window of the target's
/// aspect ratio resized to height × width (Keras's documented behaviour and tf.keras 2's; Keras
/// 3.15's code returns the input uncropped at inference, contradicting its own output shape).
class RandomCropLayer : public RandomImageLayer {
 public:
  RandomCropLayer(std::int64_t height, std::int64_t width, std::optional<std::int64_t> seed, std::string name);
  std::string class_name() const override { return "RandomCrop"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  nlohmann::json get_config() const override;

 private:
  std::int64_t height_, width_;
};

struct RandomCrop : LayerHandle<RandomCropLayer> {
  RandomCrop(std::int64_t height, std::int64_t width, RandomOptions options = {});
};

// --- Discretization / CategoryEncoding ----------------------------------------------------------

/// Keras's output_mode of the categorical layers: "int" (an index per value), "one_hot" (a
/// trailing axis of size depth; a trailing axis of 1 is replaced), "multi_hot" (1 for each index
/// present along axis 1, or the only axis), "count" (how many times).
struct DiscretizationOptions {
  std::string output_mode = "int";
  std::string name{};
};

/// Base of the categorical layers: indices encoded as an output_mode over depth() classes. They
/// read their inputs as they are (no dtype-policy cast).
class CategoricalLayer : public Layer {
 public:
  /// Throws ValueError for an output_mode other than int (when allowed), one_hot, multi_hot, count.
  CategoricalLayer(const std::string& cls, std::string output_mode, bool allow_int, std::string name);
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  bool autocasts() const override { return false; }
  const std::string& output_mode() const { return output_mode_; }

 protected:
  /// The number of classes of the encodings.
  virtual std::int64_t depth() const = 0;
  /// Indices (int64) encoded as output_mode; "int" gives them as `int_dtype`.
  Tensor encode(const Tensor& indices, DType int_dtype) const;
  std::string output_mode_;
};

/// The bucket of each value: the number of bin_boundaries <= x (NumPy's digitize), int32 in
/// "int" mode (Keras 3), else encoded as output_mode over len(bin_boundaries) + 1 buckets.
class DiscretizationLayer : public CategoricalLayer {
 public:
  DiscretizationLayer(std::vector<double> bin_boundaries, DiscretizationOptions options);
  std::string class_name() const override { return "Discretization"; }
  Tensor call(const Tensor& x, bool training) override;
  nlohmann::json get_config() const override;
  /// Internal (from_config): the dtype of "int" outputs (int64 in tf.keras 2's files) and the
  /// adapt settings a file carries back.
  void set_int_dtype(DType dtype) { int_dtype_ = dtype; }
  void set_adapt_settings(std::optional<std::int64_t> num_bins, double epsilon);

 private:
  std::int64_t depth() const override { return static_cast<std::int64_t>(boundaries_.size()) + 1; }
  std::vector<double> boundaries_;
  DType int_dtype_ = int32;
  std::optional<std::int64_t> num_bins_;
  double epsilon_ = 0.01;
};

struct Discretization : LayerHandle<DiscretizationLayer> {
  explicit Discretization(std::vector<double> bin_boundaries, DiscretizationOptions options = {});
};

struct CategoryEncodingOptions {
  std::string output_mode = "multi_hot";  ///< "one_hot" | "multi_hot" | "count"
  std::string name{};
};

/// Integer indices in [0, num_tokens) to float32 encodings (see DiscretizationOptions for the
/// modes). Values >= num_tokens count nowhere; a negative one is refused in multi_hot / count
/// mode (ValueError), as TensorFlow's bincount refuses it.
class CategoryEncodingLayer : public CategoricalLayer {
 public:
  CategoryEncodingLayer(std::int64_t num_tokens, CategoryEncodingOptions options);
  std::string class_name() const override { return "CategoryEncoding"; }
  Tensor call(const Tensor& x, bool training) override;
  nlohmann::json get_config() const override;

 private:
  std::int64_t depth() const override { return num_tokens_; }
  std::int64_t num_tokens_;
};

struct CategoryEncoding : LayerHandle<CategoryEncodingLayer> {
  explicit CategoryEncoding(std::int64_t num_tokens, CategoryEncodingOptions options = {});
};

// --- IntegerLookup / Hashing ---------------------------------------------------------------------

struct IntegerLookupOptions {
  /// Out-of-vocabulary buckets, after the mask index: a value not in the vocabulary maps to
  /// 1 (or 0 without a mask token) + its bucket (floormod or hash of the value).
  std::int64_t num_oov_indices = 1;
  /// A value that maps to index 0 (and back); unset: none.
  std::optional<std::int64_t> mask_token{};
  std::int64_t oov_token = -1;  ///< what invert gives for OOV indices
  /// Map indices back to values (output_mode must be "int").
  bool invert = false;
  std::string output_mode = "int";  ///< "int" | "one_hot" | "multi_hot" | "count"
  std::optional<std::int64_t> max_tokens{};
  /// Encode over max_tokens buckets instead of the vocabulary size (needs max_tokens).
  bool pad_to_max_tokens = false;
  /// How OOV values pick one of several buckets: "floormod" (value mod num_oov_indices) or
  /// "farmhash" (hash of its decimal text, keyed by salt when given).
  std::string oov_method = "floormod";
  std::optional<std::array<std::int64_t, 2>> salt{};
  std::string name{};
};

/// Integer values to indices of a fixed vocabulary (Keras's index layout: [mask], OOV buckets,
/// then the vocabulary in order), int64, or encoded as output_mode.
class IntegerLookupLayer : public CategoricalLayer {
 public:
  /// Throws ValueError on an empty or repeated vocabulary, a vocabulary holding the mask token
  /// (or, inverted, the OOV token) other than as Keras's leading special tokens, or inconsistent
  /// options (as Keras).
  IntegerLookupLayer(std::vector<std::int64_t> vocabulary, IntegerLookupOptions options);
  std::string class_name() const override { return "IntegerLookup"; }
  Tensor call(const Tensor& x, bool training) override;
  nlohmann::json get_config() const override;
  /// The vocabulary with the special tokens first, as Keras's get_vocabulary().
  std::vector<std::int64_t> get_vocabulary() const;
  /// Indices in use: mask + OOV buckets + vocabulary.
  std::int64_t vocabulary_size() const;

 private:
  std::int64_t depth() const override;
  std::int64_t oov_start() const;
  std::int64_t token_start() const { return oov_start() + options_.num_oov_indices; }
  std::vector<std::int64_t> vocabulary_;  // without the special tokens
  IntegerLookupOptions options_;
  Tensor sorted_keys_, sorted_index_;     // the vocabulary sorted, and each key's index
};

struct IntegerLookup : LayerHandle<IntegerLookupLayer> {
  explicit IntegerLookup(std::vector<std::int64_t> vocabulary, IntegerLookupOptions options = {});
};

struct HashingOptions {
  /// A value that maps to bin 0, the others hashing into [1, num_bins); unset: none.
  std::optional<std::int64_t> mask_value{};
  /// SipHash key (TensorFlow's strong hash); unset: FarmHash Fingerprint64 (the fast one).
  std::optional<std::array<std::int64_t, 2>> salt{};
  std::string output_mode = "int";  ///< "int" | "one_hot" | "multi_hot" | "count"
  std::string name{};
};

/// The hash bucket of each integer (floats truncated first), as Keras: TensorFlow's hash of its
/// decimal text, modulo num_bins. int64 in "int" mode, else encoded as output_mode.
class HashingLayer : public CategoricalLayer {
 public:
  HashingLayer(std::int64_t num_bins, HashingOptions options);
  std::string class_name() const override { return "Hashing"; }
  Tensor call(const Tensor& x, bool training) override;
  nlohmann::json get_config() const override;

 private:
  std::int64_t depth() const override { return num_bins_; }
  std::int64_t num_bins_;
  HashingOptions options_;
};

struct Hashing : LayerHandle<HashingLayer> {
  explicit Hashing(std::int64_t num_bins, HashingOptions options = {});
};

}  // namespace lamina::layers
