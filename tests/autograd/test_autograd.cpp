// SPDX-License-Identifier: Apache-2.0
// Autograd: a finite-difference gradient check (float64) for every differentiable op, and the
// tape's rules — accumulation, NoGradGuard / GradMode, scalar roots, freed graphs.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_values;
using lamina::testing::gradcheck;
using lamina::testing::ops_fixture;
using lamina::testing::seq;
using lamina::testing::values;

namespace {
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

void check_grad(const std::string& what, const Fn& f, std::vector<Tensor> inputs) {
  auto r = gradcheck(f, std::move(inputs));
  INFO(what << "\n" << r.report);
  CHECK(r.ok);
}

// Positive, tie-free inputs for log/sqrt/pow, and values kept away from kinks (0 for abs/relu).
Tensor away_from_zero(const Shape& s, double scale = 1.0) {
  Tensor x = seq(s, scale);
  return x + where(x >= 0.0, Tensor::scalar(0.2, float64), Tensor::scalar(-0.2, float64));
}
}  // namespace

TEST_CASE("binary arithmetic gradients match finite differences with broadcasting",
          "[autograd]") {
  Tensor a = seq({2, 3}), row = seq({3}, 0.7, float64, 2.0), col = seq({2, 1}, 0.5, float64, 1.5);
  check_grad("add", [](auto& v) { return add(v[0], v[1]); }, {a, row});
  check_grad("add col", [](auto& v) { return v[0] + v[1]; }, {col, a});
  check_grad("subtract", [](auto& v) { return subtract(v[0], v[1]); }, {a, row});
  check_grad("subtract col", [](auto& v) { return v[1] - v[0]; }, {col, a});
  check_grad("multiply", [](auto& v) { return multiply(v[0], v[1]); }, {a, row});
  check_grad("multiply outer", [](auto& v) { return v[0] * v[1]; }, {col, row});
  check_grad("divide", [](auto& v) { return divide(v[0], v[1]); }, {a, row});
  check_grad("divide by matrix", [](auto& v) { return v[1] / v[0]; }, {a + 3.0, col});
  check_grad("scalar ops", [](auto& v) { return (2.0 - v[0]) * 3.0 / (v[0] + 5.0) - 1.0; }, {a});
  check_grad("scalar tensor", [](auto& v) { return v[0] * v[1]; }, {a, Tensor::scalar(1.7, float64)});
  check_grad("negative", [](auto& v) { return negative(v[0]); }, {a});
  check_grad("unary minus", [](auto& v) { return -v[0] * v[0]; }, {a});
}

TEST_CASE("maximum and minimum gradients match finite differences", "[autograd]") {
  Tensor a = seq({2, 3}), b = seq({3}, 0.9, float64, 0.05);  // no ties
  check_grad("maximum", [](auto& v) { return maximum(v[0], v[1]); }, {a, b});
  check_grad("minimum", [](auto& v) { return minimum(v[0], v[1]); }, {a, b});
  check_grad("maximum with scalar", [](auto& v) { return maximum(v[0], Tensor::scalar(0.1, float64)); },
             {a});
}

TEST_CASE("unary maths gradients match finite differences", "[autograd]") {
  Tensor x = seq({3, 4}, 1.5);
  Tensor pos = abs(away_from_zero({3, 4})) + 0.3;
  Tensor nz = away_from_zero({3, 4});
  check_grad("exp", [](auto& v) { return exp(v[0]); }, {x});
  check_grad("log", [](auto& v) { return log(v[0]); }, {pos});
  check_grad("sqrt", [](auto& v) { return sqrt(v[0]); }, {pos});
  check_grad("square", [](auto& v) { return square(v[0]); }, {x});
  check_grad("abs", [](auto& v) { return abs(v[0]); }, {nz});
  check_grad("pow 2.5", [](auto& v) { return pow(v[0], 2.5); }, {pos});
  check_grad("pow 3", [](auto& v) { return pow(v[0], 3); }, {x});
  check_grad("pow -1", [](auto& v) { return pow(v[0], -1); }, {pos});
  check_grad("tanh", [](auto& v) { return tanh(v[0]); }, {x});
  check_grad("sigmoid", [](auto& v) { return sigmoid(v[0]); }, {x});
  check_grad("relu", [](auto& v) { return relu(v[0]); }, {nz});
  check_grad("erf", [](auto& v) { return erf(v[0]); }, {x});
  check_grad("clip", [](auto& v) { return clip(v[0], -0.5, 0.6); }, {nz});
}

