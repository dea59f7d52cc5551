// SPDX-License-Identifier: Apache-2.0
// optimizers/adam.cpp — Adam, AMSGrad and AdamW with Keras's "epsilon hat" update, one fused pass:
// moments, (max) velocity and weight are updated in the same loop.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

// Keras 3, with t the 1-based step:
//   alpha = lr·sqrt(1 − β2^t) / (1 − β1^t)
//   m += (g − m)(1 − β1);  v += (g² − v)(1 − β2);  amsgrad: v̂ = max(v̂, v), use v̂ for v
//   w −= alpha·m / (sqrt(v) + ε)
template <class T, bool kAmsgrad>
LAMINA_KERNEL
void adam_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                 T* __restrict m, T* __restrict v, T* __restrict vhat, T alpha, T one_minus_b1,
                 T one_minus_b2, T eps) {
  for (std::int64_t j = begin; j < end; ++j) {
    const T grad = g[j];
    const T mj = m[j] + (grad - m[j]) * one_minus_b1;
    T vj = v[j] + (grad * grad - v[j]) * one_minus_b2;
    m[j] = mj;
    v[j] = vj;
    if constexpr (kAmsgrad) {
      vj = vhat[j] > vj ? vhat[j] : vj;
      vhat[j] = vj;
    }
    w[j] -= alpha * mj / (std::sqrt(vj) + eps);
  }
}

}  // namespace

Adam::Adam(AdamOptions options) : Adam("Adam", "adam", std::move(options)) {}

Adam::Adam(std::string class_name, std::string default_name, AdamOptions options)
    : Optimizer(std::move(class_name), std::move(default_name), common_options(options)),
      options_(std::move(options)) {
  if (!(options_.beta_1 >= 0.0 && options_.beta_1 < 1.0) ||
      !(options_.beta_2 >= 0.0 && options_.beta_2 < 1.0))
    throw ValueError(name() + ": beta_1 and beta_2 must be in [0, 1), got " +
                     std::to_string(options_.beta_1) + " and " + std::to_string(options_.beta_2));
  if (!(options_.epsilon >= 0.0))
    throw ValueError(name() + ": epsilon must be >= 0, got " + std::to_string(options_.epsilon));
}

void Adam::build_slots(const std::vector<Tensor>& vars) {
  // Keras 3 creates each variable's momentum and velocity together, then the velocity hats.
  for (std::size_t i = 0; i < vars.size(); ++i) {
    m_.push_back(add_slot(i, "momentum"));
    v_.push_back(add_slot(i, "velocity"));
  }
  if (options_.amsgrad)
    for (std::size_t i = 0; i < vars.size(); ++i) vhat_.push_back(add_slot(i, "velocity_hat"));
}

void Adam::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                  std::int64_t step) {
  const double t = static_cast<double>(step);
  const double alpha =
      lr * std::sqrt(1.0 - std::pow(options_.beta_2, t)) / (1.0 - std::pow(options_.beta_1, t));
  const bool amsgrad = options_.amsgrad;
  detail::fused_update(name().c_str(), grads, vars, {&m_, &v_, &vhat_}, [&](auto tag) {
    using T = decltype(tag);
    const T a = static_cast<T>(alpha), b1 = static_cast<T>(1.0 - options_.beta_1),
            b2 = static_cast<T>(1.0 - options_.beta_2), eps = static_cast<T>(options_.epsilon);
    return [=](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s) {
      if (amsgrad)
        adam_kernel<T, true>(lo, hi, w, g, s[0], s[1], s[2], a, b1, b2, eps);
      else
        adam_kernel<T, false>(lo, hi, w, g, s[0], s[1], s[2], a, b1, b2, eps);
    };
  });
}

nlohmann::json Adam::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  config["epsilon"] = options_.epsilon;
  config["amsgrad"] = options_.amsgrad;
  return config;
}

namespace {

AdamOptions adam_options(const AdamWOptions& o) {
  if (!o.weight_decay)
    throw ValueError("AdamW: weight_decay must be a number (Keras's default is 0.004), got none");
  AdamOptions a{.beta_1 = o.beta_1, .beta_2 = o.beta_2, .epsilon = o.epsilon, .amsgrad = o.amsgrad};
  set_common_options(a, common_options(o));
  return a;
}

}  // namespace

AdamW::AdamW(AdamWOptions options) : Adam("AdamW", "adamw", adam_options(options)) {}

}  // namespace lamina::optimizers
