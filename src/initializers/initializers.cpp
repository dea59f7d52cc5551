// SPDX-License-Identifier: Apache-2.0
// Keras 3's initializers. Every random one draws from the seeded ops (random_uniform,
// random_normal, truncated_normal), so set_seed governs them all.
#include "common/json_int.hpp"
#include "lamina/initializers.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/registry.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/random.hpp"

namespace lamina {
namespace initializers {
namespace {

// The standard deviation of a unit normal truncated at ±2: Keras divides by it so that the
// truncated sample still has the variance scale/n.
constexpr double kTruncatedNormalStddev = 0.87962566103423978;

void check_concrete(const Shape& shape, const std::string& who) {
  for (auto d : shape)
    if (d < 0)
      throw ValueError(who + ": cannot initialize a tensor of shape " + shape.str() +
                       "; every dimension must be known and non-negative.");
}

void check_floating(DType dtype, const std::string& who) {
  if (!is_floating(dtype))
    throw TypeError(who + ": random initializers produce floating-point values, got dtype " +
                    std::string(dtype_name(dtype)) + ".");
}

Initializer variance_scaling(std::string class_name, std::map<std::string, double> config,
                             double scale, std::string mode, std::string distribution) {
  if (!(scale > 0.0))
    throw ValueError("VarianceScaling: scale must be positive, got " + std::to_string(scale) + ".");
  if (mode != "fan_in" && mode != "fan_out" && mode != "fan_avg")
    throw ValueError(
        "VarianceScaling: mode must be \"fan_in\", \"fan_out\" or \"fan_avg\", got \"" + mode +
        "\".");
  std::transform(distribution.begin(), distribution.end(), distribution.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (distribution == "normal") distribution = "truncated_normal";  // Keras's legacy alias
  if (distribution != "truncated_normal" && distribution != "untruncated_normal" &&
      distribution != "uniform")
    throw ValueError(
        "VarianceScaling: distribution must be \"truncated_normal\", \"untruncated_normal\" or "
        "\"uniform\", got \"" +
        distribution + "\".");

  std::string who = class_name;
  auto fn = [=](const Shape& shape, DType dtype) {
    check_concrete(shape, who);
    check_floating(dtype, who);
    auto [fan_in, fan_out] = compute_fans(shape);
    double n = mode == "fan_in" ? fan_in : mode == "fan_out" ? fan_out : (fan_in + fan_out) / 2.0;
    double variance = scale / std::max(1.0, n);
    if (distribution == "truncated_normal")
      return truncated_normal(shape, 0.0, std::sqrt(variance) / kTruncatedNormalStddev, dtype);
    if (distribution == "untruncated_normal")
      return random_normal(shape, 0.0, std::sqrt(variance), dtype);
    double limit = std::sqrt(3.0 * variance);  // U(-l, l) has variance l²/3
    return random_uniform(shape, -limit, limit, dtype);
  };
  // Only VarianceScaling itself writes its mode and distribution; GlorotUniform & co. imply them.
  std::map<std::string, std::string> strings;
  if (class_name == "VarianceScaling") strings = {{"mode", mode}, {"distribution", distribution}};
  return Initializer(std::move(class_name), std::move(config), fn, std::move(strings));
}

// LAPACK's QR (OpenBLAS exports it; Debian's libopenblas carries the Fortran symbols, so no
// header: the Fortran interface, column-major, LP64 integers, no hidden string lengths).
extern "C" {
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work,
             const int* lwork, int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau,
             double* work, const int* lwork, int* info);
}

// The reduced Q (m×n, column-major) of the column-major m×n matrix `a` (m >= n), each column
// multiplied by sign(R_jj) so that R's diagonal is positive and Q unique, as Keras's
// `q *= sign(diag(r))`. Blocked Householder (dgeqrf, then dorgqr forms Q): a 2400×600 sample
// takes well under a second where an unblocked loop took about 20 s.
std::vector<double> orthonormal_q(std::vector<double> a, std::int64_t m, std::int64_t n) {
  if (n == 0) return a;  // an empty shape: nothing to factor (LAPACK wants lda >= 1)
  constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();
  if (m > kMaxInt || m * n > kMaxInt)
    throw ValueError("Orthogonal: a " + std::to_string(m) + "x" + std::to_string(n) +
                     " sample exceeds LAPACK's 32-bit sizes.");
  const int rows = static_cast<int>(m), cols = static_cast<int>(n);
  std::vector<double> tau(static_cast<std::size_t>(std::max(cols, 1)));
  auto lapack = [&](const char* routine, auto&& call) {
    int info = 0, query = -1;
    double size = 0.0;
    call(&size, &query, &info);  // workspace query
    int lwork = std::max(1, static_cast<int>(size));
    std::vector<double> work(static_cast<std::size_t>(lwork));
    if (info == 0) call(work.data(), &lwork, &info);
    if (info != 0)
      throw ValueError(std::string("Orthogonal: LAPACK ") + routine + " failed with info " +
                       std::to_string(info) + ".");
  };
  lapack("dgeqrf", [&](double* work, const int* lwork, int* info) {
    dgeqrf_(&rows, &cols, a.data(), &rows, tau.data(), work, lwork, info);
  });
  std::vector<bool> flip(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) flip[j] = a[static_cast<std::size_t>(j * m + j)] < 0.0;
  lapack("dorgqr", [&](double* work, const int* lwork, int* info) {
    dorgqr_(&rows, &cols, &cols, a.data(), &rows, tau.data(), work, lwork, info);
  });
  for (std::int64_t j = 0; j < n; ++j)
    if (flip[j])
      for (std::int64_t i = 0; i < m; ++i) a[static_cast<std::size_t>(j * m + i)] *= -1.0;
  return a;
}

using Maker = Initializer (*)();

// Keras's names, listed by their function names; the class names (and Keras 2's short names)
// find them too.
const Registry<Maker>& registry() {
  static const Registry<Maker> entries = {
      {"glorot_uniform", [] { return GlorotUniform(); }, {"GlorotUniform"}},
      {"glorot_normal", [] { return GlorotNormal(); }, {"GlorotNormal"}},
      {"he_uniform", [] { return HeUniform(); }, {"HeUniform"}},
      {"he_normal", [] { return HeNormal(); }, {"HeNormal"}},
      {"lecun_uniform", [] { return LecunUniform(); }, {"LecunUniform"}},
      {"lecun_normal", [] { return LecunNormal(); }, {"LecunNormal"}},
      {"zeros", [] { return Zeros(); }, {"Zeros", "zero"}},
      {"ones", [] { return Ones(); }, {"Ones", "one"}},
      {"constant", [] { return Constant(0.0); }, {"Constant"}},
      {"random_normal", [] { return RandomNormal(); }, {"RandomNormal", "normal"}},
      {"random_uniform", [] { return RandomUniform(); }, {"RandomUniform", "uniform"}},
      {"truncated_normal", [] { return TruncatedNormal(); }, {"TruncatedNormal"}},
      {"variance_scaling", [] { return VarianceScaling(); }, {"VarianceScaling"}},
      {"orthogonal", [] { return Orthogonal(); }, {"Orthogonal", "OrthogonalInitializer"}},
      {"identity", [] { return Identity(); }, {"Identity", "IdentityInitializer"}},
  };
  return entries;
}

}  // namespace

std::pair<double, double> compute_fans(const Shape& shape) {
  if (shape.empty()) return {1.0, 1.0};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  if (shape.size() == 2) return {double(shape[0]), double(shape[1])};
  // Convolution kernels (k..., in, out): every kernel position is another input/output.
  double receptive_field = 1.0;
  for (std::size_t i = 0; i + 2 < shape.size(); ++i) receptive_field *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive_field,
          double(shape.back()) * receptive_field};
}

Initializer Zeros() {
  return Initializer("Zeros", {}, [](const Shape& shape, DType dtype) {
    check_concrete(shape, "Zeros");
    return Tensor::zeros(shape, dtype);
  });
}

Initializer Ones() {
  return Initializer("Ones", {}, [](const Shape& shape, DType dtype) {
    check_concrete(shape, "Ones");
    return Tensor::ones(shape, dtype);
  });
}

Initializer Constant(double value) {
  return Initializer("Constant", {{"value", value}}, [value](const Shape& shape, DType dtype) {
    check_concrete(shape, "Constant");
    return Tensor::full(shape, value, dtype);
  });
}

Initializer RandomNormal(double mean, double stddev) {
  return Initializer("RandomNormal", {{"mean", mean}, {"stddev", stddev}},
                     [mean, stddev](const Shape& shape, DType dtype) {
                       check_concrete(shape, "RandomNormal");
                       check_floating(dtype, "RandomNormal");
                       return random_normal(shape, mean, stddev, dtype);
                     });
}

Initializer RandomUniform(double minval, double maxval) {
  if (!(minval <= maxval))
    throw ValueError("RandomUniform: minval must not exceed maxval, got minval " +
                     std::to_string(minval) + " and maxval " + std::to_string(maxval) + ".");
  return Initializer("RandomUniform", {{"minval", minval}, {"maxval", maxval}},
                     [minval, maxval](const Shape& shape, DType dtype) {
                       check_concrete(shape, "RandomUniform");
                       check_floating(dtype, "RandomUniform");
                       return random_uniform(shape, minval, maxval, dtype);
                     });
}

Initializer TruncatedNormal(double mean, double stddev) {
  return Initializer("TruncatedNormal", {{"mean", mean}, {"stddev", stddev}},
                     [mean, stddev](const Shape& shape, DType dtype) {
                       check_concrete(shape, "TruncatedNormal");
                       check_floating(dtype, "TruncatedNormal");
                       return truncated_normal(shape, mean, stddev, dtype);
                     });
}

Initializer VarianceScaling(double scale, const std::string& mode,
                            const std::string& distribution) {
  return variance_scaling("VarianceScaling", {{"scale", scale}}, scale, mode, distribution);
}

Initializer GlorotUniform() {
  return variance_scaling("GlorotUniform", {}, 1.0, "fan_avg", "uniform");
}
Initializer GlorotNormal() {
  return variance_scaling("GlorotNormal", {}, 1.0, "fan_avg", "truncated_normal");
}
Initializer HeUniform() { return variance_scaling("HeUniform", {}, 2.0, "fan_in", "uniform"); }
Initializer HeNormal() {
  return variance_scaling("HeNormal", {}, 2.0, "fan_in", "truncated_normal");
}
Initializer LecunUniform() {
  return variance_scaling("LecunUniform", {}, 1.0, "fan_in", "uniform");
}
Initializer LecunNormal() {
  return variance_scaling("LecunNormal", {}, 1.0, "fan_in", "truncated_normal");
}

// Keras: flatten to (rows, cols) = (prod(shape[:-1]), shape[-1]); take the QR of a standard normal
// sample of shape (max, min); scale Q's columns by sign(diag(R)) so Q is unique; transpose when
// rows < cols, so the result has orthonormal rows or columns, whichever are fewer.
Initializer Orthogonal(double gain) {
  return Initializer("Orthogonal", {{"gain", gain}}, [gain](const Shape& shape, DType dtype) {
    check_concrete(shape, "Orthogonal");
    check_floating(dtype, "Orthogonal");
    if (shape.size() < 2)
      throw ValueError("Orthogonal: needs a shape of rank 2 or more, got " + shape.str() + ".");
    std::int64_t cols = shape.back();
    std::int64_t rows = shape.numel() / std::max<std::int64_t>(cols, 1);
    std::int64_t m = std::max(rows, cols), n = std::min(rows, cols);
    Tensor sample = random_normal(Shape{m, n}, 0.0, 1.0, float64);
    if (random::counting_only()) return Tensor::zeros(shape, dtype);  // deferred: no QR either
    // The row-major (m, n) sample read column-major is its transpose: LAPACK takes it transposed.
    const std::vector<double> drawn = sample.to_vector<double>();
    std::vector<double> a(drawn.size());
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) a[j * m + i] = drawn[i * n + j];
    const std::vector<double> q = orthonormal_q(std::move(a), m, n);  // column-major (m, n)

    std::vector<double> out(static_cast<std::size_t>(rows * cols));
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j)
        out[i * cols + j] = gain * (rows >= cols ? q[j * m + i] : q[i * m + j]);
    return Tensor::from_vector(out, shape).astype(dtype);
  });
}

