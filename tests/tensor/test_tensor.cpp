// SPDX-License-Identifier: Apache-2.0
// Tensor basics: dtypes, construction, inspection, views (reshape, slice, operator[]), dtype
// conversion, deep copies, in-place assignment, Shape notation.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::values;

namespace {
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no exception)";
}
}  // namespace

TEST_CASE("dtypes have NumPy names, sizes and promotion rules", "[tensor]") {
  CHECK(dtype_size(float32) == 4);
  CHECK(dtype_size(float64) == 8);
  CHECK(dtype_size(int32) == 4);
  CHECK(dtype_size(int64) == 8);
  CHECK(dtype_size(uint8) == 1);
  for (DType d : {float32, float64, int32, int64, uint8}) CHECK(dtype_from_name(dtype_name(d)) == d);
  CHECK(std::string(dtype_name(uint8)) == "uint8");
  CHECK_THROWS_AS(dtype_from_name("float16x"), ValueError);
  CHECK(is_floating(float32));
  CHECK(is_floating(float64));
  CHECK_FALSE(is_floating(int64));
  CHECK_FALSE(is_floating(uint8));
  CHECK(promote_types(int32, float32) == float32);
  CHECK(promote_types(float32, float64) == float64);
  CHECK(promote_types(uint8, int32) == int32);
  CHECK(promote_types(int64, int32) == int64);
  CHECK(promote_types(uint8, float64) == float64);
  CHECK(promote_types(uint8, uint8) == uint8);
}

TEST_CASE("Tensors of every dtype are created filled with zeros, ones or a value", "[tensor]") {
  for (DType d : {float32, float64, int32, int64, uint8}) {
    INFO(dtype_name(d));
    Tensor z = Tensor::zeros({2, 3}, d);
    CHECK(z.dtype() == d);
    CHECK(z.nbytes() == 6 * dtype_size(d));
    CHECK(values(z) == std::vector<double>(6, 0.0));
    CHECK(values(Tensor::ones({4}, d)) == std::vector<double>(4, 1.0));
    CHECK(values(Tensor::full({3}, 7, d)) == std::vector<double>(3, 7.0));
  }
  CHECK(values(Tensor::full({2}, 2.5, float32)) == std::vector<double>{2.5, 2.5});
  CHECK(values(Tensor::full({2}, 2.5, int32)) == std::vector<double>{2, 2});
  CHECK(Tensor::zeros({2}).dtype() == float32);  // float32 is the default
}

TEST_CASE("arange counts from zero in the requested dtype", "[tensor]") {
  Tensor a = Tensor::arange(5);
  CHECK(a.dtype() == int64);
  CHECK(a.shape() == Shape{5});
  CHECK(values(a) == std::vector<double>{0, 1, 2, 3, 4});
  Tensor f = Tensor::arange(3, float32);
  CHECK(f.dtype() == float32);
  CHECK(f.to_vector<float>() == std::vector<float>{0.f, 1.f, 2.f});
  CHECK(Tensor::arange(0).numel() == 0);
}

TEST_CASE("from_vector copies row-major values and checks their count", "[tensor]") {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.dtype() == float32);
  CHECK(t.at(4) == 5.0);
  CHECK(Tensor::from_vector<double>({1.5}, {}).dtype() == float64);
  CHECK(Tensor::from_vector<std::int32_t>({-3, 4}, {2}).to_vector<std::int32_t>() ==
        std::vector<std::int32_t>{-3, 4});
  CHECK(Tensor::from_vector<std::int64_t>({1LL << 40}, {1}).to_vector<std::int64_t>()[0] ==
        (1LL << 40));
  CHECK(Tensor::from_vector<std::uint8_t>({255, 0}, {2}).to_vector<std::uint8_t>() ==
        std::vector<std::uint8_t>{255, 0});
  std::string msg = message_of([] { Tensor::from_vector<float>({1, 2, 3}, {2, 2}); });
  CHECK_THAT(msg, Catch::Contains("3 values") && Catch::Contains("(2, 2)"));
  CHECK_THROWS_AS(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), ShapeError);
}

TEST_CASE("shape, ndim, numel and dim describe a tensor", "[tensor]") {
  Tensor t = Tensor::zeros({2, 3, 4});
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(t.ndim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.dim(0) == 2);
  CHECK(t.dim(-1) == 4);
  CHECK_THROWS_AS(t.dim(3), ShapeError);
  Tensor s = Tensor::scalar(3.5);
  CHECK(s.ndim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.5);
  Tensor e = Tensor::zeros({0, 3});
  CHECK(e.numel() == 0);
  CHECK(e.shape() == Shape{0, 3});
  CHECK(t.device() == Device::cpu());
  CHECK(Device::cpu().str() == "cpu");
}

