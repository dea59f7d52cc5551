// SPDX-License-Identifier: Apache-2.0
// lamina/datasets/image_ops.hpp — image augmentation for Dataset::map (tf.image's random ops).
//
// Images are (height, width), (height, width, channels) or a batch (n, height, width, channels),
// channels last. Random ops draw from the element's own stream when called inside a map (seeded
// by the map's seed, the pass and the element's index: the same seed gives the same augmentations
// at any thread count), and from lamina's global stream (set_seed) elsewhere. A batch gets
// independent draws per image.
#pragma once

#include <cstdint>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina::image {

/// Mirrors left-right (the width axis) with probability 1/2. Any dtype.
Tensor random_flip_left_right(const Tensor& image);
/// Mirrors top-bottom (the height axis) with probability 1/2. Any dtype.
Tensor random_flip_up_down(const Tensor& image);

struct RandomCropOptions {
  std::int64_t padding = 0;  ///< pixels of pad_value added on every side before cropping
  double pad_value = 0.0;
};
/// A uniformly placed height x width window of the image padded by `padding` (torchvision's
/// RandomCrop(size, padding)). Throws ShapeError naming both shapes when the window does not fit.
Tensor random_crop(const Tensor& image, std::int64_t height, std::int64_t width,
                   const RandomCropOptions& options = {});

/// Adds one delta drawn uniformly from [-max_delta, max_delta] (per image). Floating images.
Tensor random_brightness(const Tensor& image, double max_delta);
/// Scales each channel's deviation from its mean by a factor drawn uniformly from [lower, upper]
/// (tf.image.adjust_contrast). Floating images; throws ValueError unless 0 <= lower <= upper.
Tensor random_contrast(const Tensor& image, double lower, double upper);
/// (x - mean[c]) / std[c] per channel (one value each: every channel). Floating images; throws
/// ValueError when the counts do not match the channels or a std is not positive.
Tensor normalize(const Tensor& image, const std::vector<double>& mean, const std::vector<double>& std);

}  // namespace lamina::image
