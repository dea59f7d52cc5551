// SPDX-License-Identifier: Apache-2.0
// tf.keras 2's LocallyConnected1D / LocallyConnected2D. Whatever the implementation a file was
// saved with, call() gathers the kernel into the dense (inputs, outputs) matrix of the unshared
// convolution (the connectivity of tf.keras's conv_utils.conv_connected_inputs) and runs the
// dense op, so the gradient reaches each saved kernel entry through the gather. A 1-D layer is
// the 2-D one with height 1: its flat orders are the same.
#include "common/json_int.hpp"
#include "lamina/layers/locally_connected.hpp"
#include "catalogue.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "spatial_config.hpp"
#include "tensor/sizes.hpp"

namespace lamina::layers {

namespace {
using json = nlohmann::json;

// The dense matrix is formed on every call; beyond this many entries the layer is refused
// rather than allocating gigabytes (tf.keras's implementation 2 forms the same matrix).
constexpr std::int64_t kMaxDenseEntries = std::int64_t{1} << 24;

// tf.keras's conv_connected_inputs along one axis: the input positions output `o` reads.
std::pair<std::int64_t, std::int64_t> connected(std::int64_t o, std::int64_t in, std::int64_t k, std::int64_t stride,
                                                Padding padding) {
  const std::int64_t left = k / 2, right = k - left;
  std::int64_t center = o * stride;
  if (padding == Padding::valid) center += left;
  return {std::max<std::int64_t>(0, center - left), std::min(in, center + right)};
}
}  // namespace

LocallyConnectedLayer::LocallyConnectedLayer(int rank, std::int64_t filters, Size2D kernel_size,
                                             LocallyConnectedOptions o)
    : Layer(o.name, o.dtype),
      rank_(rank),
      filters_(filters),
      kernel_size_(kernel_size),
      options_(std::move(o)),
      padding_(Padding::valid),
      channels_first_(false) {
  const std::string who = class_name();
  sizes::require_size(who, "filters", filters);
  spatial::check_window_args(who, rank, kernel_size_, options_.strides, 1, false);
  padding_ = spatial::padding_for(who, options_.padding, false);
  if (options_.data_format != "channels_last" && options_.data_format != "channels_first")
    throw ValueError(who + ": data_format must be \"channels_last\" or \"channels_first\", got \"" +
                     options_.data_format + "\"");
  channels_first_ = options_.data_format == "channels_first";
  const int impl = options_.implementation;
  if (impl < 1 || impl > 3)
    throw ValueError(who + ": implementation must be 1, 2 or 3, got " + std::to_string(impl));
  if (impl == 1 && padding_ != Padding::valid)
    throw ValueError(who + ": padding \"same\" needs implementation 2 or 3 (as tf.keras), got implementation 1");
}

Shape LocallyConnectedLayer::compute_output_shape(const Shape& s) {
  if (s.rank() != rank_ + 2)
    fail_shape(rank_ == 2 ? "input must be 4-D (batch, height, width, channels), got " + s.str()
                          : "input must be 3-D (batch, steps, channels), got " + s.str());
  for (int a = 1; a < s.rank(); ++a)
    if (s[a] <= 0) fail_shape("every dimension but the batch must be known (as tf.keras), got " + s.str());
  const int first_spatial = channels_first_ ? 2 : 1, channel_axis = channels_first_ ? 1 : rank_ + 1;
  Shape out = s;
  out[channel_axis] = filters_;
  const Size2D k = kernel_size_, st = options_.strides;
  for (int a = 0; a < rank_; ++a) {
    const bool height = rank_ == 2 && a == 0;
    const std::int64_t o = conv_output_length(s[first_spatial + a], height ? k.h : k.w, height ? st.h : st.w, padding_);
    if (o <= 0)
      fail_shape("kernel_size " + spatial::pair_str(k, rank_) + " is larger than the input " + s.str() +
                 " with 'valid' padding: the output would be empty");
    out[first_spatial + a] = o;
  }
  return out;
}

void LocallyConnectedLayer::build(const Shape& s) {
  const Shape out = compute_output_shape(s);
  const int first_spatial = channels_first_ ? 2 : 1;
  const std::int64_t C = s[channels_first_ ? 1 : rank_ + 1], F = filters_;
  const std::int64_t in_h = rank_ == 2 ? s[first_spatial] : 1, in_w = s[first_spatial + rank_ - 1];
  const std::int64_t out_h = rank_ == 2 ? out[first_spatial] : 1, out_w = out[first_spatial + rank_ - 1];
  const std::int64_t kh = kernel_size_.h, kw = kernel_size_.w, sh = options_.strides.h, sw = options_.strides.w;
  in_size_ = in_h * in_w * C;
  out_size_ = out_h * out_w * F;
  if (in_size_ > kMaxDenseEntries / out_size_)
    fail_shape("the dense form of this layer would hold " + std::to_string(in_size_) + " x " +
               std::to_string(out_size_) + " entries (input " + s.str() + "), more than lamina forms (" +
               std::to_string(kMaxDenseEntries) + ")");
  // Flat indices in the data format's order: (h, w, c) or (c, h, w).
  auto in_index = [&](std::int64_t r, std::int64_t q, std::int64_t c) {
    return channels_first_ ? (c * in_h + r) * in_w + q : (r * in_w + q) * C + c;
  };
  auto out_index = [&](std::int64_t r, std::int64_t q, std::int64_t f) {
    return channels_first_ ? (f * out_h + r) * out_w + q : (r * out_w + q) * F + f;
  };
  // Every connected (input, output) pair with the index of its kernel entry (implementation 3:
  // filled in once the pairs are sorted).
  struct Link {
    std::int64_t out, in, k;
  };
  std::vector<Link> links;
  const std::int64_t K = kh * kw * C;
  for (std::int64_t r = 0; r < out_h; ++r)
    for (std::int64_t q = 0; q < out_w; ++q) {
      const auto [r0, r1] = connected(r, in_h, kh, sh, padding_);
      const auto [q0, q1] = connected(q, in_w, kw, sw, padding_);
      for (std::int64_t ir = r0; ir < r1; ++ir)
        for (std::int64_t iq = q0; iq < q1; ++iq)
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t f = 0; f < F; ++f) {
              const std::int64_t i = ir - r * sh, j = iq - q * sw;  // the offset in the window (valid)
              const std::int64_t feature = channels_first_ ? (c * kh + i) * kw + j : (i * kw + j) * C + c;
              const std::int64_t in = in_index(ir, iq, c), o = out_index(r, q, f);
              const std::int64_t k = options_.implementation == 1 ? ((r * out_w + q) * K + feature) * F + f
                                                                  : in * out_size_ + o;
              links.push_back({o, in, k});
            }
    }
  Shape kshape;
  if (options_.implementation == 3) {
    std::sort(links.begin(), links.end(),
              [](const Link& a, const Link& b) { return std::pair(a.out, a.in) < std::pair(b.out, b.in); });
    for (std::size_t n = 0; n < links.size(); ++n) links[n].k = static_cast<std::int64_t>(n);
    kshape = {static_cast<std::int64_t>(links.size())};
  } else if (options_.implementation == 1) {
    kshape = {out_h * out_w, K, F};
  } else if (rank_ == 2) {
    kshape = channels_first_ ? Shape{C, in_h, in_w, F, out_h, out_w} : Shape{in_h, in_w, C, out_h, out_w, F};
  } else {
    kshape = channels_first_ ? Shape{C, in_w, F, out_w} : Shape{in_w, C, out_w, F};
  }
  const std::int64_t zero_slot = kshape.numel();
  std::vector<std::int64_t> gather(static_cast<std::size_t>(in_size_ * out_size_), zero_slot);
  for (const Link& l : links) gather[static_cast<std::size_t>(l.in * out_size_ + l.out)] = l.k;
  gather_ = Tensor::from_vector<std::int64_t>(gather, {in_size_ * out_size_});

