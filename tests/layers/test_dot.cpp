// SPDX-License-Identifier: Apache-2.0
// Dot on inputs of any rank >= 2 (Keras's batch_dot): values against numpy's einsum
// (tests/fixtures/dot.json, made by tests/fixtures/make_dot_fixtures.py), symbolic shapes and
// finite-difference gradients.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include <lamina/lamina.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_values;
using lamina::testing::gradcheck;

namespace {

Tensor filled(const Shape& shape, double (*f)(double)) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = f(static_cast<double>(i));
  return Tensor::from_vector(v, shape);
}

}  // namespace

TEST_CASE("Dot contracts any axes of inputs of rank 2 to 4 as Keras's batch_dot and numpy agree", "[graph]") {
  std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/dot.json");
  REQUIRE(in.good());
  const nlohmann::json fixture = nlohmann::json::parse(in);
  for (const auto& c : fixture["cases"]) {
    INFO(c["x_shape"].dump() << " . " << c["y_shape"].dump() << " axes " << c["axes"].dump());
    const Shape xs(c["x_shape"].get<std::vector<std::int64_t>>()), ys(c["y_shape"].get<std::vector<std::int64_t>>());
    const Shape want(c["out_shape"].get<std::vector<std::int64_t>>());
    auto dot = layers::Dot(std::pair{c["axes"][0].get<int>(), c["axes"][1].get<int>()},
                           {.normalize = c["normalize"].get<bool>()});
    Shape xsym = xs, ysym = ys, wsym = want;
    xsym.erase(xsym.begin());
    ysym.erase(ysym.begin());
    wsym[0] = -1;
    CHECK(dot({layers::Input(xsym), layers::Input(ysym)}).shape == wsym);
    Tensor x = filled(xs, [](double i) { return std::sin(1.7 * i + 0.3); });
    Tensor y = filled(ys, [](double i) { return std::cos(0.37 * i + 0.1); });
    Tensor out = dot(std::vector<Tensor>{x, y});
    CHECK(out.shape() == want);
    check_values(out, c["out"].get<std::vector<double>>(), 1e-9);
    auto r = gradcheck([&](const std::vector<Tensor>& v) { return dot(v); }, {x, y});
    INFO(r.report);
    CHECK(r.ok);
  }
}
