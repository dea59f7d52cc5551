// SPDX-License-Identifier: Apache-2.0
// Training Functional models with several inputs and outputs (src/engine/model.cpp and
// compile.cpp): x and y by name or by position, per-output losses, loss weights and metrics,
// Keras's log keys, and the argument errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/losses.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>

#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::check_same;
using lamina::testing::seq;

namespace {

// Two inputs (a: 3 features, b: 2 features), target y = a0 - 2·b1 + 0.5·a2: learnable by a
// linear head on their concatenation.
struct TwoInputData {
  Tensor a, b, y;
};

TwoInputData two_input_data(int n) {
  TwoInputData d;
  d.a = seq({n, 3}, 1.0, float32);
  d.b = seq({n, 2}, 0.8, float32, 0.1);
  auto av = d.a.to_vector<float>(), bv = d.b.to_vector<float>();
  std::vector<float> y;
  for (int i = 0; i < n; ++i) y.push_back(av[i * 3] - 2 * bv[i * 2 + 1] + 0.5f * av[i * 3 + 2]);
  d.y = Tensor::from_vector(y, {n, 1});
  return d;
}

Model two_input_model() {
  auto a = layers::Input({3}, {.name = "a"});
  auto b = layers::Input({2}, {.name = "b"});
  auto h = layers::Concatenate()({a, b});
  return Model({a, b}, layers::Dense(1, {.name = "y"})(h));
}

// One input, two softmax heads "cls" (3 classes) and "group" (2 groups) on a shared trunk.
Model two_head_model() {
  auto x = layers::Input({4}, {.name = "x"});
  auto h = layers::Dense(8, {.activation = "tanh"})(x);
  auto cls = layers::Dense(3, {.activation = "softmax", .name = "cls"})(h);
  auto group = layers::Dense(2, {.activation = "softmax", .name = "group"})(h);
  return Model(x, {cls, group});
}

Tensor labels(int n, int classes, int salt) {
  std::vector<std::int64_t> v;
  for (int i = 0; i < n; ++i) v.push_back((i * 7 + salt) % classes);
  return Tensor::from_vector(v, {n});
}

}  // namespace

TEST_CASE("A model with two inputs trains from inputs given by name or by position alike",
          "[engine][functional][fit]") {
  set_seed(21);
  const TwoInputData d = two_input_data(64);
  Model by_name = two_input_model();
  Model by_position = two_input_model();
  by_position.set_weights(by_name.get_weights());
  for (Model* m : {&by_name, &by_position})
    m->compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse"});
  const double before = by_name.evaluate({{"a", d.a}, {"b", d.b}}, d.y, {.verbose = 0})["loss"];
  History h1 = by_name.fit({{"b", d.b}, {"a", d.a}}, d.y,
                           {.batch_size = 16, .epochs = 20, .verbose = 0, .shuffle = false});
  History h2 = by_position.fit({d.a, d.b}, d.y,
                               {.batch_size = 16, .epochs = 20, .verbose = 0, .shuffle = false});
  CHECK(h1.history.at("loss") == h2.history.at("loss"));
  const double after = by_name.evaluate({d.a, d.b}, d.y, {.verbose = 0})["loss"];
  CHECK(after < 0.1 * before);
  auto w1 = by_name.get_weights(), w2 = by_position.get_weights();
  for (std::size_t i = 0; i < w1.size(); ++i) check_same(w1[i], w2[i], 0);
  // predict with several inputs returns the single output.
  Tensor p = by_name.predict({d.a, d.b});
  CHECK(p.shape() == Shape{64, 1});
  check_same(p, by_name(std::vector<Tensor>{d.a, d.b})[0], 1e-6);
}

TEST_CASE("With two outputs the loss is the weighted sum of the per-output losses and logs follow Keras",
          "[engine][functional][fit]") {
  set_seed(22);
  const int n = 40;
  Tensor x = seq({n, 4}, 1.0, float32);
  Tensor y_cls = labels(n, 3, 1), y_group = labels(n, 2, 0);
  Model m = two_head_model();
  m.compile({.optimizer = "adam",
             .loss = {{"cls", "sparse_categorical_crossentropy"},
                      {"group", "sparse_categorical_crossentropy"}},
             .loss_weights = {{"cls", 1.0}, {"group", 0.5}},
             .metrics = {{"cls", {"accuracy"}}, {"group", {"accuracy"}}}});
  auto scores = m.evaluate(x, {{"cls", y_cls}, {"group", y_group}}, {.batch_size = n, .verbose = 0});
  std::set<std::string> keys;
  for (const auto& [k, v] : scores) keys.insert(k);
  CHECK(keys == std::set<std::string>{"loss", "cls_loss", "group_loss", "cls_accuracy", "group_accuracy"});
  // Per-output values by hand from the predictions.
  auto outs = m.predict_outputs(x);
  auto scce = losses::SparseCategoricalCrossentropy();
  const double cls_loss = scce(y_cls, outs[0]).item(), group_loss = scce(y_group, outs[1]).item();
  CHECK(scores["cls_loss"] == Approx(cls_loss).epsilon(1e-5));
  CHECK(scores["group_loss"] == Approx(group_loss).epsilon(1e-5));
  CHECK(scores["loss"] == Approx(1.0 * cls_loss + 0.5 * group_loss).epsilon(1e-5));
  double correct = 0;
  Tensor pred_cls = outs[0].argmax(-1);
  for (int i = 0; i < n; ++i) correct += pred_cls.at(i) == y_cls.at(i);
  CHECK(scores["cls_accuracy"] == Approx(correct / n));

  // fit logs the same keys per epoch, with val_ copies.
  History h = m.fit(x, {{"cls", y_cls}, {"group", y_group}},
                    {.batch_size = 8, .epochs = 2, .verbose = 0, .validation_split = 0.25});
  for (const char* k : {"loss", "cls_loss", "group_loss", "cls_accuracy", "group_accuracy",
                        "val_loss", "val_cls_loss", "val_group_loss", "val_cls_accuracy",
                        "val_group_accuracy"}) {
    INFO(k);
    REQUIRE(h.history.count(k));
    CHECK(h.history.at(k).size() == 2);
  }
}

