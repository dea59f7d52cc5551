// SPDX-License-Identifier: Apache-2.0
// The Functional API (src/engine/functional.cpp): symbolic calls, Model(inputs, outputs),
// topological execution, shared layers, nested models, layers()/get_layer/inputs()/outputs(),
// get_config's inbound_nodes and the build-time errors.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/layers/conv.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>

#include "support/gradcheck.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using lamina::testing::check_same;
using lamina::testing::gradcheck;
using lamina::testing::seq;

namespace {

// Float64 copies of a built Dense's weights (gradchecks run in float64; call() follows the kernel).
void use_float64(layers::DenseLayer& d) {
  NoGradGuard no_grad;
  d.kernel = d.kernel.astype(float64).clone().detach();
  if (d.bias.defined()) d.bias = d.bias.astype(float64).clone().detach();
}

}  // namespace

TEST_CASE("Calling layers on symbolic tensors infers each output shape and records the call",
          "[engine][functional]") {
  reset_layer_names();
  auto image = layers::Input({28, 28, 1}, {.name = "image"});
  CHECK(image.shape == Shape{-1, 28, 28, 1});
  CHECK(image.node == nullptr);
  auto flatten = layers::Flatten();
  auto x = flatten(image);
  CHECK(x.shape == Shape{-1, 784});
  REQUIRE(x.node != nullptr);
  CHECK(x.node->layer.get() == flatten.ptr().get());
  REQUIRE(x.node->inputs.size() == 1);
  CHECK(x.node->inputs[0].layer.get() == image.layer.get());
  auto dense = layers::Dense(16, {.activation = "relu"});
  auto h = dense(x);
  CHECK(h.shape == Shape{-1, 16});
  // The layer is built by the symbolic call, for the inferred shape.
  CHECK(dense->built());
  CHECK(dense->kernel.shape() == Shape{784, 16});
  // A second call of the same layer is a second node.
  auto x2 = layers::Flatten()(layers::Input({784}));
  auto h2 = dense(x2);
  CHECK(h2.node->node_index == 1);
  CHECK(h.node->node_index == 0);
}

TEST_CASE("A Functional model lists its layers and finds them by name and exposes inputs and outputs",
          "[engine][functional]") {
  reset_layer_names();
  auto image = layers::Input({6}, {.name = "image"});
  auto h = layers::Dense(8, {.activation = "relu"})(image);
  auto cls = layers::Dense(3, {.activation = "softmax", .name = "cls"})(h);
  auto group = layers::Dense(2, {.activation = "softmax", .name = "group"})(h);
  Model model(image, {cls, group});
  CHECK(model.name() == "functional");
  // Keras 3: a Functional model's layers include its InputLayers, then execution order.
  auto ls = model.layers();
  REQUIRE(ls.size() == 4);
  CHECK(ls[0]->name() == "image");
  CHECK(ls[0]->class_name() == "InputLayer");
  CHECK(ls[1]->name() == "dense");
  CHECK(ls[2]->name() == "cls");
  CHECK(ls[3]->name() == "group");
  CHECK(model.get_layer("group").get() == group.layer.get());
  CHECK_THROWS_WITH(model.get_layer("nope"), Contains("'nope'") && Contains("cls"));
  REQUIRE(model.inputs().size() == 1);
  CHECK(model.inputs()[0].layer.get() == image.layer.get());
  REQUIRE(model.outputs().size() == 2);
  CHECK(model.outputs()[1].shape == Shape{-1, 2});
  CHECK(model.input_names() == std::vector<std::string>{"image"});
  CHECK(model.output_names() == std::vector<std::string>{"cls", "group"});
  CHECK(model.count_params() == (6 * 8 + 8) + (8 * 3 + 3) + (8 * 2 + 2));
  CHECK(model.input_shape() == Shape{-1, 6});

  // Both outputs from one forward pass, each the composition of its layers.
  Tensor xv = seq({5, 6}, 1.0, float32);
  std::vector<Tensor> outs = model(std::vector<Tensor>{xv});
  REQUIRE(outs.size() == 2);
  Tensor hv = model.get_layer("dense")->operator()(xv);
  check_same(outs[0], model.get_layer("cls")->operator()(hv), 1e-6);
  check_same(outs[1], model.get_layer("group")->operator()(hv), 1e-6);
  // predict_outputs batches the same computation.
  auto predicted = model.predict_outputs(xv, {.batch_size = 2});
  REQUIRE(predicted.size() == 2);
  check_same(predicted[0], outs[0], 1e-6);
  check_same(predicted[1], outs[1], 1e-6);
  CHECK_THROWS_WITH(model.predict(xv), Contains("2 outputs") && Contains("predict_outputs"));
}

