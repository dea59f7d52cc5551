// SPDX-License-Identifier: Apache-2.0
// Recurrent layers: SimpleRNN, LSTM, GRU, their cells and RNN(cell). The input projection of every
// step is one GEMM (the dense op); the time loop is the fused recurrent_scan op.
#include "common/json_int.hpp"
#include "lamina/layers/recurrent.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/recurrent.hpp"
#include "tensor/sizes.hpp"

#include "build_on_call.hpp"
#include "recurrent_config.hpp"

namespace lamina::layers {

namespace {

const char* cell_class(CellType t) {
  return t == CellType::lstm ? "LSTMCell" : t == CellType::gru ? "GRUCell" : "SimpleRNNCell";
}
const char* layer_class(CellType t) {
  return t == CellType::lstm ? "LSTM" : t == CellType::gru ? "GRU" : "SimpleRNN";
}

backend::GateActivation gate_of(const lamina::Activation& a, const std::string& who) {
  const std::string& n = a.name();
  if (n == "linear") return backend::GateActivation::linear;
  if (n == "tanh") return backend::GateActivation::tanh;
  if (n == "sigmoid") return backend::GateActivation::sigmoid;
  if (n == "relu") return backend::GateActivation::relu;
  if (n == "hard_sigmoid") return backend::GateActivation::hard_sigmoid;
  if (n == "hard_sigmoid_keras2") return backend::GateActivation::hard_sigmoid_keras2;
  throw ValueError(who + ": activation '" + n + "' is not available in recurrent cells (use tanh, "
                   "sigmoid, relu, linear, hard_sigmoid or hard_sigmoid_keras2)");
}

backend::RecurrentGeometry geometry_of(const RecurrentCellLayer& cell, bool go_backwards) {
  backend::RecurrentGeometry g;
  g.kind = cell.type() == CellType::lstm  ? backend::CellKind::lstm
           : cell.type() == CellType::gru ? backend::CellKind::gru
                                          : backend::CellKind::simple;
  const std::string who = cell.class_name() + " '" + cell.name() + "'";
  g.activation = gate_of(cell.options().activation, who);
  g.recurrent_activation = gate_of(cell.options().recurrent_activation, who);
  g.reset_after = cell.options().reset_after;
  g.go_backwards = go_backwards;
  return g;
}

// The unit_forget_bias initializer: the forget block (units..2·units) starts at one.
Initializer forget_bias_initializer(const Initializer& base, std::int64_t units) {
  return Initializer("LSTMForgetBias", {}, [base, units](const Shape&, DType dtype) {
    return concatenate({base({units}, dtype), Tensor::ones({units}, dtype), base({2 * units}, dtype)}, 0);
  });
}

void check_rate(double rate, const char* what, const std::string& who) {
  if (!(rate >= 0.0 && rate < 1.0))
    throw ValueError(who + ": " + what + " must be in [0, 1), got " + std::to_string(rate));
}

// The time loop of `cell` over x (batch, steps, features).
RecurrentResult run_cell(RecurrentCellLayer& cell, const Tensor& x, const Tensor& mask,
                         const std::vector<Tensor>& initial, bool training, bool go_backwards,
                         bool return_sequences) {
  const RecurrentOptions& o = cell.options();
  const std::int64_t n = x.shape()[0], steps = x.shape()[1], u = cell.units();
  const DType dt = cell.kernel.dtype();
  Tensor in = x.dtype() == dt ? x : x.astype(dt);
  // One dropout mask per sequence, shared by every step (Keras's DropoutRNNCell).
  if (training && o.dropout > 0) in = in * dropout(Tensor::ones({n, 1, x.shape()[2]}, dt, x.device()), o.dropout);
  Tensor input_bias = cell.bias, recurrent_bias;
  if (cell.bias.defined() && cell.type() == CellType::gru && o.reset_after) {
    input_bias = cell.bias[0];
    recurrent_bias = cell.bias[1];
  }
  Tensor xp = dense(in, cell.kernel, input_bias);
  std::vector<Tensor> init = initial;
  while (static_cast<int>(init.size()) < cell.state_count()) init.push_back(Tensor::zeros({n, u}, dt, x.device()));
  for (Tensor& s : init) {
    if (s.shape() != Shape{n, u})
      throw ShapeError(cell.class_name() + " '" + cell.name() + "': initial states must have shape " +
                       Shape{n, u}.str() + ", got " + s.shape().str());
    if (s.dtype() != dt) s = s.astype(dt);
  }
  Tensor rmask;
  if (training && o.recurrent_dropout > 0) rmask = dropout(Tensor::ones({n, u}, dt, x.device()), o.recurrent_dropout);
  Tensor packed = recurrent_scan(geometry_of(cell, go_backwards), xp, cell.recurrent_kernel, recurrent_bias,
                                 init[0], cell.state_count() > 1 ? init[1] : Tensor(), mask, rmask);
  RecurrentResult r;
  r.states.push_back(steps > 0 ? packed[steps - 1] : init[0]);
  if (cell.state_count() > 1) r.states.push_back(packed[steps]);
  r.output = return_sequences ? transpose(packed.slice(0, steps), {1, 0, 2}) : r.states[0];
  return r;
}

}  // namespace

// --- cells ---------------------------------------------------------------------------------------

RecurrentCellLayer::RecurrentCellLayer(CellType type, std::int64_t units, RecurrentOptions options)
    : Layer(options.name, options.dtype), type_(type), units_(units), options_(std::move(options)) {
  const std::string who = cell_class(type);
  sizes::require_size(who, "units", units);
  check_rate(options_.dropout, "dropout", who);
  check_rate(options_.recurrent_dropout, "recurrent_dropout", who);
  if (type == CellType::simple_rnn) options_.recurrent_activation = "sigmoid";
  gate_of(options_.activation, who);
  gate_of(options_.recurrent_activation, who);
}

std::string RecurrentCellLayer::class_name() const { return cell_class(type_); }

void RecurrentCellLayer::build(const Shape& s) {
  compute_output_shape(s);
  const std::int64_t G = units_ * (type_ == CellType::lstm ? 4 : type_ == CellType::gru ? 3 : 1);
  const bool split = type_ == CellType::gru && options_.reset_after;
  add_gate_weights({s.back(), G}, {units_, G}, split ? Shape{2, G} : Shape{G});
}

void RecurrentCellLayer::add_gate_weights(const Shape& kernel_shape, const Shape& recurrent_shape,
                                          const Shape& bias_shape) {
  const RecurrentOptions& o = options_;
  kernel = add_weight("kernel", kernel_shape, o.kernel_initializer, true, float32, o.kernel_regularizer,
                      o.kernel_constraint);
  recurrent_kernel = add_weight("recurrent_kernel", recurrent_shape, o.recurrent_initializer, true, float32,
                                o.recurrent_regularizer, o.recurrent_constraint);
  if (!o.use_bias) return;
  const Initializer init = type_ == CellType::lstm && o.unit_forget_bias
                               ? forget_bias_initializer(o.bias_initializer, units_)
                               : o.bias_initializer;
  bias = add_weight("bias", bias_shape, init, true, float32, o.bias_regularizer, o.bias_constraint);
}

RecurrentResult RecurrentCellLayer::scan(const Tensor& x, const Tensor& mask, const std::vector<Tensor>& initial,
                                         bool training, bool go_backwards, bool return_sequences) {
  return run_cell(*this, x, mask, initial, training, go_backwards, return_sequences);
}

Shape RecurrentCellLayer::state_shape(const Shape& step_input_shape) const {
  return {step_input_shape.empty() ? -1 : step_input_shape[0], units_};
}

Shape RecurrentCellLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != 2) fail_shape("input must be 2-D (batch, features), got " + s.str());
  if (s.back() <= 0) fail_shape("the feature dimension of the input must be known, got " + s.str());
  if (kernel.defined() && s.back() != kernel.shape()[0])
    fail_shape("expected " + std::to_string(kernel.shape()[0]) + " features, got " + s.str());
  return {s[0], units_};
}

