// SPDX-License-Identifier: Apache-2.0
// lamina/ops/preprocessing.hpp — the ops behind the preprocessing layers: sorted search, integer
// hashing as TensorFlow hashes integers, and projective image transforms. Included by
// lamina/ops.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina {

/// NumPy's searchsorted: per element of `x`, the index at which it would be inserted into the
/// ascending 1-D `sorted` (cast to x's dtype) — the count of values < x, or <= x when `right`.
/// int64, x's shape. Not differentiable. digitize(x, bins) is search_sorted(bins, x, true).
Tensor search_sorted(const Tensor& sorted, const Tensor& x, bool right = false);

/// The bucket in [0, num_bins) of each integer of `x` (int64, x's shape), as TensorFlow computes
/// it: "floormod" (x mod num_bins, never negative), "fingerprint64" (FarmHash's Fingerprint64 of
/// the decimal text, tf.strings.to_hash_bucket_fast(tf.as_string(x))) or "siphash" (SipHash-2-4
/// under `key`, to_hash_bucket_strong). Floating inputs are truncated to int64 first, as
/// TensorFlow casts them. Throws ValueError on num_bins < 1, an unknown method, or siphash
/// without a key.
Tensor hash_bucket(const Tensor& x, std::int64_t num_bins, const std::string& method = "fingerprint64",
                   std::optional<std::array<std::uint64_t, 2>> key = {});

/// Projective transform of images x (N, H, W, C), as TensorFlow's ImageProjectiveTransformV3
/// (Keras's ops.image.affine_transform): output pixel (x, y) of image i reads the input at
/// ((a0·x + a1·y + a2) / k, (b0·x + b1·y + b2) / k), k = c0·x + c1·y + 1, from the 8
/// coefficients transforms[i] (shape (N, 8), or (8) for every image; read on the host).
/// interpolation: "nearest" | "bilinear"; fill_mode: "reflect" | "wrap" | "constant" (reads
/// `fill_value`) | "nearest". Differentiable in x. Throws ValueError naming a bad argument.
Tensor affine_transform(const Tensor& x, const Tensor& transforms, const std::string& interpolation = "bilinear",
                        const std::string& fill_mode = "constant", double fill_value = 0.0);

}  // namespace lamina
