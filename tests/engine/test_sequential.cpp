// SPDX-License-Identifier: Apache-2.0
// Sequential (src/engine/): building the stack, shape inference at add time, pop, get_layer,
// weights, the forward pass and Keras 3's summary table.
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>

#include "support/capture.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using lamina::testing::check_lines;
using lamina::testing::lines_of;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using lamina::testing::seq;

TEST_CASE("Sequential built from a list infers every output shape and lists its layers",
          "[engine][sequential]") {
  reset_layer_names();
  Sequential m({layers::Input({4}), layers::Dense(8, {.activation = "relu"}), layers::Dropout(0.5),
                layers::Dense(3, {.activation = "softmax"})});
  CHECK(m.name() == "sequential");
  // Keras 3: the InputLayer is not one of model.layers.
  REQUIRE(m.layers().size() == 3);
  CHECK(m.layers()[0]->name() == "dense");
  CHECK(m.layers()[1]->name() == "dropout");
  CHECK(m.layers()[2]->name() == "dense_1");
  CHECK(m.input_shape() == Shape{-1, 4});
  CHECK(m.output_shape() == Shape{-1, 3});
  for (const auto& l : m.layers()) CHECK(l->built());
  CHECK(m.count_params() == (4 * 8 + 8) + (8 * 3 + 3));
  CHECK(m.weights().size() == 4);
  CHECK(m.trainable_weights().size() == 4);
}

TEST_CASE("add builds each layer for the previous output once the input shape is known",
          "[engine][sequential]") {
  Sequential m;
  m.add(layers::Input({2, 3}));
  CHECK(m.layers().empty());
  CHECK(m.output_shape() == Shape{-1, 2, 3});
  auto d = layers::Dense(5);
  m.add(d);
  CHECK(d->built());
  CHECK(d->kernel.shape() == Shape{3, 5});
  CHECK(m.output_shape() == Shape{-1, 2, 5});
  m.add(layers::Flatten());
  CHECK(m.output_shape() == Shape{-1, 10});
  m.add(layers::Reshape({5, -1}));
  CHECK(m.output_shape() == Shape{-1, 5, 2});
  CHECK(m.layers().size() == 3);
}

TEST_CASE("Without an Input the layers build on the first call", "[engine][sequential]") {
  auto d1 = layers::Dense(4, {.activation = "tanh"});
  auto d2 = layers::Dense(2);
  Sequential m({d1, d2});
  CHECK_FALSE(d1->built());
  CHECK(m.input_shape().empty());
  CHECK(m.output_shape().empty());
  Tensor x = seq({3, 6}, 1.0, float32);
  Tensor y = m(x);
  CHECK(d1->built());
  CHECK(d1->kernel.shape() == Shape{6, 4});
  CHECK(m.input_shape() == Shape{-1, 6});
  CHECK(m.output_shape() == Shape{-1, 2});
  // The model's forward pass is the composition of its layers.
  lamina::testing::check_same(y, d2(d1(x)), 0);
}

TEST_CASE("A layer that does not fit throws ShapeError naming it and both shapes at add time",
          "[engine][sequential][errors]") {
  reset_layer_names();
  Sequential m({layers::Input({32}), layers::Dense(64)});  // dense
  auto unused = layers::Dense(8);                           // dense_1
  auto d = layers::Dense(10);                               // dense_2, built for 128 inputs
  d->build_for({-1, 128});
  CHECK_THROWS_AS(m.add(d), ShapeError);
  CHECK_THROWS_WITH(m.add(d), Equals("Dense 'dense_2': expected last dimension 128, got (None, 64)"));
  // The failed add leaves the model as it was; a fitting layer can still be added.
  CHECK(m.layers().size() == 1);
  CHECK(m.output_shape() == Shape{-1, 64});
  m.add(layers::Dense(3));
  CHECK(m.output_shape() == Shape{-1, 3});
  CHECK(m.layers().size() == 2);
}

