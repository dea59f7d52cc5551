// SPDX-License-Identifier: Apache-2.0
// A Dataset feeding fit, evaluate and predict: the same training as the same batches given as
// arrays, steps_per_epoch and validation_steps, the step count the callbacks see, validation on a
// dataset and the errors for infinite or malformed datasets.
#include <catch2/catch.hpp>

#include <lamina/callbacks.hpp>
#include <lamina/datasets/dataset.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>

using namespace lamina;

namespace {

struct Toy {
  Tensor x;  // (40, 3) float32
  Tensor y;  // (40) int64 in {0, 1}
};

Toy toy() {
  Toy d{Tensor::empty({40, 3}), Tensor::empty({40}, int64)};
  for (std::int64_t i = 0; i < 40; ++i) {
    for (int k = 0; k < 3; ++k) d.x.data<float>()[i * 3 + k] = static_cast<float>(((i * 7 + k * 3) % 11) - 5) / 5.0f;
    d.y.data<std::int64_t>()[i] = d.x.data<float>()[i * 3] + d.x.data<float>()[i * 3 + 1] > 0 ? 1 : 0;
  }
  return d;
}

Sequential classifier(std::uint64_t seed) {
  set_seed(seed);
  Sequential m({layers::Input({3}), layers::Dense(8, {.activation = "relu"}),
                layers::Dense(2, {.activation = "softmax"})});
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
             .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
  return m;
}

// Counts batches per epoch and keeps the params fit gave the callbacks.
struct Recorder : Callback {
  std::vector<std::int64_t> batches;
  void on_epoch_begin(int, const Logs&) override { batches.push_back(0); }
  void on_train_batch_end(std::int64_t, const Logs&) override { ++batches.back(); }
};

bool same_weights(const Model& a, const Model& b) {
  auto wa = a.get_weights(), wb = b.get_weights();
  if (wa.size() != wb.size()) return false;
  for (std::size_t i = 0; i < wa.size(); ++i)
    if (wa[i].to_vector<float>() != wb[i].to_vector<float>()) return false;
  return true;
}

}  // namespace

TEST_CASE("fit on a batched dataset trains exactly as fit on the same arrays", "[data]") {
  const Toy d = toy();
  Sequential a = classifier(5), b = classifier(5);
  REQUIRE(same_weights(a, b));
  History ha = a.fit(d.x, d.y, {.batch_size = 16, .epochs = 3, .verbose = 0, .shuffle = false});
  History hb = b.fit(Dataset::from_tensor_slices(d.x, d.y).batch(16), {.epochs = 3, .verbose = 0});
  CHECK(same_weights(a, b));
  CHECK(ha.history.at("loss") == hb.history.at("loss"));
  CHECK(hb.params.at("steps") == 3);
}

TEST_CASE("evaluate and predict read a dataset as they read arrays", "[data]") {
  const Toy d = toy();
  Sequential m = classifier(3);
  auto ds = Dataset::from_tensor_slices(d.x, d.y).batch(8);
  const auto by_arrays = m.evaluate(d.x, d.y, {.batch_size = 8, .verbose = 0});
  const auto by_dataset = m.evaluate(ds, {.verbose = 0});
  CHECK(by_dataset.at("loss") == Approx(by_arrays.at("loss")).epsilon(1e-6));
  CHECK(by_dataset.at("accuracy") == by_arrays.at("accuracy"));
  const Tensor p = m.predict(d.x);
  // Elements with labels or without: predict reads the inputs only.
  CHECK(m.predict(ds).to_vector<float>() == p.to_vector<float>());
  CHECK(m.predict(Dataset::from_tensor_slices(d.x).batch(7)).to_vector<float>() == p.to_vector<float>());
  CHECK(m.predict(ds, {.steps = 2}).shape() == Shape{16, 2});
}

TEST_CASE("an infinite dataset needs steps_per_epoch, and then each epoch has that many", "[data]") {
  const Toy d = toy();
  Sequential m = classifier(1);
  auto endless = Dataset::from_tensor_slices(d.x, d.y).batch(8).repeat();
  CHECK_THROWS_WITH(m.fit(endless, {.verbose = 0}),
                    Catch::Contains("infinite") && Catch::Contains("steps_per_epoch"));
  CHECK_THROWS_WITH(m.evaluate(endless, {.verbose = 0}), Catch::Contains("infinite") && Catch::Contains("steps"));
  CHECK_THROWS_WITH(m.predict(endless), Catch::Contains("infinite"));
  auto rec = std::make_shared<Recorder>();
  History h = m.fit(endless, {.epochs = 2, .verbose = 0, .callbacks = {rec}, .steps_per_epoch = 3});
  CHECK(rec->batches == std::vector<std::int64_t>{3, 3});
  CHECK(h.params.at("steps") == 3);
  CHECK(m.evaluate(endless, {.verbose = 0, .steps = 2}).count("loss") == 1);
}

