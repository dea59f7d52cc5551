// Model and Sequential handles: compile, the training loop, evaluate and predict.
#include "lamina/model.hpp"

#include <cctype>
#include <cmath>
#include <cstring>

#include "engine/model_impl.hpp"
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

void check_xy(const char* what, const Tensor& x, const Tensor& y) {
  if (!x.defined() || x.ndim() == 0)
    throw ValueError(std::string(what) + ": x must have a batch dimension");
  if (x.shape()[0] == 0) throw ValueError(std::string(what) + ": x is empty (0 samples)");
  if (y.defined() && (y.ndim() == 0 || y.shape()[0] != x.shape()[0]))
    throw ValueError(std::string(what) + ": x has " + std::to_string(x.shape()[0]) +
                     " samples but y has " +
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

// --- LayerItem -------------------------------------------------------------------------------------

LayerItem::LayerItem(const KerasTensor& input) : layer_(input.layer) {
  if (!layer_) throw ValueError("a KerasTensor without a producing layer cannot start a model");
}
LayerItem::LayerItem(const Model& model) : layer_(model.impl_ptr()) {}

// --- Model -----------------------------------------------------------------------------------------

Model::Model() = default;
Model::Model(std::shared_ptr<ModelImpl> impl) : impl_(std::move(impl)) {}

Model::operator std::shared_ptr<Layer>() const { return impl_; }

void Model::compile(const CompileOptions& options) {
  ModelImpl& m = checked(impl_);
  if (!options.optimizer) throw ValueError("compile: an optimizer is required");
  if (!options.loss) throw ValueError("compile: a loss is required (e.g. .loss = \"mse\")");
  m.optimizer = options.optimizer.ptr();
  m.loss = options.loss.ptr();
  // Unknown metric names fail here, as in Keras, not after the first training step.
  // "accuracy"/"acc" resolve later, from the shapes of the first batch.
  for (const MetricArg& a : options.metrics) {
    if (a.metric()) continue;
    std::string lower = a.name();
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "accuracy" && lower != "acc") Metric::from_name(a.name());
  }
  m.metric_args = options.metrics;
  m.metrics.clear();
  m.compiled = true;
}

namespace {

void require_compiled(const ModelImpl& m, const char* what) {
  if (!m.compiled)
    throw ValueError(std::string(what) + ": the model must be compiled first (call compile())");
}

// x must fit the model's declared (or first-built) input shape; checked on the whole dataset so the
// message shows the data's shape rather than a batch's.
void check_input(const ModelImpl& m, const char* what, const Tensor& x) {
  const Shape expected = m.known_input_shape();
  if (expected.empty()) return;
  bool ok = x.ndim() == expected.rank();
  for (int i = 1; ok && i < x.ndim(); ++i) ok = expected[i] < 0 || expected[i] == x.shape()[i];
  if (!ok)
    throw ShapeError(std::string(what) + ": " + m.class_name() + " '" + m.name() +
                     "' expected input of shape " + expected.str() + ", got x of shape " +
                     x.shape().str());
}

// y must fit what the loss expects of the model's output: scores the first sample (inference mode,
// no tape, no random draws) so a wrong label shape fails before any training, naming both shapes.
void check_labels(ModelImpl& m, const char* what, const Tensor& x, const Tensor& y) {
  NoGradGuard no_grad;
  const Tensor y_pred = m(x.slice(0, 1), false);
  Shape out = y_pred.shape();
  if (!out.empty()) out[0] = -1;
  const std::string context = std::string(what) + ": y of shape " + y.shape().str() +
                              " does not fit the model's output " + out.str() + " under loss '" +
                              m.loss->name() + "': ";
  try {
    (*m.loss)(y.slice(0, 1), y_pred);
  } catch (const ShapeError& e) {
    throw ShapeError(context + e.what());
  } catch (const ValueError& e) {
    throw ValueError(context + e.what());
  }
}

void resolve_metrics(ModelImpl& m, const Tensor& y, const Tensor& y_pred) {
  if (!m.metrics.empty() || m.metric_args.empty()) return;
  for (const MetricArg& a : m.metric_args)
    m.metrics.push_back(a.metric() ? a.metric() : metrics::get(a.name(), y.shape(), y_pred.shape()));
}

void reset_metrics(ModelImpl& m) {
  m.loss_tracker.reset_state();
  for (auto& metric : m.metrics) metric->reset_state();
}

std::map<std::string, double> current_logs(const ModelImpl& m) {
  std::map<std::string, double> logs{{"loss", m.loss_tracker.result()}};
  for (const auto& metric : m.metrics) logs[metric->name()] = metric->result();
  return logs;
}

// Forward, loss, backward, optimizer step; updates the loss tracker and metrics.
void train_step(ModelImpl& m, const Tensor& x, const Tensor& y,
                const std::vector<Tensor>& weights) {
  Tensor y_pred = m(x, true);
  Tensor loss = (*m.loss)(y, y_pred);
  for (const Tensor& w : weights) const_cast<Tensor&>(w).zero_grad();
  loss.backward();
  std::vector<Tensor> grads;
  grads.reserve(weights.size());
  for (const Tensor& w : weights) grads.push_back(w.grad());
  m.optimizer->apply_gradients(grads, weights);
  NoGradGuard no_grad;
  resolve_metrics(m, y, y_pred);
  m.loss_tracker.update(loss.item(), static_cast<double>(x.shape()[0]));
  Tensor pred = y_pred.detach();
  for (auto& metric : m.metrics) metric->update_state(y, pred);
}

void test_step(ModelImpl& m, const Tensor& x, const Tensor& y) {
  NoGradGuard no_grad;
  Tensor y_pred = m(x, false);
  Tensor loss = (*m.loss)(y, y_pred);
  resolve_metrics(m, y, y_pred);
  m.loss_tracker.update(loss.item(), static_cast<double>(x.shape()[0]));
  for (auto& metric : m.metrics) metric->update_state(y, y_pred);
}

// Runs test_step over x/y in batches, invoking the test hooks of `cbs`.
std::map<std::string, double> run_evaluation(ModelImpl& m, const Tensor& x, const Tensor& y,
                                             std::int64_t batch_size, CallbackList& cbs) {
  reset_metrics(m);
  const std::int64_t n = x.shape()[0];
  const std::int64_t steps = (n + batch_size - 1) / batch_size;
  cbs.each([](Callback& c) { c.on_test_begin({}); });
  for (std::int64_t s = 0; s < steps; ++s) {
    cbs.each([s](Callback& c) { c.on_test_batch_begin(s, {}); });
    std::int64_t b = s * batch_size, e = std::min(n, b + batch_size);
    test_step(m, x.slice(b, e), y.slice(b, e));
    auto logs = current_logs(m);
    cbs.each([&](Callback& c) { c.on_test_batch_end(s, logs); });
  }
  auto logs = current_logs(m);
  cbs.each([&](Callback& c) { c.on_test_end(logs); });
  return logs;
}

}  // namespace

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "fit");
  check_xy("fit", x, y);
  check_batch_size("fit", o.batch_size);
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    throw ValueError("fit: validation_split must be in [0, 1), got " +
                     std::to_string(o.validation_split));
  if (o.epochs < 0 || o.initial_epoch < 0)
    throw ValueError("fit: epochs and initial_epoch must not be negative");

  // The last fraction is held out, before any shuffling (as Keras does).
  Tensor x_train = x, y_train = y, x_val, y_val;
  if (o.validation_data) {
    x_val = o.validation_data->first;
    y_val = o.validation_data->second;
    check_xy("fit (validation_data)", x_val, y_val);
    check_input(m, "fit (validation_data)", x_val);
  } else if (o.validation_split > 0) {
    const std::int64_t split = static_cast<std::int64_t>(std::floor(x.shape()[0] * (1.0 - o.validation_split)));
    if (split == 0 || split == x.shape()[0])
      throw ValueError("fit: validation_split " + std::to_string(o.validation_split) + " of " +
                       std::to_string(x.shape()[0]) + " samples leaves an empty training or validation set");
    x_train = x.slice(0, split);
    y_train = y.slice(0, split);
    x_val = x.slice(split, x.shape()[0]);
    y_val = y.slice(split, y.shape()[0]);
  }
  const std::int64_t n = x_train.shape()[0];
  const std::int64_t steps = (n + o.batch_size - 1) / o.batch_size;

  // Build on the data's shape before collecting weights.
  check_input(m, "fit", x);
  {
    NoGradGuard no_grad;
    Shape s = x_train.shape();
    s[0] = -1;
    m.build_for(s);
  }
  check_labels(m, "fit", x_train, y_train);
  if (x_val.defined()) check_labels(m, "fit (validation_data)", x_val, y_val);
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
    reset_metrics(m);
    cbs.each([epoch](Callback& c) { c.on_epoch_begin(epoch, {}); });
    Tensor order = o.shuffle ? random_permutation(n) : Tensor();
    std::map<std::string, double> logs;
    for (std::int64_t s = 0; s < steps; ++s) {
      cbs.each([s](Callback& c) { c.on_train_batch_begin(s, {}); });
      const std::int64_t b = s * o.batch_size, e = std::min(n, b + o.batch_size);
      Tensor xb, yb;
      if (o.shuffle) {
        const std::int64_t* idx = order.data<std::int64_t>() + b;
        xb = gather_rows(x_train, idx, e - b);
        yb = gather_rows(y_train, idx, e - b);
      } else {
        xb = x_train.slice(b, e);
        yb = y_train.slice(b, e);
      }
      train_step(m, xb, yb, weights);
      logs = current_logs(m);
      cbs.each([&](Callback& c) { c.on_train_batch_end(s, logs); });
      if (m.stop_training) break;
    }
    if (x_val.defined()) {
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
  ModelImpl& m = checked(impl_);
  require_compiled(m, "evaluate");
  check_xy("evaluate", x, y);
  check_batch_size("evaluate", o.batch_size);
  check_input(m, "evaluate", x);
  check_labels(m, "evaluate", x, y);
  CallbackList cbs;
  if (o.verbose > 0) cbs.list.push_back(std::make_shared<callbacks::ProgbarLogger>(o.verbose));
  for (const auto& c : o.callbacks) cbs.list.push_back(c.get());
  const std::int64_t steps = (x.shape()[0] + o.batch_size - 1) / o.batch_size;
  for (auto& c : cbs.list) {
    c->set_model(*this);
    c->params = {{"epochs", 1}, {"steps", steps}, {"verbose", o.verbose}};
  }
  return run_evaluation(m, x, y, o.batch_size, cbs);
}

