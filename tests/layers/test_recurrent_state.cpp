// SPDX-License-Identifier: Apache-2.0
// return_state and initial states of SimpleRNN, LSTM, GRU and Bidirectional in the Functional API:
// an encoder-decoder against PyTorch (tests/fixtures/recurrent_state.json, made by
// tests/fixtures/make_recurrent_state_fixtures.py), finite differences through the states,
// training, Keras 3 and Keras 2 configs, and the errors.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include <lamina/lamina.hpp>

#include "support/conv_fixture.hpp"
#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"
#include "support/recurrent_fixture.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_same;
using lamina::testing::check_values;
using lamina::testing::cos_probe;
using lamina::testing::doubles;
using lamina::testing::gradcheck;
using lamina::testing::seq;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/recurrent_state.json");
    if (!in.good()) throw std::runtime_error("missing tests/fixtures/recurrent_state.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

// The encoder-decoder of the fixture in float64: the encoder returns its states, the decoder
// starts from them. Outputs: decoder sequence, encoder h, encoder output (and c for LSTM).
struct EncoderDecoder {
  std::shared_ptr<layers::RecurrentLayer> encoder, decoder;
  Model model;
};

EncoderDecoder encoder_decoder(layers::CellType type) {
  const std::int64_t TE = fixture()["TE"], TD = fixture()["TD"], F = fixture()["F"], U = fixture()["U"];
  const bool lstm = type == layers::CellType::lstm;
  auto xe = layers::Input({TE, F}, {.name = "encoder_in", .dtype = float64});
  auto xd = layers::Input({TD, F}, {.name = "decoder_in", .dtype = float64});
  auto encoder = LayerHandle<layers::RecurrentLayer>(
      std::make_shared<layers::RecurrentLayer>(type, U, layers::RecurrentOptions{.return_state = true}));
  auto decoder = LayerHandle<layers::RecurrentLayer>(
      std::make_shared<layers::RecurrentLayer>(type, U, layers::RecurrentOptions{.return_sequences = true}));
  std::vector<KerasTensor> enc = encoder.outputs_of(xe);
  REQUIRE(enc.size() == (lstm ? 3u : 2u));
  std::vector<KerasTensor> dec_in{xd};
  dec_in.insert(dec_in.end(), enc.begin() + 1, enc.end());
  auto dec = decoder(dec_in);
  std::vector<KerasTensor> outs{dec, enc[1], enc[0]};
  if (lstm) outs.push_back(enc[2]);
  Model model({xe, xd}, outs);
  lamina::testing::set_fixture_weights(*encoder->cell());
  lamina::testing::set_fixture_weights(*decoder->cell(), fixture()["decoder"].get<double>());
  return {encoder.ptr(), decoder.ptr(), model};
}

std::vector<Tensor> fixture_inputs() {
  const std::int64_t N = fixture()["N"], TE = fixture()["TE"], TD = fixture()["TD"], F = fixture()["F"];
  return {lamina::testing::recurrent_leaf({N, TE, F}, "x"),
          lamina::testing::recurrent_leaf({N, TD, F}, "x", fixture()["decoder_x"].get<double>())};
}

void check_cell_grads(const layers::RecurrentCellLayer& cell, const nlohmann::json& want) {
  check_values(cell.kernel.grad(), doubles(want["dkernel"]), 1e-9);
  check_values(cell.recurrent_kernel.grad(), doubles(want["drecurrent_kernel"]), 1e-9);
  check_values(cell.bias.grad(), doubles(want["dbias"]), 1e-9);
}

}  // namespace

