// SPDX-License-Identifier: Apache-2.0
// src/losses/losses.cpp — the Loss base (weights, reductions), the shared helpers, and lookup by
// name and by config.
#include "common/json_int.hpp"
#include "lamina/losses.hpp"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/registry.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "losses/common.hpp"

namespace lamina {
namespace losses::detail {

Shape without_last(const Shape& s) { return Shape(s.begin(), s.end() - 1); }
Shape with_last_one(const Shape& s) {
  Shape out = s;
  out.push_back(1);
  return out;
}

Tensor as_floating(const Tensor& t) { return is_floating(t.dtype()) ? t : t.astype(float32); }

void align_ranks(Tensor& a, Tensor& b) {
  if (a.ndim() == b.ndim() + 1 && a.dim(-1) == 1) {
    if (b.ndim() == 1)
      b = b.reshape(with_last_one(b.shape()));
    else
      a = a.reshape(without_last(a.shape()));
  } else if (b.ndim() == a.ndim() + 1 && b.dim(-1) == 1) {
    if (a.ndim() == 1)
      a = a.reshape(with_last_one(a.shape()));
    else
      b = b.reshape(without_last(b.shape()));
  }
}

void shapes_do_not_fit(const std::string& loss, const Tensor& y_true, const Tensor& y_pred,
                       const std::string& expected) {
  throw ShapeError(loss + ": y_true of shape " + y_true.shape().str() +
                   " does not fit y_pred of shape " + y_pred.shape().str() + "; " + expected);
}

namespace {
bool broadcastable(const Shape& a, const Shape& b) {
  for (int i = 1; i <= std::min(a.rank(), b.rank()); ++i) {
    std::int64_t x = a[a.size() - i], y = b[b.size() - i];
    if (x != y && x != 1 && y != 1) return false;
  }
  return true;
}
}  // namespace

std::pair<Tensor, Tensor> operands(const std::string& loss, const Tensor& y_true,
                                   const Tensor& y_pred, bool same_shape) {
  Tensor pred = as_floating(y_pred);
  Tensor truth = y_true.astype(pred.dtype());
  align_ranks(truth, pred);
  if (same_shape ? truth.shape() != pred.shape() : !broadcastable(truth.shape(), pred.shape()))
    shapes_do_not_fit(loss, y_true, y_pred,
                      same_shape ? "expected equal shapes" : "expected equal or broadcastable shapes");
  return {truth, pred};
}

Tensor mean_last(const Tensor& t) { return t.ndim() == 0 ? t : mean(t, {-1}); }

Tensor axis_last(const Tensor& x, int axis, const std::string& loss) {
  const int rank = x.ndim();
  if (axis < -rank || axis >= rank)
    throw ValueError(loss + ": axis " + std::to_string(axis) + " is out of range for a tensor of shape " +
                     x.shape().str());
  const int a = axis < 0 ? axis + rank : axis;
  if (a == rank - 1) return x;
  std::vector<int> perm;
  for (int i = 0; i < rank; ++i)
    if (i != a) perm.push_back(i);
  perm.push_back(a);
  return transpose(x, perm);
}

Tensor softplus(const Tensor& z) {
  // max and |z| both through maximum() so that their gradients at z = 0 add up to sigmoid(0).
  Tensor zero = scalar_like(0.0, z);
  return maximum(z, zero) + log(1.0 + exp(-maximum(z, -z)));
}

Tensor binary_crossentropy_elements(const Tensor& y, const Tensor& x, bool logits) {
  if (logits) return softplus(x) - x * y;  // = max(x,0) - x·y + log(1 + exp(-|x|))
  Tensor p = clip(x, kEpsilon, 1.0 - kEpsilon);
  return -(y * log(p) + (1.0 - y) * log(1.0 - p));
}

}  // namespace losses::detail

using namespace losses::detail;

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::sum:
      return "sum";
    case Reduction::none:
      return "none";
    case Reduction::sum_over_batch_size:
      break;
  }
  return "sum_over_batch_size";
}

Reduction reduction_from_name(const std::string& name) {
  if (name == "sum_over_batch_size" || name == "mean" || name == "auto")
    return Reduction::sum_over_batch_size;
  if (name == "sum") return Reduction::sum;
  if (name == "none") return Reduction::none;
  throw ValueError("unknown reduction '" + name +
                   "'; expected 'sum_over_batch_size', 'sum' or 'none'");
}

namespace {

// Keras: losses are multiplied by the weights after aligning ranks. lamina also lets (N) weights
// weigh every trailing value of an (N, T) loss (whole sequences).
Tensor apply_sample_weight(const std::string& loss, const Tensor& values, const Tensor& weight) {
  Shape aligned = weight.shape();
  if (aligned.rank() == values.ndim() + 1 && aligned.back() == 1) aligned.pop_back();
  while (aligned.rank() < values.ndim()) aligned.push_back(1);
  bool fits = aligned.rank() == values.ndim();
  for (int i = 0; fits && i < aligned.rank(); ++i)
    fits = aligned[i] == 1 || aligned[i] == values.shape()[i];
  if (!fits)
    throw ShapeError(loss + ": sample_weight of shape " + weight.shape().str() +
                     " does not fit per-sample losses of shape " + values.shape().str());
  return values * weight.astype(values.dtype()).reshape(aligned);
}

// A user function: its output is reduced like any per-sample loss.
class FunctionLoss : public Loss {
 public:
  FunctionLoss(Fn fn, std::string name) : Loss(std::move(name)), fn_(std::move(fn)) {}
  std::string class_name() const override { return "LossFunctionWrapper"; }
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override {
    return fn_(y_true, y_pred);
  }