Tensor Model::predict(const Tensor& x, const PredictOptions& o) {
  ModelImpl& m = checked(impl_);
  check_xy("predict", x, Tensor());
  check_batch_size("predict", o.batch_size);
  check_input(m, "predict", x);
  NoGradGuard no_grad;
  const std::int64_t n = x.shape()[0];
  const std::int64_t steps = (n + o.batch_size - 1) / o.batch_size;
  CallbackList cbs;
  if (o.verbose > 0) cbs.list.push_back(std::make_shared<callbacks::ProgbarLogger>(o.verbose));
  for (const auto& c : o.callbacks) cbs.list.push_back(c.get());
  for (auto& c : cbs.list) {
    c->set_model(*this);
    c->params = {{"epochs", 1}, {"steps", steps}, {"verbose", o.verbose}};
  }
  cbs.each([](Callback& c) { c.on_predict_begin({}); });
  Tensor out;
  for (std::int64_t s = 0; s < steps; ++s) {
    cbs.each([s](Callback& c) { c.on_predict_batch_begin(s, {}); });
    const std::int64_t b = s * o.batch_size, e = std::min(n, b + o.batch_size);
    Tensor yb = m(x.slice(b, e), false);
    if (!out.defined()) {
      Shape os = yb.shape();
      os[0] = n;
      out = Tensor::empty(os, yb.dtype());
    }
    out.slice(b, e).assign(yb);
    cbs.each([s](Callback& c) { c.on_predict_batch_end(s, {}); });
  }
  cbs.each([](Callback& c) { c.on_predict_end({}); });
  return out;
}

