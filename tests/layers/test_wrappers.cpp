// SPDX-License-Identifier: Apache-2.0
// Bidirectional and TimeDistributed: PyTorch's bidirectional LSTM (tests/fixtures/recurrent.json),
// merge modes, masks, finite differences, configs.
#include <catch2/catch.hpp>

#include <lamina/lamina.hpp>

#include "support/conv_fixture.hpp"
#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"
#include "support/recurrent_fixture.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_values;
using lamina::testing::cos_probe;
using lamina::testing::doubles;
using lamina::testing::seq;
using lamina::testing::values;

namespace {
const nlohmann::json& fixture() { return lamina::testing::recurrent_fixture(); }
void set_cell(layers::RecurrentCellLayer& cell, double factor) { lamina::testing::set_fixture_weights(cell, factor); }
}  // namespace

TEST_CASE("Bidirectional LSTM with concat matches PyTorch's bidirectional LSTM and its gradients",
          "[rnn]") {
  const std::int64_t N = fixture()["N"], T = fixture()["T"], F = fixture()["F"], U = fixture()["U"];
  const auto& c = fixture()["bidirectional"];
  auto bi = layers::Bidirectional(layers::LSTM(U, {.return_sequences = true}));
  bi->build_for({-1, T, F});
  CHECK(bi->forward_layer()->name().rfind("forward_lstm", 0) == 0);
  CHECK(bi->backward_layer()->name().rfind("backward_lstm", 0) == 0);
  set_cell(*bi->forward_layer()->cell(), 1.0);
  set_cell(*bi->backward_layer()->cell(), 0.8);
  const auto s = fixture()["scales"]["x"];
  Tensor x = seq({N, T, F}, s[0].get<double>(), float64, s[1].get<double>()).set_requires_grad(true);
  Tensor y = bi(x);
  REQUIRE(y.shape() == Shape{N, T, 2 * U});
  check_values(y, doubles(c["y"]), 1e-12);
  sum(y * cos_probe(y.shape())).backward();
  check_values(x.grad(), doubles(c["dx"]), 1e-10);
  for (auto [layer, tag] : {std::pair{bi->forward_layer(), "forward"}, std::pair{bi->backward_layer(), "backward"}}) {
    INFO(tag);
    const auto& cell = *layer->cell();
    check_values(cell.kernel.grad(), doubles(c[tag]["dkernel"]), 1e-10);
    check_values(cell.recurrent_kernel.grad(), doubles(c[tag]["drecurrent_kernel"]), 1e-10);
    check_values(cell.bias.grad(), doubles(c[tag]["dbias"]), 1e-10);
  }
}

TEST_CASE("Bidirectional merge modes combine the two directions as Keras does", "[rnn]") {
  set_seed(8);
  auto bi = layers::Bidirectional(layers::GRU(3, {.return_sequences = true}), {.merge_mode = "none"});
  Tensor x = seq({2, 5, 4}).astype(float32);
  NoGradGuard no_grad;
  auto both = bi->call_both(x);
  CHECK_THROWS_WITH(bi(x), Contains("merge_mode \"none\""));
  for (const char* mode : {"concat", "sum", "mul", "ave"}) {
    INFO(mode);
    auto merged = layers::Bidirectional(layers::GRU(3, {.return_sequences = true}), {.merge_mode = mode});
    merged->build_for({-1, 5, 4});
    merged->set_weights(bi->get_weights());
    Tensor y = merged(x);
    Tensor want = std::string(mode) == "concat" ? concatenate({both.forward, both.backward}, -1)
                  : std::string(mode) == "sum"  ? both.forward + both.backward
                  : std::string(mode) == "mul"  ? both.forward * both.backward
                                                : (both.forward + both.backward) * 0.5;
    check_values(y, values(want), 1e-6);
    CHECK(merged->compute_output_shape({-1, 5, 4}) == Shape{-1, 5, std::string(mode) == "concat" ? 6 : 3});
  }
  CHECK(bi->weights().size() == 6);
  CHECK_THROWS_AS(layers::Bidirectional(layers::LSTM(2), {.merge_mode = "max"}), ValueError);
}

