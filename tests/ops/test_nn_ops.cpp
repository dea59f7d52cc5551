// SPDX-License-Identifier: Apache-2.0
// Neural-network ops: softmax / log_softmax (PyTorch values), the fused dense op against the same
// maths composed from separate ops, the fused cross-entropies, logits tracking, dropout and the
// seeded random draws.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_same;
using lamina::testing::check_values;
using lamina::testing::ops_fixture;
using lamina::testing::seq;
using lamina::testing::values;

TEST_CASE("softmax and log_softmax match PyTorch along the last and a middle axis", "[ops]") {
  const auto& fx = ops_fixture()["softmax"];
  Tensor x = seq({2, 3, 4}, fx["scale"].get<double>());
  check_values(softmax(x), fx["softmax_last"].get<std::vector<double>>(), 1e-13);
  check_values(softmax(x, 2), fx["softmax_last"].get<std::vector<double>>(), 1e-13);
  check_values(softmax(x, 1), fx["softmax_axis1"].get<std::vector<double>>(), 1e-13);
  check_values(log_softmax(x), fx["log_softmax_last"].get<std::vector<double>>(), 1e-13);
  check_values(log_softmax(x, -2), fx["log_softmax_axis1"].get<std::vector<double>>(), 1e-13);
  Tensor xf = x.astype(float32);
  CHECK(softmax(xf).dtype() == float32);
  check_values(softmax(xf, 1), fx["softmax_axis1"].get<std::vector<double>>(), 1e-6);
  CHECK_THROWS_AS(softmax(x, 3), ShapeError);
  CHECK_THROWS_AS(softmax(Tensor::zeros({2}, int32)), TypeError);
}

TEST_CASE("softmax is stable for huge logits", "[ops]") {
  Tensor x = Tensor::from_vector<float>({1000, 1001, -1000, 0}, {2, 2});
  Tensor p = softmax(x);
  CHECK(all_finite(p));
  CHECK(p.at(1) == Approx(1 / (1 + std::exp(-1.0))));
  CHECK(p.at(2) == 0.0);
  Tensor lp = log_softmax(x);
  CHECK(all_finite(lp));
  CHECK(lp.at(2) == Approx(-1000.0));
  CHECK(values(sum(softmax(seq({5, 7}, 30.0)), {1})) == std::vector<double>(5, 1.0));
}

TEST_CASE("softmax_logits_of and sigmoid_logits_of return the producing op's input", "[ops]") {
  Tensor x = seq({2, 3});
  Tensor p = softmax(x);
  Tensor back = softmax_logits_of(p);
  REQUIRE(back.defined());
  CHECK(back.shares_storage(x));
  CHECK_FALSE(sigmoid_logits_of(p).defined());
  Tensor s = sigmoid(x);
  CHECK(sigmoid_logits_of(s).shares_storage(x));
  CHECK_FALSE(softmax_logits_of(s).defined());
  CHECK_FALSE(softmax_logits_of(x).defined());
  CHECK_FALSE(softmax_logits_of(softmax(x, 0)).defined());  // not over the class axis
  CHECK_FALSE(softmax_logits_of(Tensor()).defined());
  // The logits stay on the tape, so a loss computed from them reaches the weights.
  Tensor w = seq({2, 3}).set_requires_grad();
  Tensor logits = softmax_logits_of(softmax(w * 2.0));
  CHECK(logits.requires_grad());
}

namespace {
Tensor composed(const Tensor& x, const Tensor& k, const Tensor& b, FusedActivation act) {
  Tensor z = matmul(x.reshape({-1, x.dim(-1)}), k);
  if (b.defined()) z = z + b;
  Shape s = x.shape();
  s.back() = k.dim(1);
  z = z.reshape(s);
  switch (act) {
    case FusedActivation::relu: return relu(z);
    case FusedActivation::sigmoid: return sigmoid(z);
    case FusedActivation::tanh: return tanh(z);
    default: return z;
  }
}

const char* act_name(FusedActivation a) {
  switch (a) {
    case FusedActivation::relu: return "relu";
    case FusedActivation::sigmoid: return "sigmoid";
    case FusedActivation::tanh: return "tanh";
    default: return "linear";
  }
}
}  // namespace