std::map<std::string, double> Model::train_on_batch(const Tensor& x, const Tensor& y) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "train_on_batch");
  check_xy("train_on_batch", x, y);
  check_input(m, "train_on_batch", x);
  {
    NoGradGuard no_grad;
    Shape s = x.shape();
    s[0] = -1;
    m.build_for(s);
  }
  reset_metrics(m);
  train_step(m, x, y, m.trainable_weights());
  return current_logs(m);
}

std::map<std::string, double> Model::test_on_batch(const Tensor& x, const Tensor& y) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "test_on_batch");
  check_xy("test_on_batch", x, y);
  check_input(m, "test_on_batch", x);
  reset_metrics(m);
  test_step(m, x, y);
  return current_logs(m);
}

Tensor Model::predict_on_batch(const Tensor& x) {
  NoGradGuard no_grad;
  return checked(impl_)(x, false);
}

Tensor Model::operator()(const Tensor& x, bool training) const { return checked(impl_)(x, training); }

std::vector<std::shared_ptr<Layer>> Model::layers() const { return checked(impl_).stack; }

std::shared_ptr<Layer> Model::get_layer(const std::string& name) const {
  for (const auto& l : checked(impl_).stack)
    if (l->name() == name) return l;
  std::string known;
  for (const auto& l : impl_->stack) known += (known.empty() ? "" : ", ") + l->name();
  throw ValueError("no layer named '" + name + "' in model '" + impl_->name() + "' (layers: " +
                   known + ")");
}