std::vector<Tensor> RecurrentCellLayer::step(const Tensor& x, const std::vector<Tensor>& states,
                                             bool training) {
  build_on(*this, x);
  compute_output_shape(x.shape());
  if (!states.empty() && static_cast<int>(states.size()) != state_count())
    throw ValueError(class_name() + " '" + name() + "': expected " + std::to_string(state_count()) +
                     " states, got " + std::to_string(states.size()));
  Shape one_step = x.shape();
  one_step.insert(one_step.begin() + 1, 1);
  RecurrentResult r = scan(x.reshape(one_step), Tensor(), states, training, false, false);
  std::vector<Tensor> out{r.output};
  out.insert(out.end(), r.states.begin(), r.states.end());
  return out;
}

Tensor RecurrentCellLayer::call(const Tensor& x, bool training) { return step(x, {}, training)[0]; }

nlohmann::json RecurrentCellLayer::cell_config() const {
  nlohmann::json c;
  c["units"] = units_;
  c["activation"] = options_.activation.name();
  if (type_ != CellType::simple_rnn) c["recurrent_activation"] = options_.recurrent_activation.name();
  c["use_bias"] = options_.use_bias;
  c["kernel_initializer"] = engine::initializer_config(options_.kernel_initializer);
  c["recurrent_initializer"] = engine::initializer_config(options_.recurrent_initializer);
  c["bias_initializer"] = engine::initializer_config(options_.bias_initializer);
  if (type_ == CellType::lstm) c["unit_forget_bias"] = options_.unit_forget_bias;
  c["kernel_regularizer"] = regularizers::serialize(options_.kernel_regularizer);
  c["recurrent_regularizer"] = regularizers::serialize(options_.recurrent_regularizer);
  c["bias_regularizer"] = regularizers::serialize(options_.bias_regularizer);
  c["kernel_constraint"] = constraints::serialize(options_.kernel_constraint);
  c["recurrent_constraint"] = constraints::serialize(options_.recurrent_constraint);
  c["bias_constraint"] = constraints::serialize(options_.bias_constraint);
  c["dropout"] = options_.dropout;
  c["recurrent_dropout"] = options_.recurrent_dropout;
  if (type_ == CellType::gru) c["reset_after"] = options_.reset_after;
  c["seed"] = nullptr;
  return c;
}

