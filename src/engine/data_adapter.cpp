// SPDX-License-Identifier: Apache-2.0
// The data adapter: arrays and BatchSources into the model's batches.
#include "engine/data_adapter.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>

#include "engine/build_lock.hpp"
#include "engine/compiled_state.hpp"
#include "engine/model_impl.hpp"
#include "lamina/ops.hpp"
#include "lamina/errors.hpp"
#include "ops/random.hpp"

namespace lamina {

TensorArg::TensorArg(const std::map<std::string, Tensor>& named) {
  for (const auto& [k, v] : named) {
    names_.push_back(k);
    tensors_.push_back(v);
  }
}

namespace engine {

Device model_device(const ModelImpl& m) {
  // Another thread may be building the model (adding weights): read the list under the build
  // lock unless the built flag (set last, atomically) says it is complete.
  std::unique_lock<std::recursive_mutex> lock;
  if (!m.built()) lock = lock_building();
  const std::vector<Tensor> w = m.weights();
  return w.empty() ? Device::cpu() : w.front().device();
}

Batch on_model_device(const ModelImpl& m, Batch b) {
  const Device device = model_device(m);
  for (std::vector<Tensor>* part : {&b.x, &b.y, &b.sample_weight})
    for (Tensor& t : *part)
      if (t.defined()) t = t.to(device);
  return b;
}

namespace {

std::string count_of(std::size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
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

std::vector<Tensor> gather_all(const std::vector<Tensor>& ts, const std::int64_t* idx, std::int64_t count) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(t.defined() ? gather_rows(t, idx, count) : Tensor());
  return out;
}

class ArrayBatches final : public BatchSource {
 public:
  ArrayBatches(std::vector<Tensor> x, std::vector<Tensor> y, std::int64_t batch_size, bool shuffle,
               const TrainingState* order_of)
      : x_(std::move(x)), y_(std::move(y)), n_(x_[0].shape()[0]), batch_size_(batch_size),
        shuffle_(shuffle), order_of_(order_of) {}
  void reset() override {
    pos_ = 0;
    if (shuffle_)
      order_ = order_of_ ? random::epoch_permutation(n_, order_of_->shuffle_key, order_of_->epoch)
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

}  // namespace

std::vector<Tensor> arrange(const TensorArg& arg, const std::vector<std::string>& names,
                            const std::string& what, const char* kind, bool allow_missing) {
  const std::string plural = std::string(kind) + "s";
  if (arg.names().empty()) {
    if (arg.tensors().size() != names.size())
      throw ValueError(what + ": the model has " + std::to_string(names.size()) + " " +
                       (names.size() == 1 ? kind : plural) + " (" + join_names(names) + ") but " +
                       std::to_string(arg.tensors().size()) + " arrays were given");
    return arg.tensors();
  }
  std::vector<Tensor> out(names.size());
  for (std::size_t k = 0; k < arg.names().size(); ++k) {
    std::size_t i = 0;
    while (i < names.size() && names[i] != arg.names()[k]) ++i;
    if (i == names.size())
      throw ValueError(what + ": '" + arg.names()[k] + "' is not an " + kind + " of the model (" +
                       plural + ": " + join_names(names) + ")");
    out[i] = arg.tensors()[k];
  }
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!out[i].defined() && !allow_missing)
      throw ValueError(what + ": no array given for " + kind + " '" + names[i] + "'");
  return out;
}

std::vector<Tensor> inputs_of(const ModelImpl& m, const TensorArg& x, const char* what) {
  return arrange(x, m.input_names(), what, "input");
}

std::vector<Tensor> targets_of(const ModelImpl& m, const TensorArg& y, const char* what) {
  return arrange(y, m.output_names(), what, "output", true);
}

void split_named(const ModelImpl& m, const TensorArg& element, const std::string& what, bool targets,
                 std::vector<Tensor>& x, std::vector<Tensor>& y, Tensor& w) {
  const std::vector<std::string> ins = m.input_names(), outs = m.output_names();
  const auto has = [](const std::vector<std::string>& names, const std::string& key) {
    return std::find(names.begin(), names.end(), key) != names.end();
  };
  std::map<std::string, Tensor> inputs, outputs;
  w = Tensor();
  for (std::size_t k = 0; k < element.names().size(); ++k) {
    const std::string& key = element.names()[k];
    const Tensor& t = element.tensors()[k];
    if (has(ins, key)) inputs[key] = t;
    else if (has(outs, key)) outputs[key] = t;
    else if (key == "sample_weight") w = t;
    else
      throw ValueError(what + ": the data's '" + key + "' is not an input (" + join_names(ins) +
                       ") or an output (" + join_names(outs) + ") of the model, nor 'sample_weight'");
  }
  x = arrange(TensorArg(inputs), ins, what, "input");
  if (!targets) {
    w = Tensor();
    return;
  }
  if (outputs.empty())
    throw ValueError(what + ": the data holds no target (it names none of the outputs: " + join_names(outs) + ")");
  y = arrange(TensorArg(outputs), outs, what, "output", true);
}

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

std::shared_ptr<BatchSource> array_batches(std::vector<Tensor> x, std::vector<Tensor> y,
                                           std::int64_t batch_size, bool shuffle,
                                           const TrainingState* order_of) {
  return std::make_shared<ArrayBatches>(std::move(x), std::move(y), batch_size, shuffle, order_of);
}

Batch step_batch(std::vector<Tensor> x, std::vector<Tensor> y, const Tensor& w,
                 const std::map<std::int64_t, double>& class_weight) {
  Tensor weight = w;
  if (!class_weight.empty() && y.size() == 1 && y[0].defined()) {
    Tensor by_class = class_weights_to_sample_weights(y[0], class_weight);
    weight = weight.defined() ? by_class * weight.astype(float64) : by_class;
  }
  Batch b{std::move(x), std::move(y), {}};
  if (weight.defined()) b.sample_weight.assign(b.y.size(), weight);
  return b;
}

// --- Feed ----------------------------------------------------------------------------------------

Feed::Feed(const ModelImpl& m, std::shared_ptr<BatchSource> source, std::string what, bool targets,
           std::map<std::int64_t, double> class_weight)
    : m_(m), source_(std::move(source)), what_(std::move(what)), targets_(targets),
      class_weight_(std::move(class_weight)) {}

// A batch's flat tuple split into the model's inputs and (when targets_) targets, by name or by
// position.
Batch Feed::split(const TensorArg& batch) const {
  const std::vector<Tensor>& t = batch.tensors();
  const std::size_t n_in = m_.num_inputs(), n_out = m_.num_outputs();
  std::vector<Tensor> x, y;
  Tensor w;
  if (!batch.names().empty()) {
    split_named(m_, batch, what_, targets_, x, y, w);
    return step_batch(std::move(x), std::move(y), w, class_weight_);
  }
  const bool fits = targets_ ? t.size() == n_in + n_out || t.size() == n_in + n_out + 1 : t.size() >= n_in;
  if (!fits)
    throw ValueError(what_ + ": each element of the data must hold " + count_of(n_in, "input") +
                     (targets_ ? " and " + count_of(n_out, "target") +
                                     (n_in + n_out == 2 ? " (x, y)" : "")
                               : std::string()) +
                     ", got " + count_of(t.size(), "tensor"));
  x.assign(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(n_in));
  if (targets_) {
    y.assign(t.begin() + static_cast<std::ptrdiff_t>(n_in), t.begin() + static_cast<std::ptrdiff_t>(n_in + n_out));
    if (t.size() > n_in + n_out) w = t.back();  // (x, y, sample_weight)
  }
  return step_batch(std::move(x), std::move(y), w, class_weight_);
}

void Feed::start_pass() {
  if (!held_) source_->reset();
  started_ = true;
}

std::optional<Batch> Feed::next() {
  std::optional<Batch> b;
  if (held_) {
    b = std::exchange(held_, std::nullopt);
  } else {
    std::optional<TensorArg> batch = source_->next();
    if (!batch) return std::nullopt;
    b = split(*batch);
  }
  return on_model_device(m_, std::move(*b));
}

const Batch& Feed::peek() {
  if (!held_) {
    source_->reset();
    std::optional<TensorArg> batch = source_->next();
    if (!batch) throw ValueError(what_ + ": the data yields no batches");
    held_ = on_model_device(m_, split(*batch));
  }
  return *held_;
}

std::int64_t Feed::steps(std::int64_t steps, const char* steps_name) const {
  if (steps < 0)
    throw ValueError(what_ + ": " + steps_name + " must not be negative, got " + std::to_string(steps));
  if (steps > 0) return steps;
  if (cardinality() == BatchSource::kInfinite)
    throw ValueError(what_ + ": the dataset is infinite (repeat() without a count); pass " +
                     steps_name + " to say how many batches to take");
  return cardinality() >= 0 ? cardinality() : -1;
}

std::optional<Batch> Feed::next_step(std::int64_t steps) {
  if (!started_) start_pass();
  std::optional<Batch> d = next();
  if (!d && steps > 0) {
    start_pass();
    d = next();
    if (!d) throw ValueError(what_ + ": the data yields no batches");
  }
  return d;
}

const std::shared_ptr<BatchSource>& source_of(const DataArg& data, const char* what) {
  if (!data.source()) throw ValueError(std::string(what) + ": an empty dataset handle");
  return data.source();
}

}  // namespace engine
}  // namespace lamina
