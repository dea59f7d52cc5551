// SPDX-License-Identifier: Apache-2.0
// Customizing what happens in fit (src/engine/trainer.cpp): train_step, test_step and
// predict_step overridden on Model subclasses, the helpers a step is built from, and the logs a
// step returns, read only when a log needs them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>

using namespace lamina;

namespace {

// x (n, 4): sin(1.7 i + 0.3); y (n, 2): a fixed linear map of x plus a bias, so Dense layers can
// fit it.
std::pair<Tensor, Tensor> regression(std::int64_t n) {
  std::vector<float> xs, ys;
  for (std::int64_t i = 0; i < n * 4; ++i) xs.push_back(static_cast<float>(std::sin(1.7 * static_cast<double>(i) + 0.3)));
  for (std::int64_t r = 0; r < n; ++r) {
    const float* x = &xs[static_cast<std::size_t>(r * 4)];
    ys.push_back(0.5f * x[0] - x[1] + 0.25f * x[3] + 0.1f);
    ys.push_back(x[2] + 0.3f * x[0] - 0.2f);
  }
  return {Tensor::from_vector(xs, {n, 4}), Tensor::from_vector(ys, {n, 2})};
}

bool same_values(const Tensor& a, const Tensor& b) { return a.to_vector<float>() == b.to_vector<float>(); }

// A Sequential whose train_step updates only the first layer's weights: the second layer must
// stay as initialised, which the built-in step would never do.
struct FirstLayerOnly : Sequential {
  using Sequential::Sequential;
  int train_calls = 0;
  StepLogs train_step(const Batch& data) override {
    ++train_calls;
    const Tensor y_pred = (*this)(data.x[0], true);
    const Tensor loss = compute_loss(data, {y_pred});
    update_loss_tracker(loss, data);
    const std::vector<Tensor> first = get_layer(0)->trainable_weights();
    apply_gradients(compute_gradients(loss, first), first);
    return compute_metrics(data, {y_pred});
  }
};

// Keras 3's documented custom step, written with the public helpers only: it must train exactly
// as the built-in step does.
struct KerasDocsStep : Sequential {
  using Sequential::Sequential;
  StepLogs train_step(const Batch& data) override {
    const Tensor y_pred = (*this)(data.x[0], true);
    const Tensor loss = compute_loss(data, {y_pred});
    update_loss_tracker(loss, data);
    const std::vector<Tensor> weights = trainable_weights();
    apply_gradients(compute_gradients(loss, weights), weights);
    return compute_metrics(data, {y_pred});
  }
};

template <class M>
M two_dense(std::uint64_t seed) {
  set_seed(seed);
  return M({layers::Input({4}), layers::Dense(8, {.activation = "tanh"}), layers::Dense(2)});
}

}  // namespace

TEST_CASE("fit calls an overridden train_step, and one that trains only the first layer leaves the second as it was",
          "[trainer]") {
  auto [x, y] = regression(32);
  FirstLayerOnly model = two_dense<FirstLayerOnly>(3);
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse", .metrics = {"mae"}});
  const std::vector<Tensor> before = model.get_weights();  // kernel0, bias0, kernel1, bias1
  History h = model.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0});
  CHECK(model.train_calls == 8);  // 4 batches x 2 epochs
  const std::vector<Tensor> after = model.get_weights();
  CHECK_FALSE(same_values(before[0], after[0]));
  CHECK_FALSE(same_values(before[1], after[1]));
  CHECK(same_values(before[2], after[2]));
  CHECK(same_values(before[3], after[3]));
  REQUIRE(h.history.count("loss"));
  REQUIRE(h.history.count("mae"));
  CHECK(h.history["loss"][1] < h.history["loss"][0]);

  // The built-in step moves the second layer too: the override above is what made the difference.
  Sequential plain = two_dense<Sequential>(3);
  plain.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  plain.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0});
  CHECK_FALSE(same_values(before[2], plain.get_weights()[2]));
}

TEST_CASE("Keras's documented custom train_step built from the public helpers trains bit for bit like the built-in step",
          "[trainer]") {
  auto [x, y] = regression(40);
  Sequential builtin = two_dense<Sequential>(11);
  KerasDocsStep custom = two_dense<KerasDocsStep>(11);
  for (Model* m : {static_cast<Model*>(&builtin), static_cast<Model*>(&custom)})
    m->compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "mse", .metrics = {"mae"}});
  set_seed(5);
  History a = builtin.fit(x, y, {.batch_size = 16, .epochs = 3, .verbose = 0, .validation_split = 0.2});
  set_seed(5);
  History b = custom.fit(x, y, {.batch_size = 16, .epochs = 3, .verbose = 0, .validation_split = 0.2});
  CHECK(a.history == b.history);
  const auto wa = builtin.get_weights(), wb = custom.get_weights();
  for (std::size_t i = 0; i < wa.size(); ++i) CHECK(same_values(wa[i], wb[i]));
  CHECK(custom.optimizer()->iterations() == 6);  // 2 batches of 16 (32 after the split) x 3
}

