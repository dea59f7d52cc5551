// SPDX-License-Identifier: Apache-2.0
// lamina/model.hpp — Model and Sequential: compile, fit, evaluate, predict, summary.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lamina/layer.hpp"
#include "lamina/losses.hpp"
#include "lamina/metrics.hpp"
#include "lamina/optimizers.hpp"
#include "lamina/batch_source.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

class Callback;
struct History;
class ModelImpl;  // the engine's model (a Layer); see src/engine/model_impl.hpp

/// A metric given by Keras name ("accuracy", "mse"), as an object, or as a function of
/// (y_true, y_pred) returning per-sample values (averaged as "custom_metric").
class MetricArg {
 public:
  MetricArg(const char* name) : name_(name) {}          // NOLINT(google-explicit-constructor)
  MetricArg(std::string name) : name_(std::move(name)) {}  // NOLINT(google-explicit-constructor)
  template <std::derived_from<Metric> M>
  MetricArg(M metric) : metric_(std::make_shared<M>(std::move(metric))) {}  // NOLINT
  MetricArg(std::shared_ptr<Metric> metric) : metric_(std::move(metric)) {}  // NOLINT
  template <class F>
    requires(!std::derived_from<std::decay_t<F>, Metric> && !std::is_convertible_v<F, std::string> &&
             std::is_invocable_r_v<Tensor, F, const Tensor&, const Tensor&>)
  MetricArg(F fn) : metric_(Metric::from_function(std::move(fn))) {}  // NOLINT
  const std::string& name() const { return name_; }
  const std::shared_ptr<Metric>& metric() const { return metric_; }
  /// Set by compile for weighted_metrics: the metric sees fit's sample weights.
  bool weighted() const { return weighted_; }
  MetricArg& set_weighted(bool weighted) {
    weighted_ = weighted;
    return *this;
  }

 private:
  std::string name_;
  std::shared_ptr<Metric> metric_;
  bool weighted_ = false;
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


/// One symbolic tensor, a list, or symbolic tensors keyed by name: the two sides of
/// Model(inputs, outputs). Names given as keys become the model's input/output names.
class SymbolicArg {
 public:
  SymbolicArg(const KerasTensor& tensor) : tensors_{tensor} {}                          // NOLINT
  SymbolicArg(std::vector<KerasTensor> tensors) : tensors_(std::move(tensors)) {}       // NOLINT
  SymbolicArg(std::initializer_list<KerasTensor> tensors) : tensors_(tensors) {}        // NOLINT
  SymbolicArg(const std::map<std::string, KerasTensor>& named);                         // NOLINT
  SymbolicArg(std::initializer_list<std::pair<const std::string, KerasTensor>> named)   // NOLINT
      : SymbolicArg(std::map<std::string, KerasTensor>(named)) {}
  const std::vector<KerasTensor>& tensors() const { return tensors_; }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<KerasTensor> tensors_;
  std::vector<std::string> names_;
};

/// The loss of compile: one loss for every output, one per output by position, or by output name
/// (`{{"cls", "sparse_categorical_crossentropy"}, {"group", "mse"}}`). Outputs without a loss
/// are not trained.
class LossArg {
 public:
  LossArg() = default;
  template <class T>
    requires(std::constructible_from<Ref<Loss>, T> && !std::same_as<std::decay_t<T>, LossArg>)
  LossArg(T&& loss) : single_(std::forward<T>(loss)) {}  // NOLINT
  LossArg(std::initializer_list<Ref<Loss>> positional) : positional_(positional) {}  // NOLINT
  LossArg(std::vector<Ref<Loss>> positional) : positional_(std::move(positional)) {}  // NOLINT
  LossArg(std::initializer_list<std::pair<const std::string, Ref<Loss>>> named)        // NOLINT
      : named_(named) {}
  LossArg(std::map<std::string, Ref<Loss>> named) : named_(std::move(named)) {}  // NOLINT
  explicit operator bool() const { return single_ || !positional_.empty() || !named_.empty(); }
  const Ref<Loss>& single() const { return single_; }
  const std::vector<Ref<Loss>>& positional() const { return positional_; }
  const std::map<std::string, Ref<Loss>>& named() const { return named_; }

