// SPDX-License-Identifier: Apache-2.0
// ConvLSTM1D and ConvLSTM2D, composed from the conv and elementwise ops (so autograd gives their
// gradients): the input convolution of every step is one batched convolution, the time loop runs
// one 'same' convolution of the state per step, as Keras's ConvLSTMCell.
#include "common/json_int.hpp"
#include "lamina/layers/conv_lstm.hpp"
#include "catalogue.hpp"

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "recurrent_config.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {

namespace {
using json = nlohmann::json;
using spatial::pair_json;
using spatial::pair_str;

// The arguments ConvLSTMOptions shares with RecurrentOptions, copied either way.
template <class From, class To>
void copy_recurrent_arguments(const From& f, To& t) {
  t.activation = f.activation;
  t.recurrent_activation = f.recurrent_activation;
  t.use_bias = f.use_bias;
  t.kernel_initializer = f.kernel_initializer;
  t.recurrent_initializer = f.recurrent_initializer;
  t.bias_initializer = f.bias_initializer;
  t.unit_forget_bias = f.unit_forget_bias;
  t.kernel_regularizer = f.kernel_regularizer;
  t.recurrent_regularizer = f.recurrent_regularizer;
  t.bias_regularizer = f.bias_regularizer;
  t.activity_regularizer = f.activity_regularizer;
  t.kernel_constraint = f.kernel_constraint;
  t.recurrent_constraint = f.recurrent_constraint;
  t.bias_constraint = f.bias_constraint;
  t.dropout = f.dropout;
  t.recurrent_dropout = f.recurrent_dropout;
  t.return_sequences = f.return_sequences;
  t.return_state = f.return_state;
  t.go_backwards = f.go_backwards;
  t.stateful = f.stateful;
  t.name = f.name;
  t.dtype = f.dtype;
}

RecurrentOptions recurrent_part(const ConvLSTMOptions& o) {
  RecurrentOptions r;
  copy_recurrent_arguments(o, r);
  return r;
}

const char* class_of(int rank) { return rank == 1 ? "ConvLSTM1D" : "ConvLSTM2D"; }

bool channels_first_of(const std::string& data_format, const std::string& who) {
  if (data_format == "channels_last") return false;
  if (data_format == "channels_first") return true;
  throw ValueError(who + ": data_format must be \"channels_last\" or \"channels_first\", got \"" + data_format +
                   "\"");
}

// The permutation moving axis `from` of a rank-`n` tensor to position `to`, the others in order.
std::vector<int> move_axis(int n, int from, int to) {
  std::vector<int> perm;
  for (int a = 0; a < n; ++a)
    if (a != from) perm.push_back(a);
  perm.insert(perm.begin() + to, from);
  return perm;
}

Shape permuted(const Shape& s, const std::vector<int>& perm) {
  Shape out;
  for (int a : perm) out.push_back(s[static_cast<std::size_t>(a)]);
  return out;
}

// The four gate blocks (i, f, c, o) of a tensor whose last axis holds 4·F values, each with F.
std::vector<Tensor> split_gates(const Tensor& t) {
  const std::int64_t f = t.shape().back() / 4;
  Shape block = t.shape();
  block.back() = f;
  const Tensor gates = transpose(t.reshape({-1, 4, f}), {1, 0, 2});
  return {gates[0].reshape(block), gates[1].reshape(block), gates[2].reshape(block), gates[3].reshape(block)};
}

// (batch, rest...) with a length-1 axis inserted at 1: one step of a sequence, or one entry.
Shape with_unit_axis(const Shape& s) {
  Shape out = s;
  out.insert(out.begin() + 1, 1);
  return out;
}
}  // namespace

// --- the cell ------------------------------------------------------------------------------------

ConvLSTMCellLayer::ConvLSTMCellLayer(int rank, std::int64_t filters, Size2D kernel_size,
                                     const ConvLSTMOptions& o)
    : RecurrentCellLayer(CellType::lstm, filters, recurrent_part(o)),
      rank_(rank),
      kernel_size_(kernel_size),
      strides_(o.strides),
      dilation_(o.dilation_rate),
      padding_(Padding::valid),
      channels_first_(false) {
  const std::string who = class_of(rank);
  spatial::check_window_args(who, rank, kernel_size_, strides_, dilation_, true);
  padding_ = spatial::padding_for(who, o.padding, false);
  channels_first_ = channels_first_of(o.data_format, who);
}

Shape ConvLSTMCellLayer::compute_output_shape(const Shape& s) {
  return state_shape(s);
}

