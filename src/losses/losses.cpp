// src/losses/losses.cpp — Keras's losses, composed from differentiable ops (the categorical
// cross-entropies from logits use the fused softmax + cross-entropy kernels).
#include "lamina/losses.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <utility>

#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/dispatch.hpp"

namespace lamina {
namespace {

// Keras's backend epsilon: probabilities are clipped to [kEpsilon, 1 - kEpsilon] before a log.
constexpr double kEpsilon = 1e-7;

Shape without_last(const Shape& s) { return Shape(s.begin(), s.end() - 1); }
Shape with_last_one(const Shape& s) {
  Shape out = s;
  out.push_back(1);
  return out;
}

Tensor as_floating(const Tensor& t) { return is_floating(t.dtype()) ? t : t.astype(float32); }

bool broadcastable(const Shape& a, const Shape& b) {
  for (int i = 1; i <= std::min(a.rank(), b.rank()); ++i) {
    std::int64_t x = a[a.size() - i], y = b[b.size() - i];
    if (x != y && x != 1 && y != 1) return false;
  }
  return true;
}

// Keras's squeeze_or_expand_to_same_rank: ranks that differ by one trailing 1 are aligned, so
// y_true (N) meets y_pred (N, 1).
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

Tensor mean_last(const Tensor& t) { return t.ndim() == 0 ? t : mean(t, {-1}); }

[[noreturn]] void shapes_do_not_fit(const std::string& loss, const Tensor& y_true,
                                    const Tensor& y_pred, const std::string& expected) {
  throw ShapeError(loss + ": y_true of shape " + y_true.shape().str() +
                   " does not fit y_pred of shape " + y_pred.shape().str() + "; " + expected);
}

// The logits behind a probability tensor, when the loss may use them: the tensor itself when the
// user says it holds logits, else the input of the softmax/sigmoid that produced it (TF-Keras
// scores those from the logits too: exact where the clipped probabilities would saturate).
std::pair<Tensor, bool> logits_or_probabilities(const Tensor& y_pred, bool from_logits,
                                                Tensor (*logits_of)(const Tensor&)) {
  if (from_logits) return {as_floating(y_pred), true};
  Tensor logits = logits_of(y_pred);
  if (logits.defined()) return {logits, true};
  return {as_floating(y_pred), false};
}

// Class indices as int64, checked against [0, classes); float labels must hold integers.
Tensor class_indices(const std::string& loss, const Tensor& labels, std::int64_t classes) {
  Tensor host = labels.to(Device::cpu());
  Tensor out = Tensor::empty(host.shape(), int64);
  std::int64_t* dst = out.data<std::int64_t>();
  detail::dispatch_all(host.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = host.data<T>();
    for (std::int64_t i = 0; i < host.numel(); ++i) {
      double value = static_cast<double>(src[i]);
      if (value != std::floor(value)) {
        std::ostringstream msg;
        msg << loss << ": label " << value << " is not a class index (an integer in [0, " << classes
            << "))";
        throw ValueError(msg.str());
      }
      if (value < 0 || value >= static_cast<double>(classes)) {
        std::ostringstream msg;
        msg << loss << ": label " << static_cast<std::int64_t>(value) << " is out of range for "
            << classes << " classes; labels must be in [0, " << classes << ")";
        throw ValueError(msg.str());
      }
      dst[i] = static_cast<std::int64_t>(value);
    }
  });
  return labels.device() == Device::cpu() ? out : out.to(labels.device());
}

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

template <class L>
std::shared_ptr<Loss> make() {
  return std::make_shared<L>();
}

// A user function: its output is reduced like any per-sample loss.
class FunctionLoss : public Loss {
 public:
  FunctionLoss(Fn fn, std::string name) : Loss(std::move(name)), fn_(std::move(fn)) {}
  Tensor per_sample(const Tensor& y_true, const Tensor& y_pred) const override {
    return fn_(y_true, y_pred);
  }

 private:
  Fn fn_;
};

}  // namespace

Loss::Loss(std::string name, Reduction reduction) : name_(std::move(name)), reduction_(reduction) {}
Loss::~Loss() = default;