Initializer Identity(double gain) {
  return Initializer("Identity", {{"gain", gain}}, [gain](const Shape& shape, DType dtype) {
    check_concrete(shape, "Identity");
    if (shape.size() != 2)
      throw ValueError("Identity: needs a 2-D shape, got " + shape.str() + ".");
    std::vector<double> out(static_cast<std::size_t>(shape.numel()), 0.0);
    for (std::int64_t i = 0; i < std::min(shape[0], shape[1]); ++i)
      out[static_cast<std::size_t>(i * shape[1] + i)] = gain;
    return Tensor::from_vector(out, shape).astype(dtype);
  });
}

Initializer seeded(const Initializer& base, std::int64_t seed) {
  auto config = base.config();
  config["seed"] = static_cast<double>(seed);
  return Initializer(
      base.class_name(), config,
      [base, seed](const Shape& shape, DType dtype) {
        // Keras: a seeded initializer draws from SeedGenerator(seed) afresh on every call, so it
        // returns the same values each time; the global stream does not move.
        random::Generator own(static_cast<std::uint64_t>(seed), random::Stream::seeded);
        random::GeneratorScope scope(own);
        return base(shape, dtype);
      },
      base.string_config());
}

Initializer get(const std::string& name) {
  if (const auto make = registry().find(name)) return (*make)();
  throw ValueError("Unknown initializer '" + name + "'. Known initializers: " + registry().listing("") +
                   " (or their class names, e.g. \"GlorotUniform\").");
}

