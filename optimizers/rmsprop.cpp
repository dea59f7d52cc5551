// optimizers/rmsprop.cpp — RMSprop with Keras 3's update rule (Keras's compile() default).
#include <cmath>
#include <string>

#include "check_variables.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::optimizers {

RMSprop::RMSprop(RMSpropOptions options)
    : Optimizer("RMSprop", options.learning_rate), options_(options) {
  if (!(options.rho >= 0.0 && options.rho <= 1.0))
    throw ValueError("RMSprop: rho must be between 0 and 1, got " + std::to_string(options.rho));
  if (!(options.momentum >= 0.0 && options.momentum <= 1.0))
    throw ValueError("RMSprop: momentum must be between 0 and 1, got " +
                     std::to_string(options.momentum));
}

void RMSprop::build(const std::vector<Tensor>& vars) {
  // Keras keeps a momentum slot only with momentum > 0 and an average gradient only if centered.
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const std::string suffix = "_" + std::to_string(i);
    velocities_.push_back(Tensor::zeros(vars[i].shape(), vars[i].dtype()));
    slots_.emplace_back("rmsprop/velocity" + suffix, velocities_.back());
    if (options_.momentum > 0.0) {
      momentums_.push_back(Tensor::zeros(vars[i].shape(), vars[i].dtype()));
      slots_.emplace_back("rmsprop/momentum" + suffix, momentums_.back());
    }
    if (options_.centered) {
      average_gradients_.push_back(Tensor::zeros(vars[i].shape(), vars[i].dtype()));
      slots_.emplace_back("rmsprop/average_gradient" + suffix, average_gradients_.back());
    }
  }
}

// v = ρ·v + (1−ρ)·g²;  d = v + ε  (centered: a = ρ·a + (1−ρ)·g, d = v − a² + ε);
// Δ = lr·g / sqrt(d);  w −= Δ  (momentum: m = μ·m + Δ, w −= m).
void RMSprop::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                     std::int64_t /*step*/) {
  detail::check_same_variables(name(), velocities_, vars);
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i].defined()) continue;
    Tensor var = vars[i];
    lamina::detail::dispatch_float(var.dtype(), "RMSprop", [&](auto tag) {
      using T = decltype(tag);
      const T lr = static_cast<T>(learning_rate());
      const T rho = static_cast<T>(options_.rho);
      const T mu = static_cast<T>(options_.momentum);
      const T eps = static_cast<T>(options_.epsilon);
      T* w = var.data<T>();
      const T* g = grads[i].data<T>();
      T* v = velocities_[i].data<T>();
      T* m = momentums_.empty() ? nullptr : momentums_[i].data<T>();
      T* a = average_gradients_.empty() ? nullptr : average_gradients_[i].data<T>();
      const std::int64_t n = var.numel();
      for (std::int64_t j = 0; j < n; ++j) {
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
    });
  }
}

}  // namespace lamina::optimizers