TEST_CASE("dense equals matmul + bias + activation for every fused activation", "[ops]") {
  for (DType dt : {float32, float64})
    for (auto act : {FusedActivation::linear, FusedActivation::relu, FusedActivation::sigmoid,
                     FusedActivation::tanh})
      for (bool with_bias : {true, false})
        for (Shape xs : {Shape{4, 3}, Shape{2, 5, 3}, Shape{3}}) {
          INFO(dtype_name(dt) << " " << act_name(act) << " bias=" << with_bias << " x "
                              << xs.str());
          Tensor x = seq(xs, 1.5, dt);
          Tensor k = seq({3, 6}, 0.8, dt, 0.05);
          Tensor b = with_bias ? seq({6}, 0.3, dt) : Tensor();
          Tensor y = dense(x, k, b, act);
          Shape want = xs;
          want.back() = 6;
          CHECK(y.shape() == want);
          check_same(y, composed(x, k, b, act), dt == float32 ? 1e-6 : 1e-13);
        }
}

TEST_CASE("dense rejects kernels, biases and inputs that do not fit", "[ops]") {
  Tensor x = Tensor::zeros({2, 3});
  try {
    dense(x, Tensor::zeros({4, 5}), Tensor());
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("(2, 3)") && Catch::Contains("(4, 5)"));
  }
  CHECK_THROWS_AS(dense(x, Tensor::zeros({3}), Tensor()), ShapeError);
  CHECK_THROWS_AS(dense(x, Tensor::zeros({3, 5}), Tensor::zeros({4})), ShapeError);
  CHECK_THROWS_AS(dense(x, Tensor::zeros({3, 5}, float64), Tensor()), TypeError);
  CHECK_THROWS_AS(dense(x, Tensor::zeros({3, 5}), Tensor::zeros({5}, float64)), TypeError);
}

TEST_CASE("sparse_softmax_cross_entropy equals minus the label's log-softmax", "[ops]") {
  Tensor logits = seq({4, 5}, 2.0);
  Tensor labels = Tensor::from_vector<std::int64_t>({0, 3, 4, 1}, {4});
  Tensor loss = sparse_softmax_cross_entropy(logits, labels);
  CHECK(loss.shape() == Shape{4});
  Tensor lp = log_softmax(logits);
  std::vector<double> want;
  for (int r = 0; r < 4; ++r) want.push_back(-lp.at(r * 5 + static_cast<int>(labels.at(r))));
  check_values(loss, want, 1e-14);
  check_values(loss, ops_fixture()["cross_entropy"]["sparse_loss"].get<std::vector<double>>(),
               1e-13);
  // Labels of any integer dtype, and (..., C) logits.
  Tensor l8 = Tensor::from_vector<std::uint8_t>({0, 3, 4, 1}, {2, 2});
  Tensor loss3 = sparse_softmax_cross_entropy(logits.reshape({2, 2, 5}), l8);
  CHECK(loss3.shape() == Shape{2, 2});
  check_values(loss3, want, 1e-14);
  CHECK(sparse_softmax_cross_entropy(logits.astype(float32), labels).dtype() == float32);
}

TEST_CASE("sparse_softmax_cross_entropy rejects labels outside 0..C-1", "[ops]") {
  Tensor logits = seq({2, 3});
  CHECK_THROWS_AS(
      sparse_softmax_cross_entropy(logits, Tensor::from_vector<std::int64_t>({0, 3}, {2})),
      ValueError);
  CHECK_THROWS_AS(
      sparse_softmax_cross_entropy(logits, Tensor::from_vector<std::int32_t>({-1, 0}, {2})),
      ValueError);
  CHECK_THROWS_AS(sparse_softmax_cross_entropy(logits, Tensor::from_vector<float>({0.5f, 1}, {2})),
                  ValueError);
  try {
    sparse_softmax_cross_entropy(logits, Tensor::from_vector<std::int64_t>({1, 7}, {2}));
    FAIL("expected a ValueError");
  } catch (const ValueError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("7") && Catch::Contains("[0, 3)"));
  }
  CHECK_THROWS_AS(sparse_softmax_cross_entropy(logits, Tensor::zeros({3}, int64)), ShapeError);
}

