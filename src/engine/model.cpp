// SPDX-License-Identifier: Apache-2.0
// The training loop: fit, evaluate, predict and the single-batch calls, over one or several
// inputs and outputs.
#include "lamina/model.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <numeric>
#include <mutex>
#include <optional>
#include <set>

#include "engine/functional.hpp"
#include "engine/model_impl.hpp"
#include "engine/training.hpp"
#include "lamina/callbacks.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/random.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

namespace engine {
namespace {

void collect_paths(const Layer& layer, const std::string& scope,
                   std::vector<std::pair<Tensor, std::string>>& out) {
  const bool functional = dynamic_cast<const FunctionalImpl*>(&layer) != nullptr;
  const std::string inner = functional ? scope : scope + layer.name() + "/";
  for (const auto& w : layer.own_weights()) out.emplace_back(w.value, inner + w.name);
  for (const auto& sub : layer.sublayers()) collect_paths(*sub, inner, out);
}

}  // namespace

std::vector<std::string> variable_paths(const ModelImpl& m, const std::vector<Tensor>& weights) {
  std::vector<std::pair<Tensor, std::string>> named;
  collect_paths(m, "", named);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    auto it = std::find_if(named.begin(), named.end(),
                           [&](const auto& n) { return n.first.shares_storage(weights[i]); });
    out.push_back(it != named.end() ? it->second : "variable_" + std::to_string(i));
  }
  return out;
}

}  // namespace engine

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

// As Keras, the optimizer is built before the first step, its slots named after the variables'
// paths ("adam/dense_kernel_momentum").
void build_optimizer(ModelImpl& m, const std::vector<Tensor>& weights) {
  if (!m.optimizer->built()) m.optimizer->build(weights, engine::variable_paths(m, weights));
}

// Forward, loss, backward, optimizer step; updates the loss trackers and metrics.
// skip_nonfinite (TerminateOnNaN): a NaN or Inf loss leaves the weights and optimizer untouched.
void train_step(ModelImpl& m, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                const std::vector<Tensor>& weights, const std::vector<Tensor>& sample_weights = {},
                bool skip_nonfinite = false) {
  m.clear_losses();
  std::vector<Tensor> masks;  // the outputs' Keras masks weight the loss and the metrics
  std::vector<Tensor> preds = m.forward_masked(xs, {}, true, masks);
  std::vector<double> per_output;
  Tensor loss = engine::total_loss(m, ys, preds, per_output, engine::masked_loss_weights(sample_weights, masks));
  const double loss_value = loss.item();
  if (!skip_nonfinite || std::isfinite(loss_value)) {
    for (const Tensor& w : weights) const_cast<Tensor&>(w).zero_grad();
    m.optimizer->scale_loss(loss).backward();  // LossScaleOptimizer scales; others return loss
    std::vector<Tensor> grads;
    grads.reserve(weights.size());
    for (const Tensor& w : weights) grads.push_back(w.grad());
    m.optimizer->apply_gradients(grads, weights);
    m.apply_constraints();  // Keras projects constrained weights after each update
  }
  engine::update_trackers(m, ys, preds, loss_value, per_output, static_cast<double>(xs[0].shape()[0]),
                          sample_weights, masks);
}

void test_step(ModelImpl& m, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
               const std::vector<Tensor>& sample_weights = {}) {
  NoGradGuard no_grad;
  m.clear_losses();
  std::vector<Tensor> masks;
  std::vector<Tensor> preds = m.forward_masked(xs, {}, false, masks);
  std::vector<double> per_output;
  Tensor loss = engine::total_loss(m, ys, preds, per_output, engine::masked_loss_weights(sample_weights, masks));
  engine::update_trackers(m, ys, preds, loss.item(), per_output, static_cast<double>(xs[0].shape()[0]),
                          sample_weights, masks);
}