  const LocallyConnectedOptions& o = options_;
  kernel = add_weight("kernel", kshape, o.kernel_initializer, true, float32, o.kernel_regularizer, o.kernel_constraint);
  if (o.use_bias)
    bias = add_weight("bias", rank_ == 2 ? Shape{out_h, out_w, F} : Shape{out_w, F}, o.bias_initializer, true, float32,
                      o.bias_regularizer, o.bias_constraint);
}

Tensor LocallyConnectedLayer::call(const Tensor& x, bool) {
  const Shape out = compute_output_shape(x.shape());
  if (x.shape().numel() / x.shape()[0] != in_size_) fail_shape("built for another input shape, got " + x.shape().str());
  const Tensor k = autocast(kernel), b = autocast(bias);
  const Tensor in = x.dtype() == k.dtype() ? x : x.astype(k.dtype());
  const Tensor index = gather_.device() == k.device() ? gather_ : gather_.to(k.device());
  // tf.keras adds the bias by reshaping it to the output's layout, so its flat order is the
  // output's in either data format.
  const Tensor dense_kernel =
      take(concatenate({k.reshape({-1}), Tensor::zeros({1}, k.dtype(), k.device())}, 0), index)
          .reshape({in_size_, out_size_});
  const lamina::Activation& act = options_.activation;
  Tensor y = dense(in.reshape({x.shape()[0], in_size_}), dense_kernel, b.defined() ? b.reshape({-1}) : Tensor(),
                   spatial::fused_part(act));
  y = y.reshape(out);
  return regularize_activity(act.fused() ? y : act(y), options_.activity_regularizer);
}

