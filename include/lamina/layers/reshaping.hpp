// SPDX-License-Identifier: Apache-2.0
// lamina/layers/reshaping.hpp — weightless layers that move values around: ZeroPadding1D/2D,
// Cropping1D/2D, UpSampling1D/2D (channels last or first, as Keras allows), Permute, RepeatVector.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lamina/layer.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

/// Amounts before and after along one axis; one integer means both.
struct Margins {
  std::int64_t before = 0, after = 0;
  Margins(std::int64_t both = 0)
      : before(both), after(both) {}  // NOLINT(google-explicit-constructor)
  Margins(std::int64_t b, std::int64_t a) : before(b), after(a) {}
  bool operator==(const Margins&) const = default;
};

/// Keras's 2-D padding/cropping argument: `1` (every side), `{1, 2}` (rows, columns, each
/// symmetric) or `{{top, bottom}, {left, right}}`.
struct Margins2D {
  Margins rows, cols;
  Margins2D(std::int64_t all = 0) : rows(all), cols(all) {}  // NOLINT(google-explicit-constructor)
  Margins2D(Margins r, Margins c) : rows(r), cols(c) {}
  bool operator==(const Margins2D&) const = default;
};

/// Zeros added to (ZeroPadding) or rows/columns removed from (Cropping) the spatial borders. A
/// 1-D layer works on (batch, steps, channels) (ZeroPadding1D also (batch, channels, steps)) and
/// uses only `cols`.
class MarginLayer : public Layer {
 public:
  enum class Kind { zero_padding, cropping };
  /// Throws ValueError on a negative amount or an unknown data_format, or channels_first for
  /// Cropping1D (Keras's has no data_format).
  MarginLayer(Kind kind, int rank, Margins2D margins, std::string name,
              const std::string& data_format = "channels_last");
  /// "ZeroPadding2D", "Cropping1D", ...
  std::string class_name() const override;
  Tensor call(const Tensor& x, bool training) override;
  /// Throws ShapeError naming the layer on a wrong rank or a crop that leaves nothing.
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  const Margins2D& margins() const { return margins_; }
  bool channels_first() const { return channels_first_; }

 private:
  /// compute_output_shape on the channels_last view of the input.
  Shape output_shape_last(const Shape& input_shape) const;
  Kind kind_;
  int rank_;
  Margins2D margins_;
  bool channels_first_ = false;
};

/// The padding and cropping layers' other argument (a struct, so that `{{1, 0}, {2, 2}}` can only
/// mean the amounts).
struct MarginOptions {
  std::string name{};
  /// "channels_last" (empty): x is (batch, height, width, channels) or (batch, steps, channels);
  /// "channels_first": (batch, channels, height, width) or (batch, channels, steps). Not for
  /// Cropping1D, which Keras gives no data_format. An optional, which no integer makes, so that
  /// `ZeroPadding2D({{1, 0}, {0, 0}})` cannot also read as amounts then options.
  std::optional<std::string> data_format{};
};

/// `ZeroPadding2D(1)`, `ZeroPadding2D({{1, 0}, {2, 2}})`. Keras's default pads 1 on every side.
struct ZeroPadding2D : LayerHandle<MarginLayer> {
  explicit ZeroPadding2D(Margins2D padding = 1, MarginOptions options = {});
};
/// Pads the steps axis: `ZeroPadding1D(2)`, `ZeroPadding1D({1, 3})`.
struct ZeroPadding1D : LayerHandle<MarginLayer> {
  explicit ZeroPadding1D(Margins padding = 1, MarginOptions options = {});
};
/// `Cropping2D({{2, 2}, {4, 4}})` removes 2 rows at the top and bottom and 4 columns each side.
/// Keras's default crops nothing.
struct Cropping2D : LayerHandle<MarginLayer> {
  explicit Cropping2D(Margins2D cropping = 0, MarginOptions options = {});
};
/// Crops the steps axis; Keras's default removes one step at each end.
struct Cropping1D : LayerHandle<MarginLayer> {
  explicit Cropping1D(Margins cropping = 1, MarginOptions options = {});
};

// --- UpSampling ------------------------------------------------------------------------------

/// Spatial upsampling by integer factors: "nearest" repeats rows and columns; "bilinear" (2-D
/// only) interpolates with half-pixel centres, as Keras's image resize on TensorFlow.
class UpSamplingLayer : public Layer {
 public:
  /// Throws ValueError on a non-positive size, an unknown interpolation or data_format, or
  /// channels_first for UpSampling1D (Keras's has no data_format).
  UpSamplingLayer(int rank, Size2D size, std::string interpolation, std::string name,
                  const std::string& data_format = "channels_last");
  std::string class_name() const override { return rank_ == 2 ? "UpSampling2D" : "UpSampling1D"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  Size2D size() const { return size_; }
  const std::string& interpolation() const { return interpolation_; }
  bool channels_first() const { return channels_first_; }

 private:
  /// compute_output_shape on the channels_last view of the input.
  Shape output_shape_last(const Shape& input_shape) const;
  int rank_;
  Size2D size_;
  std::string interpolation_;
  bool channels_first_ = false;
};

struct UpSampling2DOptions {
  /// "channels_last": x is (batch, height, width, channels); "channels_first": (batch, channels,
  /// height, width).
  std::string data_format = "channels_last";
  std::string interpolation = "nearest";  ///< "nearest" | "bilinear"
  std::string name{};
  std::string dtype{};  ///< dtype policy name ("mixed_bfloat16"); empty: the global policy
};

/// `UpSampling2D(2)`, `UpSampling2D({2, 3}, {.interpolation = "bilinear"})`.
struct UpSampling2D : LayerHandle<UpSamplingLayer> {
  explicit UpSampling2D(Size2D size = 2, UpSampling2DOptions options = {});
};
/// Repeats each step `size` times.
struct UpSampling1D : LayerHandle<UpSamplingLayer> {
  explicit UpSampling1D(std::int64_t size = 2, Name name = {});
};

// --- Permute / RepeatVector ------------------------------------------------------------------

/// Reorders the non-batch axes: dims is a permutation of 1..rank−1 (Keras's 1-based indexing);
/// `Permute({2, 1})` swaps the two axes of (batch, a, b).
class PermuteLayer : public Layer {
 public:
  /// Throws ValueError when dims is not a permutation of 1..dims.size().
  PermuteLayer(std::vector<int> dims, std::string name);
  std::string class_name() const override { return "Permute"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  const std::vector<int>& dims() const { return dims_; }

 private:
  std::vector<int> dims_;
};

struct Permute : LayerHandle<PermuteLayer> {
  explicit Permute(std::vector<int> dims, Name name = {});
};

/// (batch, features) -> (batch, n, features), the input repeated n times.
class RepeatVectorLayer : public Layer {
 public:
  /// Throws ValueError on n < 1.
  RepeatVectorLayer(std::int64_t n, std::string name);
  std::string class_name() const override { return "RepeatVector"; }
  Tensor call(const Tensor& x, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) override;
  void build(const Shape& input_shape) override { compute_output_shape(input_shape); }
  nlohmann::json get_config() const override;
  std::int64_t n() const { return n_; }

 private:
  std::int64_t n_;
};

struct RepeatVector : LayerHandle<RepeatVectorLayer> {
  explicit RepeatVector(std::int64_t n, Name name = {});
};

}  // namespace lamina::layers