TEST_CASE("an undefined tensor says so instead of crashing", "[tensor]") {
  Tensor u;
  CHECK_FALSE(u.defined());
  CHECK_THROWS_AS(u.shape(), ValueError);
  CHECK(u.str() == "Tensor(undefined)");
}

TEST_CASE("data<T>() checks the element type", "[tensor]") {
  Tensor t = Tensor::zeros({2}, float32);
  CHECK(t.data<float>() != nullptr);
  CHECK_THROWS_AS(t.data<double>(), TypeError);
  CHECK_THROWS_AS(t.data<std::uint8_t>(), TypeError);
}

TEST_CASE("reshape is a view with -1 inference and clear errors", "[tensor]") {
  Tensor t = Tensor::arange(12).astype(float32);
  Tensor r = t.reshape({3, -1});
  CHECK(r.shape() == Shape{3, 4});
  CHECK(r.shares_storage(t));
  r.data<float>()[5] = 100.f;  // visible through the original
  CHECK(t.at(5) == 100.0);
  CHECK(t.reshape({-1}).shape() == Shape{12});
  CHECK(t.reshape({2, 3, 2}).at(11) == 11.0);
  CHECK(reshape(t, {2, -1, 3}).shape() == Shape{2, 2, 3});

  std::string msg = message_of([&] { t.reshape({5, 3}); });
  CHECK_THAT(msg, Catch::Contains("(12,)") && Catch::Contains("(5, 3)"));
  CHECK_THROWS_AS(t.reshape({5, 3}), ShapeError);
  CHECK_THROWS_AS(t.reshape({5, -1}), ShapeError);
  CHECK_THROWS_AS(t.reshape({-1, -1}), ShapeError);
  CHECK_THROWS_AS(t.reshape({-2, 6}), ShapeError);
}

TEST_CASE("slice and indexing with operator brackets are views on the leading axis", "[tensor]") {
  Tensor t = Tensor::arange(12).reshape({4, 3});
  Tensor s = t.slice(1, 3);
  CHECK(s.shape() == Shape{2, 3});
  CHECK(values(s) == std::vector<double>{3, 4, 5, 6, 7, 8});
  CHECK(s.shares_storage(t));
  s.data<std::int64_t>()[0] = -1;
  CHECK(t.at(3) == -1.0);

  Tensor row = t[2];
  CHECK(row.shape() == Shape{3});
  CHECK(values(row) == std::vector<double>{6, 7, 8});
  CHECK(row.shares_storage(t));
  row.fill(9);
  CHECK(values(t.slice(2, 3)) == std::vector<double>{9, 9, 9});
  CHECK(values(t[-1]) == std::vector<double>{9, 10, 11});
  CHECK(t[1][2].item() == 5.0);  // nested views keep the offset
  CHECK(t.slice(4, 4).numel() == 0);

  CHECK_THROWS_AS(t.slice(2, 5), ShapeError);
  CHECK_THROWS_AS(t.slice(3, 2), ShapeError);
  CHECK_THROWS_AS(t[4], ShapeError);
  CHECK_THROWS_AS(t[-5], ShapeError);
  CHECK_THROWS_AS(Tensor::scalar(1)[0], ShapeError);
}

TEST_CASE("astype converts values, truncating floats toward zero for integer types", "[tensor]") {
  Tensor f = Tensor::from_vector<float>({2.7f, -2.7f, 0.5f, 200.f}, {4});
  CHECK(values(f.astype(int32)) == std::vector<double>{2, -2, 0, 200});
  CHECK(values(f.astype(int64)) == std::vector<double>{2, -2, 0, 200});
  CHECK(f.astype(uint8).at(3) == 200.0);
  CHECK(f.astype(uint8).at(0) == 2.0);
  Tensor u = Tensor::from_vector<std::uint8_t>({0, 128, 255}, {3});
  Tensor uf = u.astype(float32);
  CHECK(uf.dtype() == float32);
  CHECK(uf.to_vector<float>() == std::vector<float>{0.f, 128.f, 255.f});
  CHECK(values(u.astype(float32) / 255.0) == std::vector<double>{0.0, 128.0f / 255.0f, 1.0});
  Tensor big = Tensor::from_vector<std::int64_t>({(1LL << 40) + 1}, {1});
  CHECK(big.astype(float64).item() == static_cast<double>((1LL << 40) + 1));
  Tensor d = Tensor::from_vector<double>({0.1}, {1});
  CHECK(d.astype(float32).to_vector<float>()[0] == 0.1f);
  // Out-of-range floats wrap as NumPy does on x86 instead of being undefined; NaN becomes 0.
  Tensor odd = Tensor::from_vector<double>({-1.0, 256.0, 300.7, std::nan("")}, {4});
  CHECK(values(odd.astype(uint8)) == std::vector<double>{255, 0, 44, 0});
  CHECK(values(Tensor::full({1}, -1.0, uint8)) == std::vector<double>{255});
  // Same dtype: the same tensor, no copy.
  CHECK(f.astype(float32).shares_storage(f));
  CHECK_FALSE(f.astype(float64).shares_storage(f));
}

