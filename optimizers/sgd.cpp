// optimizers/sgd.cpp — stochastic gradient descent with Keras 3's momentum formulation.
#include <string>

#include "check_variables.hpp"
#include "lamina/errors.hpp"
#include "lamina/optimizers.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::optimizers {

SGD::SGD(SGDOptions options) : Optimizer("SGD", options.learning_rate), options_(options) {
  if (!(options.momentum >= 0.0 && options.momentum <= 1.0))
    throw ValueError("SGD: momentum must be between 0 and 1, got " +
                     std::to_string(options.momentum));
}

void SGD::build(const std::vector<Tensor>& vars) {
  if (options_.momentum == 0.0) return;  // Keras keeps no slots without momentum
  for (std::size_t i = 0; i < vars.size(); ++i) {
    momentums_.push_back(Tensor::zeros(vars[i].shape(), vars[i].dtype()));
    slots_.emplace_back("sgd/m_" + std::to_string(i), momentums_.back());
  }
}

// Keras 3:  m = μ·m − lr·g;  w += m   (nesterov: w += μ·m − lr·g);  without momentum w −= lr·g.
void SGD::update(const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                 std::int64_t /*step*/) {
  const bool with_momentum = options_.momentum != 0.0;
  if (with_momentum) detail::check_same_variables(name(), momentums_, vars);
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i].defined()) continue;
    Tensor var = vars[i];
    lamina::detail::dispatch_float(var.dtype(), "SGD", [&](auto tag) {
      using T = decltype(tag);
      const T lr = static_cast<T>(learning_rate());
      const T mu = static_cast<T>(options_.momentum);
      T* w = var.data<T>();
      const T* g = grads[i].data<T>();
      const std::int64_t n = var.numel();
      if (!with_momentum) {
        for (std::int64_t j = 0; j < n; ++j) w[j] -= lr * g[j];
        return;
      }
      T* m = momentums_[i].data<T>();
      if (options_.nesterov) {
        for (std::int64_t j = 0; j < n; ++j) {
          m[j] = mu * m[j] - lr * g[j];
          w[j] += mu * m[j] - lr * g[j];
        }
      } else {
        for (std::int64_t j = 0; j < n; ++j) {
          m[j] = mu * m[j] - lr * g[j];
          w[j] += m[j];
        }
      }
    });
  }
}

}  // namespace lamina::optimizers
