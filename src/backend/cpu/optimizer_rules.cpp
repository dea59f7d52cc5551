// SPDX-License-Identifier: Apache-2.0
// The host's optimizer update rules (Keras 3's arithmetic), each one loop that updates a
// variable's slots and the variable together, run over every variable in one fused pass
// (fused_update.hpp). The constants are converted to the variables' dtype as the optimizers
// always did, so that trained weights stay bit-identical.
#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/fused_update.hpp"
#include "lamina/errors.hpp"

namespace lamina::cpu {
namespace {

using backend::UpdateParams;
using backend::UpdateRule;

// Keras 3:  m = μ·m − lr·g;  w += m   (nesterov: w += μ·m − lr·g);  without momentum w −= lr·g.
template <class T>
LAMINA_KERNEL
void sgd_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                T* __restrict m, T lr, T mu, bool nesterov) {
  if (!m) {
    for (std::int64_t j = begin; j < end; ++j) w[j] -= g[j] * lr;
  } else if (nesterov) {
    for (std::int64_t j = begin; j < end; ++j) {
      m[j] = m[j] * mu - g[j] * lr;
      w[j] += m[j] * mu - g[j] * lr;
    }
  } else {
    for (std::int64_t j = begin; j < end; ++j) {
      m[j] = m[j] * mu - g[j] * lr;
      w[j] += m[j];
    }
  }
}

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

// m += (g − m)(1 − β1);  v += (g² − v)(1 − β2);
// w −= lr·(c_m·m + c_g·g) / (sqrt(v / (1 − β2^t)) + ε)
// with c_m = μ_{t+1}/(1 − Π_t·μ_{t+1}) and c_g = (1 − μ_t)/(1 − Π_t) (see Nadam's header note).
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

// a += g²;  w −= lr·g / sqrt(a + ε).
template <class T>
LAMINA_KERNEL
void adagrad_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                    T* __restrict a, T lr, T eps) {
  for (std::int64_t j = begin; j < end; ++j) {
    a[j] += g[j] * g[j];
    w[j] -= lr * g[j] / std::sqrt(a[j] + eps);
  }
}

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

// g' = g + 2·shrinkage·w;  n' = n + g²;  z += g' − (n'^p − n^p)/lr · w;
// w = (clip(z, −l1, l1) − z) / (n'^p/lr + 2·l2_total);  n = n'.
template <class T>
LAMINA_KERNEL
void ftrl_kernel(std::int64_t begin, std::int64_t end, T* __restrict w, const T* __restrict g,
                 T* __restrict n, T* __restrict z, const UpdateParams& k) {
  const T lr = static_cast<T>(k.lr), p = static_cast<T>(k.power), l1 = static_cast<T>(k.l1),
          l2 = static_cast<T>(k.l2), shrink = static_cast<T>(k.shrinkage);
  for (std::int64_t j = begin; j < end; ++j) {
    const T grad = g[j] + 2 * shrink * w[j];
    const T n_new = n[j] + g[j] * g[j];
    const T n_new_p = std::pow(n_new, p);
    z[j] += grad - (n_new_p - std::pow(n[j], p)) / lr * w[j];
    const T quadratic = n_new_p / lr + 2 * l2;
    w[j] = (std::clamp(z[j], -l1, l1) - z[j]) / quadratic;
    n[j] = n_new;
  }
}

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

const char* rule_name(UpdateRule rule) {
  switch (rule) {
    case UpdateRule::sgd: return "SGD";
    case UpdateRule::adam: return "Adam";
    case UpdateRule::adamax: return "Adamax";
    case UpdateRule::nadam: return "Nadam";
    case UpdateRule::rmsprop: return "RMSprop";
    case UpdateRule::adagrad: return "Adagrad";
    case UpdateRule::adadelta: return "Adadelta";
    case UpdateRule::ftrl: return "Ftrl";
    case UpdateRule::lion: return "Lion";
  }
  return "optimizer";
}

// The slot kinds each rule reads (the most it may be given).
std::size_t slot_kinds(UpdateRule rule) {
  switch (rule) {
    case UpdateRule::sgd: case UpdateRule::adagrad: case UpdateRule::lion: return 1;
    case UpdateRule::adam: case UpdateRule::rmsprop: return 3;
    default: return 2;
  }
}

