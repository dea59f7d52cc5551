// SPDX-License-Identifier: Apache-2.0
// The elements fit and evaluate take from a dataset, as Keras does: (x, y, sample_weight) with the
// weights applied exactly as an array sample_weight, several inputs and targets by position, and
// named components (Keras's dict elements) matched to the model's input and output names. Every
// expectation is the same model run on the same data given as arrays.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/datasets/dataset.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/model.hpp>
#include <lamina/optimizers.hpp>

using namespace lamina;

namespace {

constexpr std::int64_t kN = 30;

// (30, 3) features, labels in {0, 1, 2}, positive weights, all deterministic.
struct Data {
  Tensor x = Tensor::empty({kN, 3});
  Tensor y = Tensor::empty({kN}, int64);
  Tensor w = Tensor::empty({kN});
  Tensor target = Tensor::empty({kN, 1});  // a regression target
};

Data make_data() {
  Data d;
  for (std::int64_t i = 0; i < kN; ++i) {
    for (int k = 0; k < 3; ++k) d.x.data<float>()[i * 3 + k] = static_cast<float>(((i * 5 + k * 7) % 9) - 4) / 4.0f;
    d.y.data<std::int64_t>()[i] = (i * 7) % 3;
    d.w.data<float>()[i] = 0.25f + static_cast<float>(i % 4);
    d.target.data<float>()[i] = static_cast<float>(i % 5) / 5.0f;
  }
  return d;
}

Sequential classifier(std::uint64_t seed) {
  set_seed(seed);
  Sequential m({layers::Input({3}), layers::Dense(6, {.activation = "tanh"}),
                layers::Dense(3, {.activation = "softmax"})});
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.2}),
             .loss = "sparse_categorical_crossentropy",
             .weighted_metrics = {"accuracy"}});
  return m;
}

// Inputs "a" (2 features) and "b" (1), outputs "cls" (3 classes) and "reg" (1 value).
Model two_by_two(std::uint64_t seed) {
  set_seed(seed);
  auto a = layers::Input({2}, {.name = "a"});
  auto b = layers::Input({1}, {.name = "b"});
  auto h = layers::Dense(5, {.activation = "relu"})(layers::Concatenate()({a, b}));
  Model m({a, b}, {layers::Dense(3, {.activation = "softmax", .name = "cls"})(h),
                   layers::Dense(1, {.name = "reg"})(h)});
  m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
             .loss = {{"cls", "sparse_categorical_crossentropy"}, {"reg", "mse"}},
             .loss_weights = {{"cls", 1.0}, {"reg", 0.5}}});
  return m;
}

// Columns 0-1 and 2 of x, the inputs of two_by_two.
std::pair<Tensor, Tensor> split_x(const Tensor& x) {
  Tensor a = Tensor::empty({kN, 2}), b = Tensor::empty({kN, 1});
  for (std::int64_t i = 0; i < kN; ++i) {
    a.data<float>()[2 * i] = x.data<float>()[3 * i];
    a.data<float>()[2 * i + 1] = x.data<float>()[3 * i + 1];
    b.data<float>()[i] = x.data<float>()[3 * i + 2];
  }
  return {a, b};
}

bool same_weights(const Model& p, const Model& q) {
  auto wp = p.get_weights(), wq = q.get_weights();
  if (wp.size() != wq.size()) return false;
  for (std::size_t i = 0; i < wp.size(); ++i)
    if (wp[i].to_vector<float>() != wq[i].to_vector<float>()) return false;
  return true;
}

}  // namespace

TEST_CASE("(x, y, sample_weight) elements weigh the loss exactly as an array sample_weight",
          "[training][data]") {
  const Data d = make_data();
  Sequential by_arrays = classifier(7), by_dataset = classifier(7);
  History ha = by_arrays.fit(d.x, d.y, {.batch_size = 10, .epochs = 3, .verbose = 0, .shuffle = false,
                                        .sample_weight = d.w});
  History hd = by_dataset.fit(Dataset::from_tensor_slices(d.x, d.y, d.w).batch(10), {.epochs = 3, .verbose = 0});
  CHECK(hd.history.at("loss") == ha.history.at("loss"));
  CHECK(hd.history.at("accuracy") == ha.history.at("accuracy"));
  CHECK(same_weights(by_arrays, by_dataset));
  // The weights change the result: an unweighted evaluation differs.
  const auto weighted = by_dataset.evaluate(Dataset::from_tensor_slices(d.x, d.y, d.w).batch(10), {.verbose = 0});
  CHECK(weighted.at("loss") == Approx(by_arrays.evaluate(d.x, d.y, {.batch_size = 10, .verbose = 0,
                                                                     .sample_weight = d.w})
                                          .at("loss"))
                                   .epsilon(1e-6));
  CHECK(weighted.at("loss") != Approx(by_dataset.evaluate(Dataset::from_tensor_slices(d.x, d.y).batch(10),
                                                          {.verbose = 0})
                                          .at("loss"))
                                   .epsilon(1e-3));
}

