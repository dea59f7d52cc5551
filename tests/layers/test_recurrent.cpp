// SPDX-License-Identifier: Apache-2.0
// SimpleRNN, LSTM, GRU: sequences, final states and gradients against PyTorch
// (tests/fixtures/recurrent.json, made by tests/fixtures/make_recurrent_fixtures.py), finite
// differences in float64, masking, go_backwards, stateful calls, configs and error messages.
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
Tensor leaf(const Shape& shape, const std::string& name) { return lamina::testing::recurrent_leaf(shape, name); }

layers::CellType type_of(const std::string& kind) {
  return kind == "lstm" ? layers::CellType::lstm
         : kind == "gru" ? layers::CellType::gru
                         : layers::CellType::simple_rnn;
}

// A built layer whose cell weights are the fixture's float64 leaves.
std::shared_ptr<layers::RecurrentLayer> fixture_layer(layers::CellType type, layers::RecurrentOptions o) {
  const std::int64_t T = fixture()["T"], F = fixture()["F"], U = fixture()["U"];
  auto layer = std::make_shared<layers::RecurrentLayer>(type, U, std::move(o));
  layer->build_for({-1, T, F});
  lamina::testing::set_fixture_weights(*layer->cell());
  return layer;
}

Tensor mask_of(const nlohmann::json& c) {
  if (c["mask"].is_null()) return Tensor();
  return Tensor::from_vector(doubles(c["mask"]), {fixture()["N"].get<std::int64_t>(), fixture()["T"].get<std::int64_t>()});
}

}  // namespace

TEST_CASE("LSTM, GRU and SimpleRNN match PyTorch: sequences, final states and every gradient",
          "[rnn]") {
  const std::int64_t N = fixture()["N"], T = fixture()["T"], F = fixture()["F"], U = fixture()["U"];
  for (const auto& [name, c] : fixture()["cases"].items()) {
    INFO("case " << name);
    const auto type = type_of(c["kind"]);
    auto layer = fixture_layer(type, {.return_sequences = true, .go_backwards = c["go_backwards"].get<bool>(),
                                      .reset_after = c["reset_after"].get<bool>()});
    REQUIRE(layer->cell()->bias.shape() == Shape(c["bias_shape"].get<std::vector<std::int64_t>>()));
    Tensor x = leaf({N, T, F}, "x");
    std::vector<Tensor> init{leaf({N, U}, "h0")};
    if (type == layers::CellType::lstm) init.push_back(leaf({N, U}, "c0"));
    auto r = layer->call_with_state(x, mask_of(c), init);
    REQUIRE(r.output.shape() == Shape{N, T, U});
    check_values(r.output, doubles(c["sequence"]), 1e-12);
    check_values(r.states[0], doubles(c["h"]), 1e-12);
    Tensor loss = sum(r.output * cos_probe(r.output.shape())) + sum(r.states[0] * cos_probe({N, U}));
    if (type == layers::CellType::lstm) {
      check_values(r.states[1], doubles(c["c"]), 1e-12);
      loss = loss + sum(r.states[1] * cos_probe({N, U}));
    }
    loss.backward();
    const auto& cell = *layer->cell();
    check_values(x.grad(), doubles(c["dx"]), 1e-10);
    check_values(cell.kernel.grad(), doubles(c["dkernel"]), 1e-10);
    check_values(cell.recurrent_kernel.grad(), doubles(c["drecurrent_kernel"]), 1e-10);
    check_values(cell.bias.grad(), doubles(c["dbias"]), 1e-10);
    check_values(init[0].grad(), doubles(c["dh0"]), 1e-10);
    if (type == layers::CellType::lstm) check_values(init[1].grad(), doubles(c["dc0"]), 1e-10);

    // float32 runs the same kernels at single precision.
    NoGradGuard no_grad;
    auto& cell32 = *layer->cell();
    cell32.kernel = cell32.kernel.astype(float32);
    cell32.recurrent_kernel = cell32.recurrent_kernel.astype(float32);
    cell32.bias = cell32.bias.astype(float32);
    std::vector<Tensor> init32;
    for (const Tensor& s : init) init32.push_back(s.astype(float32));
    auto r32 = layer->call_with_state(x.astype(float32), mask_of(c), init32);
    CHECK(r32.output.dtype() == float32);
    check_values(r32.output, doubles(c["sequence"]), 2e-6);
  }
}