TEST_CASE("Bidirectional with a mask zeroes masked outputs and matches the unpadded sequence",
          "[rnn][masking]") {
  set_seed(10);
  auto bi = layers::Bidirectional(layers::LSTM(3, {.return_sequences = true}));
  Tensor x = seq({1, 5, 2}).astype(float32);
  Tensor mask = Tensor::from_vector(std::vector<float>{1, 1, 1, 0, 0}, {1, 5});
  Tensor short_x = x[0].slice(0, 3).reshape({1, 3, 2});
  NoGradGuard no_grad;
  Tensor y = bi->call_masked(x, mask, false);
  Tensor want = bi(short_x);
  for (int t = 0; t < 3; ++t) check_values(y[0][t], values(want[0][t]), 1e-6);
  check_values(y[0][3], std::vector<double>(6, 0.0), 0);
  CHECK(bi->compute_mask(x, mask).defined());
}

TEST_CASE("Bidirectional and TimeDistributed gradients match finite differences", "[rnn]") {
  set_seed(12);
  auto bi = layers::Bidirectional(layers::SimpleRNN(2), {.merge_mode = "ave"});
  bi->build_for({-1, 3, 2});
  set_cell(*bi->forward_layer()->cell(), 1.0);
  set_cell(*bi->backward_layer()->cell(), 0.7);
  const auto& f = *bi->forward_layer()->cell();
  const auto& b = *bi->backward_layer()->cell();
  auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return bi(in[0]); }, {seq({2, 3, 2})},
                              {f.kernel, f.recurrent_kernel, f.bias, b.kernel, b.recurrent_kernel, b.bias});
  INFO(r.report);
  CHECK(r.ok);

  auto td = layers::TimeDistributed(layers::Dense(3, {.activation = "tanh"}));
  td->build_for({-1, 4, 2});
  auto dense = std::dynamic_pointer_cast<layers::DenseLayer>(td->layer());
  dense->kernel = seq({2, 3}, 0.6, float64, 0.1);
  dense->bias = seq({3}, 0.2);
  auto r2 = testing::gradcheck([&](const std::vector<Tensor>& in) { return td(in[0]); }, {seq({2, 4, 2})},
                               {dense->kernel, dense->bias});
  INFO(r2.report);
  CHECK(r2.ok);
}

TEST_CASE("TimeDistributed applies the layer to every step", "[rnn]") {
  set_seed(13);
  auto dense = layers::Dense(4);
  auto td = layers::TimeDistributed(dense);
  CHECK(td->compute_output_shape({-1, 6, 3}) == Shape{-1, 6, 4});
  Tensor x = seq({2, 6, 3}).astype(float32);
  NoGradGuard no_grad;
  Tensor y = td(x);
  REQUIRE(y.shape() == Shape{2, 6, 4});
  for (int n = 0; n < 2; ++n)
    for (int t = 0; t < 6; ++t) check_values(y[n][t], values(dense(x[n][t].reshape({1, 3}))[0]), 1e-6);
  CHECK(td->count_params() == 16);
  CHECK_THROWS_WITH(td->compute_output_shape({-1, 3}), Contains("TimeDistributed") && Contains("(None, 3)"));
  Tensor mask = Tensor::ones({2, 6});
  CHECK(td->compute_mask(x, mask).defined());
}

TEST_CASE("Wrapper configs use Keras 3's keys and round-trip", "[rnn]") {
  auto bi = layers::Bidirectional(layers::LSTM(4, {.return_sequences = true}), {.merge_mode = "sum"});
  nlohmann::json c = bi->get_config();
  CHECK(c["merge_mode"] == "sum");
  CHECK(c["layer"]["class_name"] == "LSTM");
  CHECK(c["backward_layer"]["config"]["go_backwards"] == true);
  auto again = layer_from_config("Bidirectional", c);
  CHECK(again->get_config() == c);
  auto td = layers::TimeDistributed(layers::Dense(3));
  nlohmann::json t = td->get_config();
  CHECK(t["layer"]["class_name"] == "Dense");
  CHECK(layer_from_config("TimeDistributed", t)->get_config() == t);
}