nlohmann::json RecurrentCellLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c.update(cell_config());
  return c;
}

LSTMCell::LSTMCell(std::int64_t units, RecurrentOptions options)
    : LayerHandle(std::make_shared<RecurrentCellLayer>(CellType::lstm, units, std::move(options))) {}
GRUCell::GRUCell(std::int64_t units, RecurrentOptions options)
    : LayerHandle(std::make_shared<RecurrentCellLayer>(CellType::gru, units, std::move(options))) {}
SimpleRNNCell::SimpleRNNCell(std::int64_t units, RecurrentOptions options)
    : LayerHandle(std::make_shared<RecurrentCellLayer>(CellType::simple_rnn, units, std::move(options))) {}

// --- RNN -----------------------------------------------------------------------------------------

RNNLayer::RNNLayer(std::shared_ptr<RecurrentCellLayer> cell, RecurrentOptions options)
    : Layer(options.name, options.dtype), cell_(std::move(cell)), options_(std::move(options)) {
  if (!cell_) throw ValueError("RNN: the cell is empty");
}

Shape RNNLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != 3) fail_shape("input must be 3-D (batch, steps, features), got " + s.str());
  if (s[2] <= 0) fail_shape("the feature dimension of the input must be known, got " + s.str());
  if (cell_->kernel.defined() && s[2] != cell_->kernel.shape()[0])
    fail_shape("expected " + std::to_string(cell_->kernel.shape()[0]) + " features, got " + s.str());
  return options_.return_sequences ? Shape{s[0], s[1], units()} : Shape{s[0], units()};
}

