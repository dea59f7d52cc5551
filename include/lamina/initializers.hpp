// SPDX-License-Identifier: Apache-2.0
// lamina/initializers.hpp — Keras's weight initializers, by string and as objects. All draw from
// lamina's seeded stream (set_seed).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include <nlohmann/json_fwd.hpp>

#include "lamina/tensor.hpp"

namespace lamina {

/// An initializer as a value: made from a Keras name ("glorot_uniform", "zeros", ...) or by the
/// factories below. Calling it returns a new tensor of the given shape.
class Initializer {
 public:
  using Fn = std::function<Tensor(const Shape&, DType)>;

  /// Throws ValueError naming the unknown initializer.
  Initializer(const char* name);         // NOLINT(google-explicit-constructor)
  Initializer(const std::string& name);  // NOLINT(google-explicit-constructor)
  /// class_name is Keras's class name ("GlorotUniform"); config its numeric arguments (an
  /// integer seed included), string_config its string arguments (VarianceScaling's mode and
  /// distribution).
  Initializer(std::string class_name, std::map<std::string, double> config, Fn fn,
              std::map<std::string, std::string> string_config = {});

  /// float16 and bfloat16 values are drawn in float32, then rounded to nearest even.
  Tensor operator()(const Shape& shape, DType dtype = float32) const {
    return dtype == float16 || dtype == bfloat16 ? fn_(shape, float32).astype(dtype) : fn_(shape, dtype);
  }
  const std::string& class_name() const { return class_name_; }
  const std::map<std::string, double>& config() const { return config_; }
  const std::map<std::string, std::string>& string_config() const { return string_config_; }

 private:
  std::string class_name_;
  std::map<std::string, double> config_;
  Fn fn_;
  std::map<std::string, std::string> string_config_;
};

namespace initializers {

/// (fan_in, fan_out) as Keras computes them: Dense (in, out) -> (in, out); conv kernels
/// (k..., in, out) -> (in·receptive, out·receptive); 1-D -> (n, n).
std::pair<double, double> compute_fans(const Shape& shape);

Initializer Zeros();
Initializer Ones();
Initializer Constant(double value);
Initializer RandomNormal(double mean = 0.0, double stddev = 0.05);
Initializer RandomUniform(double minval = -0.05, double maxval = 0.05);
/// Normal cut at two standard deviations.
Initializer TruncatedNormal(double mean = 0.0, double stddev = 0.05);
/// mode: "fan_in" | "fan_out" | "fan_avg"; distribution: "truncated_normal" | "untruncated_normal"
/// | "uniform". truncated_normal uses stddev = sqrt(scale/n)/0.87962566103423978.
Initializer VarianceScaling(double scale = 1.0, const std::string& mode = "fan_in",
                            const std::string& distribution = "truncated_normal");
Initializer GlorotUniform();
Initializer GlorotNormal();
Initializer HeUniform();
Initializer HeNormal();
Initializer LecunUniform();
Initializer LecunNormal();
/// A (semi-)orthogonal matrix from the QR decomposition of a normal sample, times gain.
Initializer Orthogonal(double gain = 1.0);
/// gain on the diagonal of a 2-D shape (rectangular too), zeros elsewhere.
Initializer Identity(double gain = 1.0);

/// `base` drawing from its own stream seeded with `seed`: like Keras 3's integer seed, every call
/// returns the same values whatever else was drawn before. The config gains "seed".
Initializer seeded(const Initializer& base, std::int64_t seed);

/// Looks up a Keras name: glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform,
/// lecun_normal, zeros, ones, constant, random_normal, random_uniform, uniform, normal,
/// truncated_normal, orthogonal (also the class names, e.g. "GlorotUniform").
Initializer get(const std::string& name);

/// Keras 3's form {"module": "keras.initializers", "class_name", "config", "registered_name"},
/// with every argument Keras writes (random initializers carry "seed", null when unseeded).
nlohmann::json serialize(const Initializer& initializer);
/// Inverse of serialize; also reads a name ("he_normal") and the Keras 2 forms ({"class_name",
/// "config"}, VarianceScaling's "normal" distribution). An integer seed makes the result
/// seeded(). Throws ValueError naming an unknown class or a malformed config.
Initializer deserialize(const nlohmann::json& value);

}  // namespace initializers
}  // namespace lamina
