// SPDX-License-Identifier: Apache-2.0
// Metrics: running weighted means across batches, reset, the accuracies (hand-counted cases),
// Keras's "accuracy" resolution from shapes, and lookup by name.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <lamina/errors.hpp>
#include <lamina/metrics.hpp>
#include <lamina/ops.hpp>
#include <memory>
#include <string>
#include <vector>

using namespace lamina;
using Catch::Matchers::Contains;

namespace {

Tensor f64(std::vector<double> values, Shape shape) { return Tensor::from_vector(values, shape); }
Tensor i64(std::vector<std::int64_t> values, Shape shape) {
  return Tensor::from_vector(values, shape);
}

template <class M>
bool is(const std::shared_ptr<Metric>& m) {
  return dynamic_cast<M*>(m.get()) != nullptr;
}

}  // namespace

TEST_CASE("Mean keeps a running weighted mean until reset", "[metrics]") {
  metrics::Mean mean("loss");
  CHECK(mean.name() == "loss");
  CHECK(mean.result() == 0.0);  // nothing seen yet
  mean.update(2.0);
  mean.update(4.0, 3.0);
  CHECK(mean.result() == Approx(3.5));  // (2 + 12) / 4
  mean.update_state(f64({1, 2, 3}, {3}), Tensor(), f64({1, 1, 2}, {3}));
  CHECK(mean.result() == Approx((14.0 + 9.0) / 8.0));
  mean.reset_state();
  CHECK(mean.result() == 0.0);
  mean.update_state(f64({1, 2, 3, 6}, {2, 2}));  // two samples, means 1.5 and 4.5
  CHECK(mean.result() == Approx(3.0));
}

TEST_CASE(
    "BinaryAccuracy thresholds y_pred (strictly above 0.5 by default) and averages over "
    "batches by sample count",
    "[metrics]") {
  metrics::BinaryAccuracy acc;
  CHECK(acc.name() == "binary_accuracy");
  Tensor y_true = f64({1, 0, 1, 0}, {4, 1});
  Tensor y_pred = f64({0.7, 0.2, 0.4, 0.5}, {4, 1});  // predicted 1, 0, 0, 0
  acc.update_state(y_true, y_pred);
  CHECK(acc.result() == Approx(0.75));
  // A second, smaller batch that is all wrong: 3 right of 6, not the mean of 0.75 and 0.
  acc.update_state(f64({1, 1}, {2}), f64({0.1, 0.3}, {2, 1}));
  CHECK(acc.result() == Approx(0.5));
  acc.reset_state();
  acc.update_state(y_true.astype(uint8), y_pred.astype(float32));
  CHECK(acc.result() == Approx(0.75));

  metrics::BinaryAccuracy low("acc", 0.1);
  low.update_state(y_true, y_pred);  // everything predicted 1
  CHECK(low.result() == Approx(0.5));
  CHECK_THROWS_AS(acc.update_state(f64({1, 0, 1}, {3}), y_pred), ShapeError);
}

TEST_CASE("Sample weights weigh each sample in the accuracies", "[metrics]") {
  metrics::BinaryAccuracy acc;
  acc.update_state(f64({1, 0, 1, 0}, {4, 1}), f64({0.7, 0.2, 0.4, 0.5}, {4, 1}),
                   f64({1, 1, 2, 0.5}, {4}));
  CHECK(acc.result() == Approx(2.5 / 4.5));  // right on weights 1, 1 and 0.5; wrong on 2
  CHECK_THROWS_AS(acc.update_state(f64({1, 0, 1, 0}, {4, 1}), f64({0.7, 0.2, 0.4, 0.5}, {4, 1}),
                                   f64({1, 2, 3}, {3})),
                  ShapeError);
}

TEST_CASE("CategoricalAccuracy compares the argmax of y_true and y_pred", "[metrics]") {
  metrics::CategoricalAccuracy acc;
  Tensor y_true = f64({0, 1, 0, 1, 0, 0, 0, 0, 1}, {3, 3});
  // Row 2 ties between classes 0 and 2: the first maximum (0) is the prediction.
  Tensor y_pred = f64({0.1, 0.8, 0.1, 0.2, 0.7, 0.1, 0.4, 0.2, 0.4}, {3, 3});
  acc.update_state(y_true, y_pred);
  CHECK(acc.result() == Approx(1.0 / 3.0));
  acc.update_state(y_true, f64({0, 1, 0, 1, 0, 0, 0, 0, 1}, {3, 3}).astype(float32));
  CHECK(acc.result() == Approx(4.0 / 6.0));
  CHECK_THROWS_AS(acc.update_state(i64({1, 0, 2}, {3}), y_pred), ShapeError);
}