TEST_CASE("An encoder-decoder through return_state and initial states matches PyTorch, gradients included",
          "[graph]") {
  for (const auto& [kind, type] : {std::pair{"lstm", layers::CellType::lstm}, std::pair{"gru", layers::CellType::gru}}) {
    INFO(kind);
    const nlohmann::json& want = fixture()["cases"][kind];
    EncoderDecoder ed = encoder_decoder(type);
    std::vector<Tensor> xs = fixture_inputs();
    std::vector<Tensor> outs = ed.model(xs, false);
    check_values(outs[0], doubles(want["decoder_sequence"]), 1e-9);
    check_values(outs[1], doubles(want["h"]), 1e-9);
    check_values(outs[2], doubles(want["encoder_output"]), 1e-9);
    if (type == layers::CellType::lstm) check_values(outs[3], doubles(want["c"]), 1e-9);
    Tensor loss = sum(outs[0] * cos_probe(outs[0].shape())) + sum(outs[1] * cos_probe(outs[1].shape()));
    loss.backward();
    check_values(xs[0].grad(), doubles(want["dx_encoder"]), 1e-9);
    check_values(xs[1].grad(), doubles(want["dx_decoder"]), 1e-9);
    check_cell_grads(*ed.encoder->cell(), want["encoder"]);
    check_cell_grads(*ed.decoder->cell(), want["decoder"]);
  }
}

TEST_CASE("Gradients through the states match finite differences", "[graph]") {
  for (auto type : {layers::CellType::lstm, layers::CellType::gru}) {
    EncoderDecoder ed = encoder_decoder(type);
    const auto& e = *ed.encoder->cell();
    const auto& d = *ed.decoder->cell();
    auto r = gradcheck([&](const std::vector<Tensor>& in) { return ed.model(in, false)[0]; }, fixture_inputs(),
                       {e.kernel, e.recurrent_kernel, e.bias, d.recurrent_kernel});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("A SimpleRNN decoder starts from a state given as an Input and training lowers the loss", "[graph]") {
  reset_layer_names();
  set_seed(31);
  auto x = layers::Input({6, 2});
  auto h0 = layers::Input({4});
  auto rnn = layers::SimpleRNN(4, {.return_sequences = true});
  auto y = layers::TimeDistributed(layers::Dense(1))(rnn({x, h0}));
  Model model({x, h0}, y);
  Tensor xv = random_normal({16, 6, 2}), hv = random_normal({16, 4});
  Tensor target;
  {
    NoGradGuard no_grad;
    // The given state is where the recurrence starts: the eager call with it agrees.
    Tensor eager = rnn->call_with_state(xv, Tensor(), {hv}).output;
    Tensor want = model.get_layer("time_distributed")->operator()(eager);
    check_same(model({xv, hv})[0], want, 1e-6);
    CHECK_FALSE(allclose(model({xv, Tensor::zeros({16, 4})})[0], want, 1e-4, 1e-6));
    // A target that only the initial state decides: 0.5·sum(h0) at every step.
    target = broadcast_to(sum(hv, {1}, true).reshape({16, 1, 1}) * 0.5, {16, 6, 1});
  }
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.02}), .loss = "mse"});
  const double first = model.evaluate({xv, hv}, target, {.verbose = 0})["loss"];
  for (int i = 0; i < 40; ++i) model.train_on_batch({xv, hv}, target);
  const double last = model.evaluate({xv, hv}, target, {.verbose = 0})["loss"];
  CHECK(last < 0.5 * first);
}