 private:
  Ref<Loss> single_;
  std::vector<Ref<Loss>> positional_;
  std::map<std::string, Ref<Loss>> named_;
};

/// Per-output loss weights, by position (`{1.0, 0.5}`) or by name (`{{"cls", 1.0}}`); 1 where
/// not given. The total loss is the sum over outputs of weight · loss.
class LossWeights {
 public:
  LossWeights() = default;
  LossWeights(std::initializer_list<double> positional) : positional_(positional) {}  // NOLINT
  LossWeights(std::vector<double> positional) : positional_(std::move(positional)) {}  // NOLINT
  LossWeights(std::initializer_list<std::pair<const std::string, double>> named)       // NOLINT
      : named_(named) {}
  LossWeights(std::map<std::string, double> named) : named_(std::move(named)) {}  // NOLINT
  const std::vector<double>& positional() const { return positional_; }
  const std::map<std::string, double>& named() const { return named_; }

 private:
  std::vector<double> positional_;
  std::map<std::string, double> named_;
};

/// The metrics of compile: one list for every output (`{"accuracy"}`), or lists by output name
/// (`{{"cls", {"accuracy"}}, {"group", {"accuracy"}}}`).
class MetricsArg {
 public:
  MetricsArg() = default;
  MetricsArg(std::initializer_list<MetricArg> all) : all_(all) {}       // NOLINT
  MetricsArg(std::vector<MetricArg> all) : all_(std::move(all)) {}      // NOLINT
  MetricsArg(std::initializer_list<std::pair<const std::string, std::vector<MetricArg>>> named)  // NOLINT
      : named_(named) {}
  MetricsArg(std::map<std::string, std::vector<MetricArg>> named) : named_(std::move(named)) {}  // NOLINT
  const std::vector<MetricArg>& all() const { return all_; }
  const std::map<std::string, std::vector<MetricArg>>& named() const { return named_; }

 private:
  std::vector<MetricArg> all_;
  std::map<std::string, std::vector<MetricArg>> named_;
};


/// Anything that can hand out a BatchSource: a Dataset.
template <class D>
concept BatchSourceProvider = requires(const D& d) {
  { d.batch_source() } -> std::convertible_to<std::shared_ptr<BatchSource>>;
};

/// The data of fit/evaluate/predict when it is not in-memory arrays: a Dataset or a BatchSource.
class DataArg {
 public:
  DataArg(std::shared_ptr<BatchSource> source) : source_(std::move(source)) {}  // NOLINT
  template <BatchSourceProvider D>
  DataArg(const D& data) : source_(data.batch_source()) {}  // NOLINT
  const std::shared_ptr<BatchSource>& source() const { return source_; }

 private:
  std::shared_ptr<BatchSource> source_;
};

/// fit's validation_data: (x_val, y_val) arrays (several inputs/targets as in fit's x and y), or
/// a Dataset of (x, y) elements.
class ValidationData {
 public:
  template <class X, class Y>
  ValidationData(std::pair<X, Y> xy)  // NOLINT
      : arrays_(std::pair<TensorArg, TensorArg>(std::move(xy.first), std::move(xy.second))) {}
  ValidationData(const DataArg& data) : data_(data.source()) {}  // NOLINT
  template <BatchSourceProvider D>
  ValidationData(const D& data) : data_(data.batch_source()) {}  // NOLINT
  /// The arrays, when given as arrays.
  const std::optional<std::pair<TensorArg, TensorArg>>& arrays() const { return arrays_; }
  /// The batch source, when given as a Dataset.
  const std::shared_ptr<BatchSource>& source() const { return data_; }

 private:
  std::optional<std::pair<TensorArg, TensorArg>> arrays_;
  std::shared_ptr<BatchSource> data_;
};

struct CompileOptions {
  Ref<Optimizer> optimizer = "rmsprop";  ///< Keras's default
  LossArg loss{};
  LossWeights loss_weights{};
  /// Metrics that ignore sample weights (Keras's `metrics`).
  MetricsArg metrics{};
  /// Metrics weighted by fit's/evaluate's sample_weight and class_weight (Keras's
  /// `weighted_metrics`); one named like an unweighted metric is logged as "weighted_<name>".
  MetricsArg weighted_metrics{};
};

/// fit's validation_freq: validate every n-th epoch (an int, counted from 1: 2 validates after
/// epochs 2, 4, ...) or after the listed epochs ({1, 3}: after the first and the third). Keras's
/// int-or-list argument; throws ValueError (in fit) for n < 1.
class ValidationFreq {
 public:
  ValidationFreq(int every = 1) : every_(every) {}                                      // NOLINT
  ValidationFreq(std::vector<int> epochs) : every_(0), epochs_(std::move(epochs)) {}    // NOLINT
  ValidationFreq(std::initializer_list<int> epochs) : every_(0), epochs_(epochs) {}     // NOLINT
  /// 0 when given as a list of epochs.
  int every() const { return every_; }
  const std::vector<int>& epochs() const { return epochs_; }

