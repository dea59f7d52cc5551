// SPDX-License-Identifier: Apache-2.0
// Layer calls with several outputs (Keras's Node with several output tensors): outputs_of, the
// tensor index through Functional execution, summary, plot_model, get_config and from_config (Keras
// 3 keras_history and Keras 2 inbound_nodes), and multi-output models used as layers.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <lamina/lamina.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_same;
using lamina::testing::gradcheck;
using lamina::testing::seq;

namespace {

// Two outputs from one call: (2·x, x + 1).
class TwinLayer : public Layer {
 public:
  std::string class_name() const override { return "Twin"; }
  Tensor call(const Tensor& x, bool) override { return x * 2.0; }
  std::size_t num_outputs() const override { return 2; }
  std::vector<Shape> compute_output_shapes(const std::vector<Shape>& shapes) override {
    return {shapes.at(0), shapes.at(0)};
  }
  std::vector<Tensor> call_outputs(const std::vector<Tensor>& inputs, const std::vector<Tensor>&, bool,
                                   std::vector<Tensor>& output_masks) override {
    output_masks.assign(2, Tensor());
    return {inputs.at(0) * 2.0, inputs.at(0) + 1.0};
  }
};

LayerHandle<TwinLayer> Twin() { return LayerHandle<TwinLayer>(std::make_shared<TwinLayer>()); }

}  // namespace

