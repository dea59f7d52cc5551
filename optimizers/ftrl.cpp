// SPDX-License-Identifier: Apache-2.0
// optimizers/ftrl.cpp — FTRL-proximal (McMahan et al. 2013) with Keras 3's rule.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

struct FtrlConstants {
  double lr, power, l1, l2_total, shrinkage;  // power = −learning_rate_power
};

// g' = g + 2·shrinkage·w;  n' = n + g²;  z += g' − (n'^p − n^p)/lr · w;
// w = (clip(z, −l1, l1) − z) / (n'^p/lr + 2·l2_total);  n = n'.
template <class T>
LAMINA_KERNEL
void ftrl_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                 T* __restrict n, T* __restrict z, const FtrlConstants& k) {
  const T lr = static_cast<T>(k.lr), p = static_cast<T>(k.power), l1 = static_cast<T>(k.l1),
          l2 = static_cast<T>(k.l2_total), shrink = static_cast<T>(k.shrinkage);
  for (std::int64_t j = begin; j < end; ++j) {
    const T grad = g[j] + 2 * shrink * w[j];
    const T n_new = n[j] + g[j] * g[j];
    const T n_new_p = std::pow(n_new, p);
    z[j] += grad - (n_new_p - std::pow(n[j], p)) / lr * w[j];
    const T quadratic = n_new_p / lr + 2 * l2;
    w[j] = (std::clamp(z[j], -l1, l1) - z[j]) / quadratic;
    n[j] = n_new;
  }
}

}  // namespace

Ftrl::Ftrl(FtrlOptions options)
    : Optimizer("Ftrl", "ftrl", common_options(options)), options_(std::move(options)) {
  const auto require = [](bool ok, const char* what, double value) {
    if (!ok) throw ValueError(std::string("Ftrl: ") + what + ", got " + std::to_string(value));
  };
  require(options_.initial_accumulator_value >= 0.0, "initial_accumulator_value must be >= 0",
          options_.initial_accumulator_value);
  require(options_.learning_rate_power <= 0.0, "learning_rate_power must be <= 0",
          options_.learning_rate_power);
  require(options_.l1_regularization_strength >= 0.0, "l1_regularization_strength must be >= 0",
          options_.l1_regularization_strength);
  require(options_.l2_regularization_strength >= 0.0, "l2_regularization_strength must be >= 0",
          options_.l2_regularization_strength);
  require(options_.l2_shrinkage_regularization_strength >= 0.0,
          "l2_shrinkage_regularization_strength must be >= 0",
          options_.l2_shrinkage_regularization_strength);
}

void Ftrl::build_slots(const std::vector<Tensor>& vars) {
  for (std::size_t i = 0; i < vars.size(); ++i) {
    accumulators_.push_back(add_slot(i, "accumulator", options_.initial_accumulator_value));
    linears_.push_back(add_slot(i, "linear"));
  }
}

void Ftrl::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                  std::int64_t /*step*/) {
  const FtrlConstants k{lr, -options_.learning_rate_power, options_.l1_regularization_strength,
                        options_.l2_regularization_strength + options_.beta / (2.0 * lr),
                        options_.l2_shrinkage_regularization_strength};
  detail::fused_update("Ftrl", grads, vars, {&accumulators_, &linears_}, [&](auto tag) {
    using T = decltype(tag);
    return [k](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s) {
      ftrl_kernel<T>(lo, hi, w, g, s[0], s[1], k);
    };
  });
}

nlohmann::json Ftrl::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["learning_rate_power"] = options_.learning_rate_power;
  config["initial_accumulator_value"] = options_.initial_accumulator_value;
  config["l1_regularization_strength"] = options_.l1_regularization_strength;
  config["l2_regularization_strength"] = options_.l2_regularization_strength;
  config["l2_shrinkage_regularization_strength"] = options_.l2_shrinkage_regularization_strength;
  config["beta"] = options_.beta;
  return config;
}

}  // namespace lamina::optimizers