// A permutation of 0..n-1 that depends on (key, epoch) alone (Fisher-Yates driven by SplitMix64),
// so that a resumed fit can rebuild the order of any epoch.
Tensor epoch_order(std::int64_t n, std::uint64_t key, int epoch) {
  Tensor order = Tensor::empty({n}, int64);
  std::int64_t* p = order.data<std::int64_t>();
  std::iota(p, p + n, std::int64_t{0});
  std::uint64_t z = key ^ (0xd1b54a32d192ed03ULL * (static_cast<std::uint64_t>(epoch) + 1));
  for (std::int64_t i = n - 1; i > 0; --i) {
    std::uint64_t r = (z += 0x9e3779b97f4a7c15ULL);
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ULL;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebULL;
    std::swap(p[i], p[(r ^ (r >> 31)) % static_cast<std::uint64_t>(i + 1)]);
  }
  return order;
}

// The arrays of fit/evaluate/predict as a BatchSource: `batch_size` rows per step, in a fresh
// random order each pass when shuffling: fit's order for its state's (shuffle_key, epoch) when
// given `order_of`, else a draw from the random stream.
class ArrayBatches final : public BatchSource {
 public:
  ArrayBatches(std::vector<Tensor> x, std::vector<Tensor> y, std::int64_t batch_size, bool shuffle,
               const TrainingState* order_of = nullptr)
      : x_(std::move(x)), y_(std::move(y)), n_(x_[0].shape()[0]), batch_size_(batch_size),
        shuffle_(shuffle), order_of_(order_of) {}
  void reset() override {
    pos_ = 0;
    if (shuffle_)
      order_ = order_of_ ? epoch_order(n_, order_of_->shuffle_key, order_of_->epoch)
                         : random_permutation(n_);
  }
  std::optional<TensorArg> next() override {
    if (pos_ >= n_) return std::nullopt;
    const std::int64_t b = pos_, e = std::min(n_, b + batch_size_);
    pos_ = e;
    std::vector<Tensor> parts, ys;
    if (shuffle_) {
      const std::int64_t* idx = order_.data<std::int64_t>() + b;
      parts = gather_all(x_, idx, e - b);
      ys = gather_all(y_, idx, e - b);
    } else {
      parts = slice_all(x_, b, e);
      ys = slice_all(y_, b, e);
    }
    parts.insert(parts.end(), ys.begin(), ys.end());
    return TensorArg(std::move(parts));
  }
  std::int64_t cardinality() const override { return (n_ + batch_size_ - 1) / batch_size_; }

 private:
  std::vector<Tensor> x_, y_;
  std::int64_t n_, batch_size_;
  bool shuffle_;
  const TrainingState* order_of_;
  std::int64_t pos_ = 0;
  Tensor order_;
};

// One step's tensors in the model's order.
struct StepData {
  std::vector<Tensor> x, y;
  Tensor w;  ///< per-sample weights, when the data holds (x, y, w)
};

// The per-output sample weights of a step: its w, or (class_weight) the weights of its labels.
std::vector<Tensor> step_weights(const StepData& d, const std::map<std::int64_t, double>& class_weight) {
  Tensor w = d.w;
  if (!class_weight.empty() && d.y.size() == 1 && d.y[0].defined()) {
    Tensor by_class = engine::class_weights_to_sample_weights(d.y[0], class_weight);
    w = w.defined() ? by_class * w.astype(float64) : by_class;
  }
  return w.defined() ? std::vector<Tensor>(d.y.size(), w) : std::vector<Tensor>{};
}

// y with fit's/evaluate's sample weights appended (batched along with y, read back as w).
std::vector<Tensor> with_sample_weight(const ModelImpl& m, const char* what, std::vector<Tensor> y,
                                       const Tensor& sample_weight,
                                       const std::map<std::int64_t, double>& class_weight,
                                       std::int64_t samples) {
  if (!class_weight.empty() && sample_weight.defined())
    throw ValueError(std::string(what) + ": give class_weight or sample_weight, not both (as Keras)");
  if (!class_weight.empty() && m.num_outputs() != 1)
    throw ValueError(std::string(what) + ": class_weight is only supported for models with a single "
                     "output; give per-sample weights instead");
  if (!sample_weight.defined()) return y;
  if (sample_weight.ndim() == 0 || sample_weight.shape()[0] != samples)
    throw ValueError(std::string(what) + ": sample_weight of shape " + sample_weight.shape().str() +
                     " does not fit " + std::to_string(samples) + " samples; expected (" +
                     std::to_string(samples) + ",)");
  y.push_back(sample_weight);
  return y;
}