TEST_CASE("Loss weights scale each output's gradient: weight 0 trains only the other head",
          "[engine][functional][fit]") {
  set_seed(23);
  const int n = 16;
  Tensor x = seq({n, 4}, 1.0, float32);
  Tensor y_cls = labels(n, 3, 2), y_group = labels(n, 2, 1);
  Model both = two_head_model();
  const auto initial = both.get_weights();
  both.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
                .loss = {"sparse_categorical_crossentropy", "sparse_categorical_crossentropy"},
                .loss_weights = {2.0, 0.0}});
  both.fit(x, {y_cls, y_group}, {.batch_size = n, .epochs = 1, .verbose = 0, .shuffle = false});
  // The same step by hand: gradient of 2·cls_loss only.
  Model ref = two_head_model();
  ref.set_weights(initial);
  auto outs = ref(std::vector<Tensor>{x}, true);
  Tensor total = losses::SparseCategoricalCrossentropy()(y_cls, outs[0]) * 2.0;
  total.backward();
  auto ws = ref.trainable_weights();
  auto after = both.get_weights();
  REQUIRE(after.size() == ws.size());
  for (std::size_t i = 0; i < ws.size(); ++i) {
    INFO("weight " << i);
    Tensor g = ws[i].grad().defined() ? ws[i].grad() : Tensor::zeros(ws[i].shape());
    check_same(after[i], initial[i] - g * 0.1, 1e-5);
  }
  // The group head (weights 4 and 5: kernel and bias of "group") did not move.
  check_same(after[4], initial[4], 0);
  check_same(after[5], initial[5], 0);
}

TEST_CASE("Several inputs and outputs: missing, unknown and miscounted arrays are named",
          "[engine][functional][fit][errors]") {
  Model m = two_head_model();
  Tensor x = seq({8, 4}, 1.0, float32);
  Tensor y = labels(8, 3, 0), g = labels(8, 2, 0);
  CHECK_THROWS_WITH(m.compile({.optimizer = "adam", .loss = {{"clss", "mse"}}}),
                    Contains("'clss'") && Contains("cls, group"));
  CHECK_THROWS_WITH(m.compile({.optimizer = "adam", .loss = {"mse"}}),
                    Contains("1 losses") && Contains("2 outputs"));
  CHECK_THROWS_WITH(m.compile({.optimizer = "adam", .loss = "mse", .loss_weights = {{"grp", 1.0}}}),
                    Contains("'grp'"));
  CHECK_THROWS_WITH(m.compile({.optimizer = "adam", .loss = "mse", .metrics = {{"cls", {"precisionn"}}}}),
                    Contains("precisionn"));
  m.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy"});
  CHECK_THROWS_WITH(m.fit(x, {{"cls", y}}, {.verbose = 0}), Contains("'group'"));
  CHECK_THROWS_WITH(m.fit(x, {{"cls", y}, {"grp", g}}, {.verbose = 0}),
                    Contains("'grp'") && Contains("cls, group"));
  CHECK_THROWS_WITH(m.fit(x, y, {.verbose = 0}), Contains("2 outputs") && Contains("1 arrays"));
  CHECK_THROWS_WITH(m.fit(x, {y, g.slice(0, 5)}, {.verbose = 0}), Contains("8 samples") && Contains("5"));
  // A target that does not fit its output's loss names the output.
  CHECK_THROWS_WITH(m.fit(x, {y, seq({8, 7}, 1.0, float32)}, {.verbose = 0}),
                    Contains("y['group']") && Contains("(None, 2)"));

  Model two = two_input_model();
  two.compile({.optimizer = "adam", .loss = "mse"});
  TwoInputData d = two_input_data(8);
  CHECK_THROWS_WITH(two.fit(d.a, d.y, {.verbose = 0}), Contains("2 inputs") && Contains("a, b"));
  CHECK_THROWS_WITH(two.fit({d.b, d.a}, d.y, {.verbose = 0}),
                    Contains("'a'") && Contains("(None, 3)") && Contains("(8, 2)"));
  CHECK_THROWS_WITH(two.fit({{"a", d.a}, {"c", d.b}}, d.y, {.verbose = 0}), Contains("'c'"));
}

