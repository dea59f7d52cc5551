// SPDX-License-Identifier: Apache-2.0
// Tests for the opt-in xtensor interop header: zero-copy to_xarray, copying from_xtensor.
#include <catch2/catch.hpp>

#include <cstdint>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "lamina/errors.hpp"
#include "lamina/tensor.hpp"
#include "lamina/xtensor.hpp"

using namespace lamina;

namespace {

template <class T>
Tensor iota_tensor(const Shape& shape) {
  std::vector<T> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(i + 1);
  return Tensor::from_vector(v, shape);
}

template <class T>
void check_round_trip() {
  const Shape shape{2, 3, 4};
  Tensor t = iota_tensor<T>(shape);

  auto a = to_xarray<T>(t);
  REQUIRE(a.dimension() == 3);
  CHECK(a.shape()[0] == 2);
  CHECK(a.shape()[1] == 3);
  CHECK(a.shape()[2] == 4);
  // Row-major: element (i, j, k) is flat index i*12 + j*4 + k.
  CHECK(a(0, 0, 0) == static_cast<T>(1));
  CHECK(a(1, 2, 3) == static_cast<T>(24));
  CHECK(a(1, 0, 2) == static_cast<T>(12 + 2 + 1));
  CHECK(a.data() == t.data<T>());

  Tensor back = from_xtensor(a);
  CHECK(back.dtype() == dtype_of<T>::value);
  CHECK(back.shape() == shape);
  CHECK(back.to_vector<T>() == t.to_vector<T>());
  CHECK_FALSE(back.shares_storage(t));
}

}  // namespace

TEST_CASE("to_xarray writes through to the tensor (zero copy)", "[tensor][xtensor]") {
  Tensor t = Tensor::zeros({2, 3});
  auto a = to_xarray<float>(t);
  CHECK(a.data() == t.data<float>());
  a(1, 2) = 5.0f;
  a(0, 0) = -1.5f;
  CHECK(t.at(5) == 5.0);
  CHECK(t.at(0) == -1.5);

  // xtensor expressions assign into the tensor's storage too.
  a += 1.0f;
  CHECK(t.to_vector<float>() == std::vector<float>{-0.5f, 1, 1, 1, 1, 6});

  // ...and writes to the tensor are visible through the adaptor.
  t.fill(2.0);
  CHECK(a(1, 1) == 2.0f);
}

TEST_CASE("to_xarray keeps the storage alive after the handle is gone", "[tensor][xtensor]") {
  auto a = to_xarray<double>(Tensor::full({3}, 7.0, float64));
  CHECK(a.size() == 3);
  CHECK(a(2) == 7.0);
  a(1) = 1.0;
  CHECK(a(1) == 1.0);
}

TEST_CASE("to_xarray on a const tensor is read-only and zero copy", "[tensor][xtensor]") {
  Tensor t = iota_tensor<std::int32_t>({2, 2});
  const Tensor& ct = t;
  auto a = to_xarray<std::int32_t>(ct);
  static_assert(std::is_const_v<std::remove_reference_t<decltype(*a.data())>>,
                "a const tensor gives a read-only adaptor");
  CHECK(a.data() == ct.data<std::int32_t>());
  CHECK(a(1, 0) == 3);
  t.fill(9);
  CHECK(a(1, 0) == 9);
}

TEST_CASE("to_xarray and from_xtensor round-trip float32 on a 3-D shape", "[tensor][xtensor]") {
  check_round_trip<float>();
}
TEST_CASE("to_xarray and from_xtensor round-trip float64 on a 3-D shape", "[tensor][xtensor]") {
  check_round_trip<double>();
}
TEST_CASE("to_xarray and from_xtensor round-trip int32 on a 3-D shape", "[tensor][xtensor]") {
  check_round_trip<std::int32_t>();
}
TEST_CASE("to_xarray and from_xtensor round-trip int64 on a 3-D shape", "[tensor][xtensor]") {
  check_round_trip<std::int64_t>();
}
TEST_CASE("to_xarray and from_xtensor round-trip uint8 on a 3-D shape", "[tensor][xtensor]") {
  check_round_trip<std::uint8_t>();
}

TEST_CASE("to_xarray throws TypeError on a dtype mismatch", "[tensor][xtensor]") {
  Tensor f = Tensor::zeros({2, 2});  // float32
  CHECK_THROWS_AS(to_xarray<double>(f), TypeError);
  CHECK_THROWS_AS(to_xarray<std::int32_t>(f), TypeError);
  Tensor i = Tensor::zeros({2}, int64);
  CHECK_THROWS_AS(to_xarray<std::int32_t>(i), TypeError);
  CHECK_THROWS_AS(to_xarray<float>(static_cast<const Tensor&>(i)), TypeError);
  CHECK_THROWS_WITH(to_xarray<float>(i), Catch::Contains("dtype int64") && Catch::Contains("std::int64_t"));
  CHECK_NOTHROW(to_xarray<std::int64_t>(i));
}

TEST_CASE("to_xarray throws ValueError on an undefined tensor", "[tensor][xtensor]") {
  Tensor undefined;
  CHECK_THROWS_AS(to_xarray<float>(undefined), ValueError);
}