std::shared_ptr<Layer> Model::get_layer(int index) const {
  const auto& stack = checked(impl_).stack;
  if (index < 0 || index >= static_cast<int>(stack.size()))
    throw ValueError("layer index " + std::to_string(index) + " is out of range: model '" +
                     impl_->name() + "' has " + std::to_string(stack.size()) + " layers");
  return stack[index];
}

const std::string& Model::name() const { return checked(impl_).name(); }
std::vector<Tensor> Model::weights() const { return checked(impl_).weights(); }
std::vector<Tensor> Model::trainable_weights() const { return checked(impl_).trainable_weights(); }
std::vector<Tensor> Model::get_weights() const { return checked(impl_).get_weights(); }
void Model::set_weights(const std::vector<Tensor>& v) { checked(impl_).set_weights(v); }
std::int64_t Model::count_params() const { return checked(impl_).count_params(); }
Shape Model::input_shape() const { return checked(impl_).known_input_shape(); }

Shape Model::output_shape() const {
  ModelImpl& m = checked(impl_);
  Shape in = m.known_input_shape();
  if (in.empty()) return {};
  return m.compute_output_shape(in);
}

std::shared_ptr<Optimizer> Model::optimizer() const { return checked(impl_).optimizer; }
bool& Model::stop_training() { return checked(impl_).stop_training; }

// --- Sequential ------------------------------------------------------------------------------------

Sequential::Sequential(std::string name) : Model(std::make_shared<ModelImpl>(std::move(name))) {
  impl_->name();
}

Sequential::Sequential(std::initializer_list<LayerItem> layers, std::string name)
    : Sequential(std::move(name)) {
  for (const auto& l : layers) add(l);
}

Sequential::Sequential(const std::vector<LayerItem>& layers, std::string name)
    : Sequential(std::move(name)) {
  for (const auto& l : layers) add(l);
}

void Sequential::add(const LayerItem& layer) { impl_->add(layer.layer()); }
void Sequential::pop() { impl_->pop(); }

}  // namespace lamina
