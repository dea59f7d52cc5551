// The training loop: fit, evaluate, predict and the single-batch calls, over one or several
// inputs and outputs.
#include "lamina/model.hpp"

#include <cctype>
#include <cmath>
#include <cstring>

#include "engine/functional.hpp"
#include "engine/model_impl.hpp"
#include "engine/training.hpp"
#include "lamina/callbacks.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

namespace {

ModelImpl& checked(const std::shared_ptr<ModelImpl>& impl) {
  if (!impl) throw ValueError("use of an empty Model handle");
  return *impl;
}

// Rows idx[0..count) of x, copied into a new contiguous batch.
Tensor gather_rows(const Tensor& x, const std::int64_t* idx, std::int64_t count) {
  Shape s = x.shape();
  const std::int64_t n = s[0];
  const std::size_t row_bytes = n ? x.nbytes() / n : 0;
  s[0] = count;
  Tensor out = Tensor::empty(s, x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (std::int64_t i = 0; i < count; ++i)
    std::memcpy(dst + i * row_bytes, src + idx[i] * row_bytes, row_bytes);
  return out;
}

// Every x and y tensor must have a batch axis and the same number of samples.
void check_xy(const char* what, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys) {
  for (const Tensor& x : xs)
    if (!x.defined() || x.ndim() == 0)
      throw ValueError(std::string(what) + ": x must have a batch dimension");
  const std::int64_t n = xs[0].shape()[0];
  if (n == 0) throw ValueError(std::string(what) + ": x is empty (0 samples)");
  for (const Tensor& x : xs)
    if (x.shape()[0] != n)
      throw ValueError(std::string(what) + ": the inputs differ in length (" + std::to_string(n) +
                       " and " + std::to_string(x.shape()[0]) + " samples)");
  for (const Tensor& y : ys)
    if (y.defined() && (y.ndim() == 0 || y.shape()[0] != n))
      throw ValueError(std::string(what) + ": x has " + std::to_string(n) + " samples but y has " +
                       (y.ndim() == 0 ? std::string("none (a scalar)") : std::to_string(y.shape()[0])) +
                       "; they must have the same length");
}

void check_batch_size(const char* what, std::int64_t b) {
  if (b <= 0)
    throw ValueError(std::string(what) + ": batch_size must be positive, got " + std::to_string(b));
}

struct CallbackList {
  std::vector<std::shared_ptr<Callback>> list;
  template <class F>
  void each(F f) {
    for (auto& c : list) f(*c);
  }
};

}  // namespace

namespace {

void require_compiled(const ModelImpl& m, const char* what) {
  if (!m.compiled)
    throw ValueError(std::string(what) + ": the model must be compiled first (call compile())");
}

// x must fit the model's declared (or first-built) input shapes; checked on the whole dataset so
// the message shows the data's shape rather than a batch's.
void check_input(const ModelImpl& m, const char* what, const std::vector<Tensor>& xs) {
  const std::vector<Shape> expected = m.known_input_shapes();
  const std::vector<std::string> names = m.input_names();
  for (std::size_t k = 0; k < xs.size() && k < expected.size(); ++k) {
    const Shape& want = expected[k];
    const Tensor& x = xs[k];
    if (want.empty()) continue;
    bool ok = x.ndim() == want.rank();
    for (int i = 1; ok && i < x.ndim(); ++i) ok = want[i] < 0 || want[i] == x.shape()[i];
    if (!ok)
      throw ShapeError(std::string(what) + ": " + m.class_name() + " '" + m.name() +
                       "' expected input " + (xs.size() > 1 ? "'" + names[k] + "' " : "") +
                       "of shape " + want.str() + ", got x of shape " + x.shape().str());
  }
}

std::vector<Tensor> slice_all(const std::vector<Tensor>& ts, std::int64_t b, std::int64_t e) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(t.defined() ? t.slice(b, e) : Tensor());
  return out;
}

std::vector<Tensor> gather_all(const std::vector<Tensor>& ts, const std::int64_t* idx, std::int64_t count) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(t.defined() ? gather_rows(t, idx, count) : Tensor());
  return out;
}

