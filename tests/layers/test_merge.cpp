// SPDX-License-Identifier: Apache-2.0
// Merge layers (layers/merge.cpp): forwards against hand loops, Keras's shape rules and their
// errors, configs, and float64 gradient checks of every merge layer inside a small DAG with a
// shared layer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_values;
using lamina::testing::gradcheck;
using lamina::testing::seq;
using lamina::testing::values;

TEST_CASE("Elementwise merge layers combine their inputs element by element",
          "[layers][merge]") {
  Tensor a = seq({2, 3}, 1.0), b = seq({2, 3}, 0.8, float64, 0.1), c = seq({2, 3}, 0.5, float64, -0.2);
  auto va = values(a), vb = values(b), vc = values(c);
  std::vector<double> add, sub, mul, avg, mx, mn;
  for (std::size_t i = 0; i < va.size(); ++i) {
    add.push_back(va[i] + vb[i] + vc[i]);
    sub.push_back(va[i] - vb[i]);
    mul.push_back(va[i] * vb[i] * vc[i]);
    avg.push_back((va[i] + vb[i] + vc[i]) / 3);
    mx.push_back(std::max({va[i], vb[i], vc[i]}));
    mn.push_back(std::min({va[i], vb[i], vc[i]}));
  }
  check_values(layers::Add()({a, b, c}), add);
  check_values(layers::Subtract()({a, b}), sub);
  check_values(layers::Multiply()({a, b, c}), mul);
  check_values(layers::Average()({a, b, c}), avg);
  check_values(layers::Maximum()({a, b, c}), mx);
  check_values(layers::Minimum()({a, b, c}), mn);
}

TEST_CASE("Elementwise merges broadcast as Keras does and refuse incompatible shapes",
          "[layers][merge][errors]") {
  auto x = layers::Input({3, 4});
  auto ones = layers::Input({1, 4});
  auto row = layers::Input({4});
  CHECK(layers::Add()({x, ones}).shape == Shape{-1, 3, 4});
  // A lower-rank input lines up with the trailing dimensions.
  CHECK(layers::Multiply()({x, row}).shape == Shape{-1, 3, 4});
  Tensor xv = seq({2, 3, 4}, 1.0), rv = seq({2, 4}, 0.5);
  Tensor got = layers::Add()({xv, rv});
  REQUIRE(got.shape() == Shape{2, 3, 4});
  CHECK(got.at(1 * 12 + 2 * 4 + 3) == Approx(xv.at(1 * 12 + 2 * 4 + 3) + rv.at(1 * 4 + 3)));

  auto five = layers::Input({5});
  CHECK_THROWS_AS(layers::Add("add_bad")({row, five}), ShapeError);
  CHECK_THROWS_WITH(layers::Add("add_bad")({row, five}),
                    Contains("Add 'add_bad'") && Contains("incompatible shapes") &&
                        Contains("[(None, 4), (None, 5)]"));
  CHECK_THROWS_WITH(layers::Subtract("sub")({row, row, row}),
                    Contains("Subtract 'sub'") && Contains("exactly 2 inputs"));
  auto b2 = layers::Input({4}, {.batch_size = 2}), b3 = layers::Input({4}, {.batch_size = 3});
  CHECK_THROWS_WITH(layers::Maximum()({b2, b3}), Contains("different batch sizes"));
  // A merge layer called on one tensor.
  CHECK_THROWS_WITH(layers::Add("lonely")(row), Contains("Add 'lonely'") && Contains("list"));
  CHECK_THROWS_WITH(layers::Add("lonely2")(Tensor::zeros({2, 4})), Contains("list"));
}

TEST_CASE("Concatenate joins along its axis and checks the other dimensions",
          "[layers][merge][concatenate]") {
  auto a = layers::Input({3, 4}), b = layers::Input({3, 2}), c = layers::Input({5, 4});
  CHECK(layers::Concatenate()({a, b}).shape == Shape{-1, 3, 6});
  CHECK(layers::Concatenate(1)({a, c}).shape == Shape{-1, 8, 4});
  CHECK_THROWS_AS(layers::Concatenate(-1, "cat")({a, c}), ShapeError);
  CHECK_THROWS_WITH(layers::Concatenate(-1, "cat")({a, c}),
                    Contains("Concatenate 'cat'") && Contains("except the concatenation axis") &&
                        Contains("[(None, 3, 4), (None, 5, 4)]"));
  CHECK_THROWS_WITH(layers::Concatenate(0, "cat0")({a, a}), Contains("batch axis"));
  CHECK_THROWS_WITH(layers::Concatenate(-1, "cat2")({a, layers::Input({4})}), Contains("same rank"));
  Tensor av = seq({2, 1, 2}), bv = seq({2, 1, 1}, 0.5);
  check_values(layers::Concatenate()({av, bv}),
               {av.at(0), av.at(1), bv.at(0), av.at(2), av.at(3), bv.at(1)});
  CHECK(layers::Concatenate(1, "c")->get_config()["axis"] == 1);
}

