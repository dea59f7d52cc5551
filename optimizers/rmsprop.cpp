// SPDX-License-Identifier: Apache-2.0
// optimizers/rmsprop.cpp — RMSprop with Keras 3's update rule (Keras's compile() default).
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "update_rule.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
RMSprop::RMSprop(RMSpropOptions options)
    : Optimizer("RMSprop", "rmsprop", common_options(options)), options_(std::move(options)) {
  if (!(options_.rho >= 0.0 && options_.rho <= 1.0))
    throw ValueError("RMSprop: rho must be between 0 and 1, got " + std::to_string(options_.rho));
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
    throw ValueError("RMSprop: momentum must be between 0 and 1, got " +
                     std::to_string(options_.momentum));
}

void RMSprop::build_slots(const std::vector<Tensor>& vars) {
  // Keras creates every velocity, then every momentum (only with momentum > 0), then every
  // average gradient (only when centered).
  for (std::size_t i = 0; i < vars.size(); ++i) velocities_.push_back(add_slot(i, "velocity"));
  if (options_.momentum > 0.0)
    for (std::size_t i = 0; i < vars.size(); ++i) momentums_.push_back(add_slot(i, "momentum"));
  if (options_.centered)
    for (std::size_t i = 0; i < vars.size(); ++i)
      average_gradients_.push_back(add_slot(i, "average_gradient"));
}

void RMSprop::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                     std::int64_t /*step*/) {
  const backend::UpdateParams p{.lr = lr, .epsilon = options_.epsilon,
                               .momentum = options_.momentum, .rho = options_.rho};
  detail::apply_rule("RMSprop", backend::UpdateRule::rmsprop, p, grads, vars,
                     {velocities_, momentums_, average_gradients_});
}

nlohmann::json RMSprop::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["rho"] = options_.rho;
  config["momentum"] = options_.momentum;
  config["epsilon"] = options_.epsilon;
  config["centered"] = options_.centered;
  return config;
}

}  // namespace lamina::optimizers
