// SPDX-License-Identifier: Apache-2.0
// Elementwise ops: broadcasting arithmetic against hand-computed values, dtype promotion,
// comparisons, the unary maths functions, where/clip/maximum/minimum.
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
using lamina::testing::check_values;
using lamina::testing::seq;
using lamina::testing::values;

namespace {
Tensor f32(std::vector<float> v, const Shape& s) { return Tensor::from_vector(v, s); }
}  // namespace

TEST_CASE("binary ops broadcast a row vector over a matrix", "[ops]") {
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f32({10, 20, 30}, {3});
  CHECK((a + b).shape() == Shape{2, 3});
  CHECK(values(a + b) == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(values(b - a) == std::vector<double>{9, 18, 27, 6, 15, 24});
  CHECK(values(a * b) == std::vector<double>{10, 40, 90, 40, 100, 180});
  check_values(a / b, {0.1, 0.1, 0.1, 0.4, 0.25, 0.2});
  CHECK(values(add(a, b)) == values(a + b));
  CHECK(values(subtract(a, b)) == values(a - b));
  CHECK(values(multiply(a, b)) == values(a * b));
  CHECK(values(divide(a, b)) == values(a / b));
}

TEST_CASE("binary ops broadcast a column against a row into an outer grid", "[ops]") {
  Tensor col = f32({1, 2}, {2, 1});
  Tensor row = f32({10, 20, 30}, {1, 3});
  Tensor s = col + row;
  CHECK(s.shape() == Shape{2, 3});
  CHECK(values(s) == std::vector<double>{11, 21, 31, 12, 22, 32});
  CHECK(values(row * col) == std::vector<double>{10, 20, 30, 20, 40, 60});
  // Rank extension on the left plus a broadcast middle axis: (2,1,4) with (3,1) -> (2,3,4).
  Tensor a = seq({2, 1, 4});
  Tensor b = seq({3, 1}, 2.0);
  Tensor c = a - b;
  REQUIRE(c.shape() == Shape{2, 3, 4});
  std::vector<double> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) want.push_back(a.at(i * 4 + k) - b.at(j));
  check_values(c, want, 1e-15);
}

TEST_CASE("scalar operands keep the tensor's dtype", "[ops]") {
  Tensor a = f32({1, 2, 4}, {3});
  CHECK(values(a + 1.0) == std::vector<double>{2, 3, 5});
  CHECK(values(1.0 - a) == std::vector<double>{0, -1, -3});
  CHECK(values(a * 2.0) == std::vector<double>{2, 4, 8});
  CHECK(values(2.0 * a) == std::vector<double>{2, 4, 8});
  CHECK(values(a / 2.0) == std::vector<double>{0.5, 1, 2});
  CHECK(values(4.0 / a) == std::vector<double>{4, 2, 1});
  CHECK(values(a - 1.0) == std::vector<double>{0, 1, 3});
  CHECK(values(-a) == std::vector<double>{-1, -2, -4});
  CHECK((a * 2.0).dtype() == float32);
  Tensor d = Tensor::ones({2}, float64);
  CHECK((d + 1.0).dtype() == float64);
  // A 0-d tensor broadcasts like a scalar.
  CHECK(values(a * Tensor::scalar(3.0)) == std::vector<double>{3, 6, 12});
}

TEST_CASE("integer and float operands promote NumPy-style", "[ops]") {
  Tensor i = Tensor::from_vector<std::int32_t>({1, 2, 3}, {3});
  Tensor f = f32({0.5, 0.5, 0.5}, {3});
  Tensor s = i + f;
  CHECK(s.dtype() == float32);
  CHECK(values(s) == std::vector<double>{1.5, 2.5, 3.5});
  CHECK((i * 2.0).dtype() == int32);
  CHECK(values(i * 2.0) == std::vector<double>{2, 4, 6});
  Tensor h = i + 0.5;  // a fractional scalar makes an integer tensor float
  CHECK(h.dtype() == float32);
  CHECK(values(h) == std::vector<double>{1.5, 2.5, 3.5});
  Tensor q = i / Tensor::from_vector<std::int32_t>({2, 2, 2}, {3});  // true division
  CHECK(is_floating(q.dtype()));
  CHECK(values(q) == std::vector<double>{0.5, 1, 1.5});
  Tensor u = Tensor::from_vector<std::uint8_t>({200, 100}, {2});
  Tensor w = u + Tensor::from_vector<std::int32_t>({100, 1}, {2});
  CHECK(w.dtype() == int32);
  CHECK(values(w) == std::vector<double>{300, 101});
  Tensor g = i.astype(float64) * f;
  CHECK(g.dtype() == float64);
  // An integral scalar outside the integer dtype's range must not wrap silently.
  Tensor shifted = u + (-101.0);
  CHECK(values(shifted) == std::vector<double>{99, -1});
  CHECK(values(u - 256.0) == std::vector<double>{-56, -156});
}

