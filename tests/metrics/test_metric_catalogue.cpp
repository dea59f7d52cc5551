// SPDX-License-Identifier: Apache-2.0
// The Keras metric catalogue: every metric against the numpy references of
// make_loss_metric_fixtures.py (rebuilt from its Keras config, fed batch by batch), edge cases,
// configs, names and the confusion matrix.
#include <catch2/catch.hpp>
#include <cmath>
#include <lamina/errors.hpp>
#include <lamina/metrics.hpp>
#include <lamina/ops.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "losses/loss_metric_fixture.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using testing::decode_tensor;

namespace {

Tensor f64(std::vector<double> values, Shape shape) { return Tensor::from_vector(values, shape); }

std::vector<std::shared_ptr<Metric>> every_metric() {
  using namespace metrics;
  return {std::make_shared<Accuracy>(),
          std::make_shared<BinaryAccuracy>("bin", 0.7),
          std::make_shared<CategoricalAccuracy>(),
          std::make_shared<SparseCategoricalAccuracy>(),
          std::make_shared<TopKCategoricalAccuracy>(3),
          std::make_shared<SparseTopKCategoricalAccuracy>(2, "top2"),
          std::make_shared<MeanSquaredError>(),
          std::make_shared<RootMeanSquaredError>(),
          std::make_shared<MeanAbsoluteError>(),
          std::make_shared<MeanAbsolutePercentageError>(),
          std::make_shared<CosineSimilarity>("cos", 0),
          std::make_shared<Mean>("m"),
          std::make_shared<Sum>(),
          std::make_shared<Precision>(PrecisionRecallOptions{.thresholds = {0.2, 0.6}, .class_id = 1}),
          std::make_shared<Recall>(PrecisionRecallOptions{.top_k = 2}),
          std::make_shared<AUC>(AUCOptions{.num_thresholds = 50, .curve = "PR", .multi_label = true,
                                           .label_weights = {1.0, 2.0}, .from_logits = true}),
          std::make_shared<FBetaScore>(FBetaOptions{.average = "macro", .beta = 0.5, .threshold = 0.4}),
          std::make_shared<F1Score>("weighted"),
          std::make_shared<R2Score>(R2ScoreOptions{.class_aggregation = "", .num_regressors = 1}),
          std::make_shared<LossMetric>(Loss::from_name("kld")),
          std::make_shared<LossMetric>(
              std::make_shared<losses::BinaryCrossentropy>(losses::CrossentropyOptions{.from_logits = true}))};
}

}  // namespace

TEST_CASE("Every Keras metric matches the numpy reference over several weighted batches", "[metrics]") {
  const auto& cases = testing::loss_metric_fixture()["metrics"];
  REQUIRE(cases.size() > 40);
  for (const auto& c : cases) {
    INFO(c["name"].get<std::string>());
    auto metric = Metric::from_config(c["class_name"], c["config"]);
    for (int pass = 0; pass < 2; ++pass) {  // the second pass checks reset_state
      for (const auto& b : c["batches"]) {
        Tensor weight = b.contains("sample_weight") ? decode_tensor(b["sample_weight"]) : Tensor();
        metric->update_state(decode_tensor(b["y_true"]), decode_tensor(b["y_pred"]), weight);
      }
      const auto want = c["expected"].get<std::vector<double>>();
      const auto got = metric->results();
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-9).margin(1e-12));
      metric->reset_state();
    }
  }
}

TEST_CASE("Metrics with a vector result report its mean as result()", "[metrics]") {
  metrics::Precision p({.thresholds = {0.3, 0.6}});
  p.update_state(f64({1, 0, 1, 1}, {4}), f64({0.5, 0.4, 0.7, 0.2}, {4}));
  // threshold 0.3: predicted 1,1,1,0 -> TP 2, FP 1; threshold 0.6: predicted only the third -> 1/1.
  REQUIRE(p.results().size() == 2);
  CHECK(p.results()[0] == Approx(2.0 / 3));
  CHECK(p.results()[1] == Approx(1.0));
  CHECK(p.result() == Approx((2.0 / 3 + 1.0) / 2));
}

TEST_CASE("AUC is 0 when only one class is present and 1 for a perfect ranking", "[metrics]") {
  metrics::AUC auc;
  auc.update_state(f64({1, 1, 1}, {3}), f64({0.2, 0.5, 0.9}, {3}));
  CHECK(auc.result() == 0.0);  // no negatives: the false-positive rate is taken as 0 everywhere
  auc.reset_state();
  auc.update_state(f64({0, 0, 1, 1}, {4}), f64({0.1, 0.3, 0.6, 0.8}, {4}));
  CHECK(auc.result() == Approx(1.0).margin(1e-6));
  metrics::AUC pr({.curve = "PR"});
  pr.update_state(f64({0, 0, 1, 1}, {4}), f64({0.1, 0.3, 0.6, 0.8}, {4}));
  CHECK(pr.result() == Approx(1.0).margin(1e-3));
  CHECK_THROWS_AS(metrics::AUC({.num_thresholds = 1}), ValueError);
  CHECK_THROWS_WITH(metrics::AUC({.curve = "XY"}), Contains("'XY'"));
}