TEST_CASE("The multi-output script of the Functional API issue runs as written",
          "[engine][functional][fit]") {
  set_seed(24);
  const int n = 48;
  Tensor x_train = random_uniform({n, 28, 28, 1});
  Tensor y_cls = labels(n, 10, 3), y_group = labels(n, 3, 1);

  auto image = layers::Input({28, 28, 1}, {.name = "image"});
  auto x = layers::Flatten()(image);
  x = layers::Dense(16, {.activation = "relu"})(x);
  auto cls = layers::Dense(10, {.activation = "softmax", .name = "cls"})(x);
  auto group = layers::Dense(3, {.activation = "softmax", .name = "group"})(x);
  Model model(image, {cls, group});
  model.compile({.optimizer = "adam",
                 .loss = {{"cls", "sparse_categorical_crossentropy"}, {"group", "sparse_categorical_crossentropy"}},
                 .loss_weights = {{"cls", 1.0}, {"group", 0.5}},
                 .metrics = {{"cls", {"accuracy"}}, {"group", {"accuracy"}}}});
  History h = model.fit(x_train, {{"cls", y_cls}, {"group", y_group}},
                        {.epochs = 3, .verbose = 0,
                         .validation_data = std::pair<TensorArg, TensorArg>{
                             x_train.slice(0, 16), {{"cls", y_cls.slice(0, 16)}, {"group", y_group.slice(0, 16)}}}});
  CHECK(h.history.at("loss").size() == 3);
  CHECK(h.history.at("val_cls_accuracy").size() == 3);
  // Training on the same few samples lowers the loss.
  CHECK(h.history.at("loss").back() < h.history.at("loss").front());
  auto scores = model.evaluate(x_train, {y_cls, y_group}, {.verbose = 0});
  CHECK(scores.at("loss") == Approx(scores.at("cls_loss") + 0.5 * scores.at("group_loss")).epsilon(1e-5));
}

TEST_CASE("Inputs and outputs keyed by name give the model those names for x, y and the logs",
          "[engine][functional][fit]") {
  set_seed(25);
  auto a = layers::Input({3});
  auto b = layers::Input({2});
  auto h = layers::Concatenate()({a, b});
  auto score = layers::Dense(1)(h);
  auto label = layers::Dense(2, {.activation = "softmax"})(h);
  // std::map order: keys sorted, as Keras flattens dicts.
  Model m({{"meta", b}, {"img", a}}, {{"score", score}, {"label", label}});
  CHECK(m.input_names() == std::vector<std::string>{"img", "meta"});
  CHECK(m.output_names() == std::vector<std::string>{"label", "score"});
  CHECK(m.inputs()[0].layer.get() == a.layer.get());
  m.compile({.optimizer = "sgd", .loss = {{"score", "mse"}, {"label", "sparse_categorical_crossentropy"}}});
  const TwoInputData d = two_input_data(20);
  Tensor y_label = labels(20, 2, 0);
  auto scores = m.evaluate({{"img", d.a}, {"meta", d.b}}, {{"score", d.y}, {"label", y_label}}, {.verbose = 0});
  CHECK(scores.count("score_loss") == 1);
  CHECK(scores.count("label_loss") == 1);
  auto outs = m.predict_outputs({{"meta", d.b}, {"img", d.a}});
  REQUIRE(outs.size() == 2);
  CHECK(outs[0].shape() == Shape{20, 2});  // label
  CHECK(outs[1].shape() == Shape{20, 1});  // score
  CHECK(scores.at("score_loss") == Approx(losses::MeanSquaredError()(d.y, outs[1]).item()).epsilon(1e-5));
}

TEST_CASE("train_on_batch and test_on_batch take several inputs and targets",
          "[engine][functional][fit]") {
  set_seed(26);
  Model two = two_input_model();
  two.compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse"});
  const TwoInputData d = two_input_data(32);
  const double before = two.test_on_batch({{"a", d.a}, {"b", d.b}}, d.y).at("loss");
  for (int i = 0; i < 30; ++i) two.train_on_batch({d.a, d.b}, d.y);
  CHECK(two.test_on_batch({d.a, d.b}, d.y).at("loss") < 0.5 * before);

  Model heads = two_head_model();
  heads.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  Tensor x = seq({8, 4}, 1.0, float32);
  auto logs = heads.train_on_batch(x, {{"cls", labels(8, 3, 0)}, {"group", labels(8, 2, 0)}});
  for (const char* k : {"loss", "cls_loss", "group_loss", "cls_accuracy", "group_accuracy"}) CHECK(logs.count(k) == 1);
}