TEST_CASE("where routes gradients to the chosen operand", "[autograd]") {
  Tensor cond = Tensor::from_vector<std::uint8_t>({1, 0, 0, 1, 1, 0}, {2, 3});
  check_grad("where", [cond](auto& v) { return where(cond, v[0], v[1]); },
             {seq({2, 3}), seq({3}, 2.0)});
  check_grad("where scalar b", [cond](auto& v) { return where(cond, v[0] * v[0], Tensor::scalar(1.0, float64)); },
             {seq({2, 3})});
  // sign is flat: its gradient is zero.
  Tensor w = seq({4}).set_requires_grad();
  sum(sign(w) + w).backward();
  CHECK(values(w.grad()) == std::vector<double>(4, 1.0));
}

TEST_CASE("reduction gradients match finite differences", "[autograd]") {
  Tensor x = seq({2, 3, 4});
  for (bool keep : {false, true}) {
    INFO("keepdims " << keep);
    check_grad("sum all", [keep](auto& v) { return sum(v[0], {}, keep); }, {x});
    check_grad("sum 1", [keep](auto& v) { return sum(v[0], {1}, keep); }, {x});
    check_grad("sum 0,2", [keep](auto& v) { return sum(v[0], {0, 2}, keep); }, {x});
    check_grad("mean all", [keep](auto& v) { return mean(v[0], {}, keep); }, {x});
    check_grad("mean -1", [keep](auto& v) { return mean(v[0], {-1}, keep); }, {x});
    check_grad("mean 0,1", [keep](auto& v) { return mean(v[0], {0, 1}, keep); }, {x});
    check_grad("max all", [keep](auto& v) { return max(v[0], {}, keep); }, {x});
    check_grad("max 1", [keep](auto& v) { return max(v[0], {1}, keep); }, {x});
    check_grad("max 0,2", [keep](auto& v) { return max(v[0], {0, 2}, keep); }, {x});
    check_grad("min all", [keep](auto& v) { return min(v[0], {}, keep); }, {x});
    check_grad("min -1", [keep](auto& v) { return min(v[0], {-1}, keep); }, {x});
    check_grad("min 0,1", [keep](auto& v) { return min(v[0], {0, 1}, keep); }, {x});
  }
}

TEST_CASE("max sends the whole gradient to the first maximal element", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({1, 3, 3, 0}, {4}).set_requires_grad();
  max(x).backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 0});
}

TEST_CASE("shape op gradients match finite differences", "[autograd]") {
  Tensor x = seq({2, 3, 4});
  check_grad("reshape", [](auto& v) { return v[0].reshape({4, -1}) * seq({4, 6}); }, {x});
  check_grad("reshape fn", [](auto& v) { return reshape(v[0], {24}); }, {x});
  check_grad("slice", [](auto& v) { return v[0].slice(1, 2); }, {x});
  check_grad("slice rows", [](auto& v) { return v[0].reshape({6, 4}).slice(2, 5); }, {x});
  check_grad("operator[]", [](auto& v) { return v[0][1] * v[0][0]; }, {x});
  check_grad("transpose default", [](auto& v) { return transpose(v[0]); }, {x});
  check_grad("transpose perm", [](auto& v) { return transpose(v[0], {1, 2, 0}) * seq({3, 4, 2}); },
             {x});
  check_grad("concatenate -1", [](auto& v) { return concatenate({v[0], v[1]}, -1); },
             {seq({2, 3}), seq({2, 2}, 0.5)});
  check_grad("concatenate 0", [](auto& v) { return concatenate({v[0], v[1], v[0]}, 0); },
             {seq({2, 3}), seq({1, 3}, 0.5)});
  check_grad("concatenate 1", [](auto& v) { return concatenate({v[0], v[1]}, 1); },
             {seq({2, 1, 3}), seq({2, 2, 3}, 0.5)});
  check_grad("broadcast_to", [](auto& v) { return broadcast_to(v[0], {2, 3, 4}); }, {seq({3, 1})});
  check_grad("sum_to", [](auto& v) { return sum_to(v[0], {3, 1}); }, {x});
  check_grad("sum_to scalar", [](auto& v) { return sum_to(v[0], {}); }, {x});
  Tensor idx = Tensor::from_vector<std::int64_t>({2, 0, 2, 1}, {2, 2});
  check_grad("take (repeated rows accumulate)", [idx](auto& v) { return take(v[0], idx); },
             {seq({3, 4})});
}