TEST_CASE("several inputs and targets by position, with or without sample weights",
          "[training][data]") {
  const Data d = make_data();
  const auto [a, b] = split_x(d.x);
  Model p = two_by_two(8), q = two_by_two(8);
  p.fit({a, b}, {d.y, d.target}, {.batch_size = 6, .epochs = 2, .verbose = 0, .shuffle = false,
                                  .sample_weight = d.w});
  q.fit(Dataset::from_tensor_slices(Element{a, b, d.y, d.target, d.w}).batch(6), {.epochs = 2, .verbose = 0});
  CHECK(same_weights(p, q));
  const auto by_arrays = p.evaluate({a, b}, {d.y, d.target}, {.batch_size = 6, .verbose = 0});
  const auto by_dataset = q.evaluate(Dataset::from_tensor_slices(Element{a, b, d.y, d.target}).batch(6), {.verbose = 0});
  for (const char* key : {"loss", "cls_loss", "reg_loss"}) {
    INFO(key);
    CHECK(by_dataset.at(key) == Approx(by_arrays.at(key)).epsilon(1e-6));
  }
}

TEST_CASE("named elements reach the inputs and outputs of those names, in any order",
          "[training][data]") {
  const Data d = make_data();
  const auto [a, b] = split_x(d.x);
  Model p = two_by_two(9), q = two_by_two(9);
  p.fit({{"a", a}, {"b", b}}, {{"cls", d.y}, {"reg", d.target}},
        {.batch_size = 5, .epochs = 2, .verbose = 0, .shuffle = false, .sample_weight = d.w});
  auto named = Dataset::from_tensor_slices(
      {{"reg", d.target}, {"b", b}, {"sample_weight", d.w}, {"a", a}, {"cls", d.y}});
  CHECK(named.names() == std::vector<std::string>{"reg", "b", "sample_weight", "a", "cls"});
  q.fit(named.batch(5), {.epochs = 2, .verbose = 0});
  CHECK(same_weights(p, q));

  // named() after a map that splits the features into the two inputs.
  auto mapped = Dataset::from_tensor_slices(d.x, d.y, d.target)
                    .map([](Tensor x, Tensor y, Tensor t) {
                      return Element{t, x.slice(0, 2), y, x.slice(2, 3)};
                    })
                    .named({"reg", "a", "cls", "b"})
                    .batch(10);
  const auto got = q.evaluate(mapped, {.verbose = 0});
  const auto want = q.evaluate({{"a", a}, {"b", b}}, {{"cls", d.y}, {"reg", d.target}},
                               {.batch_size = 10, .verbose = 0});
  for (const char* key : {"loss", "cls_loss", "reg_loss"}) {
    INFO(key);
    CHECK(got.at(key) == Approx(want.at(key)).epsilon(1e-6));
  }
  // predict takes the inputs by name and ignores the rest.
  CHECK(q.predict_outputs(mapped)[1].to_vector<float>() ==
        q.predict_outputs({{"a", a}, {"b", b}}, {.batch_size = 10})[1].to_vector<float>());
}

TEST_CASE("named elements that do not fit the model are ValueErrors naming the keys",
          "[training][data]") {
  const Data d = make_data();
  const auto [a, b] = split_x(d.x);
  Model m = two_by_two(1);
  CHECK_THROWS_WITH(m.fit(Dataset::from_tensor_slices({{"a", a}, {"c", b}, {"cls", d.y}}).batch(5), {.verbose = 0}),
                    Catch::Contains("'c' is not an input (a, b) or an output (cls, reg)"));
  CHECK_THROWS_WITH(m.fit(Dataset::from_tensor_slices({{"a", a}, {"b", b}}).batch(5), {.verbose = 0}),
                    Catch::Contains("no target"));
  CHECK_THROWS_WITH(m.evaluate(Dataset::from_tensor_slices({{"a", a}, {"cls", d.y}}).batch(5), {.verbose = 0}),
                    Catch::Contains("input 'b'"));
  CHECK_THROWS_WITH(Dataset::from_tensor_slices(d.x, d.y).named({"a"}), Catch::Contains("1 names given for elements of 2"));
  CHECK_THROWS_WITH(Dataset::from_tensor_slices(d.x, d.y).named({"a", "a"}), Catch::Contains("'a' is given twice"));
}
