// SPDX-License-Identifier: Apache-2.0
// The Layer base: naming, building, weight registry.
#include "lamina/layer.hpp"

#include <cctype>
#include <map>
#include <mutex>
#include <new>

#include <nlohmann/json.hpp>

#include "lamina/errors.hpp"
#include "engine/build_lock.hpp"
#include "engine/deferred_init.hpp"
#include "lamina/ops.hpp"
#include "engine/loss_scope.hpp"
#include "tensor/sizes.hpp"

namespace lamina {

std::unique_lock<std::recursive_mutex> engine::lock_building() {
  static std::recursive_mutex mutex;
  return std::unique_lock<std::recursive_mutex>(mutex);
}

namespace {
std::mutex g_names_mutex;
// Activity losses are per call, but a model may be called from several threads at once (a
// direct call, or an evaluate beside a predict, which records none: engine/loss_scope.hpp):
// their lists are only touched under this lock.
std::mutex g_losses_mutex;
thread_local int t_no_loss_recording = 0;
std::map<std::string, int>& name_counts() {
  static std::map<std::string, int> counts;
  return counts;
}
}  // namespace

std::string to_snake_case(const std::string& name) {
  // Keras: insert '_' before an upper-case letter that starts a capitalised word ("(.)([A-Z][a-z]+)"),
  // then between a lower-case letter and an upper-case one ("([a-z])([A-Z])"); lower everything.
  std::string step1;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (i > 0 && std::isupper(static_cast<unsigned char>(name[i])) && i + 1 < name.size() &&
        std::islower(static_cast<unsigned char>(name[i + 1])))
      step1 += '_';
    step1 += name[i];
  }
  std::string out;
  for (std::size_t i = 0; i < step1.size(); ++i) {
    if (i > 0 && std::isupper(static_cast<unsigned char>(step1[i])) &&
        std::islower(static_cast<unsigned char>(step1[i - 1])))
      out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(step1[i])));
  }
  // "_" doubled where both rules fired.
  std::string clean;
  for (char c : out)
    if (!(c == '_' && !clean.empty() && clean.back() == '_')) clean += c;
  return clean;
}

std::string unique_layer_name(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  int n = name_counts()[prefix]++;
  return n == 0 ? prefix : prefix + "_" + std::to_string(n);
}

void reset_layer_names() {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  name_counts().clear();
}

Layer::Layer(std::string name, const std::string& dtype)
    : name_(std::move(name)), dtype_policy_(dtype.empty() ? lamina::dtype_policy() : DTypePolicy(dtype)) {}

void Layer::set_dtype_policy(const DTypePolicy& policy) {
  for (const Weight& w : weights_)
    if (is_floating(w.value.dtype()) && w.value.dtype() != policy.variable_dtype() &&
        w.value.dtype() == dtype_policy_.variable_dtype())
      throw ValueError(class_name() + " '" + name() + "': cannot set dtype policy '" + policy.name() +
                       "' once built: its variables are " + dtype_name(w.value.dtype()));
  dtype_policy_ = policy;
}

void apply_dtype_option(Layer& layer, const std::string& dtype) {
  if (!dtype.empty()) layer.set_dtype_policy(DTypePolicy(dtype));
}

namespace {
// Keras's convert_input: a floating input in another dtype than the compute dtype is cast. The
// float32 policy leaves inputs alone, so that float64 gradient checks keep their precision.
Tensor policy_input(const Layer& layer, const Tensor& x) {
  const DTypePolicy& policy = layer.dtype_policy();
  if (policy.name() == "float32" || !layer.autocasts() || !x.defined() || !is_floating(x.dtype()) ||
      x.dtype() == policy.compute_dtype())
    return x;
  return x.astype(policy.compute_dtype());
}

std::vector<Tensor> policy_inputs(const Layer& layer, const std::vector<Tensor>& xs) {
  std::vector<Tensor> out;
  out.reserve(xs.size());
  for (const Tensor& x : xs) out.push_back(policy_input(layer, x));
  return out;
}

// Memory a layer asks for outside tensors (index tables, scratch) can still run out: std::bad_alloc
// leaves here as lamina's OutOfMemoryError naming the layer and its input.
[[noreturn]] void out_of_memory(const Layer& layer, const std::vector<Tensor>& inputs) {
  std::string shapes;
  for (const Tensor& x : inputs) shapes += (shapes.empty() ? "" : ", ") + x.shape().str();
  throw OutOfMemoryError(layer.class_name() + " '" + layer.name() + "': out of memory computing its output for input " +
                         shapes);
}
}  // namespace

