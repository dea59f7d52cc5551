// SPDX-License-Identifier: Apache-2.0
// Losses, metrics, initializers, layers and the fit/evaluate/predict flows on the test device: the
// same numbers as on the CPU, the same errors, and outputs that stay on the device (nothing above
// the backend reads device memory, and nothing made on the host meets device tensors in an op).
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/initializers.hpp>
#include <lamina/layers/attention.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/layers/merge.hpp>
#include <lamina/layers/noise.hpp>
#include <lamina/layers/recurrent.hpp>
#include <lamina/losses.hpp>
#include <lamina/metrics.hpp>
#include <lamina/model.hpp>
#include <lamina/ops.hpp>
#include <lamina/optimizers.hpp>

#include "support/op_testing.hpp"
#include "support/test_device.hpp"

namespace lamina::testing {
namespace {

Tensor labels_of(const std::vector<double>& v, DType dt, Shape shape = {}) {
  if (shape.rank() == 0) shape = {static_cast<std::int64_t>(v.size())};
  return Tensor::from_vector(v, shape).astype(dt);
}

}  // namespace

TEST_CASE("sparse categorical cross-entropy checks labels on the device", "[backend][losses]") {
  const Device dev = test_device();
  const Tensor logits = seq({4, 5}, 3.0, float32);
  auto loss = Loss::from_name("sparse_categorical_crossentropy");
  for (DType dt : {int64, int32, uint8, float32, float64}) {
    INFO(dtype_name(dt));
    const Tensor labels = labels_of({0, 4, 2, 2}, dt);
    const Tensor want = (*loss)(labels, softmax(logits));
    const Tensor got = (*loss)(labels.to(dev), softmax(logits.to(dev)));
    CHECK(got.device() == dev);
    CHECK(got.item() == want.item());
  }
  // The same errors as on the CPU, naming the first bad label.
  for (const std::vector<double>& bad : {std::vector<double>{0, 5, 1, 7}, {0, 1.5, 2, 3},
                                         std::vector<double>{-1, 0, 0, 0}}) {
    const Tensor labels = labels_of(bad, float32);
    std::string want;
    try {
      (*loss)(labels, softmax(logits));
    } catch (const ValueError& e) {
      want = e.what();
    }
    REQUIRE_FALSE(want.empty());
    CHECK_THROWS_WITH((*loss)(labels.to(dev), softmax(logits.to(dev))), want);
  }
}

TEST_CASE("the accuracies run on the predictions' device and match the CPU", "[backend][metrics]") {
  const Device dev = test_device();
  // Rows with ties, a row whose label is out of range, and top-k boundaries.
  const Tensor y_pred = Tensor::from_vector(std::vector<double>{0.1, 0.6, 0.3,  //
                                                                0.5, 0.5, 0.0,  //
                                                                0.2, 0.2, 0.6,  //
                                                                0.3, 0.3, 0.4,  //
                                                                0.7, 0.2, 0.1},
                                            {5, 3})
                            .astype(float32);
  const Tensor sparse = labels_of({1, 1, 0, 3, 0}, float32, {5, 1});
  const Tensor dense = one_hot(labels_of({1, 1, 0, 2, 0}, int64), 3, float32);
  const Tensor weight = labels_of({1, 2, 0.5, 1, 3}, float32);
  const Tensor binary_true = labels_of({0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0}, float32, {5, 3});

  struct Case {
    std::shared_ptr<Metric> metric;
    Tensor y_true;
    std::vector<double> unweighted;  // by hand
  };
  const std::vector<Case> cases = {
      {std::make_shared<metrics::Accuracy>(), labels_of({1, 0, 2, 1, 0}, float32), {1, 1, 1, 0, 1}},
      {std::make_shared<metrics::BinaryAccuracy>(), binary_true, {}},
      {std::make_shared<metrics::CategoricalAccuracy>(), dense, {1, 0, 0, 1, 1}},
      {std::make_shared<metrics::SparseCategoricalAccuracy>(), sparse, {1, 0, 0, 0, 1}},
      {std::make_shared<metrics::TopKCategoricalAccuracy>(2), dense, {1, 1, 1, 1, 1}},
      // Top-1 counts a tie as a hit (no higher score), unlike the argmax above.
      {std::make_shared<metrics::SparseTopKCategoricalAccuracy>(1), sparse, {1, 1, 0, 0, 1}},
      {std::make_shared<metrics::SparseTopKCategoricalAccuracy>(2), sparse, {1, 1, 1, 0, 1}},
  };
  for (const Case& c : cases) {
    INFO(c.metric->name());
    const Tensor& y_true = c.y_true;
    Tensor pred = c.metric->name() == "accuracy" ? argmax(y_pred, -1).astype(float32) : y_pred;
    for (bool weighted : {false, true}) {
      c.metric->reset_state();
      c.metric->update_state(y_true, pred, weighted ? weight : Tensor());
      const double want = c.metric->result();
      c.metric->reset_state();
      c.metric->update_state(y_true.to(dev), pred.to(dev), weighted ? weight.to(dev) : Tensor());
      CHECK(c.metric->result() == want);
      if (!weighted && !c.unweighted.empty()) {
        double mean = 0;
        for (double v : c.unweighted) mean += v / static_cast<double>(c.unweighted.size());
        CHECK(want == Approx(mean).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("weight-free layers keep their tensors on the input's device", "[backend][layers]") {
  const Device dev = test_device();
  const Tensor x = seq({2, 4, 3}, 1.0, float32, 0.5);
  auto same_on_both = [&](auto&& call) {
    set_seed(11);
    const Tensor want = call(x);
    set_seed(11);
    const Tensor got = call(x.to(dev));
    CHECK(got.device() == dev);
    check_same(got.to(Device::cpu()), want, 0);
  };
  SECTION("Dropout with a seed and a noise shape") {
    // A fresh layer each time: a seeded layer's stream moves on with every call.
    same_on_both([](const Tensor& t) {
      return layers::Dropout(0.5, {.noise_shape = std::vector<std::int64_t>{-1, 1, -1}, .seed = 3})(t, true);
    });
  }
  SECTION("SpatialDropout1D, GaussianNoise, GaussianDropout") {
    auto s = layers::SpatialDropout1D(0.5);
    same_on_both([&](const Tensor& t) { return s(t, true); });
    auto n = layers::GaussianNoise(0.3);
    same_on_both([&](const Tensor& t) { return n(t, true); });
    auto g = layers::GaussianDropout(0.3);
    same_on_both([&](const Tensor& t) { return g(t, true); });
  }
  SECTION("Attention with a causal mask") {
    auto a = layers::Attention();
    same_on_both([&](const Tensor& t) { return a(t, t, {.use_causal_mask = true}); });
  }
  SECTION("Dot with normalize") {
    auto d = layers::Dot(2, {.normalize = true});
    same_on_both([&](const Tensor& t) { return d({t, t * 2.0}); });
  }
}

TEST_CASE("recurrent layers run on the test device after Model::to", "[backend][layers]") {
  // Their initial states are made inside the call, on the input's device.
  auto build = [] {
    return Sequential({layers::Input({5, 3}), layers::LSTM(4, {.return_sequences = true}),
                       layers::GRU(3), layers::Dense(2)});
  };
  Sequential on_cpu = build(), on_device = build();
  on_device.set_weights(on_cpu.get_weights());
  on_device.to(test_device());
  const Tensor x = seq({2, 5, 3}, 1.0, float32);
  const Tensor got = on_device(x.to(test_device()));
  CHECK(got.device() == test_device());
  check_same(got.to(Device::cpu()), on_cpu(x), 0);
}

TEST_CASE("fit, evaluate and predict with the model on the test device match the CPU bit for bit",
          "[backend][engine]") {
  // A classifier with dropout, its loss and metrics, and an optimizer with EMA and clipping: every
  // per-step piece runs where the weights are.
  auto build = [] {
    Sequential m({layers::Input({6}), layers::Dense(8, {.activation = "relu"}), layers::Dropout(0.25),
                  layers::Dense(3)});
    return m;
  };
  const Tensor x = seq({40, 6}, 1.0, float32);
  const Tensor y = abs(seq({40}, 2.9, float64)).astype(int64);  // classes 0..2
  struct Run {
    std::vector<Tensor> weights;
    History history;
    std::map<std::string, double> scores;
    Tensor predictions;
  };
  auto run = [&](Device device) {
    set_seed(7);
    Sequential m = build();
    m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01, .clipnorm = 1.0, .use_ema = true}),
               .loss = "sparse_categorical_crossentropy",
               .metrics = {"accuracy", "sparse_top_k_categorical_accuracy"}});
    m.to(device);
    Run r;
    set_seed(8);
    r.history = m.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    r.scores = m.evaluate(x, y, {.batch_size = 16, .verbose = 0});
    r.predictions = m.predict(x, {.verbose = 0});
    CHECK(m.device() == device);
    for (const Tensor& w : m.get_weights()) r.weights.push_back(w.to(Device::cpu()));
    return r;
  };
  const Run want = run(Device::cpu()), got = run(test_device());
  CHECK(got.history.history == want.history.history);
  CHECK(got.scores == want.scores);
  CHECK(got.predictions.device() == Device::cpu());
  check_same(got.predictions, want.predictions, 0);
  REQUIRE(got.weights.size() == want.weights.size());
  for (std::size_t i = 0; i < want.weights.size(); ++i) check_same(got.weights[i], want.weights[i], 0);
  CHECK(want.history.history.count("accuracy") == 1);
}

TEST_CASE("the Identity initializer builds its matrix without raw pointers", "[initializers]") {
  const Tensor eye = initializers::Identity(2.5)({3, 2}, float32);
  CHECK(eye.to_vector<double>() == std::vector<double>{2.5, 0, 0, 2.5, 0, 0});
}

}  // namespace lamina::testing