TEST_CASE("Recurrent layers' gradients match finite differences with masks and both dropouts",
          "[rnn]") {
  const Tensor mask = Tensor::from_vector(std::vector<double>{1, 1, 0, 1, 0, 1, 1, 0}, {2, 4});
  for (auto type : {layers::CellType::lstm, layers::CellType::gru, layers::CellType::simple_rnn}) {
    for (bool reset_after : {true, false}) {
      if (type != layers::CellType::gru && !reset_after) continue;
      for (bool backwards : {false, true}) {
        INFO("type " << int(type) << " reset_after " << reset_after << " go_backwards " << backwards);
        auto layer = fixture_layer(type, {.dropout = 0.25, .recurrent_dropout = 0.3, .return_sequences = true,
                                          .go_backwards = backwards, .reset_after = reset_after});
        const auto& cell = *layer->cell();
        auto f = [&](const std::vector<Tensor>& in) {
          set_seed(11);  // the same dropout masks on every evaluation
          auto r = layer->call_with_state(in[0], mask, {}, /*training=*/true);
          return concatenate({r.output.reshape({2, -1}), r.states.back()}, 1);
        };
        auto res = testing::gradcheck(f, {seq({2, 4, 3}, 0.8)},
                                      {cell.kernel, cell.recurrent_kernel, cell.bias});
        INFO(res.report);
        CHECK(res.ok);
      }
    }
  }
}

TEST_CASE("A masked step keeps the state and the output, so trailing padding changes nothing",
          "[rnn][masking]") {
  set_seed(3);
  auto lstm = layers::LSTM(4);
  Tensor x = seq({2, 5, 3});
  Tensor mask = Tensor::from_vector(std::vector<float>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, {2, 5});
  NoGradGuard no_grad;
  Tensor masked = lstm->call_masked(x, mask, false);
  // Sample 0 with only its first three steps gives the same last output.
  Tensor short_x = x.astype(float32)[0].slice(0, 3).reshape({1, 3, 3});
  check_values(masked[0], values(lstm(short_x)[0]), 1e-6);
  check_values(masked[1], values(lstm(x.astype(float32))[1]), 1e-6);
  // In a returned sequence the masked steps repeat the last unmasked output.
  auto seqs = layers::LSTM(4, {.return_sequences = true});
  Tensor y = seqs->call_masked(x, mask, false);
  check_values(y[0][3], values(y[0][2]), 0);
  check_values(y[0][4], values(y[0][2]), 0);
  CHECK(seqs->compute_mask(x, mask).defined());
  CHECK_FALSE(lstm->compute_mask(x, mask).defined());
}

TEST_CASE("go_backwards reads the last step first and returns outputs in that order", "[rnn]") {
  set_seed(5);
  auto fwd = layers::GRU(3, {.return_sequences = true});
  auto bwd = layers::GRU(3, {.return_sequences = true, .go_backwards = true});
  Tensor x = seq({2, 4, 2}).astype(float32);
  fwd->build_for({-1, 4, 2});
  bwd->build_for({-1, 4, 2});
  bwd->set_weights(fwd->get_weights());
  // Reversing the input by hand gives the backward layer's outputs.
  Tensor reversed = Tensor::empty({2, 4, 2});
  for (int n = 0; n < 2; ++n)
    for (int t = 0; t < 4; ++t) reversed[n][t].assign(x[n][3 - t]);
  NoGradGuard no_grad;
  check_values(bwd(x), values(fwd(reversed)), 1e-6);
}

TEST_CASE("Stateful layers carry the final states into the next call until reset_states",
          "[rnn]") {
  set_seed(9);
  auto whole = layers::LSTM(3);
  auto parts = layers::LSTM(3, {.stateful = true});
  Tensor x = seq({2, 6, 2}).astype(float32);
  whole->build_for({-1, 6, 2});
  parts->build_for({-1, 3, 2});
  parts->set_weights(whole->get_weights());
  NoGradGuard no_grad;
  Tensor full = whole(x);
  Tensor a = Tensor::empty({2, 3, 2}), b = Tensor::empty({2, 3, 2});
  for (int n = 0; n < 2; ++n) {
    a[n].assign(x[n].slice(0, 3));
    b[n].assign(x[n].slice(3, 6));
  }
  parts(a);
  check_values(parts(b), values(full), 1e-6);
  REQUIRE(parts->states().size() == 2);
  parts->reset_states();
  CHECK(parts->states().empty());
  check_values(parts(a), values(whole(a)), 1e-6);
  CHECK_THROWS_WITH(parts(Tensor::zeros({3, 3, 2})), Contains("stateful") && Contains("batches of 2"));
}

