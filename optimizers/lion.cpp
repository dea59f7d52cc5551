// SPDX-License-Identifier: Apache-2.0
// optimizers/lion.cpp — Lion (evolved sign momentum) with Keras 3's rule.
#include <nlohmann/json.hpp>
#include <string>

#include "update_rule.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
Lion::Lion(LionOptions options)
    : Optimizer("Lion", "lion", common_options(options)), options_(std::move(options)) {
  if (!(options_.beta_1 > 0.0 && options_.beta_1 <= 1.0))
    throw ValueError("Lion: beta_1 must be in (0, 1] (0 makes it SignSGD), got " +
                     std::to_string(options_.beta_1));
}

void Lion::build_slots(const std::vector<Tensor>& vars) {
  for (std::size_t i = 0; i < vars.size(); ++i) momentums_.push_back(add_slot(i, "momentum"));
}

void Lion::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                  std::int64_t /*step*/) {
  const backend::UpdateParams p{.lr = lr, .beta_1 = options_.beta_1, .beta_2 = options_.beta_2};
  detail::apply_rule("Lion", backend::UpdateRule::lion, p, grads, vars, {momentums_});
}

nlohmann::json Lion::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  return config;
}

}  // namespace lamina::optimizers