TEST_CASE("Sequential and the equivalent Functional model with the same weights give identical outputs and gradients",
          "[engine][functional]") {
  set_seed(3);
  Sequential seq_model({layers::Input({3, 4}), layers::Flatten(),
                        layers::Dense(8, {.activation = "tanh"}), layers::Dense(5),
                        layers::Activation("softmax")});
  auto in = layers::Input({3, 4});
  auto h = layers::Flatten()(in);
  h = layers::Dense(8, {.activation = "tanh"})(h);
  h = layers::Dense(5)(h);
  Model fn_model(in, layers::Activation("softmax")(h));
  REQUIRE(fn_model.count_params() == seq_model.count_params());
  fn_model.set_weights(seq_model.get_weights());

  Tensor x = seq({7, 3, 4}, 1.3, float32);
  Tensor target = seq({7, 5}, 0.5, float32, 0.2);
  Tensor a = seq_model(x, true), b = fn_model(x, true);
  check_same(b, a, 0);  // the same kernels in the same order: bit-identical
  sum(square(a - target)).backward();
  sum(square(b - target)).backward();
  auto wa = seq_model.trainable_weights(), wb = fn_model.trainable_weights();
  REQUIRE(wa.size() == wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) {
    INFO("weight " << i);
    REQUIRE(wa[i].grad().defined());
    check_same(wb[i].grad(), wa[i].grad(), 0);
  }
}

TEST_CASE("A layer called twice shares its weights and its gradient is the sum over both calls",
          "[engine][functional][gradcheck]") {
  auto d = layers::Dense(4, {.activation = "tanh"});
  auto x = layers::Input({4}, {.dtype = float64});
  Model m(x, d(d(x)));  // the same Dense applied twice
  CHECK(m.layers().size() == 2);
  CHECK(m.count_params() == 4 * 4 + 4);
  CHECK(m.weights().size() == 2);
  use_float64(*d);
  {
    NoGradGuard no_grad;
    d->kernel.assign(seq({4, 4}, 0.6, float64, 0.05));
  }
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return m(in[0]); }, {seq({3, 4}, 1.1)},
                     {d->kernel, d->bias});
  INFO(r.report);
  CHECK(r.ok);
  // By hand: the model is the composition d(d(x)).
  Tensor xv = seq({3, 4}, 1.1);
  check_same(m(xv), d(d(xv)), 1e-12);
}

TEST_CASE("A Sequential and a Functional model work as layers inside another model",
          "[engine][functional]") {
  set_seed(5);
  Sequential inner_seq({layers::Input({4}), layers::Dense(6, {.activation = "relu"})});
  auto a = layers::Input({6});
  Model inner_fn(a, layers::Dense(3)(a));
  auto x = layers::Input({4});
  auto h = inner_seq(x);
  CHECK(h.shape == Shape{-1, 6});
  auto y = inner_fn(h);
  CHECK(y.shape == Shape{-1, 3});
  Model outer(x, layers::Dense(2)(y));
  CHECK(outer.layers().size() == 4);  // input, the two models, the head
  CHECK(outer.count_params() == inner_seq.count_params() + inner_fn.count_params() + 3 * 2 + 2);
  CHECK(outer.trainable_weights().size() == 6);
  Tensor xv = seq({5, 4}, 1.0, float32);
  check_same(outer(xv), outer.layers()[3]->operator()(inner_fn(inner_seq(xv))), 1e-6);
  // A nested model that does not fit the tensor names itself and both shapes.
  CHECK_THROWS_AS(inner_fn(x), ShapeError);
  CHECK_THROWS_WITH(inner_fn(x), Contains("Functional") && Contains("(None, 6)") &&
                                     Contains("(None, 4)"));
}

TEST_CASE("An output that does not depend on the model's inputs is a disconnected graph",
          "[engine][functional][errors]") {
  auto image = layers::Input({4}, {.name = "image"});
  auto meta = layers::Input({2}, {.name = "meta"});
  auto out = layers::Dense(1, {.name = "score"})(meta);
  CHECK_THROWS_AS(Model(image, out), ValueError);
  CHECK_THROWS_WITH(Model(image, out),
                    Contains("graph disconnected") && Contains("output 'score'") &&
                        Contains("Input 'meta' (None, 2)") && Contains("inputs (image)"));
}