Shape ConvLSTMCellLayer::state_shape(const Shape& s) const {
  const std::string who = class_name() + " '" + name() + "'";
  const std::string layout = rank_ == 2 ? (channels_first_ ? "(batch, channels, height, width)" : "(batch, height, width, channels)")
                                        : (channels_first_ ? "(batch, channels, length)" : "(batch, length, channels)");
  if (s.rank() != rank_ + 2)
    throw ShapeError(who + ": each step must be " + std::to_string(rank_ + 2) + "-D " + layout + ", got " + s.str());
  const int channel_axis = channels_first_ ? 1 : rank_ + 1;
  const int first_spatial = channels_first_ ? 2 : 1;
  if (s[channel_axis] <= 0)
    throw ShapeError(who + ": the channel dimension of the input must be known, got " + s.str());
  if (kernel.defined() && s[channel_axis] != kernel.shape()[rank_])
    throw ShapeError(who + ": expected " + std::to_string(kernel.shape()[rank_]) + " input channels, got " + s.str());
  Shape out = s;
  out[channel_axis] = units();
  const Size2D k = kernel_size_, st = strides_, d = dilation_;
  const std::int64_t windows[2][3] = {{k.h, st.h, d.h}, {k.w, st.w, d.w}};
  for (int a = 0; a < rank_; ++a) {
    const auto& [window, stride, dilation] = windows[rank_ == 2 ? a : 1];
    const std::int64_t in = s[first_spatial + a];
    if (in <= 0)
      throw ShapeError(who + ": ConvLSTM layers need known spatial dimensions (as Keras), got " + s.str());
    out[first_spatial + a] = conv_output_length(in, window, stride, padding_, dilation);
    if (out[first_spatial + a] == 0)
      throw ShapeError(who + ": kernel_size " + pair_str(kernel_size_, rank_) + " with dilation_rate " +
                       pair_str(dilation_, rank_) + " is larger than the input " + s.str() +
                       " with 'valid' padding: the output would be empty");
  }
  return out;
}

void ConvLSTMCellLayer::build(const Shape& s) {
  state_shape(s);  // every shape check, before any weight exists
  const std::int64_t in = s[channels_first_ ? 1 : rank_ + 1], f = units();
  Shape window = rank_ == 2 ? Shape{kernel_size_.h, kernel_size_.w} : Shape{kernel_size_.w};
  Shape k = window, rk = window;
  k.insert(k.end(), {in, 4 * f});
  rk.insert(rk.end(), {f, 4 * f});
  add_gate_weights(k, rk, {4 * f});
}

Tensor ConvLSTMCellLayer::convolve(const Tensor& x, const Tensor& k, const Tensor& b, bool recurrent) const {
  const Padding p = recurrent ? Padding::same : padding_;
  const Size2D st = recurrent ? Size2D(1) : strides_, d = recurrent ? Size2D(1) : dilation_;
  return rank_ == 2 ? conv2d(x, k, b, st, p, d) : conv1d(x, k, b, st.w, p, d.w);
}