Tensor Layer::call_with_policy(const Tensor& x, const Tensor& mask, bool training) {
  try {
    const Tensor in = policy_input(*this, x);
    return mask.defined() ? call_masked(in, mask, training) : call(in, training);
  } catch (const std::bad_alloc&) {
    out_of_memory(*this, {x});
  }
}

std::vector<Tensor> Layer::call_outputs_with_policy(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                                    bool training, std::vector<Tensor>& output_masks) {
  try {
    if (dtype_policy_.name() == "float32" || !autocasts()) return call_outputs(inputs, masks, training, output_masks);
    return call_outputs(policy_inputs(*this, inputs), masks, training, output_masks);
  } catch (const std::bad_alloc&) {
    out_of_memory(*this, inputs);
  }
}

Tensor Layer::autocast(const Tensor& weight) const {
  if (!dtype_policy_.is_mixed() || !autocasts() || !weight.defined() || weight.dtype() != dtype_policy_.variable_dtype())
    return weight;
  return weight.astype(dtype_policy_.compute_dtype());
}

Layer::~Layer() = default;

const std::string& Layer::name() const {
  if (name_.empty()) name_ = unique_layer_name(to_snake_case(class_name()));
  return name_;
}

void Layer::set_name(std::string name) { name_ = std::move(name); }

void Layer::build(const Shape&) {}

Shape Layer::compute_output_shape(const Shape& input_shape) {
  // Trace call() on a batch of one (unknown dimensions other than the batch are not supported).
  Shape concrete = input_shape;
  for (std::size_t i = 0; i < concrete.size(); ++i) {
    if (concrete[i] < 0 && i > 0)
      fail_shape("cannot infer the output shape for input " + input_shape.str() +
                 " (override compute_output_shape)");
    if (concrete[i] < 0) concrete[i] = 1;
  }
  NoGradGuard no_grad;
  Tensor out = call(Tensor::zeros(concrete), false);
  Shape result = out.shape();
  if (!input_shape.empty() && input_shape[0] < 0 && !result.empty()) result[0] = -1;
  return result;
}

Tensor Layer::compute_mask(const Tensor&, const Tensor& mask) const {
  return supports_masking() ? mask : Tensor();
}

nlohmann::json Layer::get_config() const {
  return {{"name", name()}, {"trainable", trainable_}, {"dtype", dtype_policy_.name()}};
}

namespace {
// Sizes from configs reach output shapes multiplied and padded: an absurd one is refused at model
// build, naming the layer, rather than at the first predict.
Shape checked_output(const Layer& layer, Shape shape) {
  if (!sizes::shape_fits(shape))
    sizes::require_shape(layer.class_name() + " '" + layer.name() + "': output shape", shape);
  return shape;
}
}  // namespace

Shape Layer::build_for(const Shape& input_shape) {
  if (!built_) {
    build(input_shape);
    input_shape_ = input_shape;
    built_ = true;  // last: a thread that sees it built sees the weights and the shape
  }
  return checked_output(*this, compute_output_shape(input_shape));
}

Tensor Layer::operator()(const Tensor& x, bool training) {
  if (!built_) {  // built_ is set last, so a built layer needs no lock here
    auto lock = engine::lock_building();
    Shape s = x.shape();
    if (!s.empty()) s[0] = -1;
    build_for(s);  // builds only if no other thread did meanwhile
  }
  clear_losses();  // an outermost call starts a fresh set of activity losses, as in Keras
  return call_with_policy(x, Tensor(), training);
}

// --- several inputs and symbolic calls ---------------------------------------------------------------

namespace {
const Tensor& single_input(const std::vector<Tensor>& inputs, const std::string& who) {
  if (inputs.size() != 1)
    throw ValueError(who + " takes one input, got a list of " + std::to_string(inputs.size()));
  return inputs[0];
}

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string out = "[";
  for (std::size_t i = 0; i < shapes.size(); ++i) out += (i ? ", " : "") + shapes[i].str();
  return out + "]";
}
}  // namespace

Tensor Layer::call(const std::vector<Tensor>& inputs, bool training) {
  if (inputs.size() != 1)
    throw ValueError(class_name() + " '" + name() + "' takes one input, got a list of " +
                     std::to_string(inputs.size()));
  return call(inputs[0], training);
}

void Layer::build_list(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() != 1)
    fail_shape("takes one input, got " + std::to_string(input_shapes.size()) + ": " +
               shapes_str(input_shapes));
  build(input_shapes[0]);
}

