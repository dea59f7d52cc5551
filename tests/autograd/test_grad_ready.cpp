// SPDX-License-Identifier: Apache-2.0
// The autograd's per-gradient ready hook (src/autograd/grad_ready.hpp), on which data-parallel
// training starts all-reducing gradients during backward: once per leaf, when its gradient is
// final, leaves nearer the loss first.
#include <catch2/catch.hpp>
#include <vector>

#include <lamina/lamina.hpp>

#include "autograd/grad_ready.hpp"
#include "tensor/tensor_impl.hpp"

using namespace lamina;

namespace {
struct Recorder : autograd::GradReadyHook {
  std::vector<TensorImpl*> leaves;
  std::vector<std::vector<double>> grads;  // each leaf's gradient when it was reported
  void gradient_ready(TensorImpl* leaf) override {
    leaves.push_back(leaf);
    grads.push_back(leaf->grad.to_vector<double>());
  }
};
}  // namespace

TEST_CASE("the gradient ready hook reports each leaf once with its final gradient, the last layer's first", "[autograd]") {
  Tensor w1 = Tensor::from_vector<double>({0.5, -1.0, 2.0}, {3}).set_requires_grad(true);
  Tensor w2 = Tensor::from_vector<double>({1.5, 0.25, -0.5}, {3}).set_requires_grad(true);
  const Tensor x = Tensor::from_vector<double>({1.0, 2.0, 3.0}, {3});
  // w1 is used twice (its gradient is the sum of two parts), and before w2.
  const Tensor h = tanh(x * w1) + w1;
  const Tensor loss = sum(square(h * w2));
  Recorder rec;
  {
    const autograd::GradReadyScope scope(&rec);
    loss.backward();
  }
  REQUIRE(rec.leaves.size() == 2);
  CHECK(rec.leaves[0] == w2.impl().get());
  CHECK(rec.leaves[1] == w1.impl().get());
  CHECK(rec.grads[0] == w2.grad().to_vector<double>());
  CHECK(rec.grads[1] == w1.grad().to_vector<double>());
  // Outside the scope, nothing is reported.
  w1.zero_grad();
  w2.zero_grad();
  sum(square(tanh(x * w1) * w2)).backward();
  CHECK(rec.leaves.size() == 2);
}