RecurrentResult ConvLSTMCellLayer::scan(const Tensor& x_given, const Tensor& mask, const std::vector<Tensor>& initial,
                                        bool training, bool go_backwards, bool return_sequences) {
  const RecurrentOptions& o = options();
  const int n_axes = rank_ + 3;  // (batch, steps, spatial..., channels)
  const Tensor k = autocast(kernel), rk = autocast(recurrent_kernel), b = autocast(bias);
  const DType dt = k.dtype();
  // channels_first computes in channels_last: the weights have the same layout either way.
  Tensor x = x_given.dtype() == dt ? x_given : x_given.astype(dt);
  if (channels_first_) x = transpose(x, move_axis(n_axes, 2, n_axes - 1));
  const std::int64_t n = x.shape()[0], steps = x.shape()[1];
  if (steps == 0) throw ShapeError(class_name() + " '" + name() + "': the sequence has no steps, got " + x.shape().str());
  const std::vector<int> to_last = move_axis(rank_ + 2, 1, rank_ + 1), to_first = move_axis(rank_ + 2, rank_ + 1, 1);
  Shape step_in = x.shape();
  step_in.erase(step_in.begin() + 1);
  // Shapes as the caller gives them (state_shape() checks in the layer's own data format) and
  // as computed here, channels last.
  const Shape given_state = state_shape(channels_first_ ? permuted(step_in, to_first) : step_in);
  const Shape state = channels_first_ ? permuted(given_state, to_last) : given_state;

  // The input convolutions of every step at once, time-major: (steps, batch, out..., 4·filters).
  // Keras's dropout draws one input mask per gate, shared by all steps.
  Shape folded = step_in;
  folded[0] = n * steps;
  Tensor xp;
  if (training && o.dropout > 0) {
    const std::vector<Tensor> kg = split_gates(k), bg = b.defined() ? split_gates(b) : std::vector<Tensor>(4);
    std::vector<Tensor> parts;
    for (int g = 0; g < 4; ++g) {
      const Tensor m = dropout(Tensor::ones(with_unit_axis(step_in), dt, x.device()), o.dropout);
      parts.push_back(convolve((x * m).reshape(folded), kg[g], bg[g], false));
    }
    xp = concatenate(parts, -1);
  } else {
    xp = convolve(x.reshape(folded), k, b, false);
  }
  Shape batch_major = state;
  batch_major.insert(batch_major.begin() + 1, steps);
  batch_major.back() = 4 * units();
  xp = transpose(xp.reshape(batch_major), move_axis(n_axes, 1, 0));

  std::vector<Tensor> hc = initial;
  if (!hc.empty() && hc.size() != 2)
    throw ValueError(class_name() + " '" + name() + "': expected 2 initial states, got " + std::to_string(hc.size()));
  for (Tensor& s : hc) {
    if (s.shape() != given_state)
      throw ShapeError(class_name() + " '" + name() + "': initial states must have shape " + given_state.str() +
                       ", got " + s.shape().str());
    if (s.dtype() != dt) s = s.astype(dt);
    if (channels_first_) s = transpose(s, to_last);
  }
  while (hc.size() < 2) hc.push_back(Tensor::zeros(state, dt, x.device()));

  std::vector<Tensor> rmasks;
  std::vector<Tensor> rkg;
  if (training && o.recurrent_dropout > 0) {
    rkg = split_gates(rk);
    for (int g = 0; g < 4; ++g) rmasks.push_back(dropout(Tensor::ones(state, dt, x.device()), o.recurrent_dropout));
  }
  Tensor mask_t;  // (steps, batch)
  if (mask.defined()) mask_t = transpose(mask.astype(dt), {1, 0});
  Shape mask_shape(state.size(), 1);
  mask_shape[0] = n;

  const lamina::Activation& act = o.activation;
  const lamina::Activation& gate = o.recurrent_activation;
  Tensor h = hc[0], c = hc[1];
  std::vector<Tensor> outputs;
  for (std::int64_t i = 0; i < steps; ++i) {
    const std::int64_t t = go_backwards ? steps - 1 - i : i;
    Tensor recurrent;
    if (rmasks.empty()) {
      recurrent = convolve(h, rk, Tensor(), true);
    } else {
      std::vector<Tensor> parts;
      for (int g = 0; g < 4; ++g) parts.push_back(convolve(h * rmasks[g], rkg[g], Tensor(), true));
      recurrent = concatenate(parts, -1);
    }
    const std::vector<Tensor> z = split_gates(xp[t] + recurrent);
    const Tensor c_new = gate(z[1]) * c + gate(z[0]) * act(z[2]);
    const Tensor h_new = gate(z[3]) * act(c_new);
    if (mask.defined()) {
      // A masked step keeps the states (and repeats the previous output), as Keras's RNN.
      const Tensor m = mask_t[t].reshape(mask_shape);
      h = h + m * (h_new - h);
      c = c + m * (c_new - c);
    } else {
      h = h_new;
      c = c_new;
    }
    if (return_sequences) outputs.push_back(h.reshape(with_unit_axis(state)));
  }
  RecurrentResult r;
  r.states = channels_first_ ? std::vector<Tensor>{transpose(h, to_first), transpose(c, to_first)}
                             : std::vector<Tensor>{h, c};
  if (!return_sequences) {
    r.output = r.states[0];
  } else {
    const Tensor seq = concatenate(outputs, 1);
    r.output = channels_first_ ? transpose(seq, move_axis(n_axes, n_axes - 1, 2)) : seq;
  }
  return r;
}

json ConvLSTMCellLayer::conv_config() const {
  json c;
  c["filters"] = units();
  c["kernel_size"] = pair_json(kernel_size_, rank_);
  c["strides"] = pair_json(strides_, rank_);
  c["padding"] = padding_name(padding_);
  c["data_format"] = channels_first_ ? "channels_first" : "channels_last";
  c["dilation_rate"] = pair_json(dilation_, rank_);
  c.update(cell_config());
  c.erase("units");
  return c;
}

