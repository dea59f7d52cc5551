// SPDX-License-Identifier: Apache-2.0
// optimizers/nadam.cpp — Nadam (Adam with Nesterov momentum) with Keras 3's momentum schedule.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

// m += (g − m)(1 − β1);  v += (g² − v)(1 − β2);
// w −= lr·(c_m·m + c_g·g) / (sqrt(v / (1 − β2^t)) + ε)
// with c_m = μ_{t+1}/(1 − Π_t·μ_{t+1}) and c_g = (1 − μ_t)/(1 − Π_t) (see nadam's header note).
template <class T>
LAMINA_KERNEL
void nadam_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                  T* __restrict m, T* __restrict v, T lr, T c_m, T c_g, T one_minus_b1,
                  T one_minus_b2, T b2_correction, T eps) {
  for (std::int64_t j = begin; j < end; ++j) {
    m[j] += (g[j] - m[j]) * one_minus_b1;
    v[j] += (g[j] * g[j] - v[j]) * one_minus_b2;
    const T m_hat = c_m * m[j] + c_g * g[j];
    w[j] -= m_hat * lr / (std::sqrt(v[j] / b2_correction) + eps);
  }
}

}  // namespace

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
  const double c_m = mu_next / (1.0 - product * mu_next);
  const double c_g = (1.0 - mu_t) / (1.0 - product);
  const double b2_correction = 1.0 - std::pow(options_.beta_2, t);
  detail::fused_update("Nadam", grads, vars, {&m_, &v_}, [&](auto tag) {
    using T = decltype(tag);
    const T rate = static_cast<T>(lr), cm = static_cast<T>(c_m), cg = static_cast<T>(c_g),
            one_minus_b1 = static_cast<T>(1.0 - options_.beta_1),
            one_minus_b2 = static_cast<T>(1.0 - options_.beta_2),
            correction = static_cast<T>(b2_correction), eps = static_cast<T>(options_.epsilon);
    return [=](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s) {
      nadam_kernel<T>(lo, hi, w, g, s[0], s[1], rate, cm, cg, one_minus_b1, one_minus_b2,
                      correction, eps);
    };
  });
}

nlohmann::json Nadam::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  config["epsilon"] = options_.epsilon;
  return config;
}

}  // namespace lamina::optimizers