TEST_CASE("The confusion matrix counts labels against predictions, weighted", "[metrics]") {
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 2, 1}, {5});
  Tensor preds = Tensor::from_vector(std::vector<std::int64_t>{0, 2, 2, 1, 1}, {5});
  Tensor m = metrics::confusion_matrix(labels, preds, 3);
  REQUIRE(m.shape() == Shape{3, 3});
  CHECK(m.to_vector<double>() == std::vector<double>{1, 0, 0, 0, 1, 1, 0, 1, 1});
  Tensor w = metrics::confusion_matrix(labels, preds, 3, f64({1, 2, 3, 4, 5}, {5}));
  CHECK(w.to_vector<double>() == std::vector<double>{1, 0, 0, 0, 5, 2, 0, 4, 3});
  CHECK_THROWS_WITH(metrics::confusion_matrix(labels, preds, 2), Contains("not a class in [0, 2)"));
  CHECK_THROWS_AS(metrics::confusion_matrix(labels, preds.slice(0, 3), 3), ShapeError);
}

TEST_CASE("Every metric writes Keras's config and is rebuilt from it", "[metrics]") {
  for (const auto& metric : every_metric()) {
    INFO(metric->class_name());
    const nlohmann::json config = metric->get_config();
    CHECK(config.at("name") == metric->name());
    CHECK(config.at("dtype") == "float32");
    auto again = Metric::from_config(metric->class_name(), config);
    CHECK(again->class_name() == metric->class_name());
    CHECK(again->get_config() == config);
    CHECK(metrics::deserialize(metrics::serialize(*metric))->get_config() == config);
  }
  CHECK(metrics::Precision().get_config() ==
        nlohmann::json{{"name", "precision"}, {"dtype", "float32"}, {"thresholds", 0.5},
                       {"top_k", nullptr}, {"class_id", nullptr}});
  CHECK(metrics::F1Score().get_config().contains("beta") == false);
  CHECK_THROWS_WITH(Metric::from_config("Precisionn", {}), Contains("Precisionn"));
}

TEST_CASE("Every metric name resolves, keeping the name as written except for class names", "[metrics]") {
  struct Case {
    const char* name;
    const char* class_name;
    const char* metric_name;
  };
  for (Case c : {Case{"auc", "AUC", "auc"}, Case{"AUC", "AUC", "auc"},
                 Case{"precision", "Precision", "precision"}, Case{"Recall", "Recall", "recall"},
                 Case{"f1_score", "F1Score", "f1_score"}, Case{"FBetaScore", "FBetaScore", "fbeta_score"},
                 Case{"r2_score", "R2Score", "r2_score"},
                 Case{"root_mean_squared_error", "RootMeanSquaredError", "root_mean_squared_error"},
                 Case{"top_k_categorical_accuracy", "TopKCategoricalAccuracy", "top_k_categorical_accuracy"},
                 Case{"sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy",
                      "sparse_top_k_categorical_accuracy"},
                 Case{"mape", "MeanAbsolutePercentageError", "mape"},
                 Case{"cosine_similarity", "CosineSimilarity", "cosine_similarity"},
                 Case{"kl_divergence", "KLDivergence", "kl_divergence"},
                 Case{"poisson", "Poisson", "poisson"}, Case{"logcosh", "LogCoshError", "logcosh"},
                 Case{"categorical_hinge", "CategoricalHinge", "categorical_hinge"},
                 Case{"mean", "Mean", "mean"}, Case{"Sum", "Sum", "sum"}}) {
    INFO(c.name);
    auto metric = Metric::from_name(c.name);
    CHECK(metric->class_name() == c.class_name);
    CHECK(metric->name() == c.metric_name);
  }
  auto topk = std::dynamic_pointer_cast<metrics::TopKCategoricalAccuracy>(
      Metric::from_name("top_k_categorical_accuracy"));
  REQUIRE(topk);
  CHECK(topk->k() == 5);
  auto lambda = Metric::from_function(
      [](const Tensor& y_true, const Tensor& y_pred) { return lamina::abs(y_pred - y_true); }, "abs_error");
  lambda->update_state(f64({0, 0}, {2, 1}), f64({1, 3}, {2, 1}));
  CHECK(lambda->result() == Approx(2.0));
  CHECK(lambda->name() == "abs_error");
}

TEST_CASE("Confusion metrics reject shapes and options that do not fit, naming them", "[metrics]") {
  metrics::Precision p;
  CHECK_THROWS_WITH(p.update_state(f64({1, 0}, {2}), f64({0.1, 0.2, 0.3}, {3})),
                    Contains("precision") && Contains("(2,)") && Contains("(3,)"));
  CHECK_THROWS_WITH(p.update_state(f64({1, 0}, {2}), f64({0.1, 0.2}, {2}), f64({1, 2, 3}, {3})),
                    Contains("sample_weight"));
  CHECK_THROWS_AS(metrics::Precision({.thresholds = {1.5}}), ValueError);
  CHECK_THROWS_AS(metrics::F1Score("median"), ValueError);
  CHECK_THROWS_AS(metrics::R2Score({.class_aggregation = "max"}), ValueError);
  metrics::F1Score f1;
  CHECK_THROWS_AS(f1.update_state(f64({1, 0}, {2}), f64({0.1, 0.2}, {2})), ShapeError);
}