TEST_CASE("An overridden test_step serves evaluate and fit's validation, and predict_step serves predict", "[trainer]") {
  struct Probe : Sequential {
    using Sequential::Sequential;
    int test_calls = 0;
    StepLogs test_step(const Batch& data) override {
      ++test_calls;
      const Tensor y_pred = (*this)(data.x[0], false);
      // A log of its own: the batch's largest absolute error, as a tensor.
      return {{"max_error", max(abs(y_pred - data.y[0]))}};
    }
    std::vector<Tensor> predict_step(const Batch& data) override { return {data.x[0] * 0.0 + 7.0}; }
  };
  auto [x, y] = regression(12);
  set_seed(1);
  Probe model({layers::Input({4}), layers::Dense(2)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  const auto scores = model.evaluate(x, y, {.batch_size = 12, .verbose = 0});
  CHECK(model.test_calls == 1);
  REQUIRE(scores.count("max_error") == 1);
  CHECK(scores.count("loss") == 0);
  const Tensor pred = model(x, false);
  CHECK(scores.at("max_error") == Approx(max(abs(pred - y)).item()).epsilon(1e-6));

  History h = model.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0, .validation_data = std::pair{x, y}});
  CHECK(model.test_calls == 1 + 6);  // 3 validation batches per epoch
  CHECK(h.history.count("val_max_error") == 1);
  CHECK(h.history.count("loss") == 1);

  const Tensor p = model.predict(x, {.batch_size = 5});
  CHECK(p.shape() == Shape{12, 4});
  for (float v : p.to_vector<float>()) CHECK(v == 7.0f);
}

TEST_CASE("A step's logs are read only when a log needs them: once per epoch without batch callbacks, every batch with one",
          "[trainer]") {
  struct Counting : Sequential {
    using Sequential::Sequential;
    std::shared_ptr<int> reads = std::make_shared<int>(0);
    StepLogs train_step(const Batch& data) override {
      StepLogs inner = Sequential::train_step(data);
      return StepLogs([inner, reads = reads] {
        ++*reads;
        return inner.read();
      });
    }
  };
  auto [x, y] = regression(40);
  Counting model = two_dense<Counting>(2);
  model.compile({.optimizer = "sgd", .loss = "mse"});
  History h = model.fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0});
  CHECK(*model.reads == 3);  // 5 steps per epoch, read at each epoch's end only
  CHECK(h.history.at("loss").size() == 3);

  *model.reads = 0;
  int batches_seen = 0;
  callbacks::LambdaCallback per_batch({.on_train_batch_end = [&](std::int64_t, const Logs& logs) {
    batches_seen += logs.count("loss") ? 1 : 0;
  }});
  model.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .callbacks = {per_batch}});
  CHECK(batches_seen == 10);
  CHECK(*model.reads == 10 + 2);  // every batch for the callback, and each epoch's end
}

TEST_CASE("The lazily read logs equal the running means of the per-batch losses", "[trainer]") {
  // The loss tracker sums in a tensor; its mean must be the batch losses' sample-weighted mean.
  auto [x, y] = regression(20);
  Sequential model = two_dense<Sequential>(4);
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}), .loss = "mse"});  // weights fixed
  std::vector<double> seen;
  callbacks::LambdaCallback record({.on_train_batch_end = [&](std::int64_t, const Logs& logs) {
    seen.push_back(logs.at("loss"));
  }});
  model.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .callbacks = {record}, .shuffle = false});
  REQUIRE(seen.size() == 3);
  const Tensor pred = model(x, false);
  std::vector<double> per_batch;  // mse of rows [0,8), [8,16), [16,20)
  for (auto [b, e] : {std::pair{0, 8}, {8, 16}, {16, 20}})
    per_batch.push_back(mean(square(pred.slice(b, e) - y.slice(b, e))).item());
  CHECK(seen[0] == Approx(per_batch[0]).epsilon(1e-6));
  CHECK(seen[1] == Approx((8 * per_batch[0] + 8 * per_batch[1]) / 16).epsilon(1e-6));
  CHECK(seen[2] == Approx((8 * per_batch[0] + 8 * per_batch[1] + 4 * per_batch[2]) / 20).epsilon(1e-6));
}

TEST_CASE("The step helpers need a compiled model and say so", "[trainer]") {
  Sequential model({layers::Input({4}), layers::Dense(2)});
  auto [x, y] = regression(4);
  const Batch data{{x}, {y}, {}};
  CHECK_THROWS_WITH(model.compute_loss(data, {model(x)}), Catch::Matchers::Contains("compile"));
  CHECK_THROWS_WITH(model.train_step(data), Catch::Matchers::Contains("compile"));
  CHECK(model.predict_step(data)[0].shape() == Shape{4, 2});
}