json LocallyConnectedLayer::get_config() const {
  json c = Layer::get_config();
  c["filters"] = filters_;
  c["kernel_size"] = spatial::pair_json(kernel_size_, rank_);
  c["strides"] = spatial::pair_json(options_.strides, rank_);
  c["padding"] = padding_name(padding_);
  c["data_format"] = options_.data_format;
  c["activation"] = options_.activation.name();
  c["use_bias"] = options_.use_bias;
  c["kernel_initializer"] = engine::initializer_config(options_.kernel_initializer);
  c["bias_initializer"] = engine::initializer_config(options_.bias_initializer);
  KernelBiasRegularization{options_.kernel_regularizer, options_.bias_regularizer, options_.activity_regularizer,
                           options_.kernel_constraint, options_.bias_constraint}
      .to_config(c);
  c["implementation"] = options_.implementation;
  return c;
}

LocallyConnected2D::LocallyConnected2D(std::int64_t filters, Size2D kernel_size, LocallyConnectedOptions options)
    : LayerHandle(std::make_shared<LocallyConnectedLayer>(2, filters, kernel_size, std::move(options))) {}

LocallyConnected1D::LocallyConnected1D(std::int64_t filters, std::int64_t kernel_size, LocallyConnectedOptions options)
    : LayerHandle(
          std::make_shared<LocallyConnectedLayer>(1, filters, Size2D{1, kernel_size}, spatial::width_only(std::move(options)))) {}

void register_locally_connected_layers() {
  for (int rank : {1, 2}) {
    engine::register_layer_spec({
        .class_name = rank == 1 ? "LocallyConnected1D" : "LocallyConnected2D",
        .factory = [rank](const json& c) -> std::shared_ptr<Layer> {
            LocallyConnectedOptions o{.strides = spatial::pair_of(c, "strides", rank, 1),
                                      .padding = spatial::padding_of(c),
                                      .data_format = spatial::data_format_of(c),
                                      .implementation = json_int<int>(c, "implementation", 1)};
            spatial::read_kernel_bias_arguments(c, o);
            return std::make_shared<LocallyConnectedLayer>(rank, json_int<std::int64_t>(c.at("filters"), "filters"),
                                                          spatial::pair_of(c, "kernel_size", rank, 1),
                                                          std::move(o));
          },
        // data_format is honoured: channels_first computes in its own layout.
        .honoured_keys = keys::join({keys::kernel_bias(),
                                     {"filters", "kernel_size", "strides", "padding", "data_format", "activation",
                                      "use_bias", "kernel_initializer", "bias_initializer", "implementation"}}),
        .keras_module = "",  // tf.keras 2 only: Keras 3 has no such class
    });
  }
}

}  // namespace lamina::layers