TEST_CASE("to_xarray adapts a reshaped view to the right elements", "[tensor][xtensor]") {
  Tensor t = iota_tensor<float>({2, 3, 4});
  Tensor r = t.reshape({6, 4});
  REQUIRE(r.shares_storage(t));
  auto a = to_xarray<float>(r);
  REQUIRE(a.dimension() == 2);
  CHECK(a.shape()[0] == 6);
  CHECK(a(5, 3) == 24.0f);
  CHECK(a(2, 1) == 10.0f);  // flat index 9
  a(2, 1) = 100.0f;
  CHECK(t.at(9) == 100.0);

  // A temporary view is writable and writes land in the original.
  to_xarray<float>(t.reshape({24}))(0) = -3.0f;
  CHECK(t.at(0) == -3.0);
}

TEST_CASE("to_xarray adapts leading-axis slices to the right elements", "[tensor][xtensor]") {
  Tensor t = iota_tensor<std::int64_t>({4, 2, 3});

  Tensor row = t[2];  // elements 12..17 (values 13..18), shape (2, 3)
  auto a = to_xarray<std::int64_t>(row);
  REQUIRE(a.dimension() == 2);
  CHECK(a.shape()[0] == 2);
  CHECK(a.shape()[1] == 3);
  CHECK(a(0, 0) == 13);
  CHECK(a(1, 2) == 18);
  a(0, 1) = -1;
  CHECK(t.at(13) == -1.0);

  auto s = to_xarray<std::int64_t>(t.slice(1, 3));  // rows 1 and 2: elements 6..17
  REQUIRE(s.dimension() == 3);
  CHECK(s.shape()[0] == 2);
  CHECK(s(0, 0, 0) == 7);
  CHECK(s(1, 1, 2) == 18);
  CHECK(s(1, 0, 1) == -1);
  s(0, 1, 2) = 500;
  CHECK(t.at(11) == 500.0);
}

TEST_CASE("from_xtensor copies expressions, views and fixed-rank tensors", "[tensor][xtensor]") {
  xt::xarray<double> x = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};

  Tensor t = from_xtensor(x * 2.0 + 1.0);  // lazy expression
  CHECK(t.dtype() == float64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.to_vector<double>() == std::vector<double>{3, 5, 7, 9, 11, 13});

  // A copy: changing the source afterwards leaves the tensor alone.
  Tensor c = from_xtensor(x);
  x(0, 0) = 99.0;
  CHECK(c.at(0) == 1.0);

  // A strided (non-contiguous) view is copied in row-major order.
  Tensor col = from_xtensor(xt::view(x, xt::all(), 1));
  CHECK(col.shape() == Shape{2});
  CHECK(col.to_vector<double>() == std::vector<double>{2, 5});

  // A transposed view: row-major order of the transposed shape.
  Tensor tr = from_xtensor(xt::transpose(x));
  CHECK(tr.shape() == Shape{3, 2});
  CHECK(tr.to_vector<double>() == std::vector<double>{99, 4, 2, 5, 3, 6});

  // Fixed-rank xtensor of int32, and a column-major xarray.
  xt::xtensor<std::int32_t, 3> i3 = xt::arange<std::int32_t>(24).reshape({2, 3, 4});
  Tensor ti = from_xtensor(i3);
  CHECK(ti.dtype() == int32);
  CHECK(ti.shape() == Shape{2, 3, 4});
  CHECK(ti.at(23) == 23.0);

  xt::xarray<float, xt::layout_type::column_major> cm = {{1.f, 2.f}, {3.f, 4.f}};
  Tensor tc = from_xtensor(cm);
  CHECK(tc.dtype() == float32);
  CHECK(tc.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("from_xtensor maps bool to uint8 and handles rank 0 and empty", "[tensor][xtensor]") {
  xt::xarray<float> f = {0.5f, -1.0f, 2.0f};
  Tensor mask = from_xtensor(f > 0.0f);
  CHECK(mask.dtype() == uint8);
  CHECK(mask.to_vector<std::uint8_t>() == std::vector<std::uint8_t>{1, 0, 1});

  xt::xarray<float> scalar = 4.5f;
  Tensor s = from_xtensor(scalar);
  CHECK(s.ndim() == 0);
  CHECK(s.item() == 4.5);
  auto sa = to_xarray<float>(s);
  CHECK(sa() == 4.5f);

  xt::xarray<std::uint8_t> empty = xt::zeros<std::uint8_t>({0, 3});
  Tensor e = from_xtensor(empty);
  CHECK(e.shape() == Shape{0, 3});
  CHECK(e.dtype() == uint8);
}

TEST_CASE("to_xarray then from_xtensor of an xtensor computation", "[tensor][xtensor]") {
  // A typical use: compute with xtensor on a tensor's data, hand the result back to lamina.
  Tensor t = iota_tensor<float>({2, 3});
  auto a = to_xarray<float>(t);
  Tensor rowsum = from_xtensor(xt::sum(a, {1}));
  CHECK(rowsum.shape() == Shape{2});
  CHECK(rowsum.to_vector<float>() == std::vector<float>{6, 15});
}