TEST_CASE("An input that feeds no output is refused", "[engine][functional][errors]") {
  auto image = layers::Input({4}, {.name = "image"});
  auto meta = layers::Input({2}, {.name = "meta"});
  auto out = layers::Dense(1, {.name = "score"})(image);
  CHECK_THROWS_AS(Model({image, meta}, out), ValueError);
  CHECK_THROWS_WITH(Model({image, meta}, out),
                    Contains("input 'meta' (None, 2) is not connected to any output") &&
                        Contains("score"));
}

TEST_CASE("Two different layers with the same name cannot be in one model",
          "[engine][functional][errors]") {
  auto x = layers::Input({4});
  auto h = layers::Dense(3, {.name = "twin"})(x);
  auto y = layers::Dense(2, {.name = "twin"})(h);
  CHECK_THROWS_AS(Model(x, y), ValueError);
  CHECK_THROWS_WITH(Model(x, y), Contains("unique") && Contains("'twin'") && Contains("Dense"));
}

TEST_CASE("Inputs must come from layers::Input", "[engine][functional][errors]") {
  auto x = layers::Input({4});
  auto h = layers::Dense(3, {.name = "hidden"})(x);
  auto y = layers::Dense(2)(h);
  CHECK_THROWS_WITH(Model(h, y), Contains("layers::Input") && Contains("Dense 'hidden'"));
}

TEST_CASE("A layer called on a symbolic tensor of the wrong rank or width throws naming it and the shapes",
          "[engine][functional][errors]") {
  reset_layer_names();
  auto scalar_in = layers::Input({});
  CHECK_THROWS_AS(layers::Dense(3)(scalar_in), ShapeError);
  CHECK_THROWS_WITH(layers::Dense(3, {.name = "head"})(scalar_in),
                    Contains("Dense 'head'") && Contains("(None,)"));
  auto flat = layers::Input({784});
  CHECK_THROWS_AS(layers::Conv2D(4, 3, {.name = "conv"})(flat), ShapeError);
  CHECK_THROWS_WITH(layers::Conv2D(4, 3, {.name = "conv"})(flat),
                    Contains("Conv2D 'conv'") && Contains("(None, 784)"));
  auto wide = layers::Input({128});
  auto d = layers::Dense(10, {.name = "dense_2"});
  d(wide);  // built for 128 features
  auto narrow = layers::Input({64});
  CHECK_THROWS_WITH(d(narrow), Equals("Dense 'dense_2': expected last dimension 128, got (None, 64)"));
  // A single-input layer given a list.
  CHECK_THROWS_WITH(layers::Dense(2, {.name = "one"})({wide, wide}), Contains("Dense 'one'") && Contains("one input"));
}

TEST_CASE("Calling a Functional model on data of the wrong shape names the input and both shapes",
          "[engine][functional][errors]") {
  auto x = layers::Input({4}, {.name = "features"});
  Model m(x, layers::Dense(2)(x));
  CHECK_THROWS_AS(m(Tensor::zeros({3, 5})), ShapeError);
  CHECK_THROWS_WITH(m(Tensor::zeros({3, 5})), Contains("'features'") && Contains("(None, 4)") &&
                                                  Contains("(None, 5)"));
  CHECK_THROWS_WITH(m.predict(Tensor::zeros({3, 5})), Contains("(None, 4)") && Contains("(3, 5)"));
}