TEST_CASE("clone is a deep copy", "[tensor]") {
  Tensor t = Tensor::from_vector<double>({1, 2, 3}, {3});
  Tensor c = t.clone();
  CHECK_FALSE(c.shares_storage(t));
  c.fill(0);
  CHECK(values(t) == std::vector<double>{1, 2, 3});
  // Cloning a view copies only the view.
  Tensor v = Tensor::arange(6).reshape({3, 2})[1].clone();
  CHECK(values(v) == std::vector<double>{2, 3});
}

TEST_CASE("assign copies (and converts) values in place and fill sets them all", "[tensor]") {
  Tensor t = Tensor::zeros({2, 2}, float32);
  Tensor before = t;
  t.assign(Tensor::from_vector<std::int32_t>({1, 2, 3, 4}, {2, 2}));
  CHECK(values(before) == std::vector<double>{1, 2, 3, 4});  // same storage was written
  CHECK_THROWS_AS(t.assign(Tensor::zeros({4})), ShapeError);
  t.fill(-1.5);
  CHECK(values(t) == std::vector<double>{-1.5, -1.5, -1.5, -1.5});
  // Assigning into a view writes the parent.
  Tensor m = Tensor::zeros({3, 2}, int64);
  m[1].assign(Tensor::from_vector<double>({7.9, 8}, {2}));
  CHECK(values(m) == std::vector<double>{0, 0, 7, 8, 0, 0});
}

TEST_CASE("item() needs exactly one element and at() checks its index", "[tensor]") {
  CHECK(Tensor::full({1, 1}, 4).item() == 4.0);
  std::string msg = message_of([] { Tensor::zeros({2, 3}).item(); });
  CHECK_THAT(msg, Catch::Contains("(2, 3)"));
  CHECK_THROWS_AS(Tensor::zeros({2}).item(), ValueError);
  CHECK_THROWS_AS(Tensor::zeros({2}).at(2), ValueError);
  CHECK_THROWS_AS(Tensor::zeros({2}).at(-1), ValueError);
}

TEST_CASE("to_vector converts to the requested element type", "[tensor]") {
  Tensor t = Tensor::from_vector<double>({1.9, -3.2}, {2});
  CHECK(t.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -3});
  CHECK(t.to_vector<float>() == std::vector<float>{1.9f, -3.2f});
}

TEST_CASE("detach shares storage but leaves the tape", "[tensor]") {
  Tensor w = Tensor::ones({2}).set_requires_grad();
  Tensor y = w * 2.0;
  CHECK(y.requires_grad());
  Tensor d = y.detach();
  CHECK(d.shares_storage(y));
  CHECK_FALSE(d.requires_grad());
  CHECK_THROWS_AS(Tensor::zeros({2}, int32).set_requires_grad(), TypeError);
  CHECK_THROWS_AS(y.set_requires_grad(), ValueError);  // not a leaf
}

TEST_CASE("Shape prints in Keras notation", "[tensor]") {
  CHECK(Shape{-1, 28, 28, 1}.str() == "(None, 28, 28, 1)");
  CHECK(Shape{5}.str() == "(5,)");
  CHECK(Shape{}.str() == "()");
  CHECK(Shape{2, 3}.str() == "(2, 3)");
  CHECK(Shape{2, 3}.numel() == 6);
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{2, 3}.rank() == 2);
  CHECK_THROWS_AS(Shape({-1, 3}).numel(), ShapeError);
  CHECK_THROWS_AS(Tensor::zeros({-1, 3}), ShapeError);
  std::ostringstream os;
  os << Shape{-1, 10};
  CHECK(os.str() == "(None, 10)");
}