TEST_CASE("Dot contracts the chosen axes per sample and can normalise first",
          "[layers][merge][dot]") {
  Tensor a = seq({2, 3}), b = seq({2, 3}, 0.7, float64, 0.2);
  std::vector<double> want, cos;
  for (int n = 0; n < 2; ++n) {
    double s = 0, na = 0, nb = 0;
    for (int k = 0; k < 3; ++k) {
      s += a.at(n * 3 + k) * b.at(n * 3 + k);
      na += a.at(n * 3 + k) * a.at(n * 3 + k);
      nb += b.at(n * 3 + k) * b.at(n * 3 + k);
    }
    want.push_back(s);
    cos.push_back(s / std::sqrt(na * nb));
  }
  Tensor d = layers::Dot(1)({a, b});
  CHECK(d.shape() == Shape{2, 1});
  check_values(d, want);
  check_values(layers::Dot(1, {.normalize = true})({a, b}), cos);

  // Rank 3: (N, 2, 3)·(N, 4, 3) over axes (2, 2) gives (N, 2, 4).
  Tensor x = seq({2, 2, 3}), y = seq({2, 4, 3}, 0.6, float64, 0.1);
  Tensor z = layers::Dot({2, 2})({x, y});
  REQUIRE(z.shape() == Shape{2, 2, 4});
  std::vector<double> want3;
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j) {
        double s = 0;
        for (int k = 0; k < 3; ++k) s += x.at(n * 6 + i * 3 + k) * y.at(n * 12 + j * 3 + k);
        want3.push_back(s);
      }
  check_values(z, want3);
  // Axes (1, 1): (N, 3, 2)·(N, 3, 4) -> (N, 2, 4), the same numbers with both transposed.
  Tensor z2 = layers::Dot(1)({transpose(x, {0, 2, 1}), transpose(y, {0, 2, 1})});
  check_values(z2, want3);

  auto p = layers::Input({2, 3}), q = layers::Input({4, 5});
  CHECK(layers::Dot({1, 1})({p, layers::Input({2, 7})}).shape == Shape{-1, 3, 7});
  CHECK_THROWS_AS(layers::Dot(2, {.name = "dot_bad"})({p, q}), ShapeError);
  CHECK_THROWS_WITH(layers::Dot(2, {.name = "dot_bad"})({p, q}),
                    Contains("Dot 'dot_bad'") && Contains("3 (axis 2 of the first input) != 5") &&
                        Contains("[(None, 2, 3), (None, 4, 5)]"));
  CHECK_THROWS_WITH(layers::Dot(0)({p, p}), Contains("non-batch"));
  auto cfg = layers::Dot({1, 2}, {.normalize = true})->get_config();
  CHECK(cfg["axes"] == nlohmann::json::parse("[1, 2]"));
  CHECK(cfg["normalize"] == true);
  CHECK(layers::Dot(1)->get_config()["axes"] == 1);
}

TEST_CASE("Gradients through a DAG with a shared layer and every merge layer match finite differences",
          "[layers][merge][gradcheck]") {
  set_seed(11);
  auto a = layers::Input({3}, {.dtype = float64});
  auto b = layers::Input({3}, {.dtype = float64});
  auto shared = layers::Dense(3, {.activation = "tanh"});
  auto ha = shared(a), hb = shared(b);
  auto s = layers::Add()({ha, hb});
  auto d = layers::Subtract()({ha, hb});
  auto m = layers::Multiply()({s, d});
  auto av = layers::Average()({s, m, ha});
  auto mx = layers::Maximum()({av, hb});
  auto mn = layers::Minimum()({mx, d});
  auto cat = layers::Concatenate()({mn, s, m});           // (None, 9)
  auto dot = layers::Dot(1)({ha, d});                      // (None, 1)
  auto cos = layers::Dot(1, {.normalize = true})({s, m});  // (None, 1)
  auto head = layers::Concatenate()({cat, dot, cos});      // (None, 11)
  Model model({a, b}, layers::Dense(2)(head));
  CHECK(model.output_shape() == Shape{-1, 2});

  // float64 weights, then the whole graph in float64.
  std::vector<Tensor> leaves;
  for (const auto& l : model.layers()) {
    if (auto dense = std::dynamic_pointer_cast<layers::DenseLayer>(l)) {
      NoGradGuard no_grad;
      dense->kernel = seq(dense->kernel.shape(), 0.5, float64, 0.03).detach();
      dense->bias = seq(dense->bias.shape(), 0.1, float64).detach();
      leaves.push_back(dense->kernel);
      leaves.push_back(dense->bias);
    }
  }
  REQUIRE(leaves.size() == 4);
  auto r = gradcheck(
      [&](const std::vector<Tensor>& in) { return model(std::vector<Tensor>{in[0], in[1]})[0]; },
      {seq({4, 3}, 1.1), seq({4, 3}, 0.9, float64, 0.4)}, leaves);
  INFO(r.report);
  CHECK(r.ok);
  CHECK(leaves[0].grad().defined());
}