 private:
  int every_;
  std::vector<int> epochs_;
};

namespace distribute {
class DataParallel;
}

/// The distribution strategy a call runs under (FitOptions::distribution): a non-owning
/// reference, made from an lvalue strategy that must outlive the call; empty by default (the
/// strategy of distribute::set_distribution, if any).
class DistributionRef {
 public:
  DistributionRef() = default;
  DistributionRef(distribute::DataParallel& strategy) : strategy_(&strategy) {}  // NOLINT: implicit by design
  DistributionRef(distribute::DataParallel&&) = delete;  // a temporary would be gone during the call
  distribute::DataParallel* get() const { return strategy_; }
  explicit operator bool() const { return strategy_ != nullptr; }

 private:
  distribute::DataParallel* strategy_ = nullptr;
};

struct FitOptions {
  std::int64_t batch_size = 32;
  int epochs = 1;
  int verbose = 1;  ///< 0 silent, 1 progress bar, 2 one line per epoch
  std::vector<CallbackArg> callbacks{};
  /// The last fraction of x/y (before any shuffling) is held out, as Keras does.
  double validation_split = 0.0;
  /// (x_val, y_val) or a Dataset; overrides validation_split.
  std::optional<ValidationData> validation_data{};
  bool shuffle = true;  ///< arrays only: a dataset's order is its own
  int initial_epoch = 0;
  /// Batches per epoch (0: one full pass). Required for an infinite dataset; with a dataset the
  /// next epoch continues where this one stopped, restarting the data when it runs out.
  std::int64_t steps_per_epoch = 0;
  /// Batches of validation data per epoch (0: one full pass). Required for an infinite dataset.
  std::int64_t validation_steps = 0;
  /// Batch size of array validation data (validation_data arrays or validation_split); 0: batch_size.
  /// A dataset is already batched.
  std::int64_t validation_batch_size = 0;
  /// Which epochs end with a validation pass (Keras's validation_freq): the others log no val_*.
  ValidationFreq validation_freq{};
  /// Per-sample weights (N) (or (N, T) per timestep) of array data: each loss becomes
  /// sum(w·l) / count (Keras's sum_over_batch_size), and weighted_metrics see them. Applies to
  /// every output. A dataset may yield (x, y, w) instead.
  Tensor sample_weight{};
  /// Class index -> weight, multiplied into the per-sample weights from each sample's class (the
  /// integer label, or the argmax of a one-hot target); 1 for classes not listed. Single-output
  /// models only, and not together with sample_weight (as Keras).
  std::map<std::int64_t, double> class_weight{};
  /// Data-parallel training through this strategy (`.distribution = strategy`, Keras 3's
  /// keras.distribution); takes precedence over distribute::set_distribution.
  DistributionRef distribution{};
};

struct EvaluateOptions {
  std::int64_t batch_size = 32;  ///< arrays only: a dataset is already batched
  int verbose = 1;
  std::vector<CallbackArg> callbacks{};
  std::int64_t steps = 0;  ///< batches to evaluate (0: all); required for an infinite dataset
  /// Per-sample weights of array data, as in FitOptions.
  Tensor sample_weight{};
  /// Each replica evaluates its rows of every batch; the logs are the whole data's (as in FitOptions).
  DistributionRef distribution{};
};

struct PredictOptions {
  std::int64_t batch_size = 32;  ///< arrays only: a dataset is already batched
  int verbose = 0;  ///< Keras prints a bar by default; lamina stays quiet unless asked
  std::vector<CallbackArg> callbacks{};
  std::int64_t steps = 0;  ///< batches to predict (0: all); required for an infinite dataset
  /// Each replica predicts its rows of every batch; every replica returns the whole predictions.
  DistributionRef distribution{};
};

struct LoadWeightsOptions {
  /// Legacy .h5 only: match layers by name instead of by position; unmatched layers are ignored.
  bool by_name = false;
  /// Skip (with a warning on stderr) layers whose weight count or shapes differ, instead of
  /// failing.
  bool skip_mismatch = false;
};

/// Model::summary's options, Keras's summary(line_length, expand_nested, show_trainable).
struct SummaryOptions {
  /// Total width of the table in characters; 0: Keras's default when stdout is not a terminal
  /// (80 columns, a table of 76 within its margins).
  int line_length = 0;
  /// Nested models (and their nested models) list their layers under their own row, indented.
  bool expand_nested = false;
  /// A "Trainable" column: Y, N, or - for a layer without weights.
  bool show_trainable = false;
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

/// One step's data, as fit, evaluate and predict hand it to train_step, test_step and
/// predict_step (Keras's `data`, unpacked as keras.utils.unpack_x_y_sample_weight does).
struct Batch {
  std::vector<Tensor> x{};  ///< the inputs, in the order of input_names()
  /// The targets, in the order of output_names() (undefined for an output without one); empty in
  /// predict.
  std::vector<Tensor> y{};
  /// Per output, the samples' weights (N): fit's sample_weight and class_weight, or a dataset's
  /// (x, y, w). Empty when unweighted.
  std::vector<Tensor> sample_weight{};
};

/// What train_step and test_step return (Keras's logs dict): values by name, read only when a log
/// needs them (a progress-bar redraw, a callback that reads batch logs, the end of an epoch), so
/// that a step does not wait for its loss to come back from a device.
/// `return {{"d_loss", d_loss}, {"g_loss", g_loss}};` returns two scalar tensors.
class StepLogs {
 public:
  using Values = std::map<std::string, double>;
  StepLogs() = default;
  StepLogs(Values values);                         // NOLINT(google-explicit-constructor)
  /// Scalar tensors, read when the logs are.
  StepLogs(std::map<std::string, Tensor> values);  // NOLINT(google-explicit-constructor)
  StepLogs(std::initializer_list<std::pair<const std::string, Tensor>> values)  // NOLINT
      : StepLogs(std::map<std::string, Tensor>(values)) {}
  /// Values computed by `read` when they are first needed (each read() calls it).
  explicit StepLogs(std::function<Values()> read);
  /// The values, read now.
  Values read() const;