std::string count_of(std::size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// A batch's flat tuple split into the model's inputs and (when `targets`) targets, by name or by
// position.
StepData split_batch(const ModelImpl& m, const TensorArg& batch, const std::string& what, bool targets) {
  const std::vector<Tensor>& t = batch.tensors();
  const std::size_t n_in = m.num_inputs(), n_out = m.num_outputs();
  StepData d;
  if (!batch.names().empty()) {
    engine::split_named(m, batch, what, targets, d.x, d.y, d.w);
    return d;
  }
  const bool fits = targets ? t.size() == n_in + n_out || t.size() == n_in + n_out + 1 : t.size() >= n_in;
  if (!fits)
    throw ValueError(what + ": each element of the data must hold " + count_of(n_in, "input") +
                     (targets ? " and " + count_of(n_out, "target") +
                                    (n_in + n_out == 2 ? " (x, y)" : "")
                              : std::string()) +
                     ", got " + count_of(t.size(), "tensor"));
  d.x.assign(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(n_in));
  if (targets) {
    d.y.assign(t.begin() + static_cast<std::ptrdiff_t>(n_in),
               t.begin() + static_cast<std::ptrdiff_t>(n_in + n_out));
    if (t.size() > n_in + n_out) d.w = t.back();  // (x, y, sample_weight)
  }
  return d;
}

// A BatchSource read as model steps. It may hold back the first batch of a pass (read early to
// build the model and check shapes) and hand it out as that pass's first step.
class Feed {
 public:
  Feed(ModelImpl& m, std::shared_ptr<BatchSource> source, std::string what, bool targets)
      : m_(m), source_(std::move(source)), what_(std::move(what)), targets_(targets) {}
  std::int64_t cardinality() const { return source_->cardinality(); }
  const std::string& what() const { return what_; }
  void start_pass() {
    if (!held_) source_->reset();
    started_ = true;
  }
  std::optional<StepData> next() {
    if (held_) return std::exchange(held_, std::nullopt);
    std::optional<TensorArg> batch = source_->next();
    if (!batch) return std::nullopt;
    return split_batch(m_, *batch, what_, targets_);
  }
  // The first batch of a fresh pass, kept for next(). Throws ValueError when there is none.
  const StepData& peek() {
    if (!held_) {
      source_->reset();
      std::optional<TensorArg> batch = source_->next();
      if (!batch) throw ValueError(what_ + ": the data yields no batches");
      held_ = split_batch(m_, *batch, what_, targets_);
    }
    return *held_;
  }
  // Batches per pass when `steps` (0: a full pass) are taken; -1 when unknown. Throws for an
  // endless source without steps.
  std::int64_t steps(std::int64_t steps, const char* steps_name) const {
    if (steps < 0)
      throw ValueError(what_ + ": " + steps_name + " must not be negative, got " + std::to_string(steps));
    if (steps > 0) return steps;
    if (cardinality() == BatchSource::kInfinite)
      throw ValueError(what_ + ": the dataset is infinite (repeat() without a count); pass " +
                       steps_name + " to say how many batches to take");
    return cardinality() >= 0 ? cardinality() : -1;
  }
  // The next batch of a run of `steps` (0: until the pass ends). With steps, a pass that runs out
  // starts again, so every epoch gets its steps.
  std::optional<StepData> next_step(std::int64_t steps) {
    if (!started_) start_pass();
    std::optional<StepData> d = next();
    if (!d && steps > 0) {
      start_pass();
      d = next();
      if (!d) throw ValueError(what_ + ": the data yields no batches");
    }
    return d;
  }
  void end_pass() { started_ = false; }

 private:
  ModelImpl& m_;
  std::shared_ptr<BatchSource> source_;
  std::string what_;
  bool targets_;
  bool started_ = false;
  std::optional<StepData> held_;
};

// Runs test_step over a full pass (or `steps` batches) of `feed`, invoking the test hooks of `cbs`.
std::map<std::string, double> run_evaluation(ModelImpl& m, Feed& feed, std::int64_t steps,
                                             CallbackList& cbs) {
  engine::reset_metrics(m);
  cbs.each([](Callback& c) { c.on_test_begin({}); });
  feed.start_pass();
  for (std::int64_t s = 0; steps <= 0 || s < steps; ++s) {
    std::optional<StepData> d = feed.next();
    if (!d) break;
    cbs.each([s](Callback& c) { c.on_test_batch_begin(s, {}); });
    test_step(m, d->x, d->y, step_weights(*d, {}));
    auto logs = engine::current_logs(m);
    cbs.each([&](Callback& c) { c.on_test_batch_end(s, logs); });
  }
  feed.end_pass();
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

// fit, while the same model is already in fit or train_on_batch (another thread, or a callback),
// would race on its weights and optimizer state: refused for as long as this lives.
class TrainingGuard {
 public:
  TrainingGuard(const ModelImpl& m, const char* what) : m_(&m) {
    std::lock_guard<std::mutex> lock(mutex());
    if (!training().insert(m_).second)
      throw ValueError(std::string(what) + ": model '" + m.name() +
                       "' is already training (fit or train_on_batch in progress); one model trains "
                       "in one call at a time");
  }
  ~TrainingGuard() {
    std::lock_guard<std::mutex> lock(mutex());
    training().erase(m_);
  }
  TrainingGuard(const TrainingGuard&) = delete;
  TrainingGuard& operator=(const TrainingGuard&) = delete;

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::set<const ModelImpl*>& training() {
    static std::set<const ModelImpl*> s;
    return s;
  }
  const ModelImpl* m_;
};

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

namespace {

void check_epochs(const FitOptions& o) {
  if (o.epochs < 0 || o.initial_epoch < 0)
    throw ValueError("fit: epochs and initial_epoch must not be negative");
}

// Keras's order: the given callbacks, `history` (fit's), then the progress bar (when verbose), so
// that both see what the given ones add to the epoch logs ("learning_rate").
void add_callbacks(CallbackList& cbs, const Model& self, int verbose,
                   const std::vector<CallbackArg>& given, int epochs, std::int64_t steps,
                   std::shared_ptr<Callback> history = nullptr) {
  for (const auto& c : given) cbs.list.push_back(c.get());
  if (history) cbs.list.push_back(std::move(history));
  if (verbose > 0) cbs.list.push_back(std::make_shared<callbacks::ProgbarLogger>(verbose));
  for (auto& c : cbs.list) {
    c->set_model(self);
    c->params = {{"epochs", epochs}, {"steps", steps}, {"verbose", verbose}};
  }
}

// fit's validation data as a Feed, checked against the (built) model.
std::unique_ptr<Feed> validation_feed(ModelImpl& m, const ValidationData& v, const FitOptions& o) {
  const char* what = "fit (validation_data)";
  std::unique_ptr<Feed> feed;
  if (v.arrays()) {
    const std::vector<Tensor> x_val = inputs_of(m, v.arrays()->first, what);
    const std::vector<Tensor> y_val = targets_of(m, v.arrays()->second, what);
    check_xy(what, x_val, y_val);
    check_input(m, what, x_val);
    feed = std::make_unique<Feed>(m, std::make_shared<ArrayBatches>(x_val, y_val, o.batch_size, false),
                                  what, true);
  } else {
    if (!v.source()) throw ValueError(std::string(what) + ": an empty dataset handle");
    feed = std::make_unique<Feed>(m, v.source(), what, true);
    feed->steps(o.validation_steps, "validation_steps");
    check_input(m, what, feed->peek().x);
  }
  const StepData& first = feed->peek();
  check_labels(m, what, first.x, first.y);
  return feed;
}

// The epoch loop of fit for arrays and datasets alike; the model is built and the data checked.
History fit_loop(const Model& self, ModelImpl& m, Feed& train, Feed* val, const FitOptions& o,
                 TrainingState& state) {
  const std::int64_t steps = train.steps(o.steps_per_epoch, "steps_per_epoch");
  const std::vector<Tensor> weights = m.trainable_weights();
  build_optimizer(m, weights);

  auto history = std::make_shared<callbacks::HistoryCallback>();
  CallbackList cbs;
  add_callbacks(cbs, self, o.verbose, o.callbacks, o.epochs, steps, history);

  // The data order is a function of (shuffle_key, epoch) and each step draws from the seeded
  // stream, so (epoch, step, key, stream state) is a position a callback can back up and resume:
  // BackupAndRestore rewrites `state` in on_train_begin.
  state = TrainingState{o.initial_epoch, 0, random::bits(random::reserve(1))};
  for (auto& c : cbs.list) c->set_training_state(&state);
  m.stop_training = false;
  cbs.each([](Callback& c) { c.on_train_begin({}); });
  const int first_epoch = state.epoch;
  const std::int64_t resume_step = state.step;
  std::map<std::string, double> training_logs;
  for (int epoch = first_epoch; epoch < o.epochs && !m.stop_training; ++epoch) {
    state.epoch = epoch;
    state.step = 0;
    engine::reset_metrics(m);
    cbs.each([epoch](Callback& c) { c.on_epoch_begin(epoch, {}); });
    if (o.steps_per_epoch == 0) train.end_pass();  // each epoch is one full pass
    // Resuming mid-epoch: pass over the batches trained before the backup.
    for (; epoch == first_epoch && state.step < resume_step; ++state.step)
      train.next_step(o.steps_per_epoch);
    std::map<std::string, double> logs;
    for (std::int64_t s = state.step; o.steps_per_epoch == 0 || s < o.steps_per_epoch; ++s) {
      std::optional<StepData> batch = train.next_step(o.steps_per_epoch);
      if (!batch) break;
      cbs.each([s](Callback& c) { c.on_train_batch_begin(s, {}); });
      train_step(m, batch->x, batch->y, weights, step_weights(*batch, o.class_weight),
                 state.skip_nonfinite_steps);
      state.step = s + 1;
      logs = engine::current_logs(m);
      cbs.each([&](Callback& c) { c.on_train_batch_end(s, logs); });
      if (m.stop_training) break;
    }
    if (val) {
      // As Keras 3's fit: the callbacks see the validation's test hooks (the progress bar stays
      // silent there and shows the val_ values on the epoch's line).
      auto val_logs = run_evaluation(m, *val, o.validation_steps, cbs);
      for (const auto& [k, v] : val_logs) logs["val_" + k] = v;
    }
    cbs.each([&](Callback& c) {
      c.set_epoch_logs(&logs);
      c.on_epoch_end(epoch, logs);
      c.set_epoch_logs(nullptr);
    });
    training_logs = logs;
  }
  // Keras's fit ends by copying the weights' moving averages in (use_ema); not before any update.
  if (o.epochs > 0 && m.optimizer->iterations() > 0) m.optimizer->finalize_variable_values(weights);
  cbs.each([&](Callback& c) { c.on_train_end(training_logs); });
  for (auto& c : cbs.list) c->set_training_state(nullptr);
  return history->history();
}

std::map<std::string, double> evaluate_loop(const Model& self, ModelImpl& m, Feed& feed,
                                            const EvaluateOptions& o) {
  const std::int64_t steps = feed.steps(o.steps, "steps");
  CallbackList cbs;
  add_callbacks(cbs, self, o.verbose, o.callbacks, 1, steps);
  return run_evaluation(m, feed, o.steps, cbs);
}

// Every output over the batches of `feed`, concatenated along the batch axis.
std::vector<Tensor> predict_loop(const Model& self, ModelImpl& m, Feed& feed, const PredictOptions& o) {
  NoGradGuard no_grad;
  const std::int64_t steps = feed.steps(o.steps, "steps");
  CallbackList cbs;
  add_callbacks(cbs, self, o.verbose, o.callbacks, 1, steps);
  cbs.each([](Callback& c) { c.on_predict_begin({}); });
  std::vector<std::vector<Tensor>> parts;
  feed.start_pass();
  for (std::int64_t s = 0; o.steps == 0 || s < o.steps; ++s) {
    std::optional<StepData> batch = feed.next();
    if (!batch) break;
    cbs.each([s](Callback& c) { c.on_predict_batch_begin(s, {}); });
    std::vector<Tensor> yb = m.forward(batch->x, false);
    parts.resize(yb.size());
    for (std::size_t i = 0; i < yb.size(); ++i) parts[i].push_back(yb[i]);
    cbs.each([s](Callback& c) { c.on_predict_batch_end(s, {}); });
  }
  cbs.each([](Callback& c) { c.on_predict_end({}); });
  std::vector<Tensor> out;
  for (auto& p : parts) out.push_back(p.size() == 1 ? p[0] : concatenate(p, 0));
  return out;
}

const std::shared_ptr<BatchSource>& source_of(const DataArg& data, const char* what) {
  if (!data.source()) throw ValueError(std::string(what) + ": an empty dataset handle");
  return data.source();
}

}  // namespace

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  return fit(TensorArg(x), TensorArg(y), o);
}

History Model::fit(const TensorArg& x_arg, const TensorArg& y_arg, const FitOptions& o) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "fit");
  const TrainingGuard training(m, "fit");
  const std::vector<Tensor> x = inputs_of(m, x_arg, "fit"), y = targets_of(m, y_arg, "fit");
  check_xy("fit", x, y);
  check_batch_size("fit", o.batch_size);
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    throw ValueError("fit: validation_split must be in [0, 1), got " +
                     std::to_string(o.validation_split));
  check_epochs(o);

  // The last fraction is held out, before any shuffling (as Keras does).
  const std::int64_t total = x[0].shape()[0];
  const std::vector<Tensor> yw = with_sample_weight(m, "fit", y, o.sample_weight, o.class_weight, total);
  std::vector<Tensor> x_train = x, y_train = yw, x_val, y_val;
  if (!o.validation_data && o.validation_split > 0) {
    const std::int64_t split = static_cast<std::int64_t>(std::floor(total * (1.0 - o.validation_split)));
    if (split == 0 || split == total)
      throw ValueError("fit: validation_split " + std::to_string(o.validation_split) + " of " +
                       std::to_string(total) + " samples leaves an empty training or validation set");
    x_train = slice_all(x, 0, split);
    y_train = slice_all(yw, 0, split);
    x_val = slice_all(x, split, total);
    y_val = slice_all(yw, split, total);
  }

  // Build on the data's shape before collecting weights.
  check_input(m, "fit", x);
  build_on(m, x_train);
  check_labels(m, "fit", x_train, y_train);
  TrainingState state;
  Feed train(m, std::make_shared<ArrayBatches>(x_train, y_train, o.batch_size, o.shuffle, &state),
             "fit", true);
  std::unique_ptr<Feed> val;
  if (o.validation_data) {
    val = validation_feed(m, *o.validation_data, o);
  } else if (!x_val.empty()) {
    check_labels(m, "fit (validation_data)", x_val, y_val);
    val = std::make_unique<Feed>(m, std::make_shared<ArrayBatches>(x_val, y_val, o.batch_size, false),
                                 "fit (validation_data)", true);
  }
  return fit_loop(*this, m, train, val.get(), o, state);
}

