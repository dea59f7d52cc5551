// optimizers/adam.cpp — Adam (and AMSGrad) with Keras's "epsilon hat" update, one fused pass per
// variable: moments, (max) velocity and weight are updated in the same loop.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

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

// Elements per thread chunk: models smaller than this update on the calling thread.
constexpr std::int64_t kGrain = 1 << 15;

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
  // All variables of one dtype go through a single parallel pass over their concatenated
  // elements: one wake-up of the pool per step instead of one per variable, and the small
  // biases ride along with the kernels instead of running alone.
  for (DType dt : {float32, float64}) {
    lamina::detail::dispatch_float(dt, "Adam", [&](auto tag) {
      using T = decltype(tag);
      struct Span {
        T *w, *m, *v, *vhat;
        const T* g;
        std::int64_t begin;  // offset of this variable in the concatenation
      };
      std::vector<Span> spans;
      std::int64_t total = 0;
      for (std::size_t i = 0; i < vars.size(); ++i) {
        if (!grads[i].defined() || vars[i].dtype() != dt) continue;
        Tensor var = vars[i];
        spans.push_back({var.data<T>(), m_[i].data<T>(), v_[i].data<T>(),
                         options_.amsgrad ? vhat_[i].data<T>() : nullptr, grads[i].data<T>(),
                         total});
        total += var.numel();
      }
      if (spans.empty()) return;
      const T a = static_cast<T>(alpha), b1 = static_cast<T>(1.0 - options_.beta_1),
              b2 = static_cast<T>(1.0 - options_.beta_2), eps = static_cast<T>(options_.epsilon);
      const bool amsgrad = options_.amsgrad;
      cpu::parallel_for(total, kGrain, [&](std::int64_t begin, std::int64_t end) {
        // The first span that ends after `begin`, then every span overlapping [begin, end).
        auto it = std::upper_bound(spans.begin(), spans.end(), begin,
                                   [](std::int64_t b, const Span& s) { return b < s.begin; });
        for (--it; it != spans.end() && it->begin < end; ++it) {
          const std::int64_t next = it + 1 == spans.end() ? total : (it + 1)->begin;
          const std::int64_t lo = std::max(begin, it->begin) - it->begin;
          const std::int64_t hi = std::min(end, next) - it->begin;
          if (amsgrad)
            adam_kernel<T, true>(lo, hi, it->w, it->g, it->m, it->v, it->vhat, a, b1, b2, eps);
          else
            adam_kernel<T, false>(lo, hi, it->w, it->g, it->m, it->v, it->vhat, a, b1, b2, eps);
        }
      });
    });
  }
}

}  // namespace lamina::optimizers
