// SPDX-License-Identifier: Apache-2.0
// optimizers/ftrl.cpp — FTRL-proximal (McMahan et al. 2013) with Keras 3's rule.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "update_rule.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
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
  const backend::UpdateParams p{
      .lr = lr,
      .power = -options_.learning_rate_power,
      .l1 = options_.l1_regularization_strength,
      .l2 = options_.l2_regularization_strength + options_.beta / (2.0 * lr),
      .shrinkage = options_.l2_shrinkage_regularization_strength};
  detail::apply_rule("Ftrl", backend::UpdateRule::ftrl, p, grads, vars, {accumulators_, linears_});
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