// y must fit what each loss expects of its output: scores the first sample (inference mode, no
// tape, no random draws) so a wrong label shape fails before any training, naming both shapes.
void check_labels(ModelImpl& m, const char* what, const std::vector<Tensor>& xs,
                  const std::vector<Tensor>& ys) {
  NoGradGuard no_grad;
  const std::vector<Tensor> preds = m.forward(slice_all(xs, 0, 1), false);
  const std::vector<std::string> names = m.output_names();
  bool any = false;
  for (std::size_t i = 0; i < preds.size(); ++i) {
    if (!m.losses[i]) continue;
    if (!ys[i].defined())
      throw ValueError(std::string(what) + ": no target given for output '" + names[i] + "'");
    any = true;
    Shape out = preds[i].shape();
    if (!out.empty()) out[0] = -1;
    const std::string y_name = preds.size() > 1 ? "y['" + names[i] + "']" : std::string("y");
    const std::string context = std::string(what) + ": " + y_name + " of shape " + ys[i].shape().str() +
                                " does not fit the model's output " + out.str() + " under loss '" +
                                m.losses[i]->name() + "': ";
    try {
      (*m.losses[i])(ys[i].slice(0, 1), preds[i]);
    } catch (const ShapeError& e) {
      throw ShapeError(context + e.what());
    } catch (const ValueError& e) {
      throw ValueError(context + e.what());
    }
  }
  if (!any) throw ValueError(std::string(what) + ": no output of the model has a loss");
}

// Forward, loss, backward, optimizer step; updates the loss trackers and metrics.
void train_step(ModelImpl& m, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                const std::vector<Tensor>& weights) {
  std::vector<Tensor> preds = m.forward(xs, true);
  std::vector<double> per_output;
  Tensor loss = engine::total_loss(m, ys, preds, per_output);
  for (const Tensor& w : weights) const_cast<Tensor&>(w).zero_grad();
  loss.backward();
  std::vector<Tensor> grads;
  grads.reserve(weights.size());
  for (const Tensor& w : weights) grads.push_back(w.grad());
  m.optimizer->apply_gradients(grads, weights);
  engine::update_trackers(m, ys, preds, loss.item(), per_output, static_cast<double>(xs[0].shape()[0]));
}

void test_step(ModelImpl& m, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys) {
  NoGradGuard no_grad;
  std::vector<Tensor> preds = m.forward(xs, false);
  std::vector<double> per_output;
  Tensor loss = engine::total_loss(m, ys, preds, per_output);
  engine::update_trackers(m, ys, preds, loss.item(), per_output, static_cast<double>(xs[0].shape()[0]));
}

// Runs test_step over x/y in batches, invoking the test hooks of `cbs`.
std::map<std::string, double> run_evaluation(ModelImpl& m, const std::vector<Tensor>& xs,
                                             const std::vector<Tensor>& ys, std::int64_t batch_size,
                                             CallbackList& cbs) {
  engine::reset_metrics(m);
  const std::int64_t n = xs[0].shape()[0];
  const std::int64_t steps = (n + batch_size - 1) / batch_size;
  cbs.each([](Callback& c) { c.on_test_begin({}); });
  for (std::int64_t s = 0; s < steps; ++s) {
    cbs.each([s](Callback& c) { c.on_test_batch_begin(s, {}); });
    std::int64_t b = s * batch_size, e = std::min(n, b + batch_size);
    test_step(m, slice_all(xs, b, e), slice_all(ys, b, e));
    auto logs = engine::current_logs(m);
    cbs.each([&](Callback& c) { c.on_test_batch_end(s, logs); });
  }
  auto logs = engine::current_logs(m);
  cbs.each([&](Callback& c) { c.on_test_end(logs); });
  return logs;
}

std::vector<Tensor> inputs_of(const ModelImpl& m, const TensorArg& x, const char* what) {
  return engine::arrange(x, m.input_names(), what, "input");
}
std::vector<Tensor> targets_of(const ModelImpl& m, const TensorArg& y, const char* what) {
  return engine::arrange(y, m.output_names(), what, "output", true);
}

// A Sequential without an Input builds on the first data it sees; a Functional model was built
// with its graph.
void build_on(ModelImpl& m, const std::vector<Tensor>& xs) {
  if (dynamic_cast<FunctionalImpl*>(&m)) return;
  NoGradGuard no_grad;
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) {
    Shape s = x.shape();
    s[0] = -1;
    shapes.push_back(s);
  }
  if (shapes.size() == 1) m.build_for(shapes[0]);
  else m.build_for_list(shapes);
}

}  // namespace

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  return fit(TensorArg(x), TensorArg(y), o);
}