 private:
  std::function<Values()> read_;
};

/// A model: a graph of layers with a training configuration. A handle: copies share the model.
/// Usable as a layer inside another model (it converts to std::shared_ptr<Layer>).
///
/// Model subclassing (Keras's third way to build a model): derive from Model, construct the base
/// with SubclassOptions, create the layers in the constructor through track(), and override
/// call(). The model is built on its first call; fit, evaluate, predict, summary, count_params
/// and save_weights / load_weights then work as for any model:
///
///     struct TwoLayers : Model {
///       layers::Dense hidden = track("hidden", layers::Dense(64, {.activation = "relu"}));
///       layers::Dense out = track("out", layers::Dense(10));
///       TwoLayers() : Model(SubclassOptions{}) {}
///       Tensor call(const Tensor& x, bool training) override { return out(hidden(x, training), training); }
///     };
///
/// Its overrides (call and the steps) run whenever the model is used, through any copy of the
/// handle, for as long as the object that constructed the model lives; keep it alive (a
/// variable, or a std::shared_ptr) while the model is in use. save() to .keras needs the class
/// registered with register_model<T>().
///
/// Customizing what happens in fit (as Keras 3): override train_step (and test_step,
/// predict_step) on any model, Sequential and Functional ones included, and build the step
/// from compute_loss, compute_gradients, apply_gradients and compute_metrics.
class Model {
 public:
  Model();  ///< an empty, unusable handle (defined() is false)
  explicit Model(std::shared_ptr<ModelImpl> impl);
  /// A Functional model: the graph of layer calls from `inputs` (tensors of layers::Input) to
  /// `outputs`. Each side is one tensor, a list, or tensors keyed by name. Throws ValueError when
  /// an output is not reachable from the inputs, an input is unused, or two layers share a name.
  Model(const SymbolicArg& inputs, const SymbolicArg& outputs, Name name = {});
  /// Copies share the model (its layers, weights and training state).
  Model(const Model& other);
  Model& operator=(const Model& other);
  virtual ~Model();
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

