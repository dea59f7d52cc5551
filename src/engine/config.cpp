#include "engine/config.hpp"

#include <cmath>

#include "lamina/errors.hpp"
#include "ops/random.hpp"

namespace lamina::engine {

namespace {

using json = nlohmann::json;

bool is_random(const std::string& cls) {
  return cls.find("Uniform") != std::string::npos || cls.find("Normal") != std::string::npos ||
         cls == "Orthogonal" || cls == "VarianceScaling";
}

// Keras's integer arguments (seed) stay integers in JSON.
json number(double v) {
  if (std::floor(v) == v && std::abs(v) < 9.0e15) return static_cast<std::int64_t>(v);
  return v;
}

// An initializer that draws from its own stream: Keras 3 documents that an integer-seeded
// initializer produces the same values on every call, whatever else was drawn before.
Initializer seeded(const Initializer& base, std::int64_t seed) {
  auto config = base.config();
  config["seed"] = static_cast<double>(seed);
  return Initializer(base.class_name(), config, [base, seed](const Shape& shape, DType dtype) {
    struct Restore {
      random::State saved = random::get_state();
      ~Restore() { random::set_state(saved); }
    } restore;
    random::set_state({static_cast<std::uint64_t>(seed), 0});
    return base(shape, dtype);
  });
}

// VarianceScaling as Keras 2.0-2.1 wrote the named initializers (glorot_uniform was
// VarianceScaling(1, fan_avg, uniform)); Keras 2 calls the truncated normal "normal".
Initializer variance_scaling(const json& c) {
  const double scale = c.value("scale", 1.0);
  const std::string mode = c.value("mode", std::string("fan_in"));
  std::string distribution = c.value("distribution", std::string("truncated_normal"));
  if (distribution == "normal") distribution = "truncated_normal";
  const bool uniform = distribution == "uniform", truncated = distribution == "truncated_normal";
  if (scale == 1.0 && mode == "fan_avg" && uniform) return initializers::GlorotUniform();
  if (scale == 1.0 && mode == "fan_avg" && truncated) return initializers::GlorotNormal();
  if (scale == 2.0 && mode == "fan_in" && uniform) return initializers::HeUniform();
  if (scale == 2.0 && mode == "fan_in" && truncated) return initializers::HeNormal();
  if (scale == 1.0 && mode == "fan_in" && uniform) return initializers::LecunUniform();
  if (scale == 1.0 && mode == "fan_in" && truncated) return initializers::LecunNormal();
  return initializers::VarianceScaling(scale, mode, distribution);
}

Initializer initializer_from(const std::string& cls, const json& c) {
  auto num = [&](const char* key, double fallback) {
    return c.contains(key) && c[key].is_number() ? c[key].get<double>() : fallback;
  };
  if (cls == "RandomNormal") return initializers::RandomNormal(num("mean", 0.0), num("stddev", 0.05));
  if (cls == "RandomUniform") return initializers::RandomUniform(num("minval", -0.05), num("maxval", 0.05));
  if (cls == "TruncatedNormal") return initializers::TruncatedNormal(num("mean", 0.0), num("stddev", 0.05));
  if (cls == "Constant") return initializers::Constant(num("value", 0.0));
  if (cls == "Orthogonal" || cls == "OrthogonalInitializer") return initializers::Orthogonal(num("gain", 1.0));
  if (cls == "VarianceScaling") return variance_scaling(c);
  return Initializer(cls);
}

}  // namespace

json initializer_config(const Initializer& init) {
  json config = json::object();
  for (const auto& [k, v] : init.config()) config[k] = number(v);
  if (is_random(init.class_name()) && !config.contains("seed")) config["seed"] = nullptr;
  return {{"module", "keras.initializers"},
          {"class_name", init.class_name()},
          {"config", config},
          {"registered_name", nullptr}};
}

std::string name_of(const json& config) { return config.value("name", std::string()); }

Initializer initializer_of(const json& config, const char* key, const char* fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const json& v = config[key];
  try {
    if (v.is_string()) return Initializer(v.get<std::string>());
    const json& c = v.contains("config") && v["config"].is_object() ? v["config"] : json::object();
    Initializer init = initializer_from(v.at("class_name").get<std::string>(), c);
    if (c.contains("seed") && c["seed"].is_number_integer()) return seeded(init, c["seed"].get<std::int64_t>());
    return init;
  } catch (const ValueError&) {
    return fallback;
  } catch (const json::exception&) {
    return fallback;
  }
}

Activation activation_of(const json& config, const char* key, const char* fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const json& a = config[key];
  if (a.is_string()) return a.get<std::string>();
  // Keras 3 may serialize a function as {"class_name": "function", "config": "relu", ...}.
  if (a.is_object() && a.contains("config") && a["config"].is_string()) return a["config"].get<std::string>();
  throw ValueError(std::string("\"") + key + "\" must name an activation, got " + a.dump());
}

}  // namespace lamina::engine