History Model::fit(const DataArg& data, const FitOptions& o) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "fit");
  const TrainingGuard training(m, "fit");
  check_epochs(o);
  if (o.validation_split != 0)
    throw ValueError("fit: validation_split works on arrays only; give a dataset's validation "
                     "data as validation_data (for example ds.take(n) and ds.skip(n))");
  if (o.sample_weight.defined())
    throw ValueError("fit: sample_weight works on arrays only; a dataset gives its weights as (x, y, w)");
  with_sample_weight(m, "fit", {}, Tensor(), o.class_weight, 0);
  Feed train(m, source_of(data, "fit"), "fit", true);
  train.steps(o.steps_per_epoch, "steps_per_epoch");
  const StepData& first = train.peek();
  check_input(m, "fit", first.x);
  build_on(m, first.x);
  check_labels(m, "fit", first.x, first.y);
  std::unique_ptr<Feed> val;
  if (o.validation_data) val = validation_feed(m, *o.validation_data, o);
  TrainingState state;
  return fit_loop(*this, m, train, val.get(), o, state);
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
  const std::vector<Tensor> yw = with_sample_weight(m, "evaluate", y, o.sample_weight, {}, x[0].shape()[0]);
  Feed feed(m, std::make_shared<ArrayBatches>(x, yw, o.batch_size, false), "evaluate", true);
  return evaluate_loop(*this, m, feed, o);
}