History Model::fit(const TensorArg& x_arg, const TensorArg& y_arg, const FitOptions& o) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "fit");
  const std::vector<Tensor> x = inputs_of(m, x_arg, "fit"), y = targets_of(m, y_arg, "fit");
  check_xy("fit", x, y);
  check_batch_size("fit", o.batch_size);
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    throw ValueError("fit: validation_split must be in [0, 1), got " +
                     std::to_string(o.validation_split));
  if (o.epochs < 0 || o.initial_epoch < 0)
    throw ValueError("fit: epochs and initial_epoch must not be negative");

  // The last fraction is held out, before any shuffling (as Keras does).
  const std::int64_t total = x[0].shape()[0];
  std::vector<Tensor> x_train = x, y_train = y, x_val, y_val;
  if (o.validation_data) {
    x_val = inputs_of(m, o.validation_data->first, "fit (validation_data)");
    y_val = targets_of(m, o.validation_data->second, "fit (validation_data)");
    check_xy("fit (validation_data)", x_val, y_val);
    check_input(m, "fit (validation_data)", x_val);
  } else if (o.validation_split > 0) {
    const std::int64_t split = static_cast<std::int64_t>(std::floor(total * (1.0 - o.validation_split)));
    if (split == 0 || split == total)
      throw ValueError("fit: validation_split " + std::to_string(o.validation_split) + " of " +
                       std::to_string(total) + " samples leaves an empty training or validation set");
    x_train = slice_all(x, 0, split);
    y_train = slice_all(y, 0, split);
    x_val = slice_all(x, split, total);
    y_val = slice_all(y, split, total);
  }
  const std::int64_t n = x_train[0].shape()[0];
  const std::int64_t steps = (n + o.batch_size - 1) / o.batch_size;

  // Build on the data's shape before collecting weights.
  check_input(m, "fit", x);
  build_on(m, x_train);
  check_labels(m, "fit", x_train, y_train);
  if (!x_val.empty()) check_labels(m, "fit (validation_data)", x_val, y_val);
  const std::vector<Tensor> weights = m.trainable_weights();

  auto history = std::make_shared<callbacks::HistoryCallback>();
  CallbackList cbs;
  if (o.verbose > 0) cbs.list.push_back(std::make_shared<callbacks::ProgbarLogger>(o.verbose));
  for (const auto& c : o.callbacks) cbs.list.push_back(c.get());
  cbs.list.push_back(history);
  for (auto& c : cbs.list) {
    c->set_model(*this);
    c->params = {{"epochs", o.epochs}, {"steps", steps}, {"verbose", o.verbose}};
  }

  m.stop_training = false;
  cbs.each([](Callback& c) { c.on_train_begin({}); });
  for (int epoch = o.initial_epoch; epoch < o.epochs && !m.stop_training; ++epoch) {
    engine::reset_metrics(m);
    cbs.each([epoch](Callback& c) { c.on_epoch_begin(epoch, {}); });
    Tensor order = o.shuffle ? random_permutation(n) : Tensor();
    std::map<std::string, double> logs;
    for (std::int64_t s = 0; s < steps; ++s) {
      cbs.each([s](Callback& c) { c.on_train_batch_begin(s, {}); });
      const std::int64_t b = s * o.batch_size, e = std::min(n, b + o.batch_size);
      std::vector<Tensor> xb, yb;
      if (o.shuffle) {
        const std::int64_t* idx = order.data<std::int64_t>() + b;
        xb = gather_all(x_train, idx, e - b);
        yb = gather_all(y_train, idx, e - b);
      } else {
        xb = slice_all(x_train, b, e);
        yb = slice_all(y_train, b, e);
      }
      train_step(m, xb, yb, weights);
      logs = engine::current_logs(m);
      cbs.each([&](Callback& c) { c.on_train_batch_end(s, logs); });
      if (m.stop_training) break;
    }
    if (!x_val.empty()) {
      // As Keras 3's fit: the callbacks see the validation's test hooks (the progress bar stays
      // silent there and shows the val_ values on the epoch's line).
      auto val = run_evaluation(m, x_val, y_val, o.batch_size, cbs);
      for (const auto& [k, v] : val) logs["val_" + k] = v;
    }
    cbs.each([&](Callback& c) { c.on_epoch_end(epoch, logs); });
  }
  cbs.each([](Callback& c) { c.on_train_end({}); });
  return history->history();
}

std::map<std::string, double> Model::evaluate(const Tensor& x, const Tensor& y,
                                              const EvaluateOptions& o) {
  return evaluate(TensorArg(x), TensorArg(y), o);
}

