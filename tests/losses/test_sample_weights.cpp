// SPDX-License-Identifier: Apache-2.0
// sample_weight and class_weight in fit and evaluate, with Keras's semantics: the loss is
// sum(w·l) / count per batch, the loss tracker averages batches by size, plain metrics ignore the
// weights and weighted_metrics use them (hand-derived values throughout).
#include <catch2/catch.hpp>
#include <lamina/lamina.hpp>
#include <vector>

using namespace lamina;
using Catch::Matchers::Contains;

namespace {

Tensor f32(std::vector<float> values, Shape shape) { return Tensor::from_vector(values, shape); }

// y_pred = x (a Dense(1) with kernel 1 and no bias); with y = 0 the squared errors are x².
Sequential identity_model() {
  Sequential model({layers::Input({1}),
                    layers::Dense(1, {.use_bias = false, .kernel_initializer = "ones"})});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}), .loss = "mse",
                 .metrics = {"mse"}, .weighted_metrics = {"mse"}});
  return model;
}

}  // namespace

TEST_CASE("evaluate with sample_weight divides the weighted loss by the number of samples", "[losses]") {
  Sequential model = identity_model();
  Tensor x = f32({1, 2, 3}, {3, 1}), y = f32({0, 0, 0}, {3, 1});  // squared errors 1, 4, 9
  Tensor w = f32({1, 0, 3}, {3});
  // Batches of 2 and 1: (1·1 + 0·4)/2 = 0.5 and 3·9/1 = 27, averaged by batch size: 28/3.
  auto scores = model.evaluate(x, y, {.batch_size = 2, .verbose = 0, .sample_weight = w});
  CHECK(scores.at("loss") == Approx(28.0 / 3));
  CHECK(scores.at("mse") == Approx(14.0 / 3));         // plain metrics ignore the weights
  CHECK(scores.at("weighted_mse") == Approx(28.0 / 4));  // weighted mean: Σw·l / Σw
  auto unweighted = model.evaluate(x, y, {.verbose = 0});
  CHECK(unweighted.at("loss") == Approx(14.0 / 3));
  CHECK(unweighted.at("weighted_mse") == Approx(14.0 / 3));
}

TEST_CASE("fit with sample_weight scales each sample's gradient by its weight", "[losses]") {
  // One step of SGD(lr) on mse of y_pred = w·x against 0: d/dw = 2·Σ weight·x² / N.
  auto run = [](const Tensor& sample_weight) {
    auto dense = layers::Dense(1, {.use_bias = false, .kernel_initializer = "ones"});
    Sequential model({layers::Input({1}), dense});
    model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
    History h = model.fit(f32({1, 2}, {2, 1}), f32({0, 0}, {2, 1}),
                          {.batch_size = 2, .verbose = 0, .shuffle = false, .sample_weight = sample_weight});
    return std::pair{dense->kernel.at(0), h.history.at("loss")[0]};
  };
  auto [w_plain, loss_plain] = run(Tensor());
  CHECK(loss_plain == Approx(2.5));  // (1 + 4) / 2
  CHECK(w_plain == Approx(1 - 0.1 * 2 * (1 + 4) / 2.0));
  auto [w_weighted, loss_weighted] = run(f32({3, 0}, {2}));
  CHECK(loss_weighted == Approx(1.5));  // (3·1 + 0·4) / 2
  CHECK(w_weighted == Approx(1 - 0.1 * 2 * 3 / 2.0));
}

TEST_CASE("class_weight weighs each sample by its class, from integer or one-hot targets", "[losses]") {
  // A 2-class softmax over equal logits: every sample costs log 2.
  auto make = [] {
    Sequential model({layers::Input({1}), layers::Dense(2, {.activation = "softmax",
                                                            .kernel_initializer = "zeros"})});
    model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}),
                   .loss = "sparse_categorical_crossentropy", .weighted_metrics = {"accuracy"}});
    return model;
  };
  Tensor x = f32({1, 2, 3, 4}, {4, 1});
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 1, 1}, {4});
  Sequential model = make();
  // Class 0 weighs 3, class 1 (not listed for 2) keeps 1: (3 + 1 + 1 + 1)·log 2 / 4.
  History h = model.fit(x, labels, {.batch_size = 4, .verbose = 0, .class_weight = {{0, 3.0}}});
  CHECK(h.history.at("loss")[0] == Approx(6 * std::log(2.0) / 4));
  // argmax of equal probabilities is class 0: right only for the first sample, weighted 3 of 6.
  CHECK(h.history.at("accuracy")[0] == Approx(0.5));

  Sequential one_hot_model({layers::Input({1}), layers::Dense(2, {.activation = "softmax",
                                                                  .kernel_initializer = "zeros"})});
  one_hot_model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}),
                         .loss = "categorical_crossentropy"});
  Tensor one_hot = f32({1, 0, 0, 1, 0, 1, 0, 1}, {4, 2});
  History h2 = one_hot_model.fit(x, one_hot, {.batch_size = 4, .verbose = 0, .class_weight = {{1, 0.5}}});
  CHECK(h2.history.at("loss")[0] == Approx((1 + 0.5 * 3) * std::log(2.0) / 4));
}

TEST_CASE("fit refuses class_weight together with sample_weight and weights that do not fit", "[losses]") {
  Sequential model = identity_model();
  Tensor x = f32({1, 2, 3}, {3, 1}), y = f32({0, 0, 0}, {3, 1});
  CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .sample_weight = f32({1, 1, 1}, {3}),
                                     .class_weight = {{0, 2.0}}}),
                    Contains("class_weight") && Contains("not both"));
  CHECK_THROWS_WITH(model.evaluate(x, y, {.verbose = 0, .sample_weight = f32({1, 1}, {2})}),
                    Contains("sample_weight of shape (2,)") && Contains("3 samples"));
}