  // Several inputs or outputs: x and y by position (the order of inputs()/outputs()) or by name
  // (input_names()/output_names()). Logs follow Keras: "loss" (the weighted total), then per
  // output "<name>_loss" and "<name>_<metric>" when the model has several outputs.
  History fit(const TensorArg& x, const TensorArg& y, const FitOptions& options = {});
  std::map<std::string, double> evaluate(const TensorArg& x, const TensorArg& y,
                                         const EvaluateOptions& options = {});
  /// The single output of a model with several inputs.
  Tensor predict(const TensorArg& x, const PredictOptions& options = {});
  /// Every output, in the order of outputs().
  std::vector<Tensor> predict_outputs(const TensorArg& x, const PredictOptions& options = {});
  // A Dataset (or any BatchSource): batches of (x, y[, sample_weight]) elements, see
  // BatchSource. Throws ValueError for an infinite dataset without steps, or an empty one.
  History fit(const DataArg& data, const FitOptions& options = {});
  std::map<std::string, double> evaluate(const DataArg& data, const EvaluateOptions& options = {});
  /// The single output over every batch's x (targets in the elements are ignored).
  Tensor predict(const DataArg& data, const PredictOptions& options = {});
  std::vector<Tensor> predict_outputs(const DataArg& data, const PredictOptions& options = {});
  /// One optimizer step on (x, y); returns the batch's loss and metrics.
  std::map<std::string, double> train_on_batch(const Tensor& x, const Tensor& y);
  std::map<std::string, double> test_on_batch(const Tensor& x, const Tensor& y);
  /// The single-batch calls with several inputs or targets (by position or by name).
  std::map<std::string, double> train_on_batch(const TensorArg& x, const TensorArg& y);
  std::map<std::string, double> test_on_batch(const TensorArg& x, const TensorArg& y);
  Tensor predict_on_batch(const Tensor& x);
  /// Forward pass (eager, with autodiff), no batching or callbacks.
  Tensor operator()(const Tensor& x, bool training = false) const;
  /// Forward pass over several inputs; every output, in order.
  std::vector<Tensor> operator()(const std::vector<Tensor>& xs, bool training = false) const;
  /// Symbolic call: the model used as a layer inside another graph (one output).
  KerasTensor operator()(const KerasTensor& x) const;
  KerasTensor operator()(const std::vector<KerasTensor>& xs) const;
  /// Symbolic call of a model with several outputs: every output, in the order of outputs().
  std::vector<KerasTensor> outputs_of(const KerasTensor& x) const;
  std::vector<KerasTensor> outputs_of(const std::vector<KerasTensor>& xs) const;

  /// The model's symbolic inputs and outputs (Sequential: once its input shape is known).
  std::vector<KerasTensor> inputs() const;
  std::vector<KerasTensor> outputs() const;
  /// Names used for x and y keys and log prefixes: the Input layers' names (or the keys given to
  /// the constructor), the output layers' names (or keys).
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;

  /// Keras's model config: a Sequential's {"name", "layers"}; a Functional model's {"name",
  /// "layers" (each with "inbound_nodes"), "input_layers", "output_layers"}; a subclassed model's
  /// {"name", "trainable", "dtype"}, to which a registered subclass adds its constructor's
  /// arguments (override it, starting from Model::get_config()).
  virtual nlohmann::json get_config() const;
  /// Rebuilds a model (fresh, unbuilt-weights layers wired the same way) from get_config()'s
  /// output: a Functional config (with "input_layers") or a Sequential one. Nested models are
  /// rebuilt too. Throws ValueError naming an unknown layer class or a dangling connection.
  static Model from_config(const nlohmann::json& config);
  /// Keras 3's JSON of the architecture (no weights), as Keras's `model.to_json()` writes it:
  /// {"module", "class_name", "config", "registered_name", "build_config"}. `indent` < 0 writes
  /// one line. Read back with models::model_from_json (lamina/models.hpp) or by Keras.
  std::string to_json(int indent = -1) const;

