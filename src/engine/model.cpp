// SPDX-License-Identifier: Apache-2.0
// Model's training API: compile, fit, evaluate, predict, the single-batch calls and the
// overridable steps with their helpers. Each delegates to the trainer (engine/trainer.hpp) and the
// compiled state (engine/compiled_state.hpp).
#include "lamina/model.hpp"
#include "lamina/optimizers.hpp"

#include "engine/compiled_state.hpp"
#include "engine/layer_spec.hpp"
#include "engine/model_impl.hpp"
#include "engine/trainer.hpp"
#include "lamina/callbacks.hpp"
#include "lamina/errors.hpp"

namespace lamina {

namespace {

ModelImpl& checked(const std::shared_ptr<ModelImpl>& impl) {
  if (!impl) throw ValueError("use of an empty Model handle");
  return *impl;
}

engine::CompiledState& compiled(const std::shared_ptr<ModelImpl>& impl, const char* what) {
  ModelImpl& m = checked(impl);
  if (!m.compiled)
    throw ValueError(std::string(what) + ": the model must be compiled first (call compile())");
  return *m.compiled;
}

}  // namespace

// --- StepLogs ------------------------------------------------------------------------------------

StepLogs::StepLogs(Values values) : read_([values = std::move(values)] { return values; }) {}

StepLogs::StepLogs(std::map<std::string, Tensor> values)
    : read_([values = std::move(values)] {
        Values out;
        for (const auto& [name, t] : values) out[name] = t.item();
        return out;
      }) {}

StepLogs::StepLogs(std::function<Values()> read) : read_(std::move(read)) {}

StepLogs::Values StepLogs::read() const { return read_ ? read_() : Values{}; }

// --- compile, fit, evaluate, predict ---------------------------------------------------------------

void Model::compile(const CompileOptions& options) {
  ModelImpl& m = checked(impl_);
  m.compiled = std::make_shared<engine::CompiledState>(m.output_names(), options);
  // Keras's auto_scale_loss: float16 gradients underflow without loss scaling.
  if (m.dtype_policy().name() == "mixed_float16" &&
      !dynamic_cast<optimizers::LossScaleOptimizer*>(m.compiled->optimizer.get()))
    m.compiled->optimizer = std::make_shared<optimizers::LossScaleOptimizer>(m.compiled->optimizer);
}

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  return fit(TensorArg(x), TensorArg(y), o);
}
History Model::fit(const TensorArg& x, const TensorArg& y, const FitOptions& o) {
  return engine::fit(*this, x, y, o);
}
History Model::fit(const DataArg& data, const FitOptions& o) { return engine::fit(*this, data, o); }

std::map<std::string, double> Model::evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& o) {
  return evaluate(TensorArg(x), TensorArg(y), o);
}
std::map<std::string, double> Model::evaluate(const TensorArg& x, const TensorArg& y, const EvaluateOptions& o) {
  return engine::evaluate(*this, x, y, o);
}
std::map<std::string, double> Model::evaluate(const DataArg& data, const EvaluateOptions& o) {
  return engine::evaluate(*this, data, o);
}

Tensor Model::predict(const Tensor& x, const PredictOptions& o) { return predict(TensorArg(x), o); }

namespace {
void require_single_output(const ModelImpl& m) {
  if (m.num_outputs() != 1)
    throw ValueError("predict: model '" + m.name() + "' has " + std::to_string(m.num_outputs()) +
                     " outputs; use predict_outputs");
}
}  // namespace

Tensor Model::predict(const TensorArg& x, const PredictOptions& o) {
  require_single_output(checked(impl_));
  return predict_outputs(x, o)[0];
}

Tensor Model::predict(const DataArg& data, const PredictOptions& o) {
  require_single_output(checked(impl_));
  return predict_outputs(data, o)[0];
}

std::vector<Tensor> Model::predict_outputs(const TensorArg& x, const PredictOptions& o) {
  return engine::predict(*this, x, o);
}
std::vector<Tensor> Model::predict_outputs(const DataArg& data, const PredictOptions& o) {
  return engine::predict(*this, data, o);
}

std::map<std::string, double> Model::train_on_batch(const Tensor& x, const Tensor& y) {
  return train_on_batch(TensorArg(x), TensorArg(y));
}
std::map<std::string, double> Model::train_on_batch(const TensorArg& x, const TensorArg& y) {
  return engine::train_on_batch(*this, x, y);
}
std::map<std::string, double> Model::test_on_batch(const Tensor& x, const Tensor& y) {
  return test_on_batch(TensorArg(x), TensorArg(y));
}
std::map<std::string, double> Model::test_on_batch(const TensorArg& x, const TensorArg& y) {
  return engine::test_on_batch(*this, x, y);
}

// --- the steps and their helpers -------------------------------------------------------------------

StepLogs Model::train_step(const Batch& data) {
  compiled(impl_, "train_step");
  return engine::default_train_step(*this, data);
}

StepLogs Model::test_step(const Batch& data) {
  compiled(impl_, "test_step");
  return engine::default_test_step(*this, data);
}

std::vector<Tensor> Model::predict_step(const Batch& data) {
  checked(impl_);
  return engine::default_predict_step(*this, data);
}

Tensor Model::compute_loss(const Batch& data, const std::vector<Tensor>& y_pred, bool /*training*/) {
  compiled(impl_, "compute_loss");
  return engine::compute_loss(*impl_, data.y, y_pred, data.sample_weight, engine::batch_samples(data));
}

StepLogs Model::compute_metrics(const Batch& data, const std::vector<Tensor>& y_pred) {
  compiled(impl_, "compute_metrics");
  engine::update_metrics(*impl_, data.y, y_pred, data.sample_weight);
  return get_metrics_result();
}

StepLogs Model::get_metrics_result() const {
  compiled(impl_, "get_metrics_result");
  return StepLogs([impl = impl_] { return engine::current_logs(*impl); });
}

void Model::update_loss_tracker(const Tensor& loss, const Batch& data) {
  compiled(impl_, "update_loss_tracker").loss_tracker.update_state(loss, engine::batch_samples(data));
}

void Model::reset_metrics() {
  if (checked(impl_).compiled) engine::reset_metrics(*impl_);
}

std::vector<Tensor> Model::compute_gradients(const Tensor& loss, const std::vector<Tensor>& weights) {
  return engine::compute_gradients(checked(impl_), loss, weights);
}

void Model::apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& weights,
                            Optimizer* optimizer) {
  Optimizer* opt = optimizer ? optimizer : compiled(impl_, "apply_gradients").optimizer.get();
  engine::apply_gradients(*impl_, *opt, grads, weights);
}

}  // namespace lamina