std::map<std::string, double> Model::evaluate(const TensorArg& x_arg, const TensorArg& y_arg,
                                              const EvaluateOptions& o) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "evaluate");
  const std::vector<Tensor> x = inputs_of(m, x_arg, "evaluate"), y = targets_of(m, y_arg, "evaluate");
  check_xy("evaluate", x, y);
  check_batch_size("evaluate", o.batch_size);
  check_input(m, "evaluate", x);
  check_labels(m, "evaluate", x, y);
  CallbackList cbs;
  if (o.verbose > 0) cbs.list.push_back(std::make_shared<callbacks::ProgbarLogger>(o.verbose));
  for (const auto& c : o.callbacks) cbs.list.push_back(c.get());
  const std::int64_t steps = (x[0].shape()[0] + o.batch_size - 1) / o.batch_size;
  for (auto& c : cbs.list) {
    c->set_model(*this);
    c->params = {{"epochs", 1}, {"steps", steps}, {"verbose", o.verbose}};
  }
  return run_evaluation(m, x, y, o.batch_size, cbs);
}

Tensor Model::predict(const Tensor& x, const PredictOptions& o) { return predict(TensorArg(x), o); }

Tensor Model::predict(const TensorArg& x, const PredictOptions& o) {
  ModelImpl& m = checked(impl_);
  if (m.num_outputs() != 1)
    throw ValueError("predict: model '" + m.name() + "' has " + std::to_string(m.num_outputs()) +
                     " outputs; use predict_outputs");
  return predict_outputs(x, o)[0];
}

std::vector<Tensor> Model::predict_outputs(const TensorArg& x_arg, const PredictOptions& o) {
  ModelImpl& m = checked(impl_);
  const std::vector<Tensor> x = inputs_of(m, x_arg, "predict");
  check_xy("predict", x, {});
  check_batch_size("predict", o.batch_size);
  check_input(m, "predict", x);
  NoGradGuard no_grad;
  const std::int64_t n = x[0].shape()[0];
  const std::int64_t steps = (n + o.batch_size - 1) / o.batch_size;
  CallbackList cbs;
  if (o.verbose > 0) cbs.list.push_back(std::make_shared<callbacks::ProgbarLogger>(o.verbose));
  for (const auto& c : o.callbacks) cbs.list.push_back(c.get());
  for (auto& c : cbs.list) {
    c->set_model(*this);
    c->params = {{"epochs", 1}, {"steps", steps}, {"verbose", o.verbose}};
  }
  cbs.each([](Callback& c) { c.on_predict_begin({}); });
  std::vector<Tensor> out;
  for (std::int64_t s = 0; s < steps; ++s) {
    cbs.each([s](Callback& c) { c.on_predict_batch_begin(s, {}); });
    const std::int64_t b = s * o.batch_size, e = std::min(n, b + o.batch_size);
    std::vector<Tensor> yb = m.forward(slice_all(x, b, e), false);
    if (out.empty()) {
      for (const Tensor& t : yb) {
        Shape os = t.shape();
        os[0] = n;
        out.push_back(Tensor::empty(os, t.dtype()));
      }
    }
    for (std::size_t i = 0; i < yb.size(); ++i) out[i].slice(b, e).assign(yb[i]);
    cbs.each([s](Callback& c) { c.on_predict_batch_end(s, {}); });
  }
  cbs.each([](Callback& c) { c.on_predict_end({}); });
  return out;
}

std::map<std::string, double> Model::train_on_batch(const Tensor& x, const Tensor& y) {
  return train_on_batch(TensorArg(x), TensorArg(y));
}

std::map<std::string, double> Model::train_on_batch(const TensorArg& x_arg, const TensorArg& y_arg) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "train_on_batch");
  const std::vector<Tensor> x = inputs_of(m, x_arg, "train_on_batch");
  const std::vector<Tensor> y = targets_of(m, y_arg, "train_on_batch");
  check_xy("train_on_batch", x, y);
  check_input(m, "train_on_batch", x);
  build_on(m, x);
  engine::reset_metrics(m);
  train_step(m, x, y, m.trainable_weights());
  return engine::current_logs(m);
}

std::map<std::string, double> Model::test_on_batch(const Tensor& x, const Tensor& y) {
  return test_on_batch(TensorArg(x), TensorArg(y));
}

std::map<std::string, double> Model::test_on_batch(const TensorArg& x_arg, const TensorArg& y_arg) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "test_on_batch");
  const std::vector<Tensor> x = inputs_of(m, x_arg, "test_on_batch");
  const std::vector<Tensor> y = targets_of(m, y_arg, "test_on_batch");
  check_xy("test_on_batch", x, y);
  check_input(m, "test_on_batch", x);
  engine::reset_metrics(m);
  test_step(m, x, y);
  return engine::current_logs(m);
}

}  // namespace lamina