namespace {
// (batch, steps, rest...) -> (batch, rest...): what the cell sees at each step.
Shape step_shape(const Shape& s) {
  Shape step = s;
  if (step.rank() >= 2) step.erase(step.begin() + 1);
  return step;
}
}  // namespace

void RNNLayer::build(const Shape& s) {
  compute_output_shape(s);
  cell_->build_for(step_shape(s));
}

Shape RNNLayer::state_shape(const Shape& input_shape) const { return cell_->state_shape(step_shape(input_shape)); }

RecurrentResult RNNLayer::call_with_state(const Tensor& x, const Tensor& mask,
                                          const std::vector<Tensor>& initial_state, bool training) {
  build_on(*this, x);
  compute_output_shape(x.shape());
  if (mask.defined() && mask.shape() != Shape{x.shape()[0], x.shape()[1]})
    fail_shape("mask must have shape " + Shape{x.shape()[0], x.shape()[1]}.str() + ", got " +
               mask.shape().str());
  if (!initial_state.empty() && static_cast<int>(initial_state.size()) != cell_->state_count())
    throw ValueError(class_name() + " '" + name() + "': expected " +
                     std::to_string(cell_->state_count()) + " initial states, got " +
                     std::to_string(initial_state.size()));
  std::vector<Tensor> init = initial_state;
  if (init.empty() && options_.stateful && !states_.empty()) {
    if (states_[0].shape()[0] != x.shape()[0])
      throw ValueError(class_name() + " '" + name() + "': a stateful layer keeps states for batches of " +
                       std::to_string(states_[0].shape()[0]) + ", got a batch of " +
                       std::to_string(x.shape()[0]) + " (call reset_states() first)");
    init = states_;
  }
  RecurrentResult r = cell_->scan(x, mask, init, training, options_.go_backwards, options_.return_sequences);
  if (options_.stateful) {
    states_.clear();
    for (const Tensor& s : r.states) states_.push_back(s.detach());
  }
  // Keras regularizes every output of the call: the sequence, and the states when returned.
  regularize_activity(r.output, options_.activity_regularizer);
  if (options_.return_state)
    for (const Tensor& s : r.states) regularize_activity(s, options_.activity_regularizer);
  return r;
}

Tensor RNNLayer::call(const Tensor& x, bool training) {
  return call_with_state(x, Tensor(), {}, training).output;
}

Tensor RNNLayer::call_masked(const Tensor& x, const Tensor& mask, bool training) {
  return call_with_state(x, mask, {}, training).output;
}

Tensor RNNLayer::compute_mask(const Tensor&, const Tensor& mask) const {
  return options_.return_sequences ? mask : Tensor();
}

void RNNLayer::reset_states() { states_.clear(); }

std::size_t RNNLayer::num_outputs() const {
  return options_.return_state ? 1 + static_cast<std::size_t>(cell_->state_count()) : 1;
}

void RNNLayer::check_initial_state_shapes(const std::vector<Shape>& shapes, std::size_t states) const {
  std::string got;
  for (const Shape& s : shapes) got += (got.empty() ? "" : ", ") + s.str();
  if (shapes.empty() || (shapes.size() != 1 && shapes.size() != 1 + states))
    fail_shape("takes the sequence and optionally " + std::to_string(states) +
               " initial states, got [" + got + "]");
  const Shape want = state_shape(shapes[0]);
  for (std::size_t i = 1; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    bool ok = s.rank() == want.rank() && (s[0] < 0 || want[0] < 0 || s[0] == want[0]);
    for (int d = 1; ok && d < want.rank(); ++d) ok = s[d] == want[d];
    if (!ok)
      fail_shape("initial state " + std::to_string(i - 1) + " must have shape " + want.str() + ", got " +
                 s.str() + " (inputs [" + got + "])");
  }
}