 private:
  Fn fn_;
};

double number(const nlohmann::json& c, const char* key, double fallback) {
  return c.contains(key) && c[key].is_number() ? c[key].get<double>() : fallback;
}
bool flag(const nlohmann::json& c, const char* key, bool fallback) {
  return c.contains(key) && c[key].is_boolean() ? c[key].get<bool>() : fallback;
}
int axis_of(const nlohmann::json& c) {
  if (!c.contains("axis") || c["axis"].is_null()) return -1;
  if (!c["axis"].is_number_integer())
    throw ValueError("loss config: axis must be an integer, got " + c["axis"].dump());
  return json_int<int>(c["axis"], "axis");
}
Reduction reduction_of(const nlohmann::json& c) {
  if (!c.contains("reduction")) return Reduction::sum_over_batch_size;
  if (c["reduction"].is_null()) return Reduction::none;
  return reduction_from_name(c["reduction"].get<std::string>());
}
std::string name_in(const nlohmann::json& c) {
  return c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>() : std::string();
}

using Factory = std::shared_ptr<Loss> (*)(const nlohmann::json& config);

template <class L>
std::shared_ptr<Loss> plain(const nlohmann::json& c) {
  return std::make_shared<L>(losses::ReductionOptions{reduction_of(c), name_in(c)});
}

template <class L>
std::shared_ptr<Loss> crossentropy(const nlohmann::json& c) {
  return std::make_shared<L>(losses::CrossentropyOptions{flag(c, "from_logits", false),
                                                         number(c, "label_smoothing", 0),
                                                         axis_of(c), reduction_of(c), name_in(c)});
}

std::shared_ptr<Loss> huber(const nlohmann::json& c) {
  return std::make_shared<losses::Huber>(losses::HuberOptions{number(c, "delta", 1.0), reduction_of(c), name_in(c)});
}

std::shared_ptr<Loss> cosine_similarity(const nlohmann::json& c) {
  return std::make_shared<losses::CosineSimilarity>(
      losses::CosineSimilarityOptions{axis_of(c), reduction_of(c), name_in(c)});
}

std::shared_ptr<Loss> sparse_crossentropy(const nlohmann::json& c) {
  std::optional<std::int64_t> ignore;
  if (c.contains("ignore_class") && c["ignore_class"].is_number_integer())
    ignore = json_int<std::int64_t>(c["ignore_class"], "ignore_class");
  return std::make_shared<losses::SparseCategoricalCrossentropy>(
      losses::SparseCrossentropyOptions{flag(c, "from_logits", false), ignore, reduction_of(c), name_in(c)});
}

std::shared_ptr<Loss> binary_focal(const nlohmann::json& c) {
  return std::make_shared<losses::BinaryFocalCrossentropy>(losses::BinaryFocalOptions{
      flag(c, "apply_class_balancing", false), number(c, "alpha", 0.25), number(c, "gamma", 2.0),
      flag(c, "from_logits", false), number(c, "label_smoothing", 0), axis_of(c), reduction_of(c), name_in(c)});
}

std::shared_ptr<Loss> categorical_focal(const nlohmann::json& c) {
  return std::make_shared<losses::CategoricalFocalCrossentropy>(losses::CategoricalFocalOptions{
      number(c, "alpha", 0.25), number(c, "gamma", 2.0), flag(c, "from_logits", false),
      number(c, "label_smoothing", 0), axis_of(c), reduction_of(c), name_in(c)});
}

// Keras class name -> factory from a config. Its first alias is Keras's function name (what
// error messages list); the others are Keras 3's short names (losses/__init__.py).
const Registry<Factory>& registry() {
  using namespace losses;
  static const Registry<Factory> known = {
      {"BinaryCrossentropy", &crossentropy<BinaryCrossentropy>, {"binary_crossentropy", "bce", "BCE"}},
      {"BinaryFocalCrossentropy", &binary_focal, {"binary_focal_crossentropy"}},
      {"CategoricalCrossentropy", &crossentropy<CategoricalCrossentropy>, {"categorical_crossentropy"}},
      {"CategoricalFocalCrossentropy", &categorical_focal, {"categorical_focal_crossentropy"}},
      {"CategoricalHinge", &plain<CategoricalHinge>, {"categorical_hinge"}},
      {"CosineSimilarity", &cosine_similarity, {"cosine_similarity"}},
      {"Hinge", &plain<Hinge>, {"hinge"}},
      {"Huber", &huber, {"huber", "huber_loss"}},
      {"KLDivergence", &plain<KLDivergence>, {"kl_divergence", "kld", "KLD", "kullback_leibler_divergence"}},
      {"LogCosh", &plain<LogCosh>, {"log_cosh", "logcosh"}},
      {"MeanAbsoluteError", &plain<MeanAbsoluteError>, {"mean_absolute_error", "mae", "MAE"}},
      {"MeanAbsolutePercentageError", &plain<MeanAbsolutePercentageError>,
       {"mean_absolute_percentage_error", "mape", "MAPE"}},
      {"MeanSquaredError", &plain<MeanSquaredError>, {"mean_squared_error", "mse", "MSE"}},
      {"MeanSquaredLogarithmicError", &plain<MeanSquaredLogarithmicError>,
       {"mean_squared_logarithmic_error", "msle", "MSLE"}},
      {"Poisson", &plain<Poisson>, {"poisson"}},
      {"SparseCategoricalCrossentropy", &sparse_crossentropy, {"sparse_categorical_crossentropy"}},
      {"SquaredHinge", &plain<SquaredHinge>, {"squared_hinge"}},
  };
  return known;
}

}  // namespace

