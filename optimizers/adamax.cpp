// SPDX-License-Identifier: Apache-2.0
// optimizers/adamax.cpp — Adamax (Adam with the infinity norm) with Keras 3's rule.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

// m += (g − m)(1 − β1);  u = max(β2·u, |g|);  w −= step_size·m / (u + ε),
// step_size = lr / (1 − β1^t).
template <class T>
LAMINA_KERNEL
void adamax_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                   T* __restrict m, T* __restrict u, T step_size, T one_minus_b1, T b2, T eps) {
  for (std::int64_t j = begin; j < end; ++j) {
    m[j] += (g[j] - m[j]) * one_minus_b1;
    const T scaled = b2 * u[j], magnitude = std::abs(g[j]);
    u[j] = scaled > magnitude ? scaled : magnitude;
    w[j] -= step_size * m[j] / (u[j] + eps);
  }
}

}  // namespace

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
  detail::fused_update("Adamax", grads, vars, {&m_, &u_}, [&](auto tag) {
    using T = decltype(tag);
    const T size = static_cast<T>(step_size), b1 = static_cast<T>(1.0 - options_.beta_1),
            b2 = static_cast<T>(options_.beta_2), eps = static_cast<T>(options_.epsilon);
    return [=](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s) {
      adamax_kernel<T>(lo, hi, w, g, s[0], s[1], size, b1, b2, eps);
    };
  });
}

nlohmann::json Adamax::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  config["epsilon"] = options_.epsilon;
  return config;
}

}  // namespace lamina::optimizers