void RNNLayer::build_list(const std::vector<Shape>& shapes) {
  check_initial_state_shapes(shapes, cell_->state_count());
  build(shapes[0]);
}

std::vector<Shape> RNNLayer::compute_output_shapes(const std::vector<Shape>& shapes) {
  check_initial_state_shapes(shapes, cell_->state_count());
  std::vector<Shape> out{compute_output_shape(shapes[0])};
  if (options_.return_state) out.insert(out.end(), cell_->state_count(), state_shape(shapes[0]));
  return out;
}

std::vector<Tensor> RNNLayer::call_outputs(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                           bool training, std::vector<Tensor>& output_masks) {
  if (inputs.empty()) fail_shape("called on an empty list of tensors");
  const Tensor mask = masks.empty() ? Tensor() : masks[0];
  RecurrentResult r = call_with_state(inputs[0], mask, {inputs.begin() + 1, inputs.end()}, training);
  // Keras's RNN.compute_mask: the sequence's mask when returning sequences; states have none.
  output_masks.assign(num_outputs(), Tensor());
  output_masks[0] = compute_mask(inputs[0], mask);
  std::vector<Tensor> out{r.output};
  if (options_.return_state) out.insert(out.end(), r.states.begin(), r.states.end());
  return out;
}

nlohmann::json RNNLayer::rnn_config() const {
  return {{"return_sequences", options_.return_sequences}, {"return_state", options_.return_state},
          {"go_backwards", options_.go_backwards},         {"stateful", options_.stateful},
          {"unroll", options_.unroll},                     {"zero_output_for_mask", false}};
}

std::vector<Layer::Keras3Group> RNNLayer::keras3_layout() const {
  return {{"vars", name()}, {"cell/vars", to_snake_case(class_name()) + "_cell", weight_entries()}};
}

nlohmann::json RNNLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c.update(rnn_config());
  c["cell"] = {{"module", "keras.layers"},
               {"class_name", cell_->class_name()},
               {"config", cell_->get_config()},
               {"registered_name", nullptr}};
  return c;
}

// --- SimpleRNN / LSTM / GRU ----------------------------------------------------------------------

namespace {
// Keras names the cell of an LSTM "lstm_cell" whatever the layer's name.
std::shared_ptr<RecurrentCellLayer> make_cell(CellType type, std::int64_t units, RecurrentOptions o) {
  o.name = to_snake_case(cell_class(type));
  return std::make_shared<RecurrentCellLayer>(type, units, std::move(o));
}
}  // namespace

RecurrentLayer::RecurrentLayer(CellType type, std::int64_t units, RecurrentOptions options)
    : RNNLayer(make_cell(type, units, options), options) {}

std::string RecurrentLayer::class_name() const { return layer_class(cell()->type()); }

nlohmann::json RecurrentLayer::get_config() const {
  nlohmann::json c = Layer::get_config();
  c.update(rnn_config());
  c.update(cell()->cell_config());
  c["activity_regularizer"] = regularizers::serialize(options().activity_regularizer);
  return c;
}

LSTM::LSTM(std::int64_t units, RecurrentOptions options)
    : LayerHandle(std::make_shared<RecurrentLayer>(CellType::lstm, units, std::move(options))) {}
GRU::GRU(std::int64_t units, RecurrentOptions options)
    : LayerHandle(std::make_shared<RecurrentLayer>(CellType::gru, units, std::move(options))) {}
SimpleRNN::SimpleRNN(std::int64_t units, RecurrentOptions options)
    : LayerHandle(std::make_shared<RecurrentLayer>(CellType::simple_rnn, units, std::move(options))) {}

// --- from_config ---------------------------------------------------------------------------------

