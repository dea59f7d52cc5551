// SPDX-License-Identifier: Apache-2.0
// optimizers/adagrad.cpp — Adagrad with Keras 3's rule (epsilon inside the square root).
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "fused_update.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"

namespace lamina::optimizers {
namespace {

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

}  // namespace

Adagrad::Adagrad(AdagradOptions options)
    : Optimizer("Adagrad", "adagrad", common_options(options)), options_(std::move(options)) {
  if (!(options_.initial_accumulator_value >= 0.0))
    throw ValueError("Adagrad: initial_accumulator_value must be >= 0, got " +
                     std::to_string(options_.initial_accumulator_value));
}

void Adagrad::build_slots(const std::vector<Tensor>& vars) {
  for (std::size_t i = 0; i < vars.size(); ++i)
    accumulators_.push_back(add_slot(i, "accumulator", options_.initial_accumulator_value));
}

void Adagrad::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, double lr,
                     std::int64_t /*step*/) {
  detail::fused_update("Adagrad", grads, vars, {&accumulators_}, [&](auto tag) {
    using T = decltype(tag);
    const T rate = static_cast<T>(lr), eps = static_cast<T>(options_.epsilon);
    return [=](std::int64_t lo, std::int64_t hi, T* w, const T* g, T* const* s) {
      adagrad_kernel<T>(lo, hi, w, g, s[0], rate, eps);
    };
  });
}

nlohmann::json Adagrad::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["initial_accumulator_value"] = options_.initial_accumulator_value;
  config["epsilon"] = options_.epsilon;
  return config;
}

}  // namespace lamina::optimizers