Shape Layer::compute_output_shape_list(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() != 1)
    fail_shape("takes one input, got " + std::to_string(input_shapes.size()) + ": " +
               shapes_str(input_shapes));
  return compute_output_shape(input_shapes[0]);
}

Shape Layer::build_for_list(const std::vector<Shape>& input_shapes) {
  if (!built_) {
    build_list(input_shapes);
    input_shape_ = input_shapes.empty() ? Shape{} : input_shapes[0];
    built_ = true;
  }
  return checked_output(*this, compute_output_shape_list(input_shapes));
}

Tensor Layer::operator()(const std::vector<Tensor>& inputs, bool training) {
  if (!takes_list()) return (*this)(single_input(inputs, class_name() + " '" + name() + "'"), training);
  if (!built_) {
    auto lock = engine::lock_building();
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) {
      Shape s = t.shape();
      if (!s.empty()) s[0] = -1;
      shapes.push_back(s);
    }
    build_for_list(shapes);
  }
  if (dtype_policy_.name() == "float32") return call(inputs, training);
  return call(policy_inputs(*this, inputs), training);
}

KerasTensor Layer::operator()(const KerasTensor& x) {
  if (takes_list())
    throw ShapeError(class_name() + " '" + name() + "': must be called on a list of tensors, got one tensor of shape " +
                     x.shape.str());
  return (*this)(std::vector<KerasTensor>{x});
}

std::vector<Shape> Layer::compute_output_shapes(const std::vector<Shape>& input_shapes) {
  if (takes_list()) return {compute_output_shape_list(input_shapes)};
  if (input_shapes.size() != 1)
    fail_shape("takes one input, got " + std::to_string(input_shapes.size()) + ": " + shapes_str(input_shapes));
  return {compute_output_shape(input_shapes[0])};
}

std::vector<Tensor> Layer::call_outputs(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                        bool training, std::vector<Tensor>& output_masks) {
  bool masked = false;
  for (const Tensor& m : masks) masked |= m.defined();
  if (takes_list()) {
    Tensor out = masked ? call_masked(inputs, masks, training) : call(inputs, training);
    output_masks = {masked ? compute_mask(inputs, masks) : Tensor()};
    return {out};
  }
  const Tensor& x = single_input(inputs, class_name() + " '" + name() + "'");
  const Tensor mask = masked ? masks[0] : Tensor();
  Tensor out = masked ? call_masked(x, mask, training) : call(x, training);
  output_masks = {compute_mask(x, mask)};
  return {out};
}

void check_output_count(std::size_t want, std::size_t got, const Layer& layer) {
  if (want != got)
    throw ValueError(layer.class_name() + " '" + layer.name() + "' returns " + std::to_string(got) +
                     " tensor" + (got == 1 ? "" : "s") + ", not " + std::to_string(want));
}

KerasTensor Layer::operator()(const std::vector<KerasTensor>& inputs) {
  if (num_outputs() != 1)
    throw ValueError(class_name() + " '" + name() + "' returns " + std::to_string(num_outputs()) +
                     " tensors (e.g. return_state); call it with outputs_of(...) to get them all");
  return outputs_of(inputs)[0];
}

std::vector<KerasTensor> Layer::outputs_of(const std::vector<KerasTensor>& inputs) {
  const std::string who = class_name() + " '" + name() + "'";
  if (inputs.empty()) throw ValueError(who + ": called on an empty list of tensors");
  for (const KerasTensor& t : inputs)
    if (!t.layer)
      throw ValueError(who + ": called on a symbolic tensor that no layer produced "
                             "(start graphs with layers::Input)");
  std::shared_ptr<Layer> self;
  try {
    self = shared_from_this();
  } catch (const std::bad_weak_ptr&) {
    throw ValueError(who + ": a layer called on symbolic tensors must be held by a shared_ptr "
                           "(create it through its handle, e.g. layers::Dense(8))");
  }
  std::vector<Shape> shapes;
  for (const KerasTensor& t : inputs) shapes.push_back(t.shape);
  if (!built_) {
    build_list(shapes);
    input_shape_ = shapes[0];
    built_ = true;
  }
  std::vector<Shape> out = compute_output_shapes(shapes);
  for (const Shape& s : out) checked_output(*this, s);
  check_output_count(num_outputs(), out.size(), *this);
  auto node = std::make_shared<Node>(Node{self, inputs, out, next_node_index()});
  // Layers compute in float32 unless given float64 (gradient checks) or another policy; integer
  // inputs (ids, images) come out as float32 from any computing layer.
  DType dtype = dtype_policy_.name() != "float32" ? dtype_policy_.compute_dtype()
                : inputs[0].dtype == float64        ? float64
                                                    : float32;
  std::vector<KerasTensor> result;
  for (std::size_t i = 0; i < out.size(); ++i)
    result.push_back(KerasTensor{out[i], dtype, name(), self, node, static_cast<int>(i)});
  return result;
}