// The rule's per-span kernel for element type T, with its constants converted once.
template <class T>
auto rule_kernel(UpdateRule rule, const UpdateParams& p) {
  using Kernel = void (*)(std::int64_t, std::int64_t, T*, const T*, T* const*, const UpdateParams&);
  Kernel k = nullptr;
  switch (rule) {
    case UpdateRule::sgd:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        sgd_kernel<T>(lo, hi, w, g, s[0], static_cast<T>(q.lr), static_cast<T>(q.momentum),
                      q.nesterov);
      };
      break;
    case UpdateRule::adam:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        const T a = static_cast<T>(q.lr), b1 = static_cast<T>(1.0 - q.beta_1),
                b2 = static_cast<T>(1.0 - q.beta_2), eps = static_cast<T>(q.epsilon);
        if (q.amsgrad)
          adam_kernel<T, true>(lo, hi, w, g, s[0], s[1], s[2], a, b1, b2, eps);
        else
          adam_kernel<T, false>(lo, hi, w, g, s[0], s[1], s[2], a, b1, b2, eps);
      };
      break;
    case UpdateRule::adamax:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        adamax_kernel<T>(lo, hi, w, g, s[0], s[1], static_cast<T>(q.lr),
                         static_cast<T>(1.0 - q.beta_1), static_cast<T>(q.beta_2),
                         static_cast<T>(q.epsilon));
      };
      break;
    case UpdateRule::nadam:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        nadam_kernel<T>(lo, hi, w, g, s[0], s[1], static_cast<T>(q.lr),
                        static_cast<T>(q.m_coefficient), static_cast<T>(q.g_coefficient),
                        static_cast<T>(1.0 - q.beta_1), static_cast<T>(1.0 - q.beta_2),
                        static_cast<T>(q.v_correction), static_cast<T>(q.epsilon));
      };
      break;
    case UpdateRule::rmsprop:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        rmsprop_kernel<T>(lo, hi, w, g, s[0], s[1], s[2], static_cast<T>(q.lr),
                          static_cast<T>(q.rho), static_cast<T>(q.momentum),
                          static_cast<T>(q.epsilon));
      };
      break;
    case UpdateRule::adagrad:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        adagrad_kernel<T>(lo, hi, w, g, s[0], static_cast<T>(q.lr), static_cast<T>(q.epsilon));
      };
      break;
    case UpdateRule::adadelta:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        adadelta_kernel<T>(lo, hi, w, g, s[0], s[1], static_cast<T>(q.lr), static_cast<T>(q.rho),
                           static_cast<T>(q.epsilon));
      };
      break;
    case UpdateRule::ftrl:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        ftrl_kernel<T>(lo, hi, w, g, s[0], s[1], q);
      };
      break;
    case UpdateRule::lion:
      k = [](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s, const UpdateParams& q) {
        lion_kernel<T>(lo, hi, w, g, s[0], static_cast<T>(q.lr), static_cast<T>(q.beta_1),
                       static_cast<T>(q.beta_2));
      };
      break;
  }
  if (!k) throw ValueError("apply_update: unknown update rule");
  return [k, &p](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s) {
    k(lo, hi, w, g, s, p);
  };
}

}  // namespace

void CpuBackend::apply_update(UpdateRule rule, const UpdateParams& p,
                              const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                              const std::vector<std::vector<Tensor>>& slots) {
  const char* name = rule_name(rule);
  if (grads.size() != vars.size() || slots.size() > slot_kinds(rule))
    throw ValueError(std::string(name) + ": apply_update got " + std::to_string(grads.size()) +
                     " gradients, " + std::to_string(vars.size()) + " variables and " +
                     std::to_string(slots.size()) + " slot kinds");
  for (const std::vector<Tensor>& list : slots)
    if (!list.empty() && list.size() != vars.size())
      throw ValueError(std::string(name) + ": apply_update got a slot list of " +
                       std::to_string(list.size()) + " for " + std::to_string(vars.size()) +
                       " variables");
  fused_update(name, grads, vars, slots, [&](auto tag) { return rule_kernel<decltype(tag)>(rule, p); });
}

}  // namespace lamina::cpu
