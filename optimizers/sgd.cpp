// SPDX-License-Identifier: Apache-2.0
// optimizers/sgd.cpp — stochastic gradient descent with Keras 3's momentum formulation.
#include <nlohmann/json.hpp>
#include <string>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

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

}  // namespace

SGD::SGD(SGDOptions options)
    : Optimizer("SGD", "SGD", common_options(options)), options_(std::move(options)) {
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
    throw ValueError("SGD: momentum must be between 0 and 1, got " +
                     std::to_string(options_.momentum));
}

void SGD::build_slots(const std::vector<Tensor>& vars) {
  if (options_.momentum == 0.0) return;  // Keras keeps no slots without momentum
  for (std::size_t i = 0; i < vars.size(); ++i) momentums_.push_back(add_slot(i, "momentum"));
}

void SGD::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                 std::int64_t /*step*/) {
  detail::fused_update("SGD", grads, vars, {&momentums_}, [&](auto tag) {
    using T = decltype(tag);
    const T rate = static_cast<T>(lr), mu = static_cast<T>(options_.momentum);
    const bool nesterov = options_.nesterov;
    return [=](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s) {
      sgd_kernel<T>(lo, hi, w, g, s[0], rate, mu, nesterov);
    };
  });
}

nlohmann::json SGD::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["momentum"] = options_.momentum;
  config["nesterov"] = options_.nesterov;
  return config;
}

}  // namespace lamina::optimizers
