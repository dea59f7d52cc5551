// SPDX-License-Identifier: Apache-2.0
// src/metrics/metrics.cpp — the Metric base, the running means and sums, Keras's per-sample
// accumulation, and lookup by name and by config.
#include "common/json_int.hpp"
#include "lamina/metrics.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/registry.hpp"
#include "lamina/errors.hpp"
#include "lamina/layer.hpp"
#include "lamina/ops.hpp"
#include "metrics/common.hpp"

namespace lamina {
namespace metrics::detail {

Tensor on_cpu(const Tensor& t) { return t.device() == Device::cpu() ? t : t.to(Device::cpu()); }

void shapes_do_not_fit(const std::string& metric, const Tensor& y_true, const Tensor& y_pred,
                       const std::string& expected) {
  throw ShapeError(metric + ": y_true of shape " + y_true.shape().str() +
                   " does not fit y_pred of shape " + y_pred.shape().str() + "; " + expected);
}

namespace {
std::int64_t product(const Shape& s, int from, int to) {
  std::int64_t p = 1;
  for (int i = from; i < to; ++i) p *= s[i];
  return p;
}
}  // namespace

void accumulate(const std::string& metric, const Tensor& values_in, const Tensor& weight_in,
                double& total, double& count, bool sum_trailing) {
  Tensor values_t = on_cpu(values_in);
  const std::vector<double> values = values_t.to_vector<double>();
  Shape vs = values_t.shape();
  if (!weight_in.defined()) {
    if (vs.rank() == 0) {
      total += values[0];
      count += 1.0;
      return;
    }
    if (vs[0] == 0 || values.empty()) return;
    double sum = 0.0;
    for (double v : values) sum += v;
    double per_sample = static_cast<double>(values.size()) / static_cast<double>(vs[0]);
    total += sum_trailing ? sum : sum / per_sample;
    count += static_cast<double>(vs[0]);
    return;
  }

  const std::vector<double> weights = on_cpu(weight_in).to_vector<double>();
  Shape ws = weight_in.shape();
  // Keras's squeeze_or_expand_to_same_rank, on shapes only (the data is contiguous either way).
  if (vs.rank() == ws.rank() + 1 && vs.back() == 1) {
    if (ws.rank() == 1)
      ws.push_back(1);
    else
      vs.pop_back();
  } else if (ws.rank() == vs.rank() + 1 && ws.back() == 1) {
    if (vs.rank() == 1)
      vs.push_back(1);
    else
      ws.pop_back();
  }
  const int k = ws.rank();
  bool fits = k <= vs.rank();
  for (int i = 0; fits && i < k; ++i) fits = ws[i] == vs[i] || ws[i] == 1;
  if (!fits)
    throw ShapeError(metric + ": sample_weight of shape " + weight_in.shape().str() +
                     " does not fit values of shape " + values_in.shape().str());

  // Values reduced over the trailing axes beyond the weights' rank: `groups` groups of `group`.
  const std::int64_t group = product(vs, k, vs.rank());
  const std::int64_t groups = product(vs, 0, k);
  if (groups == 0 || group == 0) return;
  // Weight index of each group: row-major over vs[:k] with stride 0 on broadcast axes.
  std::vector<std::int64_t> stride(k, 0), index(k, 0);
  for (std::int64_t s = 1, i = k - 1; i >= 0; --i) {
    stride[i] = ws[i] == 1 ? 0 : s;
    s *= ws[i];
  }
  double weighted = 0.0, weight_sum = 0.0;
  std::int64_t w_at = 0;
  for (std::int64_t g = 0; g < groups; ++g) {
    double reduced = 0.0;
    for (std::int64_t j = 0; j < group; ++j) reduced += values[g * group + j];
    if (!sum_trailing) reduced /= static_cast<double>(group);
    weighted += reduced * weights[w_at];
    weight_sum += weights[w_at];
    for (int i = k - 1; i >= 0; --i) {  // advance the multi-index over vs[:k]
      w_at += stride[i];
      if (++index[i] < vs[i]) break;
      w_at -= stride[i] * vs[i];
      index[i] = 0;
    }
  }
  // Per-sample weights over several axes are averaged over all but the first (Keras).
  const double inner = k > 1 && !sum_trailing ? static_cast<double>(groups / vs[0]) : 1.0;
  total += weighted / inner;
  count += weight_sum / inner;
}

std::vector<double> row_weights(const std::string& metric, const Tensor& weight, std::int64_t rows) {
  if (!weight.defined()) return std::vector<double>(static_cast<std::size_t>(rows), 1.0);
  const bool fits = (weight.ndim() == 1 && weight.dim(0) == rows) ||
                    (weight.ndim() == 2 && weight.dim(0) == rows && weight.dim(1) == 1) ||
                    (weight.ndim() == 0);
  if (!fits)
    throw ShapeError(metric + ": sample_weight of shape " + weight.shape().str() +
                     " does not fit a batch of " + std::to_string(rows) +
                     " samples; expected (" + std::to_string(rows) + ",)");
  if (weight.ndim() == 0) return std::vector<double>(static_cast<std::size_t>(rows), weight.item());
  return on_cpu(weight).to_vector<double>();
}

Matrix as_matrix(const Tensor& t) {
  Matrix m;
  m.data = on_cpu(t).to_vector<double>();
  m.rows = t.ndim() == 0 ? 1 : t.dim(0);
  m.cols = m.rows == 0 ? 0 : static_cast<std::int64_t>(m.data.size()) / m.rows;
  return m;
}

}  // namespace metrics::detail

using namespace metrics::detail;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// --- reading configs

std::string name_in(const nlohmann::json& c, const std::string& fallback) {
  return c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>() : fallback;
}
double number(const nlohmann::json& c, const char* key, double fallback) {
  return c.contains(key) && c[key].is_number() ? c[key].get<double>() : fallback;
}
std::optional<int> optional_int(const nlohmann::json& c, const char* key) {
  if (c.contains(key) && c[key].is_number_integer()) return json_int<int>(c[key]);
  return std::nullopt;
}
std::string text(const nlohmann::json& c, const char* key, const std::string& fallback) {
  if (!c.contains(key)) return fallback;
  if (c[key].is_null()) return "";
  return c[key].get<std::string>();
}
std::vector<double> numbers(const nlohmann::json& c, const char* key) {
  if (!c.contains(key) || c[key].is_null()) return {};
  if (c[key].is_number()) return {c[key].get<double>()};
  return c[key].get<std::vector<double>>();
}

using Factory = std::function<std::shared_ptr<Metric>(const nlohmann::json& config)>;

template <class M>
std::shared_ptr<Metric> named(const nlohmann::json& c) {
  return c.contains("name") ? std::make_shared<M>(name_in(c, "")) : std::make_shared<M>();
}

std::shared_ptr<Metric> loss_metric(const std::string& loss_class, const nlohmann::json& c) {
  nlohmann::json loss_config = c.is_object() ? c : nlohmann::json::object();
  loss_config.erase("dtype");
  loss_config.erase("name");
  return std::make_shared<metrics::LossMetric>(Loss::from_config(loss_class, loss_config),
                                               name_in(c, ""));
}

// A metric class's entry: found by its class name, its snake_case and `aliases`; error messages
// list the snake_case.
Registry<Factory>::Item metric(const std::string& cls, Factory make, std::vector<std::string> aliases = {}) {
  aliases.insert(aliases.begin(), to_snake_case(cls));
  return {cls, std::move(make), std::move(aliases)};
}

// A Keras metric class that is a loss scored as a mean.
Factory mean_of_loss(const std::string& loss_class) {
  return [loss_class](const nlohmann::json& c) { return loss_metric(loss_class, c); };
}

// Keras metric class -> factory from its config: the metrics, then the losses scored as means.
const Registry<Factory>& registry() {
  using namespace metrics;
  static const Registry<Factory> known = {
      metric("AUC", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        AUCOptions o;
        o.num_thresholds = optional_int(c, "num_thresholds").value_or(200);
        o.curve = text(c, "curve", "ROC");
        o.summation_method = text(c, "summation_method", "interpolation");
        o.multi_label = c.contains("multi_label") && c["multi_label"].is_boolean() &&
                        c["multi_label"].get<bool>();
        o.label_weights = numbers(c, "label_weights");
        o.from_logits = c.contains("from_logits") && c["from_logits"].is_boolean() &&
                        c["from_logits"].get<bool>();
        o.name = name_in(c, "auc");
        return std::make_shared<AUC>(o);
      }),
      metric("Accuracy", &named<Accuracy>),
      metric("BinaryAccuracy", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        return std::make_shared<BinaryAccuracy>(name_in(c, "binary_accuracy"),
                                                number(c, "threshold", 0.5));
      }),
      metric("CategoricalAccuracy", &named<CategoricalAccuracy>),
      metric("CosineSimilarity", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        return std::make_shared<CosineSimilarity>(name_in(c, "cosine_similarity"),
                                                  optional_int(c, "axis").value_or(-1));
      }),
      metric("F1Score", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        std::optional<double> threshold;
        if (c.contains("threshold") && c["threshold"].is_number()) threshold = c["threshold"].get<double>();
        return std::make_shared<F1Score>(text(c, "average", ""), threshold, name_in(c, "f1_score"));
      }),
      metric("FBetaScore", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        std::optional<double> threshold;
        if (c.contains("threshold") && c["threshold"].is_number()) threshold = c["threshold"].get<double>();
        return std::make_shared<FBetaScore>(FBetaOptions{text(c, "average", ""), number(c, "beta", 1.0),
                                                         threshold, name_in(c, "fbeta_score")});
      }, {"fbeta_score"}),
      metric("Mean", &named<Mean>),
      metric("MeanAbsoluteError", &named<MeanAbsoluteError>, {"mae", "MAE"}),
      metric("MeanAbsolutePercentageError", &named<MeanAbsolutePercentageError>, {"mape", "MAPE"}),
      metric("MeanSquaredError", &named<MeanSquaredError>, {"mse", "MSE"}),
      metric("Precision", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        return std::make_shared<Precision>(PrecisionRecallOptions{
            numbers(c, "thresholds"), optional_int(c, "top_k"), optional_int(c, "class_id"),
            name_in(c, "")});
      }),
      metric("R2Score", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        return std::make_shared<R2Score>(R2ScoreOptions{
            text(c, "class_aggregation", "uniform_average"),
            optional_int(c, "num_regressors").value_or(0), name_in(c, "r2_score")});
      }),
      metric("Recall", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        return std::make_shared<Recall>(PrecisionRecallOptions{
            numbers(c, "thresholds"), optional_int(c, "top_k"), optional_int(c, "class_id"),
            name_in(c, "")});
      }),
      metric("RootMeanSquaredError", &named<RootMeanSquaredError>, {"rmse"}),
      metric("SparseCategoricalAccuracy", &named<SparseCategoricalAccuracy>),
      metric("SparseTopKCategoricalAccuracy", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        return std::make_shared<SparseTopKCategoricalAccuracy>(
            optional_int(c, "k").value_or(5), name_in(c, "sparse_top_k_categorical_accuracy"));
      }),
      metric("Sum", &named<Sum>),
      metric("TopKCategoricalAccuracy", [](const nlohmann::json& c) -> std::shared_ptr<Metric> {
        return std::make_shared<TopKCategoricalAccuracy>(optional_int(c, "k").value_or(5),
                                                         name_in(c, "top_k_categorical_accuracy"));
      }),
      metric("BinaryCrossentropy", mean_of_loss("BinaryCrossentropy")),
      metric("CategoricalCrossentropy", mean_of_loss("CategoricalCrossentropy")),
      metric("CategoricalHinge", mean_of_loss("CategoricalHinge")),
      metric("Hinge", mean_of_loss("Hinge")),
      metric("KLDivergence", mean_of_loss("KLDivergence"), {"kld", "KLD"}),
      metric("LogCoshError", mean_of_loss("LogCosh"), {"logcosh", "log_cosh"}),
      metric("MeanSquaredLogarithmicError", mean_of_loss("MeanSquaredLogarithmicError"), {"msle", "MSLE"}),
      metric("Poisson", mean_of_loss("Poisson")),
      metric("SparseCategoricalCrossentropy", mean_of_loss("SparseCategoricalCrossentropy")),
      metric("SquaredHinge", mean_of_loss("SquaredHinge")),
  };
  return known;
}