Loss::Loss(std::string name, Reduction reduction) : name_(std::move(name)), reduction_(reduction) {}
Loss::~Loss() = default;

Tensor Loss::valid_mask(const Tensor&, const Tensor&) const { return Tensor(); }

Tensor Loss::operator()(const Tensor& y_true_in, const Tensor& y_pred_in,
                        const Tensor& sample_weight) const {
  // Losses compute in float32 under the 16-bit policies, as Keras's (its Loss.dtype is floatx).
  const auto wide = [](const Tensor& t) {
    return t.defined() && (t.dtype() == float16 || t.dtype() == bfloat16) ? t.astype(float32) : t;
  };
  const Tensor y_true = wide(y_true_in), y_pred = wide(y_pred_in);
  Tensor values = per_sample(y_true, y_pred);
  if (sample_weight.defined()) values = apply_sample_weight(name_, values, sample_weight);
  switch (reduction_) {
    case Reduction::none:
      return values;
    case Reduction::sum:
      return sum(values);
    case Reduction::sum_over_batch_size: {
      // Keras 3 divides by the number of values, not by the sum of the weights; ignored values
      // (a mask) do not count, and Keras adds its epsilon to that count.
      if (values.numel() == 0) return scalar_like(0.0, values);
      Tensor mask = valid_mask(y_true, y_pred);
      if (mask.defined()) {
        // The count of valid values (0/1 flags: their sum is exact in any order).
        const double valid = sum(mask.astype(float64)).item();
        return sum(values) / (valid + kEpsilon);
      }
      return sum(values) / static_cast<double>(values.numel());
    }
  }
  return values;
}

nlohmann::json Loss::get_config() const {
  return {{"name", name_}, {"reduction", reduction_name(reduction_)}};
}

std::shared_ptr<Loss> Loss::from_function(Fn fn, std::string name) {
  if (!fn) throw ValueError("Loss::from_function: the function is empty");
  return std::make_shared<FunctionLoss>(std::move(fn), std::move(name));
}

std::shared_ptr<Loss> Loss::from_name(const std::string& name) {
  if (const auto make = registry().find(name)) return (*make)(nlohmann::json::object());
  std::string list;
  for (const auto& item : registry().items()) list += (list.empty() ? "'" : ", '") + item.aliases.front() + "'";
  throw ValueError("unknown loss '" + name + "'; available losses: " + list +
                   " (and the aliases 'mse', 'mae', 'mape', 'msle', 'bce', 'kld' and the class "
                   "names)");
}

std::shared_ptr<Loss> Loss::from_config(const std::string& class_name, const nlohmann::json& config) {
  const auto make = registry().find_listed(class_name);
  if (!make) {
    if (class_name == "LossFunctionWrapper")
      throw ValueError("loss '" + name_in(config) +
                       "' wraps a user function, which cannot be rebuilt from its config; pass "
                       "the function to compile again");
    throw ValueError("unknown loss class '" + class_name + "'");
  }
  return (*make)(config.is_object() ? config : nlohmann::json::object());
}

namespace losses {

std::shared_ptr<Loss> get(const std::string& name) { return Loss::from_name(name); }

nlohmann::json serialize(const Loss& loss) {
  return {{"module", "keras.losses"},
          {"class_name", loss.class_name()},
          {"config", loss.get_config()},
          {"registered_name", nullptr}};
}

std::shared_ptr<Loss> deserialize(const nlohmann::json& value) {
  if (value.is_string()) return Loss::from_name(value.get<std::string>());
  if (!value.is_object() || !value.contains("class_name") || !value["class_name"].is_string())
    throw ValueError("a loss must be a name or {\"class_name\", \"config\"}, got " + value.dump());
  const nlohmann::json config = value.value("config", nlohmann::json::object());
  return Loss::from_config(value["class_name"].get<std::string>(), config);
}

}  // namespace losses
}  // namespace lamina