TEST_CASE("softmax_cross_entropy equals minus the targets' dot with log-softmax", "[ops]") {
  const auto& fx = ops_fixture()["cross_entropy"];
  Tensor logits = seq({4, 5}, 2.0);
  Tensor targets = Tensor::from_vector(fx["targets"].get<std::vector<double>>(), {4, 5});
  Tensor loss = softmax_cross_entropy(logits, targets);
  CHECK(loss.shape() == Shape{4});
  check_same(loss, -sum(targets * log_softmax(logits), {-1}), 1e-14);
  check_values(loss, fx["dense_loss"].get<std::vector<double>>(), 1e-13);
  // One-hot targets reduce to the sparse form.
  Tensor labels = Tensor::from_vector<std::int64_t>({0, 3, 4, 1}, {4});
  check_same(softmax_cross_entropy(logits, one_hot(labels, 5, float64)),
             sparse_softmax_cross_entropy(logits, labels), 1e-14);
  CHECK_THROWS_AS(softmax_cross_entropy(logits, Tensor::zeros({4, 4}, float64)), ShapeError);
  CHECK_THROWS_AS(softmax_cross_entropy(Tensor::scalar(1.0), Tensor::scalar(1.0)), ShapeError);
}

TEST_CASE("fused cross-entropy gradients match PyTorch", "[ops][autograd]") {
  const auto& fx = ops_fixture()["cross_entropy"];
  Tensor probe = Tensor::from_vector(fx["probe"].get<std::vector<double>>(), {4});
  Tensor labels = Tensor::from_vector<std::int64_t>({0, 3, 4, 1}, {4});
  Tensor targets = Tensor::from_vector(fx["targets"].get<std::vector<double>>(), {4, 5});
  Tensor a = seq({4, 5}, 2.0).set_requires_grad();
  sum(sparse_softmax_cross_entropy(a, labels) * probe).backward();
  check_values(a.grad(), fx["sparse_grad"].get<std::vector<double>>(), 1e-13);
  Tensor b = seq({4, 5}, 2.0).set_requires_grad();
  sum(softmax_cross_entropy(b, targets) * probe).backward();
  check_values(b.grad(), fx["dense_grad"].get<std::vector<double>>(), 1e-13);
}

// --- dropout ---------------------------------------------------------------------------------------

TEST_CASE("dropout with rate 0 is the identity", "[ops]") {
  Tensor x = seq({10});
  Tensor y = dropout(x, 0.0);
  CHECK(values(y) == values(x));
  CHECK_THROWS_AS(dropout(x, 1.0), ValueError);
  CHECK_THROWS_AS(dropout(x, -0.1), ValueError);
}

TEST_CASE("dropout keeps about 1-rate of the elements and scales them by 1/(1-rate)", "[ops]") {
  set_seed(123);
  const std::int64_t n = 100000;
  for (double rate : {0.1, 0.5, 0.8}) {
    INFO("rate " << rate);
    Tensor x = Tensor::full({n}, 2.0, float32);
    Tensor y = dropout(x, rate);
    std::int64_t kept = 0, bad = 0;
    const float scaled = static_cast<float>(2.0 / (1.0 - rate));
    for (float v : y.to_vector<float>()) {
      if (v == 0.0f) continue;
      ++kept;
      if (v != scaled) ++bad;
    }
    CHECK(bad == 0);
    // Binomial(n, 1-rate): 5 standard deviations.
    double expected = n * (1 - rate), sd = std::sqrt(n * rate * (1 - rate));
    CHECK(std::abs(kept - expected) < 5 * sd);
    CHECK(mean(y).item() == Approx(2.0).epsilon(0.03));
  }
}

TEST_CASE("dropout's gradient is its mask divided by 1-rate", "[ops][autograd]") {
  set_seed(9);
  Tensor x = seq({1000}, 1.0, float64, 3.0).set_requires_grad();  // never zero
  Tensor y = dropout(x, 0.3);
  y.backward(Tensor::ones({1000}, float64));
  std::vector<double> g = values(x.grad()), yv = values(y);
  std::int64_t bad = 0, kept = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    double want = yv[i] != 0.0 ? 1.0 / 0.7 : 0.0;
    kept += yv[i] != 0.0;
    if (std::abs(g[i] - want) > 1e-12) ++bad;
  }
  CHECK(bad == 0);
  CHECK(kept > 600);
  CHECK(kept < 800);
}

TEST_CASE("the same seed gives the same dropout masks and random draws", "[ops]") {
  auto draw = [] {
    set_seed(2024);
    Tensor m = dropout(Tensor::ones({5000}), 0.5);
    Tensor n = random_normal({3000});
    Tensor u = random_uniform({100}, -2.0, 3.0, float64);
    Tensor t = truncated_normal({100});
    Tensor p = random_permutation(50);
    return std::vector<Tensor>{m, n, u, t, p};
  };
  auto a = draw(), b = draw();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(values(a[i]) == values(b[i]));
  set_seed(2025);
  CHECK(values(dropout(Tensor::ones({5000}), 0.5)) != values(a[0]));
  // Consecutive draws differ (the stream advances).
  set_seed(1);
  Tensor n1 = random_normal({10});
  Tensor n2 = random_normal({10});
  CHECK(values(n1) != values(n2));
}

