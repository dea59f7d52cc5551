// SPDX-License-Identifier: Apache-2.0
// optimizers/nadam.cpp — Nadam (Adam with Nesterov momentum) with Keras 3's momentum schedule.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "update_rule.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
Nadam::Nadam(NadamOptions options)
    : Optimizer("Nadam", "nadam", common_options(options)), options_(std::move(options)) {
  if (!(options_.beta_1 >= 0.0 && options_.beta_1 < 1.0) ||
      !(options_.beta_2 >= 0.0 && options_.beta_2 < 1.0))
    throw ValueError("Nadam: beta_1 and beta_2 must be in [0, 1), got " +
                     std::to_string(options_.beta_1) + " and " + std::to_string(options_.beta_2));
}

void Nadam::build_slots(const std::vector<Tensor>& vars) {
  for (std::size_t i = 0; i < vars.size(); ++i) {
    m_.push_back(add_slot(i, "momentum"));
    v_.push_back(add_slot(i, "velocity"));
  }
  // Π_t, kept as a variable in the first variable's dtype, as Keras does.
  u_product_ = Tensor::scalar(1.0, vars.empty() ? float32 : vars[0].dtype());
  add_state("u_product", u_product_);
}

void Nadam::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                   std::int64_t step) {
  const double t = static_cast<double>(step), b1 = options_.beta_1;
  const double mu_t = b1 * (1.0 - 0.5 * std::pow(0.96, t));
  const double mu_next = b1 * (1.0 - 0.5 * std::pow(0.96, t + 1.0));
  // Π_t goes through its variable's dtype, so float32 training rounds it as Keras does.
  u_product_.assign(Tensor::scalar(u_product_.item() * mu_t, float64));
  const double product = u_product_.item();
  const backend::UpdateParams p{.lr = lr,
                               .beta_1 = options_.beta_1,
                               .beta_2 = options_.beta_2,
                               .epsilon = options_.epsilon,
                               .m_coefficient = mu_next / (1.0 - product * mu_next),
                               .g_coefficient = (1.0 - mu_t) / (1.0 - product),
                               .v_correction = 1.0 - std::pow(options_.beta_2, t)};
  detail::apply_rule("Nadam", backend::UpdateRule::nadam, p, grads, vars, {m_, v_});
}

nlohmann::json Nadam::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  config["epsilon"] = options_.epsilon;
  return config;
}

}  // namespace lamina::optimizers