TEST_CASE("A layer already built inside another model must fit the new model too",
          "[engine][sequential][errors]") {
  auto shared = layers::Dense(4, {.name = "shared"});
  Sequential a({layers::Input({6}), shared});
  Sequential b({layers::Input({6}), layers::Dense(6)});
  b.add(shared);  // fits: 6 inputs
  CHECK(b.output_shape() == Shape{-1, 4});
  CHECK(b.get_layer("shared").get() == shared.ptr().get());
  Sequential c({layers::Input({5})});
  CHECK_THROWS_WITH(c.add(shared), Equals("Dense 'shared': expected last dimension 6, got (None, 5)"));
}

TEST_CASE("Input can only start a model and names must be unique", "[engine][sequential][errors]") {
  auto d = layers::Dense(2, {.name = "twice"});
  Sequential m({layers::Input({3}), d});
  CHECK_THROWS_AS(m.add(layers::Input({2})), ValueError);
  CHECK_THROWS_WITH(m.add(d), Contains("twice") && Contains("unique"));
  CHECK(m.layers().size() == 1);
}

TEST_CASE("pop removes the last layer and an empty model refuses to pop", "[engine][sequential]") {
  Sequential m({layers::Input({4}), layers::Dense(8), layers::Dense(2)});
  CHECK(m.output_shape() == Shape{-1, 2});
  m.pop();
  CHECK(m.layers().size() == 1);
  CHECK(m.output_shape() == Shape{-1, 8});
  CHECK(m.count_params() == 4 * 8 + 8);
  m.add(layers::Dense(5));
  CHECK(m.output_shape() == Shape{-1, 5});
  m.pop();
  m.pop();
  CHECK(m.layers().empty());
  CHECK_THROWS_AS(m.pop(), ValueError);
  CHECK_THROWS_WITH(m.pop(), Contains("pop") && Contains(m.name()));
  CHECK_THROWS_AS(Sequential().pop(), ValueError);
}

TEST_CASE("get_layer finds layers by name and index and names what is missing",
          "[engine][sequential]") {
  reset_layer_names();
  Sequential m({layers::Input({4}), layers::Dense(8), layers::Dense(2, {.name = "head"})});
  CHECK(m.get_layer("dense")->name() == "dense");
  CHECK(m.get_layer("head").get() == m.layers()[1].get());
  CHECK(m.get_layer(0).get() == m.layers()[0].get());
  CHECK(m.get_layer(1)->name() == "head");
  CHECK_THROWS_AS(m.get_layer("nope"), ValueError);
  CHECK_THROWS_WITH(m.get_layer("nope"), Contains("'nope'") && Contains("dense") && Contains("head"));
  CHECK_THROWS_AS(m.get_layer(2), ValueError);
  CHECK_THROWS_WITH(m.get_layer(-1), Contains("-1"));
}

TEST_CASE("A Sequential can be a layer of another Sequential", "[engine][sequential]") {
  auto d1 = layers::Dense(4, {.activation = "relu"});
  auto d2 = layers::Dense(2);
  Sequential inner({d1});
  Sequential outer({layers::Input({3}), inner, d2});
  CHECK(outer.output_shape() == Shape{-1, 2});
  CHECK(outer.count_params() == (3 * 4 + 4) + (4 * 2 + 2));
  CHECK(outer.weights().size() == 4);
  Tensor x = seq({5, 3}, 1.0, float32);
  lamina::testing::check_same(outer(x), d2(d1(x)), 0);
}

TEST_CASE("Model weights round-trip through get_weights and set_weights", "[engine][sequential]") {
  Sequential a({layers::Input({3}), layers::Dense(4), layers::Dense(2)});
  Sequential b({layers::Input({3}), layers::Dense(4), layers::Dense(2)});
  b.set_weights(a.get_weights());
  Tensor x = seq({6, 3}, 1.0, float32);
  lamina::testing::check_same(b(x), a(x), 0);
  auto ws = a.get_weights();
  ws.pop_back();
  CHECK_THROWS_AS(b.set_weights(ws), ValueError);
}

TEST_CASE("A frozen layer's weights are non-trainable in the model", "[engine][sequential]") {
  auto frozen = layers::Dense(4);
  Sequential m({layers::Input({3}), frozen, layers::Dense(2)});
  frozen->set_trainable(false);
  CHECK(m.trainable_weights().size() == 2);
  CHECK(m.weights().size() == 4);
  CHECK(m.count_params() == 16 + 10);
  for (const Tensor& w : m.trainable_weights()) CHECK_FALSE(w.shares_storage(frozen->kernel));
}

