// SPDX-License-Identifier: Apache-2.0
// Shape ops: transpose, concatenate, one_hot, take, reshape — values and errors.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::values;

TEST_CASE("transpose reverses axes by default and follows a permutation", "[ops]") {
  Tensor m = Tensor::arange(6).reshape({2, 3});
  Tensor t = transpose(m);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(values(t) == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK_FALSE(t.shares_storage(m));

  Tensor x = Tensor::arange(24).reshape({2, 3, 4});
  Tensor p = transpose(x, {1, 2, 0});
  REQUIRE(p.shape() == Shape{3, 4, 2});
  bool ok = true;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) ok = ok && p.at((j * 4 + k) * 2 + i) == x.at(i * 12 + j * 4 + k);
  CHECK(ok);
  CHECK(values(transpose(x, {-3, -1, -2})) == values(transpose(x, {0, 2, 1})));
  CHECK(values(transpose(transpose(x, {2, 0, 1}), {1, 2, 0})) == values(x));
  CHECK(transpose(x).shape() == Shape{4, 3, 2});
  CHECK(transpose(Tensor::scalar(2.0)).item() == 2.0);

  CHECK_THROWS_AS(transpose(x, {0, 1}), ShapeError);
  CHECK_THROWS_AS(transpose(x, {0, 1, 1}), ShapeError);
  CHECK_THROWS_AS(transpose(x, {0, 1, 3}), ShapeError);
}

TEST_CASE("concatenate joins along any axis", "[ops]") {
  Tensor a = Tensor::arange(6).reshape({2, 3}).astype(float32);
  Tensor b = Tensor::full({2, 1}, -1);
  Tensor c = concatenate({a, b}, 1);
  CHECK(c.shape() == Shape{2, 4});
  CHECK(values(c) == std::vector<double>{0, 1, 2, -1, 3, 4, 5, -1});
  CHECK(values(concatenate({a, b})) == values(c));  // default: last axis
  Tensor r = concatenate({a, Tensor::full({1, 3}, 9)}, 0);
  CHECK(r.shape() == Shape{3, 3});
  CHECK(values(r) == std::vector<double>{0, 1, 2, 3, 4, 5, 9, 9, 9});
  Tensor three = concatenate({b, b, b}, -1);
  CHECK(three.shape() == Shape{2, 3});
  CHECK(values(concatenate({a})) == values(a));
  // A middle axis of a 3-D tensor.
  Tensor x = Tensor::arange(8).reshape({2, 2, 2});
  Tensor y = Tensor::full({2, 1, 2}, 100, int64);
  CHECK(values(concatenate({x, y}, 1)) ==
        std::vector<double>{0, 1, 2, 3, 100, 100, 4, 5, 6, 7, 100, 100});

  CHECK_THROWS_AS(concatenate({a, Tensor::zeros({3, 1})}, 1), ShapeError);
  CHECK_THROWS_AS(concatenate({a, Tensor::zeros({2})}, 0), ShapeError);
  CHECK_THROWS_AS(concatenate({a, b}, 2), ShapeError);
  CHECK_THROWS_AS(concatenate({}, 0), ValueError);
  CHECK_THROWS_AS(concatenate({a, Tensor::zeros({2, 1}, float64)}, 1), TypeError);
  try {
    concatenate({a, Tensor::zeros({2, 1}, float64)}, 1);
    FAIL("expected an error for mixed dtypes");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("float64"));
  }
}

TEST_CASE("one_hot encodes integer labels of any dtype", "[ops]") {
  Tensor labels = Tensor::from_vector<std::uint8_t>({2, 0, 1}, {3});
  Tensor h = one_hot(labels, 4);
  CHECK(h.shape() == Shape{3, 4});
  CHECK(h.dtype() == float32);
  CHECK(values(h) == std::vector<double>{0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0});
  Tensor h2 = one_hot(Tensor::from_vector<std::int64_t>({1, 0, 0, 1}, {2, 2}), 2, float64);
  CHECK(h2.shape() == Shape{2, 2, 2});
  CHECK(h2.dtype() == float64);
  CHECK(values(h2) == std::vector<double>{0, 1, 1, 0, 1, 0, 0, 1});
  CHECK_THROWS_AS(one_hot(labels, 2), ValueError);
  CHECK_THROWS_AS(one_hot(Tensor::from_vector<std::int32_t>({-1}, {1}), 3), ValueError);
  CHECK_THROWS_AS(one_hot(Tensor::from_vector<float>({0.5f}, {1}), 3), ValueError);
  CHECK_THROWS_AS(one_hot(Tensor::from_vector<double>({std::nan("")}, {1}), 3), ValueError);
}

TEST_CASE("take gathers rows by index", "[ops]") {
  Tensor x = Tensor::arange(12).reshape({4, 3}).astype(float32);
  Tensor idx = Tensor::from_vector<std::int64_t>({3, 0, 3}, {3});
  Tensor t = take(x, idx);
  CHECK(t.shape() == Shape{3, 3});
  CHECK(values(t) == std::vector<double>{9, 10, 11, 0, 1, 2, 9, 10, 11});
  Tensor grid = take(x, Tensor::from_vector<std::int32_t>({1, 2, 0, 1}, {2, 2}));
  CHECK(grid.shape() == Shape{2, 2, 3});
  CHECK(values(grid[1][0]) == std::vector<double>{0, 1, 2});
  // 1-D x gathers scalars (an embedding lookup of width 0 axes).
  Tensor v = Tensor::from_vector<double>({5, 6, 7}, {3});
  CHECK(values(take(v, Tensor::from_vector<std::int64_t>({2, 2, 0}, {3}))) ==
        std::vector<double>{7, 7, 5});
  CHECK_THROWS_AS(take(x, Tensor::from_vector<std::int64_t>({4}, {1})), ValueError);
  CHECK_THROWS_AS(take(x, Tensor::from_vector<std::int64_t>({-1}, {1})), ValueError);
  CHECK_THROWS_AS(take(Tensor::scalar(1.0), idx), ShapeError);
}