TEST_CASE("comparisons return uint8 zeros and ones with broadcasting", "[ops]") {
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f32({2, 2, 5}, {3});
  Tensor lt = a < b;
  CHECK(lt.dtype() == uint8);
  CHECK(values(lt) == std::vector<double>{1, 0, 1, 0, 0, 0});
  CHECK(values(a <= b) == std::vector<double>{1, 1, 1, 0, 0, 0});
  CHECK(values(a > b) == std::vector<double>{0, 0, 0, 1, 1, 1});
  CHECK(values(a >= b) == std::vector<double>{0, 1, 0, 1, 1, 1});
  CHECK(values(a == b) == std::vector<double>{0, 1, 0, 0, 0, 0});
  CHECK(values(a != b) == std::vector<double>{1, 0, 1, 1, 1, 1});
  CHECK(values(a > 3.5) == std::vector<double>{0, 0, 0, 1, 1, 1});
  CHECK(values(a == 2.0) == std::vector<double>{0, 1, 0, 0, 0, 0});
  CHECK(values(a != 2.0) == std::vector<double>{1, 0, 1, 1, 1, 1});
  CHECK(values(a < 2.0) == std::vector<double>{1, 0, 0, 0, 0, 0});
  CHECK(values(a <= 2.0) == std::vector<double>{1, 1, 0, 0, 0, 0});
  CHECK(values(a >= 6.0) == std::vector<double>{0, 0, 0, 0, 0, 1});
  // Integer tensors compare exactly against a fractional scalar.
  Tensor i = Tensor::from_vector<std::int64_t>({1, 2, 3}, {3});
  CHECK(values(i > 1.5) == std::vector<double>{0, 1, 1});
  CHECK((i > 1.5).dtype() == uint8);
  // Comparisons never record a gradient.
  Tensor w = seq({3}).set_requires_grad();
  CHECK_FALSE((w > 0.0).requires_grad());
}

TEST_CASE("shapes that do not broadcast throw a ShapeError naming both", "[ops]") {
  Tensor a = Tensor::zeros({2, 3});
  Tensor b = Tensor::zeros({4});
  CHECK_THROWS_AS(a + b, ShapeError);
  try {
    (void)(a * b);
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    std::string m = e.what();
    CHECK_THAT(m, Catch::Contains("(2, 3)") && Catch::Contains("(4,)") &&
                      Catch::Contains("multiply"));
  }
  CHECK_THROWS_AS(a < b, ShapeError);
  CHECK_THROWS_AS(Tensor::zeros({2, 3}) - Tensor::zeros({3, 2}), ShapeError);
}

TEST_CASE("unary maths functions match the C library", "[ops]") {
  Tensor x = seq({3, 5}, 2.0);  // values in [-2, 2]
  Tensor pos = abs(x) + 0.1;
  std::vector<double> xs = values(x), ps = values(pos);
  auto map = [](const std::vector<double>& v, double (*f)(double)) {
    std::vector<double> out;
    for (double e : v) out.push_back(f(e));
    return out;
  };
  check_values(exp(x), map(xs, [](double v) { return std::exp(v); }), 1e-14);
  check_values(log(pos), map(ps, [](double v) { return std::log(v); }), 1e-14);
  check_values(sqrt(pos), map(ps, [](double v) { return std::sqrt(v); }), 1e-14);
  check_values(square(x), map(xs, [](double v) { return v * v; }), 1e-14);
  check_values(abs(x), map(xs, [](double v) { return std::fabs(v); }), 1e-14);
  check_values(tanh(x), map(xs, [](double v) { return std::tanh(v); }), 1e-14);
  check_values(sigmoid(x), map(xs, [](double v) { return 1 / (1 + std::exp(-v)); }), 1e-14);
  check_values(relu(x), map(xs, [](double v) { return v > 0 ? v : 0.0; }), 1e-14);
  check_values(sign(x), map(xs, [](double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }));
  check_values(negative(x), map(xs, [](double v) { return -v; }));
  check_values(pow(pos, 2.5), map(ps, [](double v) { return std::pow(v, 2.5); }), 1e-14);
  check_values(pow(x, 3), map(xs, [](double v) { return v * v * v; }), 1e-14);
  CHECK(exp(x).dtype() == float64);
  CHECK(exp(x.astype(float32)).dtype() == float32);
  // Integer input computes in float32.
  Tensor ints = Tensor::from_vector<std::int32_t>({0, 1, 4}, {3});
  CHECK(sqrt(ints).dtype() == float32);
  CHECK(values(sqrt(ints)) == std::vector<double>{0, 1, 2});
}

