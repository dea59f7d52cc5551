// SPDX-License-Identifier: Apache-2.0
// optimizers/rmsprop.cpp — RMSprop with Keras 3's update rule (Keras's compile() default).
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

// v = ρ·v + (1−ρ)·g²;  d = v + ε  (centered: a = ρ·a + (1−ρ)·g, d = v − a² + ε);
// Δ = lr·g / sqrt(d);  w −= Δ  (momentum: m = μ·m + Δ, w −= m).
template <class T>
LAMINA_KERNEL
void rmsprop_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                    T* __restrict v, T* __restrict m, T* __restrict a, T lr, T rho, T mu, T eps) {
  for (std::int64_t j = begin; j < end; ++j) {
    v[j] = rho * v[j] + (1 - rho) * g[j] * g[j];
    T denominator = v[j] + eps;
    if (a) {
      a[j] = rho * a[j] + (1 - rho) * g[j];
      denominator -= a[j] * a[j];
    }
    const T increment = lr * g[j] / std::sqrt(denominator);
    if (m) {
      m[j] = mu * m[j] + increment;
      w[j] -= m[j];
    } else {
      w[j] -= increment;
    }
  }
}

}  // namespace

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
  detail::fused_update("RMSprop", grads, vars, {&velocities_, &momentums_, &average_gradients_},
                       [&](auto tag) {
                         using T = decltype(tag);
                         const T rate = static_cast<T>(lr), rho = static_cast<T>(options_.rho),
                                 mu = static_cast<T>(options_.momentum),
                                 eps = static_cast<T>(options_.epsilon);
                         return [=](std::int64_t lo, std::int64_t hi, T* w, const T* g,
                                    T* const* s) {
                           rmsprop_kernel<T>(lo, hi, w, g, s[0], s[1], s[2], rate, rho, mu, eps);
                         };
                       });
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