TEST_CASE("matmul gradients match finite differences in every case", "[autograd]") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      INFO("transpose_a=" << ta << " transpose_b=" << tb);
      Shape sa = ta ? Shape{5, 3} : Shape{3, 5};
      Shape sb = tb ? Shape{4, 5} : Shape{5, 4};
      check_grad("matmul", [ta, tb](auto& v) { return matmul(v[0], v[1], ta, tb); },
                 {seq(sa), seq(sb, 0.5)});
      // Batched left operand with a shared 2-D right operand.
      Shape ba = ta ? Shape{2, 5, 3} : Shape{2, 3, 5};
      check_grad("matmul batched", [ta, tb](auto& v) { return matmul(v[0], v[1], ta, tb); },
                 {seq(ba), seq(sb, 0.5)});
      // Both operands batched.
      Shape bb = tb ? Shape{2, 4, 5} : Shape{2, 5, 4};
      check_grad("matmul both batched", [ta, tb](auto& v) { return matmul(v[0], v[1], ta, tb); },
                 {seq(ba), seq(bb, 0.5)});
    }
  check_grad("matmul 4-D", [](auto& v) { return matmul(v[0], v[1]); },
             {seq({2, 2, 3, 5}), seq({5, 4}, 0.5)});
  check_grad("matmul (1,K,N) right operand", [](auto& v) { return matmul(v[0], v[1]); },
             {seq({2, 3, 5}), seq({1, 5, 4}, 0.5)});
}

TEST_CASE("matmul gradients match PyTorch", "[autograd]") {
  const auto& fx = ops_fixture()["matmul"];
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = seq(ta ? Shape{5, 3} : Shape{3, 5}, 1.0).set_requires_grad();
      Tensor b = seq(tb ? Shape{4, 5} : Shape{5, 4}, 0.5).set_requires_grad();
      sum(matmul(a, b, ta, tb) * seq({3, 4}, 0.8)).backward();
      std::string key = std::to_string(int(ta)) + std::to_string(int(tb));
      check_values(a.grad(), fx[key]["ga"].get<std::vector<double>>(), 1e-13);
      check_values(b.grad(), fx[key]["gb"].get<std::vector<double>>(), 1e-13);
    }
}

TEST_CASE("softmax and log_softmax gradients match finite differences", "[autograd]") {
  Tensor x = seq({2, 3, 4}, 2.0);
  for (int axis : {-1, 1, 0}) {
    INFO("axis " << axis);
    check_grad("softmax", [axis](auto& v) { return softmax(v[0], axis); }, {x});
    check_grad("log_softmax", [axis](auto& v) { return log_softmax(v[0], axis); }, {x});
  }
}

TEST_CASE("dense gradients match finite differences for every activation", "[autograd]") {
  for (auto act : {FusedActivation::linear, FusedActivation::relu, FusedActivation::sigmoid,
                   FusedActivation::tanh}) {
    INFO("activation " << static_cast<int>(act));
    Tensor x = seq({4, 3}, 1.2), k = seq({3, 5}, 0.9, float64, 0.03), b = seq({5}, 0.4);
    check_grad("dense with bias", [act](auto& v) { return dense(v[0], v[1], v[2], act); },
               {x, k, b});
    check_grad("dense without bias", [act](auto& v) { return dense(v[0], v[1], Tensor(), act); },
               {x, k});
    check_grad("dense 3-D input", [act](auto& v) { return dense(v[0], v[1], v[2], act); },
               {seq({2, 3, 3}, 1.2), k, b});
    check_grad("dense 1-D input", [act](auto& v) { return dense(v[0], v[1], v[2], act); },
               {seq({3}, 1.2), k, b});
  }
}

TEST_CASE("fused cross-entropy gradients match finite differences", "[autograd]") {
  Tensor labels = Tensor::from_vector<std::int64_t>({0, 3, 4, 1}, {4});
  check_grad("sparse_softmax_cross_entropy",
             [labels](auto& v) { return sparse_softmax_cross_entropy(v[0], labels); },
             {seq({4, 5}, 2.0)});
  check_grad("sparse_softmax_cross_entropy 3-D",
             [labels](auto& v) { return sparse_softmax_cross_entropy(v[0], labels.reshape({2, 2})); },
             {seq({2, 2, 5}, 2.0)});
  // Targets are differentiable too (soft labels that depend on weights).
  check_grad("softmax_cross_entropy",
             [](auto& v) { return softmax_cross_entropy(v[0], softmax(v[1])); },
             {seq({4, 5}, 2.0), seq({4, 5}, 0.5)});
}

TEST_CASE("astype between floats and clone pass gradients through", "[autograd]") {
  // Through float32 the central difference needs a step far above float32's rounding.
  auto r = gradcheck([](auto& v) { return v[0].astype(float32).astype(float64) * 1.5; }, {seq({3})},
                     {}, 1e-2, 1e-4, 1e-4);
  INFO(r.report);
  CHECK(r.ok);
  check_grad("clone", [](auto& v) { return v[0].clone() * v[0]; }, {seq({3})});
  Tensor w = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad();
  Tensor y = sum(square(w.astype(float64)));
  y.backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().dtype() == float32);  // the gradient has the leaf's dtype
  CHECK(values(w.grad()) == std::vector<double>{2, 4});
  Tensor d = Tensor::from_vector<double>({3}, {1}).set_requires_grad();
  sum(d.astype(float32) * 2.0).backward();
  CHECK(d.grad().dtype() == float64);
  CHECK(d.grad().item() == 2.0);
  // Casting to an integer type leaves the tape.
  CHECK_FALSE(w.astype(int32).requires_grad());
}