std::shared_ptr<Metric> build(const std::string& cls, const nlohmann::json& config) {
  const auto make = registry().find_listed(cls);
  return make ? (*make)(config) : nullptr;
}

}  // namespace

// --- Metric -------------------------------------------------------------------------------------

Metric::Metric(std::string name) : name_(std::move(name)) {}
Metric::~Metric() = default;

nlohmann::json Metric::get_config() const { return {{"name", name_}, {"dtype", "float32"}}; }

std::shared_ptr<Metric> Metric::from_name(const std::string& name) {
  if (const std::string l = lower(name); l == "accuracy" || l == "acc")
    throw ValueError("metric '" + name +
                     "' depends on the shapes of the targets and predictions: resolve it with "
                     "metrics::get(name, y_true_shape, y_pred_shape), or name the accuracy "
                     "('binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy')");
  const std::string cls = registry().resolve(name);
  if (cls.empty()) {
    std::string list = "'accuracy'";
    for (const auto& item : registry().items()) list += ", '" + item.aliases.front() + "'";
    throw ValueError("unknown metric '" + name + "'; available metrics: " + list +
                     " (and the aliases 'acc', 'mse', 'mae', 'mape', 'msle', 'kld' and the class "
                     "names)");
  }
  // A class name gives the class's default name (Keras instantiates the class); any other string
  // names the metric as written (Keras wraps the function under that name).
  auto metric = build(cls, nlohmann::json::object());
  if (name != cls) metric->set_name(name);
  return metric;
}

