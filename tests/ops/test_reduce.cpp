// SPDX-License-Identifier: Apache-2.0
// Reductions: sum/mean/max/min over one, several or all axes with and without keepdims, argmax's
// tie rule, broadcast_to / sum_to — against hand values, naive loops and PyTorch.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_values;
using lamina::testing::ops_fixture;
using lamina::testing::seq;
using lamina::testing::values;

namespace {
// 0..23 as (2, 3, 4): x[i][j][k] = 12i + 4j + k.
Tensor cube(DType d = float32) { return Tensor::arange(24).reshape({2, 3, 4}).astype(d); }
}  // namespace

TEST_CASE("sum over one axis, several axes and all axes", "[ops]") {
  Tensor x = cube();
  CHECK(sum(x).shape() == Shape{});
  CHECK(sum(x).item() == 276.0);
  CHECK(x.sum().item() == 276.0);
  Tensor s0 = sum(x, {0});
  CHECK(s0.shape() == Shape{3, 4});
  CHECK(values(s0) == std::vector<double>{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  CHECK(values(sum(x, {1})) == std::vector<double>{12, 15, 18, 21, 48, 51, 54, 57});
  CHECK(values(sum(x, {-1})) == std::vector<double>{6, 22, 38, 54, 70, 86});
  Tensor s02 = sum(x, {0, 2});
  CHECK(s02.shape() == Shape{3});
  CHECK(values(s02) == std::vector<double>{60, 92, 124});
  CHECK(values(sum(x, {2, 0})) == values(s02));  // order and sign of axes do not matter
  CHECK(values(sum(x, {-1, 0})) == values(s02));
  CHECK(sum(x, {0, 1, 2}).item() == 276.0);
}

TEST_CASE("keepdims keeps reduced axes as size one", "[ops]") {
  Tensor x = cube();
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1, 4});
  CHECK(sum(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(sum(x, {}, true).shape() == Shape{1, 1, 1});
  CHECK(mean(x, {}, true).shape() == Shape{1, 1, 1});
  CHECK(max(x, {2}, true).shape() == Shape{2, 3, 1});
  CHECK(values(max(x, {2}, true)) == std::vector<double>{3, 7, 11, 15, 19, 23});
  CHECK(min(x, {0, 1}, true).shape() == Shape{1, 1, 4});
  CHECK(values(min(x, {0, 1}, true)) == std::vector<double>{0, 1, 2, 3});
}

TEST_CASE("mean, max and min reduce like sum", "[ops]") {
  Tensor x = cube();
  CHECK(mean(x).item() == 11.5);
  CHECK(values(mean(x, {1})) == std::vector<double>{4, 5, 6, 7, 16, 17, 18, 19});
  CHECK(values(x.mean({0, 2})) == std::vector<double>{7.5, 11.5, 15.5});
  CHECK(max(x).item() == 23.0);
  CHECK(min(x).item() == 0.0);
  CHECK(values(max(x, {0})) == values(x[1]));
  CHECK(values(min(x, {0})) == values(x[0]));
  CHECK(values(x.max({1, 2})) == std::vector<double>{11, 23});
  CHECK(values(x.min({-1})) == std::vector<double>{0, 4, 8, 12, 16, 20});
  // Negative values and a maximum that is not at either end.
  Tensor y = Tensor::from_vector<float>({-5, -1, -3, 2, 9, -4}, {2, 3});
  CHECK(values(max(y, {1})) == std::vector<double>{-1, 9});
  CHECK(values(min(y, {1})) == std::vector<double>{-5, -4});
  CHECK(values(max(y, {0})) == std::vector<double>{2, 9, -3});
}

TEST_CASE("reductions match PyTorch on a non-trivial tensor", "[ops]") {
  const auto& fx = ops_fixture()["reduce"];
  Tensor x = seq({2, 3, 4}, fx["scale"].get<double>());
  check_values(sum(x, {0, 2}), fx["sum_0_2"].get<std::vector<double>>(), 1e-13);
  check_values(mean(x, {1}), fx["mean_1"].get<std::vector<double>>(), 1e-13);
  Tensor mx = max(x, {0, 1}, true);
  CHECK(mx.shape() == Shape{1, 1, 4});
  check_values(mx, fx["max_0_1_keep"].get<std::vector<double>>(), 0);
  check_values(min(x, {2}), fx["min_2"].get<std::vector<double>>(), 0);
  Tensor am = argmax(x, 1);
  CHECK(am.shape() == Shape{2, 4});
  CHECK(am.to_vector<std::int64_t>() == fx["argmax_1"].get<std::vector<std::int64_t>>());
}

TEST_CASE("integer sums widen to int64 and integer means are float", "[ops]") {
  Tensor u = Tensor::full({300}, 255, uint8);
  Tensor s = sum(u);
  CHECK(s.dtype() == int64);
  CHECK(s.item() == 255.0 * 300);
  Tensor i = Tensor::from_vector<std::int32_t>({1, 2, 3, 4}, {2, 2});
  CHECK(values(sum(i, {0})) == std::vector<double>{4, 6});
  Tensor m = mean(i, {1});
  CHECK(is_floating(m.dtype()));
  CHECK(values(m) == std::vector<double>{1.5, 3.5});
  CHECK(max(i).item() == 4.0);
  CHECK(max(i).dtype() == int32);
}

TEST_CASE("argmax returns the first maximum as int64", "[ops]") {
  Tensor x = Tensor::from_vector<float>({1, 3, 3, 0, 2, 2, 2, 1}, {2, 4});
  Tensor a = argmax(x);
  CHECK(a.dtype() == int64);
  CHECK(a.shape() == Shape{2});
  CHECK(values(a) == std::vector<double>{1, 0});  // ties resolve to the first
  CHECK(values(x.argmax(0)) == std::vector<double>{1, 0, 0, 1});
  Tensor flat = Tensor::from_vector<double>({-1, 7, 7, 7}, {4});
  CHECK(argmax(flat).item() == 1.0);
  CHECK(argmax(flat).shape() == Shape{});
  CHECK_THROWS_AS(argmax(x, 2), ShapeError);
}

TEST_CASE("max and min propagate NaN", "[ops]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = Tensor::from_vector<double>({1, nan, 3, 4}, {2, 2});
  CHECK(std::isnan(max(x).item()));
  CHECK(std::isnan(min(x).item()));
  CHECK(values(max(x, {0}))[0] == 3.0);
  CHECK(std::isnan(values(max(x, {0}))[1]));
  CHECK(std::isnan(values(min(x, {1}))[0]));
  CHECK(values(min(x, {1}))[1] == 3.0);
}

TEST_CASE("reductions reject bad axes and empty extremes", "[ops]") {
  Tensor x = cube();
  CHECK_THROWS_AS(sum(x, {3}), ShapeError);
  CHECK_THROWS_AS(mean(x, {-4}), ShapeError);
  CHECK_THROWS_AS(max(Tensor::zeros({0, 3}), {0}), ValueError);
  CHECK_THROWS_AS(mean(Tensor::zeros({0})), ValueError);
  CHECK(sum(Tensor::zeros({0, 3}), {0}).shape() == Shape{3});
  CHECK(values(sum(Tensor::zeros({0, 3}), {0})) == std::vector<double>{0, 0, 0});
}

TEST_CASE("large reductions match a double-precision loop", "[ops]") {
  const std::int64_t rows = 513, cols = 1031;
  Tensor x = seq({rows, cols}, 1.0, float32, 0.25);
  std::vector<double> row_sums(rows, 0.0), col_sums(cols, 0.0);
  double total = 0;
  const float* p = x.data<float>();
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      row_sums[r] += p[r * cols + c];
      col_sums[c] += p[r * cols + c];
      total += p[r * cols + c];
    }
  CHECK(sum(x).item() == Approx(total).epsilon(1e-6));
  CHECK(mean(x).item() == Approx(total / (rows * cols)).epsilon(1e-6));
  check_values(sum(x, {1}), row_sums, 1e-5);
  check_values(sum(x, {0}), col_sums, 1e-5);
}

TEST_CASE("broadcast_to repeats and sum_to sums back", "[ops]") {
  Tensor r = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor b = broadcast_to(r, {2, 3});
  CHECK(b.shape() == Shape{2, 3});
  CHECK(values(b) == std::vector<double>{1, 2, 3, 1, 2, 3});
  Tensor c = broadcast_to(Tensor::from_vector<float>({1, 2}, {2, 1}), {2, 3});
  CHECK(values(c) == std::vector<double>{1, 1, 1, 2, 2, 2});
  CHECK(values(broadcast_to(Tensor::scalar(4.0), {2})) == std::vector<double>{4, 4});
  CHECK_THROWS_AS(broadcast_to(r, {2, 4}), ShapeError);
  CHECK_THROWS_AS(broadcast_to(Tensor::zeros({2, 3}), {3}), ShapeError);

  Tensor g = Tensor::arange(6).reshape({2, 3}).astype(float32);
  CHECK(values(sum_to(g, {3})) == std::vector<double>{3, 5, 7});
  CHECK(values(sum_to(g, {1, 3})) == std::vector<double>{3, 5, 7});
  CHECK(values(sum_to(g, {2, 1})) == std::vector<double>{3, 12});
  CHECK(sum_to(g, {}).item() == 15.0);
  CHECK(sum_to(g, {2, 1}).shape() == Shape{2, 1});
  CHECK_THROWS_AS(sum_to(g, {2}), ShapeError);
  CHECK_THROWS_AS(sum_to(g, {1, 2, 3}), ShapeError);
}

TEST_CASE("allclose and all_finite check tensors", "[ops]") {
  Tensor a = Tensor::from_vector<double>({1, 2}, {2});
  CHECK(allclose(a, a + 1e-9));
  CHECK_FALSE(allclose(a, a + 1e-3));
  CHECK_FALSE(allclose(a, Tensor::zeros({3})));
  CHECK(all_finite(a));
  CHECK_FALSE(all_finite(a / 0.0));
  CHECK(all_finite(Tensor::zeros({2}, int32)));
}