// Sizes from configs reach here multiplied and padded: an absurd one is refused at model build,
// naming the layer, rather than at the first predict.
void Layer::fail_shape(const std::string& what) const {
  throw ShapeError(class_name() + " '" + name() + "': " + what);
}

Tensor Layer::add_weight(const std::string& name, const Shape& shape,
                         const Initializer& initializer, bool trainable, DType dtype,
                         const Regularizer& regularizer, const Constraint& constraint) {
  for (const Weight& w : weights_)
    if (w.name == name) fail_shape("a weight named '" + name + "' already exists");
  const std::string who = class_name() + " '" + this->name() + "' weight '" + name + "'";
  sizes::require_shape(who, shape);
  sizes::WeightBudget::charge(sizes::tensor_bytes(shape, dtype_size(dtype), who), who);
  // The policy's variable dtype replaces the default float32 (a layer asking for float64 or an
  // integer type keeps it).
  if (dtype == float32) dtype = dtype_policy_.variable_dtype();
  Tensor value;
  {
    NoGradGuard no_grad;
    // Built for a file (load_model): the loader overwrites the values, so the draw waits.
    auto* deferred = engine::DeferredInit::active();
    value = deferred ? deferred->defer(initializer, shape, dtype) : initializer(shape, dtype);
  }
  if (value.shape() != shape)
    fail_shape("initializer for '" + name + "' returned shape " + value.shape().str() +
               ", expected " + shape.str());
  value = value.detach();
  if (is_floating(dtype)) value.set_requires_grad(trainable);
  weights_.push_back({name, value, trainable, regularizer, constraint});
  return value;
}

engine::NoLossRecording::NoLossRecording() { ++t_no_loss_recording; }
engine::NoLossRecording::~NoLossRecording() { --t_no_loss_recording; }

void Layer::add_loss(const Tensor& loss) {
  if (!loss.defined() || loss.numel() != 1)
    throw ValueError(class_name() + " '" + name() + "': add_loss takes a scalar loss, got " +
                     (loss.defined() ? loss.shape().str() : std::string("an undefined tensor")));
  if (t_no_loss_recording > 0) return;
  Tensor scalar = loss.reshape({});
  std::lock_guard<std::mutex> lock(g_losses_mutex);
  added_losses_.push_back(std::move(scalar));
}

std::vector<Tensor> Layer::losses() const {
  std::vector<Tensor> out;
  {
    std::lock_guard<std::mutex> lock(g_losses_mutex);
    out = added_losses_;
  }
  for (const Weight& w : weights_)
    if (w.regularizer) out.push_back(w.regularizer(w.value));
  for (const auto& sub : sublayers())
    for (Tensor& l : sub->losses()) out.push_back(std::move(l));
  return out;
}

void Layer::clear_losses() {
  // A call that records nothing leaves the list alone: it may be another thread's evaluate's.
  if (t_no_loss_recording > 0) return;
  {
    std::lock_guard<std::mutex> lock(g_losses_mutex);
    added_losses_.clear();
  }
  for (const auto& sub : sublayers()) sub->clear_losses();
}

void Layer::apply_constraints() {
  if (!trainable_) return;
  NoGradGuard no_grad;
  for (Weight& w : weights_)
    if (w.constraint && w.trainable) w.value.assign(w.constraint(w.value));
  for (const auto& sub : sublayers()) sub->apply_constraints();
}

void KernelBiasRegularization::to_config(nlohmann::json& c) const {
  c["kernel_regularizer"] = regularizers::serialize(kernel_regularizer);
  c["bias_regularizer"] = regularizers::serialize(bias_regularizer);
  if (activity_regularizer) c["activity_regularizer"] = regularizers::serialize(activity_regularizer);
  c["kernel_constraint"] = constraints::serialize(kernel_constraint);
  c["bias_constraint"] = constraints::serialize(bias_constraint);
}

