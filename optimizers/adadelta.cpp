// SPDX-License-Identifier: Apache-2.0
// optimizers/adadelta.cpp — Adadelta with Keras 3's rule (which PyTorch's matches).
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

// a = ρ·a + (1−ρ)·g²;  Δ = −sqrt(d + ε)·g / sqrt(a + ε);  d = ρ·d + (1−ρ)·Δ²;  w += lr·Δ.
template <class T>
LAMINA_KERNEL
void adadelta_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                     T* __restrict a, T* __restrict d, T lr, T rho, T eps) {
  for (std::int64_t j = begin; j < end; ++j) {
    a[j] = rho * a[j] + (1 - rho) * g[j] * g[j];
    const T delta = -(std::sqrt(d[j] + eps) * g[j]) / std::sqrt(a[j] + eps);
    d[j] = rho * d[j] + (1 - rho) * delta * delta;
    w[j] += lr * delta;
  }
}

}  // namespace

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
  detail::fused_update("Adadelta", grads, vars, {&accumulated_grads_, &accumulated_deltas_},
                       [&](auto tag) {
                         using T = decltype(tag);
                         const T rate = static_cast<T>(lr), rho = static_cast<T>(options_.rho),
                                 eps = static_cast<T>(options_.epsilon);
                         return [=](std::int64_t lo, std::int64_t hi, T* w, const T* g,
                                    T* const* s) {
                           adadelta_kernel<T>(lo, hi, w, g, s[0], s[1], rate, rho, eps);
                         };
                       });
}

nlohmann::json Adadelta::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["rho"] = options_.rho;
  config["epsilon"] = options_.epsilon;
  return config;
}

}  // namespace lamina::optimizers