TEST_CASE("Recurrent weights use Keras's shapes, unit_forget_bias and the GRU bias layouts", "[rnn]") {
  auto lstm = layers::LSTM(8);
  lstm->build_for({-1, 10, 3});
  auto w = lstm->weights();
  REQUIRE(w.size() == 3);
  CHECK(w[0].shape() == Shape{3, 32});
  CHECK(w[1].shape() == Shape{8, 32});
  CHECK(w[2].shape() == Shape{32});
  std::vector<float> bias = w[2].to_vector<float>();
  for (int j = 0; j < 32; ++j) CHECK(bias[j] == (j >= 8 && j < 16 ? 1.0f : 0.0f));
  // Orthogonal recurrent kernel: each (units x units) gate block has orthonormal columns, and the
  // whole (8, 32) matrix R satisfies R·Rᵀ = I.
  Tensor rrt = matmul(w[1], w[1], false, true);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) CHECK(rrt.at(i * 8 + j) == Approx(i == j ? 1.0 : 0.0).margin(1e-4));
  // KERAS_REFERENCE: a GRU(5) on 4 features has 165 parameters with reset_after, 150 without.
  auto gru = layers::GRU(5);
  gru->build_for({-1, 7, 4});
  CHECK(gru->count_params() == 165);
  CHECK(gru->cell()->bias.shape() == Shape{2, 15});
  auto gru_old = layers::GRU(5, {.reset_after = false});
  gru_old->build_for({-1, 7, 4});
  CHECK(gru_old->count_params() == 150);
  auto rnn = layers::SimpleRNN(4, {.use_bias = false});
  rnn->build_for({-1, 7, 4});
  CHECK(rnn->count_params() == 32);
  CHECK(lstm->cell()->name() == "lstm_cell");
}

TEST_CASE("Keras 2's hard_sigmoid is clip(0.2x + 0.5) inside the LSTM, Keras 3's clip(x/6 + 0.5)",
          "[rnn]") {
  // One step, one unit, zero state: i = f = o = hs(z), c = i·tanh(z), h = o·tanh(c) with
  // z = x·k for kernel all ones and x = 2: hs2(2) = 0.9, hs3(2) = 5/6.
  for (auto [name, gate] : {std::pair<const char*, double>{"hard_sigmoid_keras2", 0.9},
                            std::pair<const char*, double>{"hard_sigmoid", 5.0 / 6.0}}) {
    auto lstm = layers::LSTM(1, {.recurrent_activation = name, .kernel_initializer = "ones",
                                 .unit_forget_bias = false});
    lstm->build_for({-1, 1, 1});
    NoGradGuard no_grad;
    Tensor h = lstm(Tensor::full({1, 1, 1}, 2.0));
    const double c = gate * std::tanh(2.0);
    CHECK(h.item() == Approx(gate * std::tanh(c)).epsilon(1e-6));
  }
}

TEST_CASE("Recurrent configs use Keras 3's keys and round-trip through from_config", "[rnn]") {
  std::vector<std::shared_ptr<Layer>> made{
      layers::LSTM(6, {.recurrent_activation = "hard_sigmoid", .dropout = 0.1, .return_sequences = true,
                       .go_backwards = true, .name = "enc"}),
      layers::GRU(4, {.return_state = true, .reset_after = false}),
      layers::SimpleRNN(3, {.activation = "relu", .use_bias = false, .stateful = true}),
      layers::RNN(layers::GRUCell(5), {.return_sequences = true}),
      layers::LSTMCell(2)};
  for (const auto& layer : made) {
    nlohmann::json c = layer->get_config();
    INFO(c.dump());
    auto again = layer_from_config(layer->class_name(), c);
    CHECK(again->class_name() == layer->class_name());
    CHECK(again->get_config() == c);
  }
  nlohmann::json c = made[0]->get_config();
  CHECK(c["units"] == 6);
  CHECK(c["recurrent_activation"] == "hard_sigmoid");
  CHECK(c["unit_forget_bias"] == true);
  CHECK(c["go_backwards"] == true);
  CHECK(c["recurrent_initializer"]["class_name"] == "Orthogonal");
  CHECK(c.contains("zero_output_for_mask"));
  CHECK_FALSE(c.contains("reset_after"));
  CHECK(made[1]->get_config()["reset_after"] == false);
  CHECK(made[3]->get_config()["cell"]["class_name"] == "GRUCell");
}

