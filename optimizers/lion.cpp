// SPDX-License-Identifier: Apache-2.0
// optimizers/lion.cpp — Lion (evolved sign momentum) with Keras 3's rule.
#include <nlohmann/json.hpp>
#include <string>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

// w −= lr·sign(β1·m + (1 − β1)·g);  m = β2·m + (1 − β2)·g.
template <class T>
LAMINA_KERNEL
void lion_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                 T* __restrict m, T lr, T b1, T b2) {
  for (std::int64_t j = begin; j < end; ++j) {
    const T c = m[j] * b1 + g[j] * (1 - b1);
    w[j] -= lr * static_cast<T>((c > 0) - (c < 0));
    m[j] = m[j] * b2 + g[j] * (1 - b2);
  }
}

}  // namespace

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
  detail::fused_update("Lion", grads, vars, {&momentums_}, [&](auto tag) {
    using T = decltype(tag);
    const T rate = static_cast<T>(lr), b1 = static_cast<T>(options_.beta_1),
            b2 = static_cast<T>(options_.beta_2);
    return [=](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s) {
      lion_kernel<T>(lo, hi, w, g, s[0], rate, b1, b2);
    };
  });
}

nlohmann::json Lion::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  return config;
}

}  // namespace lamina::optimizers