namespace {

bool is_random(const std::string& cls) {
  return cls.find("Uniform") != std::string::npos || cls.find("Normal") != std::string::npos ||
         cls == "Orthogonal" || cls == "VarianceScaling";
}

// The class's arguments from a Keras config; absent ones take Keras's defaults.
Initializer from_class(const std::string& cls, const nlohmann::json& c) {
  auto num = [&](const char* key, double fallback) {
    if (!c.contains(key) || c[key].is_null()) return fallback;
    if (!c[key].is_number())
      throw ValueError(cls + ": \"" + key + "\" must be a number, got " + c[key].dump() + ".");
    return c[key].get<double>();
  };
  auto str = [&](const char* key, const char* fallback) {
    if (!c.contains(key) || c[key].is_null()) return std::string(fallback);
    if (!c[key].is_string())
      throw ValueError(cls + ": \"" + key + "\" must be a string, got " + c[key].dump() + ".");
    return c[key].get<std::string>();
  };
  if (cls == "RandomNormal") return RandomNormal(num("mean", 0.0), num("stddev", 0.05));
  if (cls == "RandomUniform") return RandomUniform(num("minval", -0.05), num("maxval", 0.05));
  if (cls == "TruncatedNormal") return TruncatedNormal(num("mean", 0.0), num("stddev", 0.05));
  if (cls == "Constant") return Constant(num("value", 0.0));
  if (cls == "Orthogonal" || cls == "OrthogonalInitializer") return Orthogonal(num("gain", 1.0));
  if (cls == "Identity" || cls == "IdentityInitializer") return Identity(num("gain", 1.0));
  if (cls == "VarianceScaling")
    return VarianceScaling(num("scale", 1.0), str("mode", "fan_in"),
                           str("distribution", "truncated_normal"));
  return get(cls);
}

}  // namespace