json ConvLSTMCellLayer::get_config() const {
  json c = Layer::get_config();
  c.update(conv_config());
  return c;
}

// --- the layers ----------------------------------------------------------------------------------

namespace {
std::shared_ptr<ConvLSTMCellLayer> make_cell(int rank, std::int64_t filters, Size2D kernel_size, ConvLSTMOptions o) {
  sizes::require_size(class_of(rank), "filters", filters);  // before the cell, which would say "units"
  o.name = "conv_lstm_cell";  // Keras's name, whatever the layer's
  return std::make_shared<ConvLSTMCellLayer>(rank, filters, kernel_size, o);
}
}  // namespace

ConvLSTMLayer::ConvLSTMLayer(int rank, std::int64_t filters, Size2D kernel_size, ConvLSTMOptions options)
    : RNNLayer(make_cell(rank, filters, kernel_size, options), recurrent_part(options)) {}

std::string ConvLSTMLayer::class_name() const { return class_of(conv_cell().rank()); }

const ConvLSTMCellLayer& ConvLSTMLayer::conv_cell() const { return static_cast<const ConvLSTMCellLayer&>(*cell()); }

Shape ConvLSTMLayer::compute_output_shape(const Shape& s) {
  const int rank = conv_cell().rank();
  if (s.rank() != rank + 3)
    fail_shape("input must be " + std::to_string(rank + 3) + "-D (batch, steps, " +
               (rank == 2 ? "height, width" : "length") + ", channels) (channels_first: channels before " +
               (rank == 2 ? "height" : "length") + "), got " + s.str());
  Shape out;
  try {
    out = state_shape(s);
  } catch (const ShapeError& e) {
    fail_shape(e.what());
  }
  if (options().return_sequences) out.insert(out.begin() + 1, s[1]);
  return out;
}

json ConvLSTMLayer::get_config() const {
  json c = Layer::get_config();
  c.update(rnn_config());
  c.update(conv_cell().conv_config());
  c["activity_regularizer"] = regularizers::serialize(options().activity_regularizer);
  return c;
}

ConvLSTM2D::ConvLSTM2D(std::int64_t filters, Size2D kernel_size, ConvLSTMOptions options)
    : LayerHandle(std::make_shared<ConvLSTMLayer>(2, filters, kernel_size, std::move(options))) {}

ConvLSTM1D::ConvLSTM1D(std::int64_t filters, std::int64_t kernel_size, ConvLSTMOptions options)
    : LayerHandle(std::make_shared<ConvLSTMLayer>(1, filters, Size2D{1, kernel_size}, spatial::width_only(std::move(options)))) {}

std::vector<Layer::Keras3Group> ConvLSTMLayer::keras3_layout() const {
  std::vector<Keras3Group> groups = RNNLayer::keras3_layout();
  groups.back().name = "conv_lstm_cell";
  return groups;
}

// --- from_config ---------------------------------------------------------------------------------

namespace {
// A recurrent layer's keys over a convolution: filters instead of units, no reset_after.
std::set<std::string> conv_lstm_keys() {
  std::set<std::string> keys = keys::join(
      {keys::recurrent_cell(), keys::rnn_flags(),
       {"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activity_regularizer"}});
  keys.erase("units");
  keys.erase("reset_after");
  return keys;
}

ConvLSTMOptions options_of(const json& c, int rank) {
  ConvLSTMOptions o{.strides = spatial::pair_of(c, "strides", rank, 1),
                    .padding = spatial::padding_of(c),
                    .data_format = spatial::data_format_of(c),
                    .dilation_rate = spatial::pair_of(c, "dilation_rate", rank, 1)};
  copy_recurrent_arguments(recurrent_options_of(c), o);
  return o;
}

}  // namespace

void register_conv_lstm_layers() {
  for (int rank : {1, 2}) {
    engine::register_layer_spec({
        .class_name = class_of(rank),
        .factory = [rank](const json& c) -> std::shared_ptr<Layer> {
          return std::make_shared<ConvLSTMLayer>(rank, json_int<std::int64_t>(c.at("filters"), "filters"),
                                                 spatial::pair_of(c, "kernel_size", rank, 1), options_of(c, rank));
        },
        .honoured_keys = conv_lstm_keys(),
        .key_rules = keys::rnn_rules(),
        .call_kwargs = {{"training", false}, {"mask", nullptr}},
        .theano_flipped_kernels = rank == 2 ? 2 : 0,  // Keras 2 had no ConvLSTM1D
    });
  }
}

}  // namespace lamina::layers