Tensor Loss::operator()(const Tensor& y_true, const Tensor& y_pred,
                        const Tensor& sample_weight) const {
  Tensor values = per_sample(y_true, y_pred);
  if (sample_weight.defined()) values = apply_sample_weight(name_, values, sample_weight);
  switch (reduction_) {
    case Reduction::none:
      return values;
    case Reduction::sum:
      return sum(values);
    case Reduction::sum_over_batch_size:
      // Keras 3 divides by the number of values, not by the sum of the weights.
      if (values.numel() == 0) return Tensor::scalar(0.0, values.dtype());
      return sum(values) / static_cast<double>(values.numel());
  }
  return values;
}

std::shared_ptr<Loss> Loss::from_function(Fn fn, std::string name) {
  if (!fn) throw ValueError("Loss::from_function: the function is empty");
  return std::make_shared<FunctionLoss>(std::move(fn), std::move(name));
}

std::shared_ptr<Loss> Loss::from_name(const std::string& name) {
  using Factory = std::shared_ptr<Loss> (*)();
  static const std::map<std::string, Factory> known = {
      {"mean_squared_error", &make<losses::MeanSquaredError>},
      {"mean_absolute_error", &make<losses::MeanAbsoluteError>},
      {"binary_crossentropy", &make<losses::BinaryCrossentropy>},
      {"categorical_crossentropy", &make<losses::CategoricalCrossentropy>},
      {"sparse_categorical_crossentropy", &make<losses::SparseCategoricalCrossentropy>},
  };
  // Keras's aliases and class names.
  static const std::map<std::string, std::string> aliases = {
      {"mse", "mean_squared_error"},
      {"MSE", "mean_squared_error"},
      {"MeanSquaredError", "mean_squared_error"},
      {"mae", "mean_absolute_error"},
      {"MAE", "mean_absolute_error"},
      {"MeanAbsoluteError", "mean_absolute_error"},
      {"bce", "binary_crossentropy"},
      {"BCE", "binary_crossentropy"},
      {"BinaryCrossentropy", "binary_crossentropy"},
      {"CategoricalCrossentropy", "categorical_crossentropy"},
      {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"},
  };
  std::string key = name;
  if (auto a = aliases.find(name); a != aliases.end()) key = a->second;
  if (auto k = known.find(key); k != known.end()) return k->second();
  std::string list;
  for (const auto& [known_name, factory] : known)
    list += (list.empty() ? "'" : ", '") + known_name + "'";
  throw ValueError("unknown loss '" + name + "'; available losses: " + list +
                   " (and the aliases 'mse', 'mae', 'bce' and the class names)");
}

namespace losses {

std::shared_ptr<Loss> get(const std::string& name) { return Loss::from_name(name); }

// --- regression
// -------------------------------------------------------------------------------------

namespace {
// Both regression losses: y_true is cast to y_pred's dtype, ranks aligned, shapes broadcast.
std::pair<Tensor, Tensor> regression_operands(const std::string& loss, const Tensor& y_true,
                                              const Tensor& y_pred) {
  Tensor pred = as_floating(y_pred);
  Tensor truth = y_true.astype(pred.dtype());
  align_ranks(truth, pred);
  if (!broadcastable(truth.shape(), pred.shape()))
    shapes_do_not_fit(loss, y_true, y_pred, "expected equal or broadcastable shapes");
  return {truth, pred};
}
}  // namespace

MeanSquaredError::MeanSquaredError(ReductionOptions options)
    : Loss("mean_squared_error", options.reduction) {}

Tensor MeanSquaredError::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = regression_operands(name(), y_true, y_pred);
  return mean_last(square(pred - truth));
}

MeanAbsoluteError::MeanAbsoluteError(ReductionOptions options)
    : Loss("mean_absolute_error", options.reduction) {}

Tensor MeanAbsoluteError::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [truth, pred] = regression_operands(name(), y_true, y_pred);
  return mean_last(abs(pred - truth));
}

// --- binary cross-entropy
// -------------------------------------------------------------------------