TEST_CASE("get_config of a Functional model describes layers and their inbound nodes as Keras does",
          "[engine][functional][config]") {
  reset_layer_names();
  auto a = layers::Input({4}, {.name = "a"});
  auto b = layers::Input({4}, {.name = "b"});
  auto shared = layers::Dense(3, {.name = "shared"});
  auto sum_ab = layers::Add("sum")({shared(a), shared(b)});
  auto out = layers::Dense(1, {.name = "out"})(sum_ab);
  Model m({a, b}, out, "pair");
  const nlohmann::json c = m.get_config();
  CHECK(c["name"] == "pair");
  CHECK(c["input_layers"] == nlohmann::json::parse(R"([["a", 0, 0], ["b", 0, 0]])"));
  CHECK(c["output_layers"] == nlohmann::json::parse(R"([["out", 0, 0]])"));
  REQUIRE(c["layers"].size() == 5);
  const auto& shared_json = c["layers"][2];
  CHECK(shared_json["name"] == "shared");
  CHECK(shared_json["class_name"] == "Dense");
  CHECK(shared_json["config"]["units"] == 3);
  // One inbound node per call: shared is called on a (node 0) and on b (node 1).
  REQUIRE(shared_json["inbound_nodes"].size() == 2);
  const auto& arg0 = shared_json["inbound_nodes"][0]["args"][0];
  CHECK(arg0["class_name"] == "__keras_tensor__");
  CHECK(arg0["config"]["keras_history"] == nlohmann::json::parse(R"(["a", 0, 0])"));
  CHECK(arg0["config"]["shape"] == nlohmann::json::parse("[null, 4]"));
  CHECK(shared_json["inbound_nodes"][1]["args"][0]["config"]["keras_history"] ==
        nlohmann::json::parse(R"(["b", 0, 0])"));
  // A merge layer's node takes the list as its one argument.
  const auto& sum_json = c["layers"][3];
  CHECK(sum_json["name"] == "sum");
  const auto& list = sum_json["inbound_nodes"][0]["args"][0];
  REQUIRE(list.size() == 2);
  CHECK(list[0]["config"]["keras_history"] == nlohmann::json::parse(R"(["shared", 0, 0])"));
  CHECK(list[1]["config"]["keras_history"] == nlohmann::json::parse(R"(["shared", 1, 0])"));
  CHECK(c["layers"][0]["class_name"] == "InputLayer");
  CHECK(c["layers"][0]["inbound_nodes"].empty());
}

TEST_CASE("from_config rebuilds a Functional model with shared, merge and nested layers that computes the same",
          "[engine][functional][config]") {
  set_seed(9);
  auto a = layers::Input({4}, {.name = "a"});
  auto b = layers::Input({4}, {.name = "b"});
  auto shared = layers::Dense(3, {.activation = "tanh", .name = "shared"});
  Sequential tower({layers::Input({3}), layers::Dense(5, {.activation = "relu", .name = "tower_dense"}),
                    layers::Dropout(0.1, "tower_drop")}, "tower");
  auto joined = layers::Concatenate(-1, "join")({shared(a), shared(b)});
  auto diff = layers::Subtract("diff")({shared(a), shared(b)});
  auto dot = layers::Dot(1, {.normalize = true, .name = "cos"})({shared(a), shared(b)});
  auto head = layers::Concatenate(-1, "head_in")({joined, tower(diff), dot});
  Model original({a, b}, layers::Dense(2, {.activation = "softmax", .name = "head"})(head), "siamese");

  const nlohmann::json config = original.get_config();
  // Node indices count this model's calls only: shared is called six times here.
  CHECK(config["layers"][2]["inbound_nodes"].size() == 6);
  Model rebuilt = Model::from_config(config);
  CHECK(rebuilt.name() == "siamese");
  CHECK(rebuilt.get_config() == config);
  REQUIRE(rebuilt.count_params() == original.count_params());
  rebuilt.set_weights(original.get_weights());
  Tensor xa = seq({6, 4}, 1.0, float32), xb = seq({6, 4}, 0.7, float32, 0.2);
  check_same(rebuilt(std::vector<Tensor>{xa, xb})[0], original(std::vector<Tensor>{xa, xb})[0], 0);
  // A Sequential config rebuilds a Sequential.
  Model tower_again = Model::from_config(tower.get_config());
  CHECK(tower_again.get_config() == tower.get_config());

  nlohmann::json broken = config;
  broken["layers"][2]["class_name"] = "Frobnicate";
  CHECK_THROWS_WITH(Model::from_config(broken), Contains("Frobnicate") && Contains("'shared'"));
  nlohmann::json dangling = config;
  dangling["output_layers"][0][0] = "nowhere";
  CHECK_THROWS_WITH(Model::from_config(dangling), Contains("'nowhere'"));
}

TEST_CASE("A model with two inputs is called on a list of symbolic tensors inside another model",
          "[engine][functional]") {
  auto p = layers::Input({3});
  auto q = layers::Input({3});
  Model pair({p, q}, layers::Dense(2)(layers::Multiply()({p, q})));
  auto x = layers::Input({3});
  auto y = layers::Input({3});
  auto z = pair({x, y});
  CHECK(z.shape == Shape{-1, 2});
  CHECK_THROWS_WITH(pair(x), Contains("list"));
  Model outer({x, y}, layers::Activation("tanh")(z));
  Tensor xv = seq({4, 3}, 1.0, float32), yv = seq({4, 3}, 0.5, float32, 0.3);
  check_same(outer(std::vector<Tensor>{xv, yv})[0], tanh(pair(std::vector<Tensor>{xv, yv})[0]), 1e-6);
}

