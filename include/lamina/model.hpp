// lamina/model.hpp — Model and Sequential: compile, fit, evaluate, predict, summary.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lamina/layer.hpp"
#include "lamina/losses.hpp"
#include "lamina/metrics.hpp"
#include "lamina/optimizers.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

class Callback;
struct History;
class ModelImpl;  // the engine's model (a Layer); see src/engine/model_impl.hpp

/// A metric given by Keras name ("accuracy", "mse") or as an object.
class MetricArg {
 public:
  MetricArg(const char* name) : name_(name) {}          // NOLINT(google-explicit-constructor)
  MetricArg(std::string name) : name_(std::move(name)) {}  // NOLINT(google-explicit-constructor)
  template <std::derived_from<Metric> M>
  MetricArg(M metric) : metric_(std::make_shared<M>(std::move(metric))) {}  // NOLINT
  MetricArg(std::shared_ptr<Metric> metric) : metric_(std::move(metric)) {}  // NOLINT
  const std::string& name() const { return name_; }
  const std::shared_ptr<Metric>& metric() const { return metric_; }

 private:
  std::string name_;
  std::shared_ptr<Metric> metric_;
};

/// A callback given by value (`callbacks::LearningRateScheduler(fn)`) or as a shared_ptr (to read
/// its state after fit). Callbacks passed by value are copied once, into the call they are given to.
class CallbackArg {
 public:
  template <std::derived_from<Callback> C>
  CallbackArg(C callback) : callback_(std::make_shared<C>(std::move(callback))) {}  // NOLINT
  template <std::derived_from<Callback> C>
  CallbackArg(std::shared_ptr<C> callback) : callback_(std::move(callback)) {}  // NOLINT
  const std::shared_ptr<Callback>& get() const { return callback_; }

 private:
  std::shared_ptr<Callback> callback_;
};

struct CompileOptions {
  Ref<Optimizer> optimizer = "rmsprop";  ///< Keras's default
  Ref<Loss> loss;
  std::vector<MetricArg> metrics;
};

struct FitOptions {
  std::int64_t batch_size = 32;
  int epochs = 1;
  int verbose = 1;  ///< 0 silent, 1 progress bar, 2 one line per epoch
  std::vector<CallbackArg> callbacks;
  /// The last fraction of x/y (before any shuffling) is held out, as Keras does.
  double validation_split = 0.0;
  /// (x_val, y_val); overrides validation_split.
  std::optional<std::pair<Tensor, Tensor>> validation_data;
  bool shuffle = true;
  int initial_epoch = 0;
};

struct EvaluateOptions {
  std::int64_t batch_size = 32;
  int verbose = 1;
  std::vector<CallbackArg> callbacks;
};

struct PredictOptions {
  std::int64_t batch_size = 32;
  int verbose = 0;  ///< Keras prints a bar by default; lamina stays quiet unless asked
  std::vector<CallbackArg> callbacks;
};

/// What a Sequential's list may hold: any layer (handle or shared_ptr), another model, or the
/// symbolic tensor of layers::Input.
class LayerItem {
 public:
  template <class Impl>
  LayerItem(const LayerHandle<Impl>& handle) : layer_(handle.ptr()) {}  // NOLINT
  template <std::derived_from<Layer> L>
  LayerItem(std::shared_ptr<L> layer) : layer_(std::move(layer)) {}  // NOLINT
  LayerItem(const KerasTensor& input);                               // NOLINT
  LayerItem(const class Model& model);                               // NOLINT
  const std::shared_ptr<Layer>& layer() const { return layer_; }

 private:
  std::shared_ptr<Layer> layer_;
};

/// A model: a graph of layers with a training configuration. A handle: copies share the model.
/// Usable as a layer inside another model (it converts to std::shared_ptr<Layer>).
class Model {
 public:
  Model();  ///< an empty, unusable handle (defined() is false)
  explicit Model(std::shared_ptr<ModelImpl> impl);
  bool defined() const { return impl_ != nullptr; }

  /// Sets optimizer, loss and metrics. Throws ValueError for unknown names.
  void compile(const CompileOptions& options);
  /// Trains for epochs - initial_epoch epochs. Throws ValueError when x and y differ in length,
  /// x is empty, or the model is not compiled; ShapeError when x does not fit the model.
  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  /// {"loss": .., metric names: ..}.
  std::map<std::string, double> evaluate(const Tensor& x, const Tensor& y,
                                         const EvaluateOptions& options = {});
  Tensor predict(const Tensor& x, const PredictOptions& options = {});
  /// One optimizer step on (x, y); returns the batch's loss and metrics.
  std::map<std::string, double> train_on_batch(const Tensor& x, const Tensor& y);
  std::map<std::string, double> test_on_batch(const Tensor& x, const Tensor& y);
  Tensor predict_on_batch(const Tensor& x);
  /// Forward pass (eager, with autodiff), no batching or callbacks.
  Tensor operator()(const Tensor& x, bool training = false) const;

  /// Prints Keras's summary table to stdout.
  void summary() const;
  /// The same table as a string.
  std::string summary_string() const;

  /// Layers in order (Keras 3: a Sequential's InputLayer is not listed).
  std::vector<std::shared_ptr<Layer>> layers() const;
  /// Throws ValueError naming the missing layer.
  std::shared_ptr<Layer> get_layer(const std::string& name) const;
  std::shared_ptr<Layer> get_layer(int index) const;
  const std::string& name() const;
  std::vector<Tensor> weights() const;
  std::vector<Tensor> trainable_weights() const;
  std::vector<Tensor> get_weights() const;
  void set_weights(const std::vector<Tensor>& values);
  std::int64_t count_params() const;
  /// Input shape with -1 for the batch (empty if not known yet); output shape likewise.
  Shape input_shape() const;
  Shape output_shape() const;

  /// The compiled optimizer (null before compile).
  std::shared_ptr<Optimizer> optimizer() const;
  /// Set by a callback to end fit after the current epoch... or batch.
  bool& stop_training();

  ModelImpl& impl() const { return *impl_; }
  const std::shared_ptr<ModelImpl>& impl_ptr() const { return impl_; }
  operator std::shared_ptr<Layer>() const;  // NOLINT(google-explicit-constructor)

 protected:
  std::shared_ptr<ModelImpl> impl_;
};

/// A linear stack of layers. Shapes are inferred as layers are added (once the input shape is
/// known); a layer that does not fit throws ShapeError naming it and both shapes.
class Sequential : public Model {
 public:
  explicit Sequential(std::string name = {});
  Sequential(std::initializer_list<LayerItem> layers, std::string name = {});
  explicit Sequential(const std::vector<LayerItem>& layers, std::string name = {});
  void add(const LayerItem& layer);
  /// Removes the last layer; throws ValueError on an empty model.
  void pop();
};

}  // namespace lamina
