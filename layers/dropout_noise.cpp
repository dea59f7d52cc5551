// SPDX-License-Identifier: Apache-2.0
// Keras's noise_shape and seed for the dropout layers (see dropout_noise.hpp).
#include "common/json_int.hpp"
#include "dropout_noise.hpp"

#include "engine/config.hpp"
#include "lamina/errors.hpp"

namespace lamina::layers::dropout_noise {

namespace {
using json = nlohmann::json;

// Dimensions as written, in tuple notation: "(5, -1)" (Shape::str would print -1 as None).
std::string dims_str(const std::vector<std::int64_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}
}  // namespace

DropoutOptions options_of(const json& c) {
  DropoutOptions o{.name = engine::name_of(c)};
  if (c.contains("noise_shape") && !c["noise_shape"].is_null()) {
    const json& ns = c["noise_shape"];
    if (!ns.is_array()) throw ValueError("noise_shape=" + ns.dump() + " must be a list of integers or null");
    std::vector<std::int64_t> dims;
    for (const json& d : ns) {
      if (!d.is_null() && !d.is_number_integer())
        throw ValueError("noise_shape=" + ns.dump() + " must be a list of integers or null");
      dims.push_back(d.is_null() ? -1 : json_int<std::int64_t>(d));
    }
    o.noise_shape = dims;
  }
  if (c.contains("seed") && !c["seed"].is_null()) {
    if (!c["seed"].is_number_integer()) throw ValueError("seed=" + c["seed"].dump() + " must be an integer or null");
    o.seed = json_int<std::int64_t>(c["seed"], "seed");
  }
  return o;
}

void check(const std::string& cls, double rate, const DropoutOptions& options) {
  if (!(rate >= 0 && rate < 1)) throw ValueError(cls + ": rate must be in [0, 1), got " + std::to_string(rate));
  if (options.noise_shape)
    for (auto d : *options.noise_shape)
      if (d == 0 || d < -1)
        throw ValueError(cls + ": noise_shape entries must be positive or -1 (None), got " +
                         dims_str(*options.noise_shape));
}

Shape mask_shape(const Layer& layer, const Shape& x, const DropoutOptions& options) {
  Shape shape = x;
  if (!options.noise_shape) return shape;
  const auto& ns = *options.noise_shape;
  auto fail = [&](const std::string& what) {
    throw ShapeError(layer.class_name() + " '" + layer.name() + "': noise_shape " + dims_str(ns) + what + x.str());
  };
  if (static_cast<int>(ns.size()) != x.rank()) fail(" must have the input's rank, got input ");
  for (std::size_t i = 0; i < ns.size(); ++i) {
    if (ns[i] != -1 && ns[i] != 1 && ns[i] != x[i]) fail(" does not broadcast to the input ");
    if (ns[i] != -1) shape[i] = ns[i];
  }
  return shape;
}

void to_config(double rate, const DropoutOptions& options, json& c) {
  c["rate"] = rate;
  c["seed"] = options.seed ? json(*options.seed) : json(nullptr);
  if (options.noise_shape) {
    json ns = json::array();
    for (auto d : *options.noise_shape) ns.push_back(d < 0 ? json(nullptr) : json(d));
    c["noise_shape"] = ns;
  } else {
    c["noise_shape"] = nullptr;
  }
}

SeededDraws::SeededDraws(const std::optional<std::int64_t>& seed, std::uint64_t& draws) : draws_(draws) {
  if (!seed) return;
  own_.emplace(static_cast<std::uint64_t>(*seed), random::Stream::seeded, draws_);
  scope_.emplace(*own_);
}

SeededDraws::~SeededDraws() {
  scope_.reset();
  if (own_) draws_ = own_->offset();
}

}  // namespace lamina::layers::dropout_noise