nlohmann::json serialize(const Initializer& init) {
  nlohmann::json config = nlohmann::json::object();
  for (const auto& [k, v] : init.config())
    config[k] = k == "seed" ? nlohmann::json(static_cast<std::int64_t>(v)) : nlohmann::json(v);
  for (const auto& [k, v] : init.string_config()) config[k] = v;
  if (is_random(init.class_name()) && !config.contains("seed")) config["seed"] = nullptr;
  return {{"module", "keras.initializers"},
          {"class_name", init.class_name()},
          {"config", config},
          {"registered_name", nullptr}};
}

Initializer deserialize(const nlohmann::json& value) {
  if (value.is_string()) return get(value.get<std::string>());
  if (!value.is_object() || !value.contains("class_name") || !value["class_name"].is_string())
    throw ValueError("An initializer config must be a name or an object with a \"class_name\", got " +
                     value.dump() + ".");
  const std::string cls = value["class_name"].get<std::string>();
  const nlohmann::json c = value.contains("config") && value["config"].is_object()
                               ? value["config"]
                               : nlohmann::json::object();
  Initializer init = from_class(cls, c);
  // Keras 3 may write a SeedGenerator object as the seed; only an integer pins the values.
  if (c.contains("seed") && c["seed"].is_number_integer())
    return seeded(init, json_int<std::int64_t>(c["seed"], "seed"));
  return init;
}

}  // namespace initializers

Initializer::Initializer(const char* name)
    : Initializer(name == nullptr ? std::string("(null)") : std::string(name)) {}

Initializer::Initializer(const std::string& name) : Initializer(initializers::get(name)) {}

Initializer::Initializer(std::string class_name, std::map<std::string, double> config, Fn fn,
                         std::map<std::string, std::string> string_config)
    : class_name_(std::move(class_name)),
      config_(std::move(config)),
      fn_(std::move(fn)),
      string_config_(std::move(string_config)) {}

}  // namespace lamina