TEST_CASE("random_normal has the requested mean and standard deviation", "[ops]") {
  set_seed(5);
  const std::int64_t n = 200000;
  Tensor x = random_normal({n}, 3.0, 2.0, float64);
  CHECK(x.dtype() == float64);
  double m = mean(x).item();
  double sd = std::sqrt(mean(square(x - m)).item());
  CHECK(std::abs(m - 3.0) < 5 * 2.0 / std::sqrt(double(n)));
  CHECK(sd == Approx(2.0).epsilon(0.01));
  // About 68.3 % within one standard deviation.
  double within = mean((abs(x - 3.0) < 2.0).astype(float64)).item();
  CHECK(within == Approx(0.6827).margin(0.01));
  CHECK(random_normal({4}).dtype() == float32);
  CHECK_THROWS_AS(random_normal({4}, 0, 1, int32), TypeError);
}

TEST_CASE("truncated_normal stays within two standard deviations", "[ops]") {
  set_seed(6);
  Tensor x = truncated_normal({50000}, 1.0, 0.5, float64);
  CHECK(max(x).item() <= 2.0);
  CHECK(min(x).item() >= 0.0);
  CHECK(mean(x).item() == Approx(1.0).margin(0.01));
  // The standard deviation of a normal truncated at ±2σ is 0.8796σ.
  double sd = std::sqrt(mean(square(x - 1.0)).item());
  CHECK(sd == Approx(0.8796 * 0.5).epsilon(0.02));
}

TEST_CASE("random_uniform draws from minval up to but excluding maxval", "[ops]") {
  set_seed(8);
  Tensor u = random_uniform({20000}, -1.0, 3.0);
  CHECK(min(u).item() >= -1.0);
  CHECK(max(u).item() < 3.0);
  CHECK(mean(u).item() == Approx(1.0).margin(0.05));
}

TEST_CASE("random_permutation is a permutation of 0..n-1", "[ops]") {
  set_seed(10);
  Tensor p = random_permutation(1000);
  CHECK(p.dtype() == int64);
  auto v = p.to_vector<std::int64_t>();
  std::vector<std::int64_t> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  bool is_perm = true;
  for (std::int64_t i = 0; i < 1000; ++i) is_perm = is_perm && sorted[i] == i;
  CHECK(is_perm);
  std::int64_t fixed = 0;
  for (std::int64_t i = 0; i < 1000; ++i) fixed += v[i] == i;
  CHECK(fixed < 10);  // a shuffle, not the identity (expected about 1 fixed point)
  CHECK(random_permutation(0).numel() == 0);
}

TEST_CASE("draws that follow a normal draw are independent of it", "[ops]") {
  // Box-Muller turns uniforms (u1, u2) into z with z² <= -2 ln u1. If a later draw reused the
  // uniforms behind earlier normals, its values would pair up with those normals this way.
  set_seed(77);
  const std::int64_t n = 20000;
  std::vector<double> z = values(random_normal({n}, 0, 1, float64));
  std::vector<double> u = values(random_uniform({2 * n}, 0, 1, float64));
  // Correlation between z[j]² and u[i] for every pairing i -> j = (n + i) / 2 and i -> j = i / 2.
  for (int pairing = 0; pairing < 2; ++pairing) {
    double su = 0, sz = 0, suu = 0, szz = 0, suz = 0;
    std::int64_t count = 0;
    for (std::int64_t i = 0; i < 2 * n; ++i) {
      std::int64_t j = pairing == 0 ? (n + i) / 2 : i / 2;
      if (j >= n) continue;
      double a = u[i], b = z[j] * z[j];
      su += a, sz += b, suu += a * a, szz += b * b, suz += a * b;
      ++count;
    }
    double cov = suz / count - su / count * sz / count;
    double corr = cov / std::sqrt((suu / count - su * su / count / count) *
                                  (szz / count - sz * sz / count / count));
    INFO("pairing " << pairing);
    CHECK(std::abs(corr) < 0.05);
  }
}