BinaryCrossentropy::BinaryCrossentropy(CrossentropyOptions options)
    : Loss("binary_crossentropy", options.reduction), options_(options) {}

Tensor BinaryCrossentropy::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [x, logits] = logits_or_probabilities(y_pred, options_.from_logits, &sigmoid_logits_of);
  Tensor y = y_true.astype(x.dtype());
  align_ranks(y, x);
  if (y.shape() != x.shape()) shapes_do_not_fit(name(), y_true, y_pred, "expected equal shapes");
  if (options_.label_smoothing > 0)
    y = y * (1.0 - options_.label_smoothing) + 0.5 * options_.label_smoothing;

  if (logits) {
    // max(x, 0) - x·y + log(1 + exp(-|x|)): no overflow for any x. Both max and |x| are written
    // with maximum() so that their gradients at x = 0 agree and sum to the true 0.5 - y.
    Tensor zero = Tensor::scalar(0.0, x.dtype());
    Tensor abs_x = maximum(x, -x);
    return mean_last(maximum(x, zero) - x * y + log(1.0 + exp(-abs_x)));
  }
  Tensor p = clip(x, kEpsilon, 1.0 - kEpsilon);
  return mean_last(-(y * log(p) + (1.0 - y) * log(1.0 - p)));
}

// --- categorical cross-entropies
// ------------------------------------------------------------------

CategoricalCrossentropy::CategoricalCrossentropy(CrossentropyOptions options)
    : Loss("categorical_crossentropy", options.reduction), options_(options) {}

Tensor CategoricalCrossentropy::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  auto [x, logits] = logits_or_probabilities(y_pred, options_.from_logits, &softmax_logits_of);
  Tensor y = y_true.astype(x.dtype());
  align_ranks(y, x);
  if (x.ndim() == 0 || y.shape() != x.shape())
    shapes_do_not_fit(name(), y_true, y_pred,
                      "expected one-hot targets of the same shape (for integer labels use "
                      "sparse_categorical_crossentropy)");
  if (options_.label_smoothing > 0) {
    double classes = static_cast<double>(x.dim(-1));
    y = y * (1.0 - options_.label_smoothing) + options_.label_smoothing / classes;
  }
  if (logits) return softmax_cross_entropy(x, y);
  // Keras renormalises the probabilities over the class axis, then clips.
  Tensor p = clip(x / sum(x, {-1}, true), kEpsilon, 1.0 - kEpsilon);
  return -sum(y * log(p), {-1});
}

SparseCategoricalCrossentropy::SparseCategoricalCrossentropy(SparseCrossentropyOptions options)
    : Loss("sparse_categorical_crossentropy", options.reduction), options_(options) {}

Tensor SparseCategoricalCrossentropy::per_sample(const Tensor& y_true, const Tensor& y_pred) const {
  if (y_pred.ndim() == 0)
    throw ShapeError(name() + ": predictions must have a class axis, got shape " +
                     y_pred.shape().str());
  auto [x, logits] = logits_or_probabilities(y_pred, options_.from_logits, &softmax_logits_of);
  Shape label_shape = without_last(x.shape());
  Tensor labels = y_true;
  if (labels.ndim() == x.ndim() && labels.dim(-1) == 1) labels = labels.reshape(label_shape);
  if (labels.shape() != label_shape) {
    throw ShapeError(name() + ": labels of shape " + y_true.shape().str() +
                     " do not fit predictions of shape " + y_pred.shape().str() + "; expected " +
                     label_shape.str() + " or " + with_last_one(label_shape).str() +
                     " (for one-hot targets use categorical_crossentropy)");
  }
  std::int64_t classes = x.dim(-1);
  Tensor indices = class_indices(name(), labels, classes);
  if (logits) return sparse_softmax_cross_entropy(x, indices);
  Tensor log_p = log(clip(x / sum(x, {-1}, true), kEpsilon, 1.0 - kEpsilon));
  return -sum(one_hot(indices, classes, x.dtype()) * log_p, {-1});
}

}  // namespace losses
}  // namespace lamina