TEST_CASE(
    "SparseCategoricalAccuracy compares argmax(y_pred) with integer or float labels, "
    "(N) or (N, 1), and over sequences",
    "[metrics]") {
  Tensor y_pred = f64({0.1, 0.8, 0.1, 0.2, 0.1, 0.7, 0.6, 0.3, 0.1, 0.3, 0.3, 0.4}, {4, 3});
  // argmax: 1, 2, 0, 2
  for (Tensor labels : {i64({1, 2, 1, 0}, {4}), i64({1, 2, 1, 0}, {4}).astype(int32),
                        i64({1, 2, 1, 0}, {4}).astype(uint8), f64({1, 2, 1, 0}, {4, 1})}) {
    metrics::SparseCategoricalAccuracy acc;
    acc.update_state(labels, y_pred);
    CHECK(acc.result() == Approx(0.5));
  }
  metrics::SparseCategoricalAccuracy seq;
  seq.update_state(i64({1, 2, 0, 0}, {2, 2}), y_pred.reshape({2, 2, 3}));
  CHECK(seq.result() == Approx(0.75));
  CHECK_THROWS_AS(seq.update_state(i64({1, 2, 1}, {3}), y_pred), ShapeError);
  CHECK_THROWS_WITH(seq.update_state(f64({0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1}, {4, 3}), y_pred),
                    Contains("sparse_categorical_accuracy") && Contains("(4, 3)"));
}

TEST_CASE("MeanSquaredError and MeanAbsoluteError metrics average per-sample errors over batches",
          "[metrics]") {
  metrics::MeanSquaredError mse;
  metrics::MeanAbsoluteError mae;
  Tensor y_true = f64({0, 0, 1, 1}, {2, 2});
  Tensor y_pred = f64({1, 3, 1, 2}, {2, 2});  // squared: (1 + 9) / 2, (0 + 1) / 2
  mse.update_state(y_true, y_pred);
  mae.update_state(y_true, y_pred);
  CHECK(mse.result() == Approx(2.75));
  CHECK(mae.result() == Approx(1.25));
  mse.update_state(f64({0}, {1, 1}), f64({2}, {1, 1}));
  CHECK(mse.result() == Approx((5.0 + 0.5 + 4.0) / 3.0));
  mse.reset_state();
  CHECK(mse.result() == 0.0);
}

TEST_CASE("Metric updates record nothing on the autodiff tape", "[metrics]") {
  bool grad_mode_inside = true;
  metrics::MeanMetricWrapper spy("spy", [&](const Tensor& y_true, const Tensor& y_pred) {
    grad_mode_inside = GradMode::is_enabled();
    return abs(y_pred - y_true);
  });
  Tensor y_pred = f64({1, 2}, {2});
  y_pred.set_requires_grad(true);
  spy.update_state(f64({0, 0}, {2}), y_pred);
  CHECK_FALSE(grad_mode_inside);
  CHECK(GradMode::is_enabled());
  CHECK(spy.result() == Approx(1.5));
}

TEST_CASE("\"accuracy\" resolves from the shapes of the first batch as Keras 3's compile does",
          "[metrics]") {
  auto get = [](const char* name, Shape t, Shape p) { return metrics::get(name, t, p); };
  CHECK(is<metrics::SparseCategoricalAccuracy>(get("accuracy", {32}, {32, 10})));
  CHECK(is<metrics::SparseCategoricalAccuracy>(get("accuracy", {32, 1}, {32, 10})));
  CHECK(is<metrics::SparseCategoricalAccuracy>(get("accuracy", {8, 5}, {8, 5, 10})));
  CHECK(is<metrics::CategoricalAccuracy>(get("accuracy", {32, 10}, {32, 10})));
  CHECK(is<metrics::BinaryAccuracy>(get("accuracy", {32, 1}, {32, 1})));
  CHECK(is<metrics::BinaryAccuracy>(get("accuracy", {32}, {32, 1})));
  CHECK(is<metrics::BinaryAccuracy>(get("accuracy", {32}, {32})));
  auto acc = get("acc", {32}, {32, 10});
  CHECK(is<metrics::SparseCategoricalAccuracy>(acc));
  CHECK(acc->name() == "acc");
  CHECK(get("accuracy", {32, 10}, {32, 10})->name() == "accuracy");
  // Other names resolve regardless of shapes and keep the user's spelling.
  auto mse = get("mse", {32, 1}, {32, 1});
  CHECK(is<metrics::MeanSquaredError>(mse));
  CHECK(mse->name() == "mse");
  CHECK(is<metrics::CategoricalAccuracy>(get("categorical_accuracy", {32}, {32, 10})));
  CHECK_THROWS_AS(get("accuracyy", {32}, {32, 10}), ValueError);
}

TEST_CASE("Metric::from_name resolves Keras names and refuses a bare \"accuracy\"", "[metrics]") {
  CHECK(is<metrics::BinaryAccuracy>(Metric::from_name("binary_accuracy")));
  CHECK(is<metrics::SparseCategoricalAccuracy>(Metric::from_name("SparseCategoricalAccuracy")));
  CHECK(is<metrics::MeanAbsoluteError>(Metric::from_name("mae")));
  CHECK(Metric::from_name("mean_absolute_error")->name() == "mean_absolute_error");
  auto bce = Metric::from_name("binary_crossentropy");
  bce->update_state(f64({1, 0}, {2, 1}), f64({0.5, 0.5}, {2, 1}));
  CHECK(bce->result() == Approx(std::log(2.0)));
  CHECK_THROWS_AS(Metric::from_name("accuracy"), ValueError);
  CHECK_THROWS_WITH(Metric::from_name("acc"), Contains("metrics::get"));
  CHECK_THROWS_WITH(Metric::from_name("f1"), Contains("'f1'") && Contains("binary_accuracy"));
}