TEST_CASE("Recurrent layers reject wrong inputs and arguments with messages naming the layer",
          "[rnn]") {
  auto lstm = layers::LSTM(4, {.name = "enc"});
  CHECK_THROWS_WITH(lstm->build_for({-1, 5}),
                    Contains("LSTM 'enc'") && Contains("3-D (batch, steps, features)") && Contains("(None, 5)"));
  lstm->build_for({-1, 7, 3});
  CHECK_THROWS_WITH(lstm->compute_output_shape({-1, 7, 5}),
                    Contains("LSTM 'enc'") && Contains("expected 3 features") && Contains("(None, 7, 5)"));
  CHECK_THROWS_AS(layers::GRU(0), ValueError);
  CHECK_THROWS_WITH(layers::LSTM(3, {.dropout = 1.5}), Contains("dropout") && Contains("[0, 1)"));
  CHECK_THROWS_WITH(layers::SimpleRNN(3, {.activation = "softmax"}),
                    Contains("SimpleRNNCell") && Contains("softmax"));
  CHECK_THROWS_WITH(lstm->call_with_state(Tensor::zeros({2, 7, 3}), Tensor(), {Tensor::zeros({2, 4})}),
                    Contains("expected 2 initial states"));
  CHECK_THROWS_WITH(lstm->call_with_state(Tensor::zeros({2, 7, 3}), Tensor(),
                                          {Tensor::zeros({2, 5}), Tensor::zeros({2, 4})}),
                    Contains("(2, 4)") && Contains("(2, 5)"));
}

TEST_CASE("Cells step once from given states, and RNN(cell) equals the matching layer", "[rnn]") {
  set_seed(2);
  auto layer = layers::LSTM(3, {.return_sequences = true});
  auto generic = layers::RNN(layers::LSTMCell(3), {.return_sequences = true});
  layer->build_for({-1, 4, 2});
  generic->build_for({-1, 4, 2});
  generic->set_weights(layer->get_weights());
  Tensor x = seq({2, 4, 2}).astype(float32);
  NoGradGuard no_grad;
  Tensor y = layer(x);
  check_values(generic(x), values(y), 1e-6);
  // Two steps of the cell by hand reproduce the first two outputs.
  auto& cell = *generic->cell();
  Tensor x0 = Tensor::empty({2, 2}), x1 = Tensor::empty({2, 2});
  for (int n = 0; n < 2; ++n) {
    x0[n].assign(x[n][0]);
    x1[n].assign(x[n][1]);
  }
  auto s1 = cell.step(x0, {}, false);
  REQUIRE(s1.size() == 3);
  auto s2 = cell.step(x1, {s1[1], s1[2]}, false);
  for (int n = 0; n < 2; ++n) check_values(s2[0][n], values(y[n][1]), 1e-6);
}

TEST_CASE("An LSTM classifier learns through fit", "[rnn]") {
  // Label: is the first feature's sum over the sequence positive? Needs the whole sequence.
  set_seed(21);
  const std::int64_t n = 256, steps = 8;
  Tensor x = random_normal({n, steps, 2});
  Tensor y = (sum(x, {1}).slice(0, n).reshape({n, 2}) > 0.0);
  Tensor labels = Tensor::empty({n}, int64);
  for (std::int64_t i = 0; i < n; ++i) labels.data<std::int64_t>()[i] = y.at(i * 2) != 0;
  Sequential model({layers::Input({steps, 2}), layers::LSTM(8), layers::Dense(2, {.activation = "softmax"})});
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.02}),
                 .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  model.fit(x, labels, {.batch_size = 32, .epochs = 15, .verbose = 0});
  auto scores = model.evaluate(x, labels, {.verbose = 0});
  CHECK(scores.at("accuracy") > 0.9);
}
