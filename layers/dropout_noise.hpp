// SPDX-License-Identifier: Apache-2.0
// Keras's noise_shape and seed, shared by the dropout layers (Dropout, AlphaDropout): reading them
// from a config, checking them, the shape of a call's mask, and a seeded layer's own stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "lamina/layers/core.hpp"
#include "ops/random.hpp"

namespace lamina::layers::dropout_noise {

/// noise_shape (a list of integers and nulls, or null) and seed (an integer or null) of a Keras
/// config, with the name. Throws ValueError naming the key and the value otherwise.
DropoutOptions options_of(const nlohmann::json& config);
/// Throws ValueError "<cls>: ..." unless 0 <= rate < 1 and every noise_shape entry is positive or -1.
void check(const std::string& cls, double rate, const DropoutOptions& options);
/// The mask's shape for input `x`: noise_shape with -1 taking x's dimension, else x's shape.
/// Throws ShapeError naming `layer` when noise_shape does not broadcast to x.
Shape mask_shape(const Layer& layer, const Shape& x, const DropoutOptions& options);
/// Adds "rate", "seed" and "noise_shape" (null when unset) to a layer config.
void to_config(double rate, const DropoutOptions& options, nlohmann::json& config);

/// While alive, a seeded layer's draws come from its own generator (Keras's SeedGenerator(seed)),
/// resumed where its previous call stopped (`draws`), so its masks repeat for the same seed
/// whatever else draws. Without a seed, draws stay on lamina's current stream.
class SeededDraws {
 public:
  SeededDraws(const std::optional<std::int64_t>& seed, std::uint64_t& draws);
  ~SeededDraws();
  SeededDraws(const SeededDraws&) = delete;
  SeededDraws& operator=(const SeededDraws&) = delete;

 private:
  std::uint64_t& draws_;
  std::optional<random::Generator> own_;
  std::optional<random::GeneratorScope> scope_;
};

}  // namespace lamina::layers::dropout_noise