TEST_CASE("The model's input shape is checked on every call", "[engine][sequential][errors]") {
  Sequential m({layers::Input({4}), layers::Dense(2)});
  CHECK_THROWS_AS(m(Tensor::zeros({3, 5})), ShapeError);
  CHECK_THROWS_WITH(m(Tensor::zeros({3, 5})), Contains("(None, 4)") && Contains("(3, 5)"));
  CHECK_THROWS_WITH(m(Tensor::zeros({3, 4, 1})), Contains("(None, 4)"));
  CHECK(m(Tensor::zeros({3, 4})).shape() == Shape{3, 2});
}

TEST_CASE("summary_string draws Keras 3's table with parameter counts and sizes",
          "[engine][sequential][summary]") {
  reset_layer_names();
  Sequential m({layers::Input({784}), layers::Dense(64, {.activation = "relu"}),
                layers::Dropout(0.2), layers::Dense(10, {.activation = "softmax"})});
  // Keras 3's layout at its 80-column fallback: line_length 76, columns at 0.45 / 0.80 of it,
  // parameter counts right-aligned; sizes 4 bytes per float32 weight in 1024-based units.
  const std::vector<std::string> want = {
      "Model: \"sequential\"",
      "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓",
      "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃",
      "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩",
      "│ dense (Dense)                   │ (None, 64)             │        50,240 │",
      "├─────────────────────────────────┼────────────────────────┼───────────────┤",
      "│ dropout (Dropout)               │ (None, 64)             │             0 │",
      "├─────────────────────────────────┼────────────────────────┼───────────────┤",
      "│ dense_1 (Dense)                 │ (None, 10)             │           650 │",
      "└─────────────────────────────────┴────────────────────────┴───────────────┘",
      " Total params: 50,890 (198.79 KB)",
      " Trainable params: 50,890 (198.79 KB)",
      " Non-trainable params: 0 (0.00 B)",
  };
  check_lines(m.summary_string(), want);
}

TEST_CASE("summary counts frozen weights as non-trainable and shows unbuilt layers",
          "[engine][sequential][summary]") {
  reset_layer_names();
  auto frozen = layers::Dense(4);
  Sequential m({layers::Input({3}), frozen, layers::Dense(2)});
  frozen->set_trainable(false);
  auto got = lines_of(m.summary_string());
  REQUIRE(got.size() == 11);
  CHECK(got[8] == " Total params: 26 (104.00 B)");
  CHECK(got[9] == " Trainable params: 10 (40.00 B)");
  CHECK(got[10] == " Non-trainable params: 16 (64.00 B)");

  reset_layer_names();
  Sequential lazy({layers::Dense(3)});
  got = lines_of(lazy.summary_string());
  REQUIRE(got.size() >= 5);
  CHECK(got[4] == "│ dense (Dense)                   │ ?                      │   0 (unbuilt) │");
  CHECK(got[6] == " Total params: 0 (0.00 B)");
}

TEST_CASE("After training the summary adds the optimizer's variables to the total as Keras 3 does",
          "[engine][sequential][summary]") {
  reset_layer_names();
  Sequential m({layers::Input({3}), layers::Dense(2)});
  m.compile({.optimizer = "adam", .loss = "mse"});
  CHECK(lines_of(m.summary_string()).size() == 9);  // optimizer not built yet: no line
  m.train_on_batch(seq({4, 3}, 1.0, float32), seq({4, 2}, 0.5, float32));
  const auto got = lines_of(m.summary_string());
  REQUIRE(got.size() == 10);
  // 8 weights; Adam: two slots per weight (16) + iteration (int64) + learning_rate (float32).
  // Bytes: 8·4 + 16·4 + 8 + 4 = 108.
  CHECK(got[6] == " Total params: 26 (108.00 B)");
  CHECK(got[7] == " Trainable params: 8 (32.00 B)");
  CHECK(got[8] == " Non-trainable params: 0 (0.00 B)");
  CHECK(got[9] == " Optimizer params: 18 (76.00 B)");
}
