// SPDX-License-Identifier: Apache-2.0
// Tensor::str() and operator<<: a NumPy-like rendering with shape and dtype, eliding long axes.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

using namespace lamina;
using Catch::Contains;

TEST_CASE("str() shows the shape, the dtype and the values", "[tensor]") {
  Tensor t = Tensor::from_vector<float>({1.5f, -2.f, 0.25f, 3.f, 4.f, 5.f}, {2, 3});
  std::string s = t.str();
  CHECK_THAT(s, Contains("(2, 3)") && Contains("float32"));
  CHECK_THAT(s, Contains("1.5000") && Contains("-2.0000") && Contains("0.2500"));
  CHECK_THAT(s, Contains("[[") && Contains("]]"));
  CHECK_THAT(s, !Contains("..."));

  std::string i = Tensor::from_vector<std::int32_t>({7, -8, 9}, {3}).str();
  CHECK_THAT(i, Contains("int32") && Contains("(3,)") && Contains("[7, -8, 9]"));

  std::string u = Tensor::from_vector<std::uint8_t>({255}, {1}).str();
  CHECK_THAT(u, Contains("uint8") && Contains("[255]"));

  CHECK_THAT(Tensor::scalar(2.0, float64).str(), Contains("()") && Contains("float64") &&
                                                     Contains("2.0000"));
  CHECK_THAT(Tensor::zeros({0, 3}).str(), Contains("(0, 3)") && Contains("[]"));
}

TEST_CASE("str() elides the middle of long axes with ...", "[tensor]") {
  std::string s = Tensor::arange(100).str();
  CHECK_THAT(s, Contains("[0, 1, 2, ..., 97, 98, 99]"));
  CHECK_THAT(s, !Contains("50"));

  // A long leading axis of a matrix elides rows as well as columns.
  std::string m = Tensor::arange(400).reshape({20, 20}).str();
  CHECK_THAT(m, Contains("..."));
  CHECK_THAT(m, Contains("[0, 1, 2, ..., 17, 18, 19]"));
  CHECK_THAT(m, Contains("[380, 381, 382, ..., 397, 398, 399]"));
  CHECK_THAT(m, !Contains("[200, "));  // row 10 is elided
}

TEST_CASE("operator<< prints what str() returns", "[tensor]") {
  Tensor t = Tensor::from_vector<double>({1e-7, 1e7, 0.5}, {3});
  std::ostringstream os;
  os << t;
  CHECK(os.str() == t.str());
  CHECK_THAT(os.str(), Contains("e-07") && Contains("e+07") && Contains("0.5000"));
}