using engine::initializer_of;
using engine::name_of;
using json = nlohmann::json;

RecurrentOptions recurrent_options_of(const json& c) {
  return {.activation = engine::activation_of(c, "activation", "tanh"),
          .recurrent_activation = engine::activation_of(c, "recurrent_activation", "sigmoid"),
          .use_bias = c.value("use_bias", true),
          .kernel_initializer = initializer_of(c, "kernel_initializer", "glorot_uniform"),
          .recurrent_initializer = initializer_of(c, "recurrent_initializer", "orthogonal"),
          .bias_initializer = initializer_of(c, "bias_initializer", "zeros"),
          .unit_forget_bias = c.value("unit_forget_bias", true),
          .kernel_regularizer = engine::regularizer_of(c, "kernel_regularizer"),
          .recurrent_regularizer = engine::regularizer_of(c, "recurrent_regularizer"),
          .bias_regularizer = engine::regularizer_of(c, "bias_regularizer"),
          .activity_regularizer = engine::regularizer_of(c, "activity_regularizer"),
          .kernel_constraint = engine::constraint_of(c, "kernel_constraint"),
          .recurrent_constraint = engine::constraint_of(c, "recurrent_constraint"),
          .bias_constraint = engine::constraint_of(c, "bias_constraint"),
          .dropout = c.value("dropout", 0.0),
          .recurrent_dropout = c.value("recurrent_dropout", 0.0),
          .return_sequences = c.value("return_sequences", false),
          .return_state = c.value("return_state", false),
          .go_backwards = c.value("go_backwards", false),
          .stateful = c.value("stateful", false),
          .unroll = c.value("unroll", false),
          .reset_after = c.value("reset_after", true),
          .name = name_of(c)};
}

namespace {
// Keras 2's GRU predates reset_after, whose default was then False.
json keras2_defaults(CellType t) { return t == CellType::gru ? json{{"reset_after", false}} : json::object(); }

}  // namespace

void register_recurrent_layers() {
  for (CellType t : {CellType::simple_rnn, CellType::lstm, CellType::gru}) {
    engine::register_layer_spec({
        .class_name = layer_class(t),
        .factory = [t](const json& c) -> std::shared_ptr<Layer> {
          return std::make_shared<RecurrentLayer>(t, json_int<std::int64_t>(c.at("units"), "units"), recurrent_options_of(c));
        },
        .honoured_keys = keys::join({keys::recurrent_cell(), keys::rnn_flags(), {"activity_regularizer"}}),
        .key_rules = keys::rnn_rules(),
        .call_kwargs = {{"training", false}, {"mask", nullptr}},
        .keras2_defaults = keras2_defaults(t),
    });
    engine::register_layer_spec({
        .class_name = cell_class(t),
        .factory = [t](const json& c) -> std::shared_ptr<Layer> {
          return std::make_shared<RecurrentCellLayer>(t, json_int<std::int64_t>(c.at("units"), "units"), recurrent_options_of(c));
        },
        .honoured_keys = keys::recurrent_cell(),
        .keras2_defaults = keras2_defaults(t),
    });
  }
  engine::register_layer_spec({
      .class_name = "RNN",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        const json& cell = c.at("cell");
        auto made = std::dynamic_pointer_cast<RecurrentCellLayer>(
            layer_from_config(cell.at("class_name").get<std::string>(), cell.at("config")));
        if (!made)
          throw ValueError("RNN '" + name_of(c) + "': the cell must be SimpleRNNCell, LSTMCell or GRUCell, got " +
                           cell.at("class_name").get<std::string>());
        return std::make_shared<RNNLayer>(made, recurrent_options_of(c));
      },
      .honoured_keys = keys::join({keys::rnn_flags(), {"cell"}}),
      .key_rules = keys::rnn_rules(),
      .call_kwargs = {{"training", false}, {"mask", nullptr}},
  });
}

}  // namespace lamina::layers