TEST_CASE("A layer with several outputs gives each tensor of one call its index", "[graph]") {
  reset_layer_names();
  auto x = layers::Input({4}, {.dtype = float64});
  auto twin = Twin();
  auto [doubled, shifted] = twin.outputs_of<2>(x);
  CHECK(doubled.node == shifted.node);
  CHECK(doubled.tensor_index == 0);
  CHECK(shifted.tensor_index == 1);
  CHECK(shifted.shape == Shape{-1, 4});
  CHECK_THROWS_WITH(twin(x), Contains("Twin 'twin' returns 2 tensors") && Contains("outputs_of"));
  CHECK_THROWS_WITH(twin.outputs_of<3>(x), Contains("returns 2 tensors, not 3"));

  // The second output feeds a layer; both reach the model's outputs, in order.
  auto sub = layers::Subtract()({shifted, doubled});
  Model model(x, {sub, shifted, doubled});
  CHECK(model.output_names() == std::vector<std::string>{"subtract", "twin", "twin_1"});
  Tensor xv = seq({3, 4});
  std::vector<Tensor> outs = model.predict_outputs(xv);
  REQUIRE(outs.size() == 3);
  check_same(outs[0], (xv + 1.0) - xv * 2.0, 1e-6);
  check_same(outs[1], xv + 1.0, 1e-6);
  check_same(outs[2], xv * 2.0, 1e-6);
  // One call of the layer serves both of its outputs.
  CHECK(model.layers().size() == 3);

  auto r = gradcheck([&](const std::vector<Tensor>& in) { return concatenate(model(in, false), -1); },
                     {seq({2, 4})});
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("Summary, plot_model and get_config name the tensor each connection reads", "[graph]") {
  reset_layer_names();
  auto x = layers::Input({4});
  auto [a, b] = Twin().outputs_of<2>(x);
  Model model(x, layers::Dense(2)(b));
  const std::string table = model.summary_string();
  CHECK_THAT(table, Contains("twin[0][1]"));
  CHECK_THAT(table, Contains("[(None, 4),") && Contains("(None, 4)]"));
  const std::string dot = utils::model_to_dot(model, {.show_shapes = true});
  CHECK_THAT(dot, Contains("(None, 4), (None, 4)"));
  const nlohmann::json c = model.get_config();
  const nlohmann::json& dense = c["layers"][2];
  REQUIRE(dense["name"] == "dense");
  CHECK(dense["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == nlohmann::json({"twin", 0, 1}));
}

TEST_CASE("LSTM with return_state in a graph: output and states, through to_json and back", "[graph]") {
  reset_layer_names();
  set_seed(21);
  auto x = layers::Input({5, 3});
  auto lstm = layers::LSTM(4, {.return_state = true});
  auto [seq_out, h, c] = lstm.outputs_of<3>(x);
  CHECK(seq_out.shape == Shape{-1, 4});
  CHECK(c.shape == Shape{-1, 4});
  auto head = layers::Dense(2)(c);
  Model model(x, {head, h});
  CHECK(model.output_names() == std::vector<std::string>{"dense", "lstm"});
  Tensor xv = seq({2, 5, 3}, 0.7, float32);
  NoGradGuard no_grad;
  auto eager = lstm->call_with_state(xv);
  std::vector<Tensor> got = model.predict_outputs(xv);
  check_same(got[1], eager.states[0], 1e-6);
  check_same(got[0], model.get_layer("dense")->operator()(eager.states[1]), 1e-6);
  CHECK_THAT(model.summary_string(), Contains("lstm[0][2]"));
  CHECK(model.get_config()["output_layers"][1] == nlohmann::json({"lstm", 0, 1}));

  Model again = models::model_from_json(model.to_json());
  again.set_weights(model.get_weights());
  std::vector<Tensor> rebuilt = again.predict_outputs(xv);
  check_same(rebuilt[0], got[0], 1e-6);
  check_same(rebuilt[1], got[1], 1e-6);
  CHECK(again.get_config() == model.get_config());
}

TEST_CASE("from_config reads Keras 2 inbound nodes that read an LSTM's state outputs", "[graph]") {
  // What Keras 2 writes for Input(5, 3) -> LSTM(4, return_state=True) -> Dense(2) on c, outputs
  // [dense, h]: [layer, node_index, tensor_index, kwargs].
  const nlohmann::json config = nlohmann::json::parse(R"({
    "class_name": "Model", "config": {"name": "model_1",
      "layers": [
        {"name": "input_1", "class_name": "InputLayer",
         "config": {"batch_input_shape": [null, 5, 3], "dtype": "float32", "name": "input_1"},
         "inbound_nodes": []},
        {"name": "lstm_1", "class_name": "LSTM",
         "config": {"name": "lstm_1", "units": 4, "return_state": true, "batch_input_shape": [null, 5, 3]},
         "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"name": "dense_1", "class_name": "Dense", "config": {"name": "dense_1", "units": 2},
         "inbound_nodes": [[["lstm_1", 0, 2, {}]]]}],
      "input_layers": [["input_1", 0, 0]],
      "output_layers": [["dense_1", 0, 0], ["lstm_1", 0, 1]]}})");
  Model m = Model::from_config(config);
  Tensor xv = seq({2, 5, 3}, 0.5, float32);
  NoGradGuard no_grad;
  auto lstm = std::dynamic_pointer_cast<layers::RNNLayer>(m.get_layer("lstm_1"));
  REQUIRE(lstm);
  auto eager = lstm->call_with_state(xv);
  std::vector<Tensor> got = m.predict_outputs(xv);
  check_same(got[0], m.get_layer("dense_1")->operator()(eager.states[1]), 1e-6);
  check_same(got[1], eager.states[0], 1e-6);

  nlohmann::json bad = config;
  bad["config"]["layers"][2]["inbound_nodes"][0][0][2] = 3;
  CHECK_THROWS_WITH(Model::from_config(bad), Contains("'lstm_1' is read at output 3") && Contains("has 3 outputs"));
}

TEST_CASE("A Functional model with several outputs works as a layer inside another", "[graph]") {
  reset_layer_names();
  set_seed(22);
  auto x = layers::Input({3});
  auto d1 = layers::Dense(2, {.name = "d1"}), d2 = layers::Dense(2, {.name = "d2"});
  Model inner(x, {d1(x), d2(x)}, "inner");
  auto y = layers::Input({3});
  auto parts = inner.outputs_of(y);
  REQUIRE(parts.size() == 2);
  CHECK(parts[1].tensor_index == 1);
  CHECK_THROWS_WITH(inner(y), Contains("returns 2 tensors"));
  auto sum = layers::Add()({parts[0], parts[1]});
  Model outer(y, {sum, parts[1]});
  Tensor xv = seq({4, 3}, 1.0, float32);
  NoGradGuard no_grad;
  std::vector<Tensor> got = outer.predict_outputs(xv);
  REQUIRE(got.size() == 2);
  check_same(got[0], d1(xv) + d2(xv), 1e-6);
  check_same(got[1], d2(xv), 1e-6);
  CHECK_THAT(outer.summary_string(), Contains("inner[0][0],") && Contains("inner[0][1]"));
  // predict() on a model with several outputs points to predict_outputs.
  CHECK_THROWS_WITH(outer.predict(xv), Contains("predict_outputs"));

  Model again = models::model_from_json(outer.to_json());
  again.set_weights(outer.get_weights());
  std::vector<Tensor> rebuilt = again.predict_outputs(xv);
  check_same(rebuilt[0], got[0], 1e-6);
  check_same(rebuilt[1], got[1], 1e-6);
}
