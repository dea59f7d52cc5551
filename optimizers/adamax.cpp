// SPDX-License-Identifier: Apache-2.0
// optimizers/adamax.cpp — Adamax (Adam with the infinity norm) with Keras 3's rule.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "update_rule.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
Adamax::Adamax(AdamaxOptions options)
    : Optimizer("Adamax", "adamax", common_options(options)), options_(std::move(options)) {
  if (!(options_.beta_1 >= 0.0 && options_.beta_1 < 1.0) ||
      !(options_.beta_2 >= 0.0 && options_.beta_2 <= 1.0))
    throw ValueError("Adamax: beta_1 must be in [0, 1) and beta_2 in [0, 1], got " +
                     std::to_string(options_.beta_1) + " and " + std::to_string(options_.beta_2));
}

void Adamax::build_slots(const std::vector<Tensor>& vars) {
  for (std::size_t i = 0; i < vars.size(); ++i) {
    m_.push_back(add_slot(i, "momentum"));
    u_.push_back(add_slot(i, "norm"));
  }
}

void Adamax::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                    std::int64_t step) {
  const double step_size = lr / (1.0 - std::pow(options_.beta_1, static_cast<double>(step)));
  const backend::UpdateParams p{.lr = step_size, .beta_1 = options_.beta_1,
                               .beta_2 = options_.beta_2, .epsilon = options_.epsilon};
  detail::apply_rule("Adamax", backend::UpdateRule::adamax, p, grads, vars, {m_, u_});
}

nlohmann::json Adamax::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  config["epsilon"] = options_.epsilon;
  return config;
}

}  // namespace lamina::optimizers