TEST_CASE("Initial states are written as Keras 3's initial_state keyword and read back, also from Keras 2",
          "[graph]") {
  reset_layer_names();
  set_seed(32);
  auto xe = layers::Input({4, 3}), xd = layers::Input({2, 3});
  auto [out, h, c] = layers::LSTM(5, {.return_state = true}).outputs_of<3>(xe);
  auto dec = layers::LSTM(5, {.return_sequences = true})({xd, h, c});
  Model model({xe, xd}, dec);
  const nlohmann::json config = model.get_config();
  const nlohmann::json& node = config["layers"][3]["inbound_nodes"][0];
  REQUIRE(config["layers"][3]["name"] == "lstm_1");
  CHECK(node["args"].size() == 1);
  CHECK(node["kwargs"]["initial_state"][0]["config"]["keras_history"] == nlohmann::json({"lstm", 0, 1}));
  CHECK(node["kwargs"]["initial_state"][1]["config"]["keras_history"] == nlohmann::json({"lstm", 0, 2}));
  Tensor a = seq({2, 4, 3}, 1.0, float32), b = seq({2, 2, 3}, 0.6, float32);
  NoGradGuard no_grad;
  Tensor want = model({a, b})[0];

  Model again = Model::from_config(config);
  again.set_weights(model.get_weights());
  check_same(again({a, b})[0], want, 1e-6);

  // Keras 2 lists the initial states after the sequence in the node.
  const nlohmann::json keras2 = nlohmann::json::parse(R"({"class_name": "Model", "config": {"name": "m",
    "layers": [
      {"name": "a", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 3], "name": "a"}, "inbound_nodes": []},
      {"name": "b", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 2, 3], "name": "b"}, "inbound_nodes": []},
      {"name": "enc", "class_name": "LSTM", "config": {"name": "enc", "units": 5, "return_state": true},
       "inbound_nodes": [[["a", 0, 0, {}]]]},
      {"name": "dec", "class_name": "LSTM", "config": {"name": "dec", "units": 5, "return_sequences": true},
       "inbound_nodes": [[["b", 0, 0, {}], ["enc", 0, 1, {}], ["enc", 0, 2, {}]]]}],
    "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["dec", 0, 0]]}})");
  Model k2 = Model::from_config(keras2);
  k2.set_weights(model.get_weights());
  check_same(k2({a, b})[0], want, 1e-6);
}

TEST_CASE("Bidirectional with return_state returns the merged output then forward and backward states",
          "[graph]") {
  reset_layer_names();
  set_seed(33);
  auto x = layers::Input({5, 3});
  auto bi = layers::Bidirectional(layers::LSTM(4, {.return_state = true}));
  auto outs = bi.outputs_of(x);
  REQUIRE(outs.size() == 5);
  CHECK(outs[0].shape == Shape{-1, 8});
  CHECK(outs[4].shape == Shape{-1, 4});
  Model model(x, outs);
  Tensor xv = seq({2, 5, 3}, 0.8, float32);
  NoGradGuard no_grad;
  auto both = bi->call_both(xv);
  std::vector<Tensor> got = model.predict_outputs(xv);
  check_same(got[0], concatenate({both.forward, both.backward}, -1), 1e-6);
  for (std::size_t i = 0; i < 4; ++i) check_same(got[1 + i], both.states[i], 1e-6);

  // Initial states: forward's then backward's, as Keras splits initial_state.
  auto s = layers::Input({4});
  auto none = layers::Bidirectional(layers::GRU(4), {.merge_mode = "none"});
  auto pair = none.outputs_of({x, s, s});
  REQUIRE(pair.size() == 2);
  Model with_states({x, s}, pair);
  Tensor sv = seq({2, 4}, 0.3, float32);
  auto ref = none->call_both(xv, Tensor(), false, {sv, sv});
  std::vector<Tensor> got2 = with_states.predict_outputs({xv, sv});
  check_same(got2[0], ref.forward, 1e-6);
  check_same(got2[1], ref.backward, 1e-6);
  CHECK_FALSE(allclose(got2[0], none->call_both(xv).forward, 1e-4, 1e-6));
}

TEST_CASE("Wrong initial states and multi-output layers in a Sequential fail naming the layer", "[graph]") {
  reset_layer_names();
  auto x = layers::Input({4, 3});
  auto h = layers::Input({5}), bad = layers::Input({7});
  auto lstm = layers::LSTM(5);
  CHECK_THROWS_WITH(lstm({x, h}), Contains("LSTM 'lstm'") && Contains("optionally 2 initial states"));
  CHECK_THROWS_WITH(lstm({x, h, bad}), Contains("initial state 1 must have shape (None, 5), got (None, 7)"));
  auto gru = layers::GRU(5, {.return_state = true});
  CHECK_THROWS_WITH(gru(x), Contains("returns 2 tensors") && Contains("outputs_of"));
  CHECK_THROWS_WITH(Sequential({layers::Input({4, 3}), layers::GRU(5, {.return_state = true})}),
                    Contains("single output tensor") && Contains("GRU 'gru_1' returns 2"));
}