TEST_CASE("from_config reads a two-input Functional config written by Keras 2",
          "[engine][functional][config]") {
  // tf.keras 2.1.5's model.to_json() of Input(16), Input(32) -> Dense(8) each -> Add -> Dense(4)
  // (tests/fixtures/keras_files/PROVENANCE.md). Keras 2 nodes are [[layer, node, tensor, kwargs]].
  const std::string path = std::string(LAMINA_TEST_FIXTURES) + "/keras_files/k2_dl4j_two_input_add.config.json";
  std::ifstream in(path);
  if (!in.good()) {
    WARN("skipped: " << path << " is not present");
    return;
  }
  const nlohmann::json file = nlohmann::json::parse(in);
  Model m = Model::from_config(file);
  CHECK(m.name() == "model_2");
  CHECK(m.input_names() == std::vector<std::string>{"input_3", "input_4"});
  CHECK(m.output_names() == std::vector<std::string>{"dense_6"});
  CHECK(m.output_shape() == Shape{-1, 4});
  REQUIRE(m.layers().size() == 6);
  CHECK(m.get_layer("add_2")->class_name() == "Add");
  CHECK(m.count_params() == (16 * 8 + 8) + (32 * 8 + 8) + (8 * 4 + 4));
  CHECK_THAT(m.summary_string(), Contains("dense_4[0][0],") && Contains("dense_5[0][0]"));
  // The rebuilt graph computes dense_6(relu(dense_4(a)) + relu(dense_5(b))).
  Tensor a = seq({3, 16}, 1.0, float32), b = seq({3, 32}, 0.5, float32);
  Tensor want = m.get_layer("dense_6")->operator()(
      layers::Add()({m.get_layer("dense_4")->operator()(a), m.get_layer("dense_5")->operator()(b)}));
  check_same(m(std::vector<Tensor>{a, b})[0], want, 1e-6);
}

TEST_CASE("The training flag reaches every layer of the graph and a Functional model fits inside a Sequential",
          "[engine][functional]") {
  set_seed(12);
  auto x = layers::Input({200});
  auto kept = layers::Dropout(0.5)(x);
  Model m(x, layers::Add()({kept, x}));  // 2x where kept, x where dropped
  Tensor ones = Tensor::ones({2, 200});
  check_same(m(ones, false), ones * 2.0, 0);
  Tensor trained = m(ones, true);
  int dropped = 0, kept_count = 0;
  for (std::int64_t i = 0; i < trained.numel(); ++i) {
    if (trained.at(i) == 1.0) ++dropped;
    else if (trained.at(i) == 3.0) ++kept_count;  // 1/(1-0.5) + 1
  }
  CHECK(dropped + kept_count == 400);
  CHECK(dropped > 100);
  CHECK(kept_count > 100);

  auto a = layers::Input({6});
  Model block(a, layers::Dense(3, {.activation = "relu"})(a));
  Sequential s({layers::Input({4}), layers::Dense(6), block, layers::Dense(2)});
  CHECK(s.output_shape() == Shape{-1, 2});
  CHECK(s.count_params() == (4 * 6 + 6) + block.count_params() + (3 * 2 + 2));
  CHECK(s(Tensor::ones({5, 4})).shape() == Shape{5, 2});
}

namespace {
// DESIGN.md's custom layer: weights from add_weight, call() written with ops.
struct Scale : Layer {
  Tensor w;
  std::string class_name() const override { return "Scale"; }
  void build(const Shape& s) override { w = add_weight("w", {s.back()}, initializers::Ones()); }
  Tensor call(const Tensor& x, bool) override { return x * w; }
};
}  // namespace

TEST_CASE("A custom layer joins a Functional graph and gets its gradient from autodiff",
          "[engine][functional]") {
  auto x = layers::Input({3});
  auto scale = std::make_shared<Scale>();
  auto y = (*scale)(x);
  CHECK(y.shape == Shape{-1, 3});
  Model m(x, layers::Add()({y, x}));
  CHECK(m.count_params() == 3);
  Tensor xv = seq({2, 3}, 1.0, float32);
  Tensor out = m(xv, true);
  check_same(out, xv * 2.0, 1e-6);  // w starts at ones
  sum(out).backward();
  // d/dw_j of sum(x·w + x) = sum over the batch of x_j.
  check_same(scale->w.grad(), sum(xv, {0}), 1e-6);
}
