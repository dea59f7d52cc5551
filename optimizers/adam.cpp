// optimizers/adam.cpp — Adam (and AMSGrad) with Keras's "epsilon hat" update, one fused pass per
// variable: moments, (max) velocity and weight are updated in the same loop.
#include <cmath>
#include <string>

#include "backend/cpu/parallel.hpp"
#include "check_variables.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::optimizers {
namespace {

// Keras 3, with t the 1-based step:
//   alpha = lr·sqrt(1 − β2^t) / (1 − β1^t)
//   m += (g − m)(1 − β1);  v += (g² − v)(1 − β2);  amsgrad: v̂ = max(v̂, v), use v̂ for v
//   w −= alpha·m / (sqrt(v) + ε)
template <class T, bool kAmsgrad>
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

// Elements per thread chunk: small variables stay on the calling thread.
constexpr std::int64_t kGrain = 1 << 16;

}  // namespace

Adam::Adam(AdamOptions options) : Optimizer("Adam", options.learning_rate), options_(options) {
  if (!(options.beta_1 >= 0.0 && options.beta_1 < 1.0) ||
      !(options.beta_2 >= 0.0 && options.beta_2 < 1.0))
    throw ValueError("Adam: beta_1 and beta_2 must be in [0, 1), got " +
                     std::to_string(options.beta_1) + " and " + std::to_string(options.beta_2));
  if (!(options.epsilon >= 0.0))
    throw ValueError("Adam: epsilon must be >= 0, got " + std::to_string(options.epsilon));
}

void Adam::build(const std::vector<Tensor>& vars) {
  // Keras 3 creates each variable's momentum and velocity together, then the velocity hats.
  for (std::size_t i = 0; i < vars.size(); ++i) {
    m_.push_back(Tensor::zeros(vars[i].shape(), vars[i].dtype()));
    v_.push_back(Tensor::zeros(vars[i].shape(), vars[i].dtype()));
    slots_.emplace_back("adam/m_" + std::to_string(i), m_.back());
    slots_.emplace_back("adam/v_" + std::to_string(i), v_.back());
  }
  if (!options_.amsgrad) return;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    vhat_.push_back(Tensor::zeros(vars[i].shape(), vars[i].dtype()));
    slots_.emplace_back("adam/vhat_" + std::to_string(i), vhat_.back());
  }
}

void Adam::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                  std::int64_t step) {
  detail::check_same_variables(name(), m_, vars);
  const double t = static_cast<double>(step);
  const double alpha = learning_rate() * std::sqrt(1.0 - std::pow(options_.beta_2, t)) /
                       (1.0 - std::pow(options_.beta_1, t));
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i].defined()) continue;
    Tensor var = vars[i];
    lamina::detail::dispatch_float(var.dtype(), "Adam", [&](auto tag) {
      using T = decltype(tag);
      T* w = var.data<T>();
      const T* g = grads[i].data<T>();
      T* m = m_[i].data<T>();
      T* v = v_[i].data<T>();
      T* vhat = options_.amsgrad ? vhat_[i].data<T>() : nullptr;
      const T a = static_cast<T>(alpha), b1 = static_cast<T>(1.0 - options_.beta_1),
              b2 = static_cast<T>(1.0 - options_.beta_2), eps = static_cast<T>(options_.epsilon);
      const bool amsgrad = options_.amsgrad;
      cpu::parallel_for(var.numel(), kGrain, [&](std::int64_t begin, std::int64_t end) {
        if (amsgrad)
          adam_kernel<T, true>(begin, end, w, g, m, v, vhat, a, b1, b2, eps);
        else
          adam_kernel<T, false>(begin, end, w, g, m, v, vhat, a, b1, b2, eps);
      });
    });
  }
}

}  // namespace lamina::optimizers