std::map<std::string, double> Model::evaluate(const DataArg& data, const EvaluateOptions& o) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "evaluate");
  Feed feed(m, source_of(data, "evaluate"), "evaluate", true);
  feed.steps(o.steps, "steps");
  const StepData& first = feed.peek();
  check_input(m, "evaluate", first.x);
  check_labels(m, "evaluate", first.x, first.y);
  return evaluate_loop(*this, m, feed, o);
}

Tensor Model::predict(const Tensor& x, const PredictOptions& o) { return predict(TensorArg(x), o); }

Tensor Model::predict(const TensorArg& x, const PredictOptions& o) {
  ModelImpl& m = checked(impl_);
  if (m.num_outputs() != 1)
    throw ValueError("predict: model '" + m.name() + "' has " + std::to_string(m.num_outputs()) +
                     " outputs; use predict_outputs");
  return predict_outputs(x, o)[0];
}

Tensor Model::predict(const DataArg& data, const PredictOptions& o) {
  ModelImpl& m = checked(impl_);
  if (m.num_outputs() != 1)
    throw ValueError("predict: model '" + m.name() + "' has " + std::to_string(m.num_outputs()) +
                     " outputs; use predict_outputs");
  return predict_outputs(data, o)[0];
}

std::vector<Tensor> Model::predict_outputs(const TensorArg& x_arg, const PredictOptions& o) {
  ModelImpl& m = checked(impl_);
  const std::vector<Tensor> x = inputs_of(m, x_arg, "predict");
  check_xy("predict", x, {});
  check_batch_size("predict", o.batch_size);
  check_input(m, "predict", x);
  Feed feed(m, std::make_shared<ArrayBatches>(x, std::vector<Tensor>{}, o.batch_size, false),
            "predict", false);
  return predict_loop(*this, m, feed, o);
}

std::vector<Tensor> Model::predict_outputs(const DataArg& data, const PredictOptions& o) {
  ModelImpl& m = checked(impl_);
  Feed feed(m, source_of(data, "predict"), "predict", false);
  feed.steps(o.steps, "steps");
  check_input(m, "predict", feed.peek().x);
  return predict_loop(*this, m, feed, o);
}

std::map<std::string, double> Model::train_on_batch(const Tensor& x, const Tensor& y) {
  return train_on_batch(TensorArg(x), TensorArg(y));
}

std::map<std::string, double> Model::train_on_batch(const TensorArg& x_arg, const TensorArg& y_arg) {
  ModelImpl& m = checked(impl_);
  require_compiled(m, "train_on_batch");
  const TrainingGuard training(m, "train_on_batch");
  const std::vector<Tensor> x = inputs_of(m, x_arg, "train_on_batch");
  const std::vector<Tensor> y = targets_of(m, y_arg, "train_on_batch");
  check_xy("train_on_batch", x, y);
  check_input(m, "train_on_batch", x);
  build_on(m, x);
  engine::reset_metrics(m);
  const std::vector<Tensor> weights = m.trainable_weights();
  build_optimizer(m, weights);
  train_step(m, x, y, weights);
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
