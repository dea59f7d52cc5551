// SPDX-License-Identifier: Apache-2.0
// optimizers/adadelta.cpp — Adadelta with Keras 3's rule (which PyTorch's matches).
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "update_rule.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
Adadelta::Adadelta(AdadeltaOptions options)
    : Optimizer("Adadelta", "adadelta", common_options(options)), options_(std::move(options)) {
  if (!(options_.rho >= 0.0 && options_.rho <= 1.0))
    throw ValueError("Adadelta: rho must be between 0 and 1, got " + std::to_string(options_.rho));
}

void Adadelta::build_slots(const std::vector<Tensor>& vars) {
  for (std::size_t i = 0; i < vars.size(); ++i) {
    accumulated_grads_.push_back(add_slot(i, "accumulated_grad"));
    accumulated_deltas_.push_back(add_slot(i, "accumulated_delta_var"));
  }
}

void Adadelta::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                      std::int64_t /*step*/) {
  const backend::UpdateParams p{.lr = lr, .epsilon = options_.epsilon, .rho = options_.rho};
  detail::apply_rule("Adadelta", backend::UpdateRule::adadelta, p, grads, vars,
                     {accumulated_grads_, accumulated_deltas_});
}

nlohmann::json Adadelta::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["rho"] = options_.rho;
  config["epsilon"] = options_.epsilon;
  return config;
}

}  // namespace lamina::optimizers
