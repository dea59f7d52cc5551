// SPDX-License-Identifier: Apache-2.0
// optimizers/adagrad.cpp — Adagrad with Keras 3's rule (epsilon inside the square root).
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "update_rule.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
Adagrad::Adagrad(AdagradOptions options)
    : Optimizer("Adagrad", "adagrad", common_options(options)), options_(std::move(options)) {
  if (!(options_.initial_accumulator_value >= 0.0))
    throw ValueError("Adagrad: initial_accumulator_value must be >= 0, got " +
                     std::to_string(options_.initial_accumulator_value));
}

void Adagrad::build_slots(const std::vector<Tensor>& vars) {
  for (std::size_t i = 0; i < vars.size(); ++i)
    accumulators_.push_back(add_slot(i, "accumulator", options_.initial_accumulator_value));
}

void Adagrad::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                     std::int64_t /*step*/) {
  const backend::UpdateParams p{.lr = lr, .epsilon = options_.epsilon};
  detail::apply_rule("Adagrad", backend::UpdateRule::adagrad, p, grads, vars, {accumulators_});
}

nlohmann::json Adagrad::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["initial_accumulator_value"] = options_.initial_accumulator_value;
  config["epsilon"] = options_.epsilon;
  return config;
}

}  // namespace lamina::optimizers