// --- the tape's rules ------------------------------------------------------------------------------

TEST_CASE("a tensor used twice accumulates both gradients", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({-1, 0.5, 2}, {3}).set_requires_grad();
  Tensor y = x * x + x;
  y.backward(Tensor::ones({3}, float64));
  CHECK(values(x.grad()) == std::vector<double>{-1, 2, 5});  // 2x + 1
  Tensor z = Tensor::from_vector<double>({3}, {1}).set_requires_grad();
  sum(z + z + z).backward();
  CHECK(z.grad().item() == 3.0);
}

TEST_CASE("leaf gradients accumulate across backward calls until zero_grad", "[autograd]") {
  Tensor w = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad();
  sum(w * 3.0).backward();
  CHECK(values(w.grad()) == std::vector<double>{3, 3});
  sum(w * w).backward();
  CHECK(values(w.grad()) == std::vector<double>{5, 7});
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
  sum(w).backward();
  CHECK(values(w.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("leaves never share gradient storage", "[autograd]") {
  // add's backward hands the same gradient to both inputs; each leaf must own its own copy so an
  // in-place update of one does not leak into the other.
  Tensor a = Tensor::zeros({3}).set_requires_grad(), b = Tensor::zeros({3}).set_requires_grad();
  Tensor g = Tensor::ones({3});
  (a + b).backward(g);
  CHECK_FALSE(a.grad().shares_storage(b.grad()));
  CHECK_FALSE(a.grad().shares_storage(g));
  a.grad().fill(5);
  CHECK(values(b.grad()) == std::vector<double>{1, 1, 1});
  CHECK(values(g) == std::vector<double>{1, 1, 1});
}

TEST_CASE("NoGradGuard and GradMode stop recording", "[autograd]") {
  Tensor w = seq({3}).set_requires_grad();
  CHECK(GradMode::is_enabled());
  {
    NoGradGuard guard;
    CHECK_FALSE(GradMode::is_enabled());
    Tensor y = w * 2.0 + exp(w);
    CHECK_FALSE(y.requires_grad());
    CHECK_FALSE(matmul(w.reshape({1, 3}), w.reshape({3, 1})).requires_grad());
    {
      NoGradGuard nested;
      CHECK_FALSE(GradMode::is_enabled());
    }
    CHECK_FALSE(GradMode::is_enabled());  // the inner guard restores the outer state
  }
  CHECK(GradMode::is_enabled());
  CHECK((w * 2.0).requires_grad());
  GradMode::set_enabled(false);
  CHECK_FALSE((w * 2.0).requires_grad());
  GradMode::set_enabled(true);
  CHECK((w * 2.0).requires_grad());
  // Ops on untracked tensors are not recorded either.
  CHECK_FALSE((seq({3}) * 2.0).requires_grad());
}

TEST_CASE("backward needs a scalar or an explicit gradient", "[autograd]") {
  Tensor w = seq({2, 2}).set_requires_grad();
  Tensor y = w * 2.0;
  try {
    y.backward();
    FAIL("expected a ValueError");
  } catch (const ValueError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("(2, 2)"));
  }
  CHECK_THROWS_AS(y.backward(Tensor::ones({4}, float64)), ShapeError);
  y.backward(Tensor::full({2, 2}, 0.5, float64));
  CHECK(values(w.grad()) == std::vector<double>(4, 1.0));
  // A gradient of another float dtype is accepted and converted.
  Tensor v = seq({2}).set_requires_grad();
  (v * 3.0).backward(Tensor::ones({2}, float32));
  CHECK(v.grad().dtype() == float64);
  CHECK(values(v.grad()) == std::vector<double>{3, 3});
  CHECK_THROWS_AS(seq({2}).sum().backward(), ValueError);  // nothing requires a gradient
}

TEST_CASE("backward through an already freed graph throws instead of dropping gradients",
          "[autograd]") {
  Tensor w = seq({3}).set_requires_grad();
  Tensor h = exp(w);
  sum(h).backward();
  CHECK(values(w.grad()) == values(exp(seq({3}))));
  // h's node was released: a second pass through it must not silently skip w's share.
  CHECK_THROWS_AS(sum(h * w).backward(), ValueError);
}

TEST_CASE("a leaf can be the root of backward", "[autograd]") {
  Tensor s = Tensor::scalar(2.0, float64).set_requires_grad();
  s.backward();
  CHECK(s.grad().item() == 1.0);
}