TEST_CASE("steps_per_epoch on a finite dataset continues across epochs and restarts when it runs out", "[data]") {
  const Toy d = toy();
  Sequential m = classifier(1);
  auto rec = std::make_shared<Recorder>();
  // 5 batches per pass, 3 per epoch: epochs read batches 0-2, 3-4 + 0, 1-3.
  m.fit(Dataset::from_tensor_slices(d.x, d.y).batch(8), {.epochs = 3, .verbose = 0, .callbacks = {rec},
                                                           .steps_per_epoch = 3});
  CHECK(rec->batches == std::vector<std::int64_t>{3, 3, 3});
}

TEST_CASE("the progress bar's step count follows the dataset's cardinality", "[data]") {
  const Toy d = toy();
  Sequential m = classifier(1);
  auto known = std::make_shared<Recorder>();
  m.fit(Dataset::from_tensor_slices(d.x, d.y).batch(16), {.verbose = 0, .callbacks = {known}});
  CHECK(known->params.at("steps") == 3);
  auto unknown = std::make_shared<Recorder>();
  auto filtered = Dataset::from_tensor_slices(d.x, d.y).filter([](Tensor, Tensor) { return true; }).batch(16);
  REQUIRE(filtered.cardinality() == Dataset::UNKNOWN);
  m.fit(filtered, {.verbose = 0, .callbacks = {unknown}});
  CHECK(unknown->params.at("steps") == -1);
  CHECK(unknown->batches == std::vector<std::int64_t>{3});
}

TEST_CASE("validation_data takes a dataset, with validation_steps", "[data]") {
  const Toy d = toy();
  Sequential m = classifier(2);
  auto train = Dataset::from_tensor_slices(d.x, d.y).take(32).batch(8);
  auto val = Dataset::from_tensor_slices(d.x, d.y).skip(32).batch(4);
  History h = m.fit(train, {.epochs = 2, .verbose = 0, .validation_data = val});
  REQUIRE(h.history.count("val_loss") == 1);
  CHECK(h.history.at("val_loss").back() == Approx(m.evaluate(val, {.verbose = 0}).at("loss")).epsilon(1e-6));
  // One batch of validation: the loss of its 4 samples.
  History one = m.fit(train, {.verbose = 0, .validation_data = val, .validation_steps = 1});
  CHECK(one.history.at("val_loss").back() ==
        Approx(m.evaluate(val.take(1), {.verbose = 0}).at("loss")).epsilon(1e-6));
  CHECK_THROWS_WITH(m.fit(train, {.verbose = 0, .validation_data = val.repeat()}),
                    Catch::Contains("validation_steps"));
  CHECK_THROWS_WITH(m.fit(train, {.verbose = 0, .validation_split = 0.2}), Catch::Contains("validation_split"));
}

TEST_CASE("elements that do not match the model's inputs and outputs are ValueErrors", "[data]") {
  const Toy d = toy();
  Sequential m = classifier(1);
  CHECK_THROWS_WITH(m.fit(Dataset::from_tensor_slices(d.x).batch(8), {.verbose = 0}),
                    Catch::Contains("1 input and 1 target") && Catch::Contains("got 1 tensor"));
  CHECK_THROWS_WITH(m.fit(Dataset::from_tensor_slices(d.x).take(0).batch(8), {.verbose = 0}),
                    Catch::Contains("no batches"));
  CHECK_THROWS_AS(m.fit(Dataset::from_tensor_slices(d.y, d.y).batch(8), {.verbose = 0}), ShapeError);
}

TEST_CASE("a model with two inputs reads positional (a, b, y) elements", "[data]") {
  set_seed(4);
  auto a = layers::Input({2}, {.name = "a"});
  auto b = layers::Input({1}, {.name = "b"});
  auto out = layers::Dense(2, {.activation = "softmax"})(layers::Concatenate()({a, b}));
  Model m({a, b}, out);
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "sparse_categorical_crossentropy"});
  const Toy d = toy();
  Tensor first = Tensor::empty({40, 2}), last = Tensor::empty({40, 1});
  for (std::int64_t i = 0; i < 40; ++i) {
    first.data<float>()[2 * i] = d.x.data<float>()[3 * i];
    first.data<float>()[2 * i + 1] = d.x.data<float>()[3 * i + 1];
    last.data<float>()[i] = d.x.data<float>()[3 * i + 2];
  }
  auto ds = Dataset::from_tensor_slices(first, last, d.y).batch(10);
  const double before = m.evaluate(ds, {.verbose = 0}).at("loss");
  CHECK(before == Approx(m.evaluate({first, last}, d.y, {.batch_size = 10, .verbose = 0}).at("loss")).epsilon(1e-6));
  m.fit(ds, {.epochs = 5, .verbose = 0});
  CHECK(m.evaluate(ds, {.verbose = 0}).at("loss") < before);
  CHECK(m.predict(ds).shape() == Shape{40, 2});
}