TEST_CASE("erf matches PyTorch", "[ops]") {
  const auto& fx = lamina::testing::ops_fixture()["erf"];
  std::vector<double> xs = fx["x"].get<std::vector<double>>();
  Tensor x = Tensor::from_vector(xs, {static_cast<std::int64_t>(xs.size())});
  check_values(erf(x), fx["y"].get<std::vector<double>>(), 1e-14);
}

TEST_CASE("sigmoid stays finite and exact on both tails", "[ops]") {
  Tensor x = f32({-1000, -30, 0, 30, 1000}, {5});
  Tensor y = sigmoid(x);
  CHECK(all_finite(y));
  CHECK(y.at(0) == 0.0);
  CHECK(y.at(1) == Approx(9.357622968840175e-14).epsilon(1e-5));
  CHECK(y.at(2) == 0.5);
  CHECK(y.at(4) == 1.0);
}

TEST_CASE("clip bounds values and rejects inverted bounds", "[ops]") {
  Tensor x = f32({-3, -1, 0, 1, 3}, {5});
  CHECK(values(clip(x, -1.5, 2)) == std::vector<double>{-1.5, -1, 0, 1, 2});
  CHECK_THROWS_AS(clip(x, 1, -1), ValueError);
}

TEST_CASE("maximum and minimum broadcast", "[ops]") {
  Tensor a = f32({1, 5, 3, 0}, {2, 2});
  Tensor b = f32({2, 2}, {2});
  CHECK(values(maximum(a, b)) == std::vector<double>{2, 5, 3, 2});
  CHECK(values(minimum(a, b)) == std::vector<double>{1, 2, 2, 0});
  CHECK(values(maximum(a, Tensor::scalar(2.5))) == std::vector<double>{2.5, 5, 3, 2.5});
}

TEST_CASE("where picks from a or b by a condition of any dtype, with broadcasting", "[ops]") {
  Tensor cond = Tensor::from_vector<std::uint8_t>({1, 0, 1}, {3});
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::scalar(-1.0);
  Tensor w = where(cond, a, b);
  CHECK(w.shape() == Shape{2, 3});
  CHECK(values(w) == std::vector<double>{1, -1, 3, 4, -1, 6});
  Tensor fc = f32({0.0f, 2.5f}, {2, 1});  // non-zero float is true
  CHECK(values(where(fc, a, Tensor::zeros({3}))) == std::vector<double>{0, 0, 0, 4, 5, 6});
  CHECK(values(where(a > 3.0, a, a * 10.0)) == std::vector<double>{10, 20, 30, 4, 5, 6});
  CHECK_THROWS_AS(where(Tensor::zeros({4}), a, b), ShapeError);
}

TEST_CASE("large elementwise ops agree with a scalar loop", "[ops]") {
  // Big enough for the parallel and broadcast row paths.
  const std::int64_t rows = 700, cols = 301;
  Tensor a = seq({rows, cols}, 1.0, float32);
  Tensor b = seq({cols}, 2.0, float32, 0.5);
  Tensor c = a * b + 1.0;
  Tensor e = exp(a);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* pc = c.data<float>();
  const float* pe = e.data<float>();
  std::int64_t bad = 0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t k = 0; k < cols; ++k) {
      std::int64_t i = r * cols + k;
      if (std::abs(pc[i] - (pa[i] * pb[k] + 1.0f)) > 1e-6f) ++bad;
      if (std::abs(pe[i] - std::exp(pa[i])) > 1e-6f * std::exp(pa[i])) ++bad;
    }
  CHECK(bad == 0);
}