  /// Saves architecture, weights, compile arguments and optimizer state; the format follows the
  /// extension: `.keras` (Keras 3's zip) or `.h5` / `.hdf5` (Keras's legacy HDF5), both readable
  /// by Keras. Atomic: a temporary file in the same directory is flushed and renamed over `path`,
  /// so an interrupted save leaves the previous file intact. Throws ValueError for another
  /// extension, FileFormatError naming `path` when it cannot be written.
  void save(const std::string& path) const;
  /// Saves the weights only: `.weights.h5` in Keras 3's layout, `.h5` / `.hdf5` in the legacy
  /// layout (layer groups at the root). Atomic like save().
  void save_weights(const std::string& path) const;
  /// Loads weights into this (built) model from a `.weights.h5`, a legacy `.h5` weights file or
  /// a whole-model `.h5`. Every count and shape is checked before any weight is assigned; throws
  /// FileFormatError naming the file, the layer and both shapes. `by_name` applies to legacy .h5.
  void load_weights(const std::string& path, const LoadWeightsOptions& options = {});

  /// Prints Keras's summary table to stdout.
  void summary(const SummaryOptions& options = {}) const;
  /// The same table as a string.
  std::string summary_string(const SummaryOptions& options = {}) const;

  /// Layers in order (Keras 3: a Sequential's InputLayer is not listed; a Functional model lists
  /// its InputLayers first, then the layers in topological order, each shared layer once).
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
  /// Input shape with -1 for the batch (empty if not known yet, or for several inputs); output
  /// shape likewise (throws ValueError for a model with several outputs: see outputs()).
  Shape input_shape() const;
  Shape output_shape() const;

  /// The compiled optimizer (null before compile).
  std::shared_ptr<Optimizer> optimizer() const;

  /// Moves every weight, and the optimizer's slots once built, to `device` in place (every
  /// handle to a weight sees the move). fit, evaluate and predict then copy each batch there and
  /// return predictions on the host, as Keras does on a GPU.
  Model& to(Device device);
  /// Where the weights live (the host for a model without weights).
  Device device() const;
  /// Set by a callback to end fit after the current epoch... or batch.
  bool& stop_training();

  // --- Model subclassing -------------------------------------------------------------------------

  /// The forward pass (Keras's call(inputs, training)): what a subclass overrides. `inputs` has a
  /// batch axis; `training` selects training behaviour (dropout, batch statistics). A Sequential
  /// or Functional model runs its graph. Call the model (operator()) rather than call() itself:
  /// that builds it first.
  virtual Tensor call(const Tensor& inputs, bool training);

  // --- Customizing what happens in fit (Keras 3's Trainer) ----------------------------------------

  /// One training step on one batch (fit and train_on_batch call it); returns the batch's logs.
  /// The default: forward with training=true, compute_loss, the loss tracker, compute_gradients,
  /// apply_gradients, compute_metrics. Requires a compiled model.
  virtual StepLogs train_step(const Batch& data);
  /// One evaluation step (evaluate, validation, test_on_batch): forward with training=false,
  /// compute_loss(training=false), the loss tracker, compute_metrics. No gradients are recorded.
  virtual StepLogs test_step(const Batch& data);
  /// One prediction step (predict): every output for data.x, training=false.
  virtual std::vector<Tensor> predict_step(const Batch& data);
  /// The total loss of a batch (Keras's compute_loss): the compiled losses of the outputs with a
  /// loss, each weighted by its loss weight and data.sample_weight, plus the layers' losses
  /// (regularization penalties, add_loss). y_pred: every output, in order. Several outputs: also
  /// updates the "<output>_loss" trackers. A scalar tensor on the tape; nothing is read back.
  virtual Tensor compute_loss(const Batch& data, const std::vector<Tensor>& y_pred, bool training = true);
  /// Updates the compiled metrics with (data.y, y_pred, data.sample_weight) and returns
  /// get_metrics_result() (Keras's compute_metrics). It does not touch the loss tracker: see
  /// update_loss_tracker.
  virtual StepLogs compute_metrics(const Batch& data, const std::vector<Tensor>& y_pred);
  /// The running values of the model's metrics: "loss", then per output "<name>_loss", then the
  /// compiled metrics, read when the logs are read.
  StepLogs get_metrics_result() const;
  /// Adds a batch's total loss to the "loss" tracker (Keras's `_loss_tracker.update_state(loss,
  /// sample_weight=batch_size)`), weighted by data's batch size. Nothing is read back.
  void update_loss_tracker(const Tensor& loss, const Batch& data);
  /// Resets the loss trackers and the compiled metrics; fit calls it at each epoch's start and
  /// evaluate before its first batch. A step with trackers of its own overrides it to reset them
  /// too (calling Model::reset_metrics()).
  virtual void reset_metrics();
  /// Keras's `tape.gradient(loss, weights)`, through the trainer's hooks (a loss scale, a
  /// distribution strategy): the gradient of `loss` for each of `weights` (undefined for one the
  /// loss does not reach). Empty when the hooks found a non-finite gradient: the step is to be
  /// skipped (apply_gradients does nothing with an empty list).
  std::vector<Tensor> compute_gradients(const Tensor& loss, const std::vector<Tensor>& weights);
  /// `optimizer.apply(grads, weights)` with the compiled optimizer (or `optimizer`), building it
  /// first with the weights' Keras paths, then the weights' constraints. Nothing when `grads` is
  /// empty.
  void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& weights,
                       Optimizer* optimizer = nullptr);

