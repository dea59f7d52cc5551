// SPDX-License-Identifier: Apache-2.0
// optimizers/sgd.cpp — stochastic gradient descent with Keras 3's momentum formulation.
#include <nlohmann/json.hpp>
#include <string>

#include "update_rule.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
SGD::SGD(SGDOptions options)
    : Optimizer("SGD", "SGD", common_options(options)), options_(std::move(options)) {
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
    throw ValueError("SGD: momentum must be between 0 and 1, got " +
                     std::to_string(options_.momentum));
}

void SGD::build_slots(const std::vector<Tensor>& vars) {
  if (options_.momentum == 0.0) return;  // Keras keeps no slots without momentum
  for (std::size_t i = 0; i < vars.size(); ++i) momentums_.push_back(add_slot(i, "momentum"));
}

void SGD::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                 std::int64_t /*step*/) {
  const backend::UpdateParams p{.lr = lr, .momentum = options_.momentum,
                               .nesterov = options_.nesterov};
  detail::apply_rule("SGD", backend::UpdateRule::sgd, p, grads, vars, {momentums_});
}

nlohmann::json SGD::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["momentum"] = options_.momentum;
  config["nesterov"] = options_.nesterov;
  return config;
}

}  // namespace lamina::optimizers