std::shared_ptr<Metric> Metric::from_function(Fn fn, std::string name) {
  if (!fn) throw ValueError("Metric::from_function: the function is empty");
  return std::make_shared<metrics::MeanMetricWrapper>(std::move(name), std::move(fn));
}

std::shared_ptr<Metric> Metric::from_config(const std::string& class_name,
                                            const nlohmann::json& config) {
  auto metric = build(class_name, config.is_object() ? config : nlohmann::json::object());
  if (!metric) {
    if (class_name == "MeanMetricWrapper")
      throw ValueError("metric '" + name_in(config, "") +
                       "' wraps a user function, which cannot be rebuilt from its config; pass "
                       "the function to compile again");
    throw ValueError("unknown metric class '" + class_name + "'");
  }
  return metric;
}

namespace metrics {

// --- MeanMetricWrapper, Mean, Sum ------------------------------------------------------------------

MeanMetricWrapper::MeanMetricWrapper(std::string name, Fn per_sample)
    : Metric(std::move(name)), per_sample_(std::move(per_sample)) {
  if (!per_sample_) throw ValueError("MeanMetricWrapper '" + this->name() + "': empty function");
}

void MeanMetricWrapper::update_state(const Tensor& y_true, const Tensor& y_pred,
                                     const Tensor& sample_weight) {
  NoGradGuard no_grad;
  accumulate(name(), per_sample_(y_true, y_pred), sample_weight, total_, count_);
}

double MeanMetricWrapper::result() const { return count_ == 0.0 ? 0.0 : total_ / count_; }

void MeanMetricWrapper::reset_state() { total_ = count_ = 0.0; }

Mean::Mean(Name name) : Metric(std::move(name)) {}

void Mean::update_state(const Tensor& values, const Tensor&, const Tensor& sample_weight) {
  NoGradGuard no_grad;
  accumulate(name(), values, sample_weight, total_, count_);
}

void Mean::update(double value, double weight) {
  total_ += value * weight;
  count_ += weight;
}

double Mean::result() const { return count_ == 0.0 ? 0.0 : total_ / count_; }

void Mean::reset_state() { total_ = count_ = 0.0; }

Sum::Sum(Name name) : Metric(std::move(name)) {}

void Sum::update_state(const Tensor& values, const Tensor&, const Tensor& sample_weight) {
  NoGradGuard no_grad;
  double unused = 0.0;
  accumulate(name(), values, sample_weight, total_, unused, true);
}

// --- lookup ------------------------------------------------------------------------------------

std::shared_ptr<Metric> get(const std::string& name, const Shape& y_true_shape,
                            const Shape& y_pred_shape) {
  const std::string l = lower(name);
  if (l != "accuracy" && l != "acc") return Metric::from_name(name);
  // Keras 3's compile rule. A rank-1 y_pred (one value per sample) counts as binary too: an argmax
  // over the batch axis would be meaningless.
  const bool binary = y_pred_shape.rank() <= 1 || y_pred_shape.back() == 1;
  const bool sparse = y_true_shape.rank() < y_pred_shape.rank() ||
                      (y_true_shape.rank() > 0 && y_true_shape.back() == 1);
  if (binary) return std::make_shared<BinaryAccuracy>(name);
  if (sparse) return std::make_shared<SparseCategoricalAccuracy>(name);
  return std::make_shared<CategoricalAccuracy>(name);
}

nlohmann::json serialize(const Metric& metric) {
  return {{"module", "keras.metrics"},
          {"class_name", metric.class_name()},
          {"config", metric.get_config()},
          {"registered_name", nullptr}};
}

std::shared_ptr<Metric> deserialize(const nlohmann::json& value) {
  if (value.is_string()) return Metric::from_name(value.get<std::string>());
  if (!value.is_object() || !value.contains("class_name") || !value["class_name"].is_string())
    throw ValueError("a metric must be a name or {\"class_name\", \"config\"}, got " + value.dump());
  return Metric::from_config(value["class_name"].get<std::string>(),
                             value.value("config", nlohmann::json::object()));
}

}  // namespace metrics
}  // namespace lamina