  ModelImpl& impl() const { return *impl_; }
  const std::shared_ptr<ModelImpl>& impl_ptr() const { return impl_; }
  operator std::shared_ptr<Layer>() const;  // NOLINT(google-explicit-constructor)

 protected:
  /// The base of a subclassed model (Keras's `super().__init__(name=...)`).
  struct SubclassOptions {
    Name name{};  ///< default: the class's name in snake_case ("two_layers"), made unique
  };
  explicit Model(SubclassOptions options);
  /// Registers a layer (or a nested model) of a subclassed model under its attribute name and
  /// returns it: its weights become the model's, in creation order, and weight files use Keras 3's
  /// paths for that attribute ("hidden/vars/0"). Throws ValueError on a model that is not
  /// subclassed, a null layer or an attribute tracked twice.
  template <class L>
  L track(const std::string& attribute, L layer) {
    track_layer(attribute, std::shared_ptr<Layer>(layer));
    return layer;
  }

  std::shared_ptr<ModelImpl> impl_;

 private:
  void track_layer(const std::string& attribute, std::shared_ptr<Layer> layer);
};

/// Makes a registered subclassed model from its get_config().
using ModelFactory = std::function<Model(const nlohmann::json& config)>;
/// Registers subclass `type` under Keras's `registered_name` ("package>ClassName") with its
/// `class_name`, replacing any earlier registration. See the template below.
void register_model(const std::string& class_name, const std::string& package, std::type_index type,
                    ModelFactory factory);
/// Internal: the handle of a subclassed model made by a factory; it keeps `model` alive.
Model adopt_model(std::shared_ptr<Model> model);

/// Registers a subclassed model T (Keras's register_keras_serializable(package)), so that save()
/// writes it to .keras as {"class_name": class_name, "registered_name": "package>class_name",
/// "config": T's get_config()} and load_model / model_from_json make it again: by
/// `static std::shared_ptr<T> from_config(const nlohmann::json&)` when T has one, else by a
/// constructor taking the config, else by its default constructor; then it is built (from the
/// file's build_config) and its weights loaded. Without a registration, save to .keras throws
/// ValueError and loading a file that holds the class fails naming it (Keras's safe_mode).
template <std::derived_from<Model> T>
void register_model(const std::string& class_name, const std::string& package = "Custom") {
  register_model(class_name, package, typeid(T), [](const nlohmann::json& config) -> Model {
    if constexpr (requires { T::from_config(config); }) return adopt_model(T::from_config(config));
    else if constexpr (std::is_constructible_v<T, const nlohmann::json&>)
      return adopt_model(std::make_shared<T>(config));
    else return adopt_model(std::make_shared<T>());
  });
}

/// A linear stack of layers. Shapes are inferred as layers are added (once the input shape is
/// known); a layer that does not fit throws ShapeError naming it and both shapes.
class Sequential : public Model {
 public:
  explicit Sequential(Name name = {});
  Sequential(std::initializer_list<LayerItem> layers, Name name = {});
  explicit Sequential(const std::vector<LayerItem>& layers, Name name = {});
  void add(const LayerItem& layer);
  /// Removes the last layer; throws ValueError on an empty model.
  void pop();
};

}  // namespace lamina