KernelBiasRegularization KernelBiasRegularization::from_config(const nlohmann::json& c) {
  auto at = [&](const char* key) { return c.contains(key) ? c[key] : nlohmann::json(); };
  return {regularizers::deserialize(at("kernel_regularizer")),
          regularizers::deserialize(at("bias_regularizer")),
          regularizers::deserialize(at("activity_regularizer")),
          constraints::deserialize(at("kernel_constraint")),
          constraints::deserialize(at("bias_constraint"))};
}

Tensor Layer::regularize_activity(const Tensor& output, const Regularizer& regularizer) {
  // Divided by the batch size, as tf.keras 2 and Keras 3 do, so the penalty's weight does not
  // depend on the batch size.
  if (regularizer && t_no_loss_recording == 0) {
    const Tensor penalty = regularizer(output);
    add_loss(output.ndim() > 0 && output.shape()[0] > 0 ? penalty / static_cast<double>(output.shape()[0]) : penalty);
  }
  return output;
}

void Layer::collect_weights(std::vector<const Weight*>& trainable,
                            std::vector<const Weight*>& frozen, bool parent_trainable) const {
  const bool on = parent_trainable && trainable_;
  for (const Weight& w : weights_) (on && w.trainable ? trainable : frozen).push_back(&w);
  for (const auto& sub : sublayers()) sub->collect_weights(trainable, frozen, on);
}

std::vector<Layer::Weight> Layer::weight_entries() const {
  std::vector<const Weight*> t, f;
  collect_weights(t, f, true);
  std::vector<Weight> out;
  for (auto* w : t) out.push_back(*w);
  for (auto* w : f) out.push_back(*w);
  return out;
}

std::vector<Layer::Weight> Layer::own_variables() const {
  std::vector<Weight> trainable, frozen;
  for (const Weight& w : weights_) (w.trainable ? trainable : frozen).push_back(w);
  trainable.insert(trainable.end(), frozen.begin(), frozen.end());
  return trainable;
}

std::vector<Layer::Keras3Group> Layer::keras3_layout() const {
  return {{"vars", name(), sublayers().empty() ? own_variables() : weight_entries()}};
}

std::vector<Tensor> Layer::weights() const {
  std::vector<const Weight*> t, f;
  collect_weights(t, f, true);
  std::vector<Tensor> out;
  for (auto* w : t) out.push_back(w->value);
  for (auto* w : f) out.push_back(w->value);
  return out;
}

std::vector<Tensor> Layer::trainable_weights() const {
  std::vector<const Weight*> t, f;
  collect_weights(t, f, true);
  std::vector<Tensor> out;
  for (auto* w : t) out.push_back(w->value);
  return out;
}

std::vector<Tensor> Layer::non_trainable_weights() const {
  std::vector<const Weight*> t, f;
  collect_weights(t, f, true);
  std::vector<Tensor> out;
  for (auto* w : f) out.push_back(w->value);
  return out;
}

std::vector<Tensor> Layer::get_weights() const {
  std::vector<Tensor> out;
  NoGradGuard no_grad;
  for (const Tensor& w : weights()) out.push_back(w.detach().clone());
  return out;
}

void Layer::set_weights(const std::vector<Tensor>& values) {
  std::vector<Tensor> ws = weights();
  if (values.size() != ws.size())
    throw ValueError(class_name() + " '" + name() + "': set_weights expected " +
                     std::to_string(ws.size()) + " arrays, got " + std::to_string(values.size()));
  // A weight is named by its short name when it is this layer's own, else by its path below it.
  const auto label = [this](const Tensor& w) {
    std::function<std::string(const Layer&, const std::string&)> find =
        [&](const Layer& l, const std::string& scope) -> std::string {
      for (const Weight& own : l.own_weights())
        if (own.value.shares_storage(w)) return scope + own.name;
      for (const auto& sub : l.sublayers())
        if (std::string found = find(*sub, scope + sub->name() + "/"); !found.empty()) return found;
      return {};
    };
    return find(*this, "");
  };
  for (std::size_t i = 0; i < ws.size(); ++i)
    if (!values[i].defined() || values[i].shape() != ws[i].shape())
      fail_shape("weight '" + label(ws[i]) + "' expects shape " + ws[i].shape().str() + ", got " +
                 (values[i].defined() ? values[i].shape().str() : std::string("an undefined tensor")));
  for (std::size_t i = 0; i < ws.size(); ++i) ws[i].assign(values[i]);
}

std::int64_t Layer::count_params() const {
  std::int64_t n = 0;
  for (const Tensor& w : weights()) n += w.numel();
  return n;
}

}  // namespace lamina
