// SPDX-License-Identifier: Apache-2.0
// ONNX mappings of lamina's layers, read from each layer's Keras config and weights (no layer
// internals). Tensors keep Keras's layout (NHWC) between layers: convolutions and pooling
// transpose to NCHW and back around their ONNX operator.
#include <climits>
#include <functional>
#include <map>
#include <cmath>
#include <numeric>

#include "io/onnx/builder.hpp"
#include "lamina/errors.hpp"

namespace lamina::onnx {

namespace {

using Ints = std::vector<std::int64_t>;
using Names = std::vector<std::string>;

// --- config and weight helpers ---------------------------------------------------------------

std::int64_t rank_of(const Call& c, std::size_t input = 0) { return static_cast<std::int64_t>(c.in_shapes.at(input).size()); }

std::int64_t normalize_axis(const Call& c, std::int64_t axis, std::int64_t rank) {
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) c.refuse("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return a;
}

Ints int_list(const Call& c, const char* key) {
  const auto& v = c.config.at(key);
  if (v.is_number_integer()) return {v.get<std::int64_t>()};
  return v.get<Ints>();
}

bool flag(const Call& c, const char* key, bool fallback = false) {
  return c.config.contains(key) && !c.config[key].is_null() ? c.config[key].get<bool>() : fallback;
}

/// Refuses a true config flag that has no ONNX mapping.
void refuse_flag(const Call& c, const char* key) {
  if (flag(c, key)) c.refuse(std::string(key) + "=True has no ONNX mapping");
}

/// The weight's values; refuses when the layer has no such weight.
std::vector<float> values(const Call& c, const std::string& name) {
  Tensor t = c.weight(name);
  if (!t.defined()) c.refuse("has no weight '" + name + "' (is the layer built?)");
  return host_floats(t);
}
Ints dims_of(const Call& c, const std::string& name) {
  Tensor t = c.weight(name);
  if (!t.defined()) c.refuse("has no weight '" + name + "' (is the layer built?)");
  return Ints(t.shape().begin(), t.shape().end());
}

/// Row-major transpose of a host array: out[i_perm] = in[i].
std::vector<float> permuted(const std::vector<float>& in, const Ints& dims, const Ints& perm, Ints* out_dims) {
  const std::size_t r = dims.size();
  Ints od(r), in_strides(r, 1);
  for (std::size_t k = r; k-- > 1;) in_strides[k - 1] = in_strides[k] * dims[k];
  for (std::size_t k = 0; k < r; ++k) od[k] = dims[perm[k]];
  std::vector<float> out(in.size());
  Ints idx(r, 0);
  for (std::size_t o = 0; o < out.size(); ++o) {
    std::int64_t src = 0;
    for (std::size_t k = 0; k < r; ++k) src += idx[k] * in_strides[perm[k]];
    out[o] = in[static_cast<std::size_t>(src)];
    for (std::size_t k = r; k-- > 0;) {
      if (++idx[k] < od[k]) break;
      idx[k] = 0;
    }
  }
  *out_dims = od;
  return out;
}

// --- activations -----------------------------------------------------------------------------

std::string activation(Builder& b, const Call& c, const std::string& x, const std::string& name) {
  if (name == "linear") return x;
  if (name == "relu") return b.op("Relu", {x});
  if (name == "sigmoid") return b.op("Sigmoid", {x});
  if (name == "tanh") return b.op("Tanh", {x});
  if (name == "softmax") return b.op("Softmax", {x}, {attr("axis", -1)});
  if (name == "log_softmax") return b.op("LogSoftmax", {x}, {attr("axis", -1)});
  if (name == "gelu") {  // the erf form, 0.5·x·(1 + erf(x/√2)), as Keras's default
    std::string e = b.op("Erf", {b.op("Mul", {x, b.scalar(0.70710678118654752440f)})});
    return b.op("Mul", {b.op("Mul", {x, b.op("Add", {e, b.scalar(1.0f)})}), b.scalar(0.5f)});
  }
  if (name == "elu") return b.op("Elu", {x}, {attr("alpha", 1.0f)});
  if (name == "selu")  // Keras's constants, which differ from ONNX's defaults in the 8th digit
    return b.op("Selu", {x}, {attr("alpha", 1.67326324235437728481f), attr("gamma", 1.05070098735548049342f)});
  if (name == "softplus") return b.op("Softplus", {x});
  if (name == "softsign") return b.op("Softsign", {x});
  if (name == "swish" || name == "silu") return b.op("Mul", {x, b.op("Sigmoid", {x})});
  if (name == "leaky_relu") return b.op("LeakyRelu", {x}, {attr("alpha", 0.2f)});
  if (name == "hard_sigmoid") return b.op("HardSigmoid", {x}, {attr("alpha", 1.0f / 6.0f), attr("beta", 0.5f)});
  if (name == "hard_sigmoid_keras2") return b.op("HardSigmoid", {x}, {attr("alpha", 0.2f), attr("beta", 0.5f)});
  if (name == "hard_silu" || name == "hard_swish") return b.op("HardSwish", {x});
  if (name == "relu6") return b.op("Clip", {x, b.scalar(0.0f), b.scalar(6.0f)});
  if (name == "hard_tanh") return b.op("Clip", {x, b.scalar(-1.0f), b.scalar(1.0f)});
  if (name == "exponential") return b.op("Exp", {x});
  if (name == "mish") return b.op("Mul", {x, b.op("Tanh", {b.op("Softplus", {x})})});
  if (name == "log_sigmoid") return b.op("Neg", {b.op("Softplus", {b.op("Neg", {x})})});
  if (name == "celu") return b.op("Celu", {x}, {attr("alpha", 1.0f)});
  if (name == "hard_shrink") return b.op("Shrink", {x}, {attr("lambd", 0.5f), attr("bias", 0.0f)});
  if (name == "soft_shrink") return b.op("Shrink", {x}, {attr("lambd", 0.5f), attr("bias", 0.5f)});
  if (name == "tanh_shrink") return b.op("Sub", {x, b.op("Tanh", {x})});
  if (name == "squareplus")
    return b.op("Mul", {b.op("Add", {x, b.op("Sqrt", {b.op("Add", {b.op("Mul", {x, x}), b.scalar(4.0f)})})}),
                        b.scalar(0.5f)});
  if (name == "sparse_sigmoid")
    return b.op("Clip", {b.op("Mul", {b.op("Add", {x, b.scalar(1.0f)}), b.scalar(0.5f)}), b.scalar(0.0f), b.scalar(1.0f)});
  c.refuse("activation '" + name + "' has no ONNX mapping");
}

std::string config_activation(Builder& b, const Call& c, const std::string& x, const char* key = "activation") {
  const auto& a = c.config.at(key);
  if (a.is_null()) return x;
  if (!a.is_string()) c.refuse("a custom activation has no ONNX mapping");
  return activation(b, c, x, a.get<std::string>());
}

// --- convolutions and pooling ------------------------------------------------------------------

/// Where the channels are, and the layout moves around an NC... operator.
struct Layout {
  bool channels_first;
  std::int64_t rank;  // with batch and channels
  std::string to_ncx(Builder& b, const std::string& x) const {
    if (channels_first) return x;
    Ints perm{0, rank - 1};
    for (std::int64_t k = 1; k < rank - 1; ++k) perm.push_back(k);
    return b.transpose(x, perm);
  }
  std::string from_ncx(Builder& b, const std::string& x) const {
    if (channels_first) return x;
    Ints perm{0};
    for (std::int64_t k = 2; k < rank; ++k) perm.push_back(k);
    perm.push_back(1);
    return b.transpose(x, perm);
  }
  std::int64_t spatial_size(const Shape& s, std::int64_t k) const { return s[channels_first ? 2 + k : 1 + k]; }
};

Layout layout_of(const Call& c) {
  const std::string df = c.config.value("data_format", std::string("channels_last"));
  if (df != "channels_last" && df != "channels_first") c.refuse("data_format '" + df + "' has no ONNX mapping");
  return {df == "channels_first", rank_of(c)};
}

/// ONNX pads (all begins, then all ends) for Keras's padding over known spatial sizes; an
/// unknown size with "same" uses auto_pad SAME_UPPER, which is TensorFlow's rule too.
void add_padding(const Call& c, const Layout& l, const std::string& padding, const Ints& kernel, const Ints& strides,
                 const Ints& dilations, std::vector<proto::Attribute>& attrs) {
  const std::size_t n = kernel.size();
  Ints begin(n, 0), end(n, 0);
  for (std::size_t k = 0; k < n; ++k) {
    const std::int64_t k_eff = (kernel[k] - 1) * dilations[k] + 1;
    if (padding == "valid") continue;
    if (padding == "causal") {
      begin[k] = k_eff - 1;
      continue;
    }
    if (padding != "same") c.refuse("padding '" + padding + "' has no ONNX mapping");
    const std::int64_t in = l.spatial_size(c.in_shapes[0], static_cast<std::int64_t>(k));
    if (in < 0) {
      attrs.push_back(attr("auto_pad", std::string("SAME_UPPER")));
      return;
    }
    const std::int64_t out = (in + strides[k] - 1) / strides[k];
    const std::int64_t total = std::max<std::int64_t>((out - 1) * strides[k] + k_eff - in, 0);
    begin[k] = total / 2;
    end[k] = total - total / 2;
  }
  begin.insert(begin.end(), end.begin(), end.end());
  attrs.push_back(attr("pads", begin));
}

/// A Keras kernel (k..., a, b) as ONNX's (b, a, k...).
std::string conv_weight(Builder& b, const Call& c, const std::string& name) {
  Ints dims = dims_of(c, name), perm, out_dims;
  const auto r = static_cast<std::int64_t>(dims.size());
  perm = {r - 1, r - 2};
  for (std::int64_t k = 0; k < r - 2; ++k) perm.push_back(k);
  return b.floats(name, out_dims, permuted(values(c, name), dims, perm, &out_dims));
}

std::string bias_input(Builder& b, const Call& c) {
  if (!flag(c, "use_bias", true)) return {};
  return b.floats("bias", dims_of(c, "bias"), values(c, "bias"));
}

std::vector<proto::Attribute> conv_attrs(const Call& c, const Layout& l, const Ints& kernel, const std::string& padding) {
  const Ints strides = int_list(c, "strides");
  const Ints dilations = c.config.contains("dilation_rate") ? int_list(c, "dilation_rate") : Ints(kernel.size(), 1);
  std::vector<proto::Attribute> a{attr("kernel_shape", kernel), attr("strides", strides), attr("dilations", dilations)};
  if (dilations.size() != kernel.size() || strides.size() != kernel.size())
    c.refuse("strides / dilation_rate do not match the kernel's rank");
  add_padding(c, l, padding, kernel, strides, dilations, a);
  return a;
}

Names conv(Builder& b, const Call& c) {
  const Layout l = layout_of(c);
  const Ints kernel = int_list(c, "kernel_size");
  auto a = conv_attrs(c, l, kernel, c.config.at("padding").get<std::string>());
  a.push_back(attr("group", c.config.value("groups", std::int64_t{1})));
  Names in{l.to_ncx(b, c.x()), conv_weight(b, c, "kernel")};
  if (std::string bias = bias_input(b, c); !bias.empty()) in.push_back(bias);
  return {config_activation(b, c, l.from_ncx(b, b.op("Conv", in, a)))};
}

Names conv_transpose(Builder& b, const Call& c) {
  const Layout l = layout_of(c);
  if (!c.config.value("output_padding", nlohmann::json()).is_null()) c.refuse("output_padding has no ONNX mapping here");
  const Ints kernel = int_list(c, "kernel_size"), strides = int_list(c, "strides");
  const Ints dilations = c.config.contains("dilation_rate") ? int_list(c, "dilation_rate") : Ints(kernel.size(), 1);
  const std::string padding = c.config.at("padding").get<std::string>();
  std::vector<proto::Attribute> a{attr("kernel_shape", kernel), attr("strides", strides), attr("dilations", dilations)};
  // Keras's "same" makes the output in·stride long: the transposed convolution crops
  // k_eff − stride (the smaller half first, as TensorFlow), or pads at the end when k_eff < stride.
  if (padding == "same") {
    Ints begin, end, extra;
    for (std::size_t k = 0; k < kernel.size(); ++k) {
      const std::int64_t k_eff = (kernel[k] - 1) * dilations[k] + 1, total = k_eff - strides[k];
      begin.push_back(std::max<std::int64_t>(total, 0) / 2);
      end.push_back(std::max<std::int64_t>(total, 0) - begin.back());
      extra.push_back(std::max<std::int64_t>(-total, 0));
    }
    begin.insert(begin.end(), end.begin(), end.end());
    a.push_back(attr("pads", begin));
    a.push_back(attr("output_padding", extra));
  } else if (padding != "valid") {
    c.refuse("padding '" + padding + "' has no ONNX mapping");
  }
  Names in{l.to_ncx(b, c.x()), conv_weight(b, c, "kernel")};
  if (std::string bias = bias_input(b, c); !bias.empty()) in.push_back(bias);
  return {config_activation(b, c, l.from_ncx(b, b.op("ConvTranspose", in, a)))};
}

/// Keras's depthwise kernel (k..., in, mult) as ONNX's grouped (in·mult, 1, k...).
std::string depthwise_weight(Builder& b, const Call& c) {
  Ints dims = dims_of(c, "depthwise_kernel");
  const auto r = static_cast<std::int64_t>(dims.size());
  Ints flat(dims.begin(), dims.end() - 2);
  flat.push_back(dims[r - 2] * dims[r - 1]);
  Ints perm{r - 2}, out_dims;
  for (std::int64_t k = 0; k < r - 2; ++k) perm.push_back(k);
  std::vector<float> w = permuted(values(c, "depthwise_kernel"), flat, perm, &out_dims);
  out_dims.insert(out_dims.begin() + 1, 1);
  return b.floats("depthwise_kernel", out_dims, w);
}

Names depthwise_or_separable(Builder& b, const Call& c) {
  const Layout l = layout_of(c);
  const Ints kernel = int_list(c, "kernel_size");
  const bool separable = c.weight("pointwise_kernel").defined();
  auto a = conv_attrs(c, l, kernel, c.config.at("padding").get<std::string>());
  const Ints dw = dims_of(c, "depthwise_kernel");
  a.push_back(attr("group", dw[dw.size() - 2]));
  Names in{l.to_ncx(b, c.x()), depthwise_weight(b, c)};
  if (!separable)
    if (std::string bias = bias_input(b, c); !bias.empty()) in.push_back(bias);
  std::string y = b.op("Conv", in, a);
  if (separable) {
    const Ints pw = dims_of(c, "pointwise_kernel");
    Names pin{y, conv_weight(b, c, "pointwise_kernel")};
    if (std::string bias = bias_input(b, c); !bias.empty()) pin.push_back(bias);
    y = b.op("Conv", pin, {attr("kernel_shape", Ints(pw.size() - 2, 1))});
  }
  return {config_activation(b, c, l.from_ncx(b, y))};
}

Names pooling(Builder& b, const Call& c, const std::string& op) {
  const Layout l = layout_of(c);
  const Ints kernel = int_list(c, "pool_size");
  const Ints strides = c.config.at("strides").is_null() ? kernel : int_list(c, "strides");
  std::vector<proto::Attribute> a{attr("kernel_shape", kernel), attr("strides", strides)};
  add_padding(c, l, c.config.at("padding").get<std::string>(), kernel, strides, Ints(kernel.size(), 1), a);
  // count_include_pad stays 0: Keras averages over the window's real elements only.
  return {l.from_ncx(b, b.op(op, {l.to_ncx(b, c.x())}, a))};
}

Names global_pooling(Builder& b, const Call& c, const std::string& op) {
  const Layout l = layout_of(c);
  Ints axes;
  for (std::int64_t k = 0; k < l.rank - 2; ++k) axes.push_back(l.channels_first ? 2 + k : 1 + k);
  return {b.reduce(op, c.x(), axes, flag(c, "keepdims"))};
}

// --- normalization -----------------------------------------------------------------------------

Names batch_normalization(Builder& b, const Call& c) {
  // Inference: y = x·a + b with a = γ/√(var + ε) and b = β − mean·a, folded here.
  const auto r = rank_of(c);
  const auto& ax = c.config.at("axis");
  const std::int64_t axis = normalize_axis(c, ax.is_array() ? ax.at(0).get<std::int64_t>() : ax.get<std::int64_t>(), r);
  if (ax.is_array() && ax.size() != 1) c.refuse("several axes have no ONNX mapping");
  const double eps = c.config.at("epsilon").get<double>();
  std::vector<float> mean = values(c, "moving_mean"), var = values(c, "moving_variance");
  std::vector<float> gamma = c.weight("gamma").defined() ? values(c, "gamma") : std::vector<float>(mean.size(), 1.f);
  std::vector<float> beta = c.weight("beta").defined() ? values(c, "beta") : std::vector<float>(mean.size(), 0.f);
  std::vector<float> scale(mean.size()), shift(mean.size());
  for (std::size_t i = 0; i < mean.size(); ++i) {
    const double s = gamma[i] / std::sqrt(static_cast<double>(var[i]) + eps);
    scale[i] = static_cast<float>(s);
    shift[i] = static_cast<float>(beta[i] - mean[i] * s);
  }
  Ints dims(static_cast<std::size_t>(r - 1), 1);  // broadcast over all but the batch
  dims[static_cast<std::size_t>(axis - 1)] = static_cast<std::int64_t>(mean.size());
  const std::string y = b.op("Mul", {c.x(), b.floats("scale", dims, scale)});
  return {b.op("Add", {y, b.floats("shift", dims, shift)})};
}

Names layer_normalization(Builder& b, const Call& c) {
  refuse_flag(c, "rms_scaling");
  const auto r = rank_of(c);
  Ints axes = int_list(c, "axis");
  for (auto& a : axes) a = normalize_axis(c, a, r);
  std::sort(axes.begin(), axes.end());
  for (std::size_t k = 0; k < axes.size(); ++k)
    if (axes[k] != r - static_cast<std::int64_t>(axes.size()) + static_cast<std::int64_t>(k))
      c.refuse("ONNX LayerNormalization normalizes trailing axes only; axis " + c.config.at("axis").dump() +
               " are not the last ones");
  Ints dims;
  for (auto a : axes) dims.push_back(c.in_shapes[0][static_cast<std::size_t>(a)]);
  const auto n = static_cast<std::size_t>(std::accumulate(dims.begin(), dims.end(), std::int64_t{1}, std::multiplies<>()));
  std::string gamma = b.floats("gamma", dims, c.weight("gamma").defined() ? values(c, "gamma") : std::vector<float>(n, 1.f));
  Names in{c.x(), gamma};
  if (c.weight("beta").defined()) in.push_back(b.floats("beta", dims, values(c, "beta")));
  return {b.op("LayerNormalization", in,
               {attr("axis", axes[0]), attr("epsilon", static_cast<float>(c.config.at("epsilon").get<double>()))})};
}

Names rms_normalization(Builder& b, const Call& c) {
  // x / √(mean(x²) + ε) · scale, the scale broadcast from the last axis as Keras multiplies it.
  Ints axes = int_list(c, "axis");
  for (auto& a : axes) a = normalize_axis(c, a, rank_of(c));
  const std::string ms = b.reduce("ReduceMean", b.op("Mul", {c.x(), c.x()}), axes, true);
  const std::string rms = b.op("Sqrt", {b.op("Add", {ms, b.scalar(static_cast<float>(c.config.at("epsilon").get<double>()))})});
  return {b.op("Mul", {b.op("Div", {c.x(), rms}), b.floats("scale", dims_of(c, "scale"), values(c, "scale"))})};
}

Names group_normalization(Builder& b, const Call& c) {
  // The channel axis split into (groups, channels per group), statistics over every axis but the
  // batch and the group, then gamma and beta per channel.
  const Shape& s = c.in_shapes[0];
  const auto r = rank_of(c);
  const std::int64_t a = normalize_axis(c, c.config.at("axis").get<std::int64_t>(), r);
  if (a == 0) c.refuse("axis 0 (the batch) has no ONNX mapping");
  for (std::int64_t i = 1; i < r; ++i)
    if (s[static_cast<std::size_t>(i)] < 0) c.refuse("an unknown dimension in " + s.str() + " has no ONNX mapping");
  const std::int64_t ch = s[static_cast<std::size_t>(a)], g = c.config.at("groups").get<std::int64_t>();
  Ints grouped{0}, back{0}, along(static_cast<std::size_t>(r - 1), 1), reduce_axes;
  for (std::int64_t i = 1; i < r; ++i) {
    back.push_back(s[static_cast<std::size_t>(i)]);
    if (i == a) {
      grouped.push_back(g);
      grouped.push_back(ch / g);
    } else {
      grouped.push_back(s[static_cast<std::size_t>(i)]);
    }
  }
  for (std::int64_t i = 1; i <= r; ++i)
    if (i != a) reduce_axes.push_back(i);
  const std::string x = b.reshape(c.x(), grouped);
  const std::string centred = b.op("Sub", {x, b.reduce("ReduceMean", x, reduce_axes, true)});
  const std::string var = b.reduce("ReduceMean", b.op("Mul", {centred, centred}), reduce_axes, true);
  const std::string sd = b.op("Sqrt", {b.op("Add", {var, b.scalar(static_cast<float>(c.config.at("epsilon").get<double>()))})});
  std::string y = b.reshape(b.op("Div", {centred, sd}), back);
  along[static_cast<std::size_t>(a - 1)] = ch;
  if (c.weight("gamma").defined()) y = b.op("Mul", {y, b.floats("gamma", along, values(c, "gamma"))});
  if (c.weight("beta").defined()) y = b.op("Add", {y, b.floats("beta", along, values(c, "beta"))});
  return {y};
}

// --- core, reshaping, embedding, activations ------------------------------------------------------

Names dense(Builder& b, const Call& c) {
  // MatMul broadcasts over leading axes, as Dense does on (batch, ..., in).
  std::string y = b.op("MatMul", {c.x(), b.floats("kernel", dims_of(c, "kernel"), values(c, "kernel"))});
  if (std::string bias = bias_input(b, c); !bias.empty()) y = b.op("Add", {y, bias});
  return {config_activation(b, c, y)};
}

Names identity(Builder& b, const Call& c) { return {b.op("Identity", {c.x()})}; }

Names flatten(Builder& b, const Call& c) {
  std::string x = c.x();
  if (c.config.value("data_format", std::string("channels_last")) == "channels_first" && rank_of(c) > 2)
    x = Layout{false, rank_of(c)}.to_ncx(b, x);  // Keras flattens channels_first input as NHWC
  return {b.op("Flatten", {x}, {attr("axis", 1)})};
}

Names reshape(Builder& b, const Call& c) {
  Ints shape{0};  // 0: keep the batch dimension
  for (auto d : c.config.at("target_shape").get<Ints>()) shape.push_back(d);
  return {b.reshape(c.x(), shape)};
}

Names permute(Builder& b, const Call& c) {
  Ints perm{0};
  for (auto d : c.config.at("dims").get<Ints>()) perm.push_back(d);
  return {b.transpose(c.x(), perm)};
}

Names repeat_vector(Builder& b, const Call& c) {
  const std::int64_t n = c.config.at("n").get<std::int64_t>();
  return {b.op("Tile", {b.unsqueeze(c.x(), {1}), b.ints({1, n, 1})})};
}

/// The spatial axes (NHWC: 1..r-2; NCHW: 2..r-1) and, per axis, Keras's (before, after) margins.
Ints spatial_axes(const Layout& l) {
  Ints axes;
  for (std::int64_t k = 0; k < l.rank - 2; ++k) axes.push_back(l.channels_first ? 2 + k : 1 + k);
  return axes;
}
std::vector<Ints> margins(const Call& c, const char* key, std::size_t n) {
  const auto& v = c.config.at(key);
  std::vector<Ints> out;
  if (n == 1 && v.is_array() && v.size() == 2 && v[0].is_number()) return {v.get<Ints>()};
  for (const auto& m : v) out.push_back(m.is_number() ? Ints{m.get<std::int64_t>(), m.get<std::int64_t>()} : m.get<Ints>());
  if (out.size() != n) c.refuse(std::string(key) + " " + v.dump() + " does not match the input's rank");
  return out;
}

Names zero_padding(Builder& b, const Call& c) {
  const Layout l = layout_of(c);
  const Ints axes = spatial_axes(l);
  const std::vector<Ints> m = margins(c, "padding", axes.size());
  Ints pads(static_cast<std::size_t>(2 * l.rank), 0);
  for (std::size_t k = 0; k < axes.size(); ++k) {
    pads[static_cast<std::size_t>(axes[k])] = m[k][0];
    pads[static_cast<std::size_t>(l.rank + axes[k])] = m[k][1];
  }
  return {b.op("Pad", {c.x(), b.ints(pads)})};
}

Names cropping(Builder& b, const Call& c) {
  const Layout l = layout_of(c);
  const Ints axes = spatial_axes(l);
  const std::vector<Ints> m = margins(c, "cropping", axes.size());
  Ints starts, ends;
  for (const Ints& p : m) {
    starts.push_back(p[0]);
    ends.push_back(p[1] > 0 ? -p[1] : INT64_MAX);  // a negative end counts from the axis' end
  }
  return {b.op("Slice", {c.x(), b.ints(starts), b.ints(ends), b.ints(axes)})};
}

Names upsampling(Builder& b, const Call& c) {
  const Layout l = layout_of(c);
  const Ints size = int_list(c, "size");
  const std::string interpolation = c.config.value("interpolation", std::string("nearest"));
  std::vector<float> scales(static_cast<std::size_t>(l.rank), 1.f);
  const Ints axes = spatial_axes(l);
  if (size.size() != axes.size()) c.refuse("size " + c.config.at("size").dump() + " does not match the input's rank");
  for (std::size_t k = 0; k < axes.size(); ++k) scales[static_cast<std::size_t>(axes[k])] = static_cast<float>(size[k]);
  const std::string sc = b.floats("scales", {l.rank}, scales);
  // Nearest: out[i] = in[floor(i / size)], Keras's repeat. Bilinear: TensorFlow's half-pixel centres.
  if (interpolation == "nearest")
    return {b.op("Resize", {c.x(), "", sc}, {attr("mode", std::string("nearest")),
                                             attr("coordinate_transformation_mode", std::string("asymmetric")),
                                             attr("nearest_mode", std::string("floor"))})};
  if (interpolation == "bilinear")
    return {b.op("Resize", {c.x(), "", sc}, {attr("mode", std::string("linear")),
                                             attr("coordinate_transformation_mode", std::string("half_pixel"))})};
  c.refuse("interpolation '" + interpolation + "' has no ONNX mapping");
}

Names rescaling(Builder& b, const Call& c) {
  auto vec = [&](const char* key) {
    const auto& v = c.config.at(key);
    return v.is_array() ? v.get<std::vector<float>>() : std::vector<float>{v.get<float>()};
  };
  const std::vector<float> scale = vec("scale"), offset = vec("offset");
  const std::string s = b.floats("scale", scale.size() == 1 ? Ints{} : Ints{static_cast<std::int64_t>(scale.size())}, scale);
  const std::string o = b.floats("offset", offset.size() == 1 ? Ints{} : Ints{static_cast<std::int64_t>(offset.size())}, offset);
  return {b.op("Add", {b.op("Mul", {c.x(), s}), o})};
}

Names unit_normalization(Builder& b, const Call& c) {
  // Keras 3's x·min(1/√Σx², 1e12) as x / max(√Σx², 1e-12).
  Ints axes = int_list(c, "axis");
  for (auto& a : axes) a = normalize_axis(c, a, rank_of(c));
  const std::string norm = b.op("Sqrt", {b.reduce("ReduceSumSquare", c.x(), axes, true)});
  return {b.op("Div", {c.x(), b.op("Max", {norm, b.scalar(1e-12f)})})};
}

Names thresholded_relu(Builder& b, const Call& c) {
  return {b.op("ThresholdedRelu", {c.x()}, {attr("alpha", static_cast<float>(c.config.at("theta").get<double>()))})};
}

Names embedding(Builder& b, const Call& c) {
  refuse_flag(c, "mask_zero");  // masks reach the layers downstream; ONNX has no such thing
  std::string idx = b.op("Cast", {c.x()}, {attr("to", static_cast<int>(proto::DataType::Int64))});
  return {b.op("Gather", {b.floats("embeddings", dims_of(c, "embeddings"), values(c, "embeddings")), idx})};
}

Names activation_layer(Builder& b, const Call& c) { return {config_activation(b, c, c.x())}; }

Names relu_layer(Builder& b, const Call& c) {
  const double slope = c.config.value("negative_slope", 0.0), threshold = c.config.value("threshold", 0.0);
  const auto& max_value = c.config.at("max_value");
  if (threshold != 0.0) c.refuse("threshold " + std::to_string(threshold) + " has no ONNX mapping");
  std::string y = slope == 0.0 ? b.op("Relu", {c.x()}) : b.op("LeakyRelu", {c.x()}, {attr("alpha", static_cast<float>(slope))});
  if (!max_value.is_null()) y = b.op("Min", {y, b.scalar(max_value.get<float>())});
  return {y};
}

Names leaky_relu_layer(Builder& b, const Call& c) {
  const double slope = c.config.contains("negative_slope") ? c.config["negative_slope"].get<double>()
                                                           : c.config.at("alpha").get<double>();
  return {b.op("LeakyRelu", {c.x()}, {attr("alpha", static_cast<float>(slope))})};
}

Names elu_layer(Builder& b, const Call& c) {
  return {b.op("Elu", {c.x()}, {attr("alpha", static_cast<float>(c.config.value("alpha", 1.0)))})};
}

Names prelu_layer(Builder& b, const Call& c) {
  return {b.op("PRelu", {c.x(), b.floats("alpha", dims_of(c, "alpha"), values(c, "alpha"))})};
}

Names softmax_layer(Builder& b, const Call& c) {
  const Ints axes = int_list(c, "axis");
  if (axes.size() != 1) c.refuse("softmax over several axes has no ONNX mapping");
  return {b.op("Softmax", {c.x()}, {attr("axis", normalize_axis(c, axes[0], rank_of(c)))})};
}

// --- merges ----------------------------------------------------------------------------------------

Names variadic(Builder& b, const Call& c, const std::string& op) { return {b.op(op, c.in)}; }

Names multiply(Builder& b, const Call& c) {
  std::string y = c.in.at(0);
  for (std::size_t i = 1; i < c.in.size(); ++i) y = b.op("Mul", {y, c.in[i]});
  return {y};
}

Names subtract(Builder& b, const Call& c) {
  if (c.in.size() != 2) c.refuse("expected two inputs");
  return {b.op("Sub", c.in)};
}

Names concatenate(Builder& b, const Call& c) {
  const std::int64_t axis = normalize_axis(c, c.config.at("axis").get<std::int64_t>(), rank_of(c));
  return {b.op("Concat", c.in, {attr("axis", axis)})};
}

// --- recurrent -------------------------------------------------------------------------------------

struct RnnKind {
  std::string op;
  Ints gate_order;  // ONNX's gate j is Keras's gate gate_order[j]
};

RnnKind rnn_kind(const Call& c, const std::string& class_name) {
  if (class_name == "LSTM") return {"LSTM", {0, 3, 1, 2}};  // Keras i,f,c,o -> ONNX i,o,f,c
  if (class_name == "GRU") return {"GRU", {0, 1, 2}};       // z,r,h in both
  if (class_name == "SimpleRNN") return {"RNN", {0}};
  c.refuse("wraps a " + class_name + ", which has no ONNX mapping");
}

std::string onnx_activation(const Call& c, const nlohmann::json& name) {
  static const std::map<std::string, std::string> names{{"tanh", "Tanh"}, {"sigmoid", "Sigmoid"}, {"relu", "Relu"}};
  if (name.is_string())
    if (auto it = names.find(name.get<std::string>()); it != names.end()) return it->second;
  c.refuse("recurrent activation " + name.dump() + " has no ONNX mapping (tanh, sigmoid, relu have)");
}

/// One direction's W, R and B rows, in ONNX's gate order.
struct RnnWeights {
  std::vector<float> w, r, bias;  // bias: Wb then Rb
  std::int64_t units = 0, input = 0;
};

RnnWeights rnn_weights(const Layer& layer, const RnnKind& kind, const nlohmann::json& config) {
  const Call sub{layer, config, {}, {}, {}};
  const Ints kd = dims_of(sub, "kernel");
  const std::int64_t in = kd[0], gates = static_cast<std::int64_t>(kind.gate_order.size()), units = kd[1] / gates;
  RnnWeights out{.w = {}, .r = {}, .bias = {}, .units = units, .input = in};
  Ints td;
  const std::vector<float> kt = permuted(values(sub, "kernel"), kd, {1, 0}, &td);  // (gates·units, in)
  const std::vector<float> rt = permuted(values(sub, "recurrent_kernel"), dims_of(sub, "recurrent_kernel"), {1, 0}, &td);
  std::vector<float> wb(static_cast<std::size_t>(gates * units), 0.f), rb = wb;
  if (config.value("use_bias", true)) {
    std::vector<float> bias = values(sub, "bias");
    if (bias.size() == 2 * wb.size()) {  // GRU reset_after: input and recurrent biases
      std::copy(bias.begin(), bias.begin() + static_cast<std::ptrdiff_t>(wb.size()), wb.begin());
      std::copy(bias.begin() + static_cast<std::ptrdiff_t>(wb.size()), bias.end(), rb.begin());
    } else {
      wb = bias;
    }
  }
  for (std::int64_t g : kind.gate_order) {
    const auto gu = static_cast<std::ptrdiff_t>(g * units), u = static_cast<std::ptrdiff_t>(units);
    out.w.insert(out.w.end(), kt.begin() + gu * in, kt.begin() + (gu + u) * in);
    out.r.insert(out.r.end(), rt.begin() + gu * units, rt.begin() + (gu + u) * units);
  }
  std::vector<float> rbias;
  for (std::int64_t g : kind.gate_order) {
    const auto gu = static_cast<std::ptrdiff_t>(g * units), u = static_cast<std::ptrdiff_t>(units);
    out.bias.insert(out.bias.end(), wb.begin() + gu, wb.begin() + gu + u);
    rbias.insert(rbias.end(), rb.begin() + gu, rb.begin() + gu + u);
  }
  out.bias.insert(out.bias.end(), rbias.begin(), rbias.end());
  return out;
}

/// The ONNX recurrent node over one or two directions; returns Y, Y_h (and Y_c for LSTM).
Names rnn_node(Builder& b, const Call& c, const RnnKind& kind, const std::vector<const Layer*>& layers,
               const std::vector<nlohmann::json>& configs) {
  const nlohmann::json& cfg = configs[0];
  for (const auto& k : {"stateful", "unroll"})
    if (cfg.value(k, false)) c.refuse(std::string(k) + "=True has no ONNX mapping");
  if (c.in.size() != 1) c.refuse("initial states given as inputs have no ONNX mapping");
  std::vector<float> w, r, bias;
  std::int64_t units = 0, input = 0;
  for (std::size_t d = 0; d < layers.size(); ++d) {
    RnnWeights rw = rnn_weights(*layers[d], kind, configs[d]);
    w.insert(w.end(), rw.w.begin(), rw.w.end());
    r.insert(r.end(), rw.r.begin(), rw.r.end());
    bias.insert(bias.end(), rw.bias.begin(), rw.bias.end());
    units = rw.units;
    input = rw.input;
  }
  const auto dirs = static_cast<std::int64_t>(layers.size()), g = static_cast<std::int64_t>(kind.gate_order.size());
  std::vector<std::string> acts;
  for (std::size_t d = 0; d < layers.size(); ++d) {
    if (kind.op != "RNN") acts.push_back(onnx_activation(c, configs[d].at("recurrent_activation")));
    acts.push_back(onnx_activation(c, configs[d].at("activation")));
    if (kind.op == "LSTM") acts.push_back(acts.back());
  }
  std::vector<proto::Attribute> a{attr("hidden_size", units), attr("activations", acts),
                                  attr("direction", std::string(dirs == 2 ? "bidirectional" : "forward"))};
  if (kind.op == "GRU") a.push_back(attr("linear_before_reset", configs[0].value("reset_after", true) ? 1 : 0));
  // ONNX's recurrent operators are time-major: (time, batch, features).
  const std::string x = b.transpose(c.x(), {1, 0, 2});
  const Names in{x, b.floats("W", {dirs, g * units, input}, w), b.floats("R", {dirs, g * units, units}, r),
                 b.floats("B", {dirs, 2 * g * units}, bias)};
  return b.op_n(kind.op, in, kind.op == "LSTM" ? 3 : 2, a);
}

Names recurrent(Builder& b, const Call& c) {
  const RnnKind kind = rnn_kind(c, c.layer.class_name());
  if (c.config.value("go_backwards", false)) c.refuse("go_backwards=True outside Bidirectional has no ONNX mapping");
  Names y = rnn_node(b, c, kind, {&c.layer}, {c.config});
  // Y: (time, 1, batch, units) -> (batch, time, units); states: (1, batch, units) -> (batch, units).
  Names out{c.config.value("return_sequences", false) ? b.transpose(b.squeeze(y[0], {1}), {1, 0, 2})
                                                      : b.squeeze(y[1], {0})};
  if (c.config.value("return_state", false))
    for (std::size_t k = 1; k < y.size(); ++k) out.push_back(b.squeeze(y[k], {0}));
  return out;
}

Names bidirectional(Builder& b, const Call& c) {
  const auto subs = c.layer.sublayers();
  if (subs.size() != 2) c.refuse("expected a forward and a backward layer");
  const nlohmann::json fc = subs[0]->get_config(), bc = subs[1]->get_config();
  if (subs[0]->class_name() != subs[1]->class_name()) c.refuse("a backward layer of another class has no ONNX mapping");
  if (fc.value("go_backwards", false) || !bc.value("go_backwards", false))
    c.refuse("expected a forward layer and a go_backwards one");
  if (fc.value("return_state", false)) c.refuse("return_state=True has no ONNX mapping here");
  const RnnKind kind = rnn_kind(c, subs[0]->class_name());
  Names y = rnn_node(b, c, kind, {subs[0].get(), subs[1].get()}, {fc, bc});
  const bool sequences = fc.value("return_sequences", false);
  const std::int64_t units = fc.at("units").get<std::int64_t>();
  // Both directions batch-first: (batch, time, 2, units) or (batch, 2, units). ONNX aligns the
  // backward outputs with the input's time steps, as Keras's Bidirectional does.
  const std::string both = sequences ? b.transpose(y[0], {2, 0, 1, 3}) : b.transpose(y[1], {1, 0, 2});
  const std::string mode = c.config.at("merge_mode").is_null() ? "none" : c.config.at("merge_mode").get<std::string>();
  if (mode == "concat")
    return {sequences ? b.reshape(both, {0, 0, 2 * units}) : b.reshape(both, {0, 2 * units})};
  const std::int64_t dir_axis = sequences ? 2 : 1;
  const std::string f = b.squeeze(b.op("Gather", {both, b.ints({0})}, {attr("axis", dir_axis)}), {dir_axis});
  const std::string r = b.squeeze(b.op("Gather", {both, b.ints({1})}, {attr("axis", dir_axis)}), {dir_axis});
  if (mode == "sum") return {b.op("Add", {f, r})};
  if (mode == "mul") return {b.op("Mul", {f, r})};
  if (mode == "ave") return {b.op("Mul", {b.op("Add", {f, r}), b.scalar(0.5f)})};
  if (mode == "none") return {f, r};
  c.refuse("merge_mode '" + mode + "' has no ONNX mapping");
}

// --- wrappers --------------------------------------------------------------------------------------

Names time_distributed(Builder& b, const Call& c) {
  // The wrapped layer on (batch·time, ...), then time split off again.
  const auto subs = c.layer.sublayers();
  if (subs.size() != 1) c.refuse("expected one wrapped layer");
  const Shape& s = c.in_shapes[0];
  const Shape& out = c.out_shapes.at(0);
  if (s.size() < 3 || s[1] < 0) c.refuse("an unknown number of time steps has no ONNX mapping");
  Shape inner_in{-1}, inner_out{-1};
  inner_in.insert(inner_in.end(), s.begin() + 2, s.end());
  inner_out.insert(inner_out.end(), out.begin() + 2, out.end());
  Ints flat{-1}, split{-1, s[1]};
  for (std::size_t i = 2; i < s.size(); ++i) flat.push_back(s[i]);
  for (std::size_t i = 2; i < out.size(); ++i) split.push_back(out[i]);
  for (std::size_t i = 1; i < flat.size(); ++i)
    if (flat[i] < 0) c.refuse("an unknown dimension in " + s.str() + " has no ONNX mapping");
  const Call inner{*subs[0], subs[0]->get_config(), {b.reshape(c.x(), flat)}, {inner_in}, {inner_out}};
  const Names y = convert_layer(b, inner);
  if (y.size() != 1) c.refuse("a wrapped layer with several outputs has no ONNX mapping");
  return {b.reshape(y[0], split)};
}

// --- attention ---------------------------------------------------------------------------------

/// softmax(scores [+ causal mask]) · value, as Keras's _apply_scores at inference.
std::string attend(Builder& b, const Call& c, std::string scores, const std::string& value) {
  if (flag(c, "use_causal_mask") || flag(c, "causal")) {
    const std::int64_t t = c.in_shapes[0][1], s_len = c.in_shapes[1][1];
    if (t < 0 || s_len < 0) c.refuse("a causal mask over an unknown length has no ONNX mapping");
    // Keras's masked softmax subtracts 1e9 where the mask is off (j > i).
    std::vector<float> mask(static_cast<std::size_t>(t * s_len), 0.f);
    for (std::int64_t i = 0; i < t; ++i)
      for (std::int64_t j = i + 1; j < s_len; ++j) mask[static_cast<std::size_t>(i * s_len + j)] = -1e9f;
    scores = b.op("Add", {scores, b.floats("causal_mask", {t, s_len}, mask)});
  }
  return b.op("MatMul", {b.op("Softmax", {scores}, {attr("axis", -1)}), value});
}

/// Attention (dot or concat scores) and AdditiveAttention over (batch, time, features).
Names dense_attention(Builder& b, const Call& c) {
  if (c.in.size() < 2 || c.in.size() > 3) c.refuse("expected query, value and optionally key as inputs");
  if (rank_of(c) != 3) c.refuse("only (batch, time, features) inputs have an ONNX mapping");
  const std::string& q = c.in[0];
  const std::string& k = c.in.size() == 3 ? c.in[2] : c.in[1];
  const bool additive = c.layer.class_name() == "AdditiveAttention";
  const std::string mode = additive ? "additive" : c.config.value("score_mode", std::string("dot"));
  const Tensor scale = c.weight("scale");
  auto scaled = [&](const std::string& x) {
    return scale.defined() ? b.op("Mul", {x, b.floats("scale", dims_of(c, "scale"), values(c, "scale"))}) : x;
  };
  std::string scores;
  if (mode == "dot") {
    scores = scaled(b.op("MatMul", {q, b.transpose(k, {0, 2, 1})}));
  } else if (mode == "concat" || mode == "additive") {
    // Every query step with every key step: (batch, Tq, 1, d) + (batch, 1, Tv, d).
    const std::string sum = b.op("Add", {b.unsqueeze(q, {2}), b.unsqueeze(k, {1})});
    const std::string t = additive ? scaled(b.op("Tanh", {sum})) : b.op("Tanh", {scaled(sum)});
    scores = b.reduce("ReduceSum", t, {-1}, false);
    if (!additive)
      scores = b.op("Mul", {scores, b.floats("concat_score_weight", {}, values(c, "concat_score_weight"))});
  } else {
    c.refuse("score_mode '" + mode + "' has no ONNX mapping");
  }
  return {attend(b, c, scores, c.in[1])};
}

Names multi_head_attention(Builder& b, const Call& c) {
  if (c.in.size() < 2 || c.in.size() > 3) c.refuse("expected query, value and optionally key as inputs");
  if (rank_of(c) != 3 || !c.config.at("attention_axes").is_null())
    c.refuse("only (batch, time, features) inputs attended over time have an ONNX mapping");
  if (!c.config.at("output_shape").is_null()) c.refuse("output_shape has no ONNX mapping here");
  const Ints qk = dims_of(c, "query/kernel"), vk = dims_of(c, "value/kernel");
  const std::int64_t heads = qk[1], key_dim = qk[2], value_dim = vk[2];
  const bool bias = flag(c, "use_bias", true);
  // An einsum projection (D, H, d) as MatMul with (D, H·d), then heads split off:
  // (batch, time, H, d) -> (batch, H, time, d), or (batch, H, d, time) with `perm` for the keys.
  auto project = [&](const std::string& x, const char* scope, std::int64_t d, const Ints& perm) {
    const Ints kd = dims_of(c, std::string(scope) + "/kernel");
    std::string y = b.op("MatMul", {x, b.floats(std::string(scope) + "_kernel", {kd[0], kd[1] * kd[2]},
                                                 values(c, std::string(scope) + "/kernel"))});
    if (bias) y = b.op("Add", {y, b.floats(std::string(scope) + "_bias", {kd[1] * kd[2]}, values(c, std::string(scope) + "/bias"))});
    return b.transpose(b.reshape(y, {0, 0, heads, d}), perm);
  };
  const std::string& key_in = c.in.size() == 3 ? c.in[2] : c.in[1];
  std::string q = project(c.in[0], "query", key_dim, {0, 2, 1, 3});
  q = b.op("Mul", {q, b.scalar(static_cast<float>(1.0 / std::sqrt(static_cast<double>(key_dim))))});  // as Keras: the query scaled
  const std::string k = project(key_in, "key", key_dim, {0, 2, 3, 1});
  const std::string v = project(c.in[1], "value", value_dim, {0, 2, 1, 3});
  std::string scores = b.op("MatMul", {q, k});  // (batch, H, T, S)
  const std::string heads_out =
      b.reshape(b.transpose(attend(b, c, scores, v), {0, 2, 1, 3}), {0, 0, heads * value_dim});
  const Ints od = dims_of(c, "attention_output/kernel");
  std::string y = b.op("MatMul", {heads_out, b.floats("output_kernel", {od[0] * od[1], od[2]}, values(c, "attention_output/kernel"))});
  if (bias) y = b.op("Add", {y, b.floats("output_bias", {od[2]}, values(c, "attention_output/bias"))});
  return {y};
}

using Converter = std::function<Names(Builder&, const Call&)>;

const std::map<std::string, Converter>& converters() {
  static const std::map<std::string, Converter> table = [] {
    std::map<std::string, Converter> t;
    for (const char* k : {"Conv1D", "Conv2D", "Conv3D"}) t[k] = conv;
    for (const char* k : {"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}) t[k] = conv_transpose;
    for (const char* k : {"DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"})
      t[k] = depthwise_or_separable;
    for (const char* k : {"MaxPooling1D", "MaxPooling2D", "MaxPooling3D"})
      t[k] = [](Builder& b, const Call& c) { return pooling(b, c, "MaxPool"); };
    for (const char* k : {"AveragePooling1D", "AveragePooling2D", "AveragePooling3D"})
      t[k] = [](Builder& b, const Call& c) { return pooling(b, c, "AveragePool"); };
    for (const char* k : {"GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D"})
      t[k] = [](Builder& b, const Call& c) { return global_pooling(b, c, "ReduceMax"); };
    for (const char* k : {"GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D"})
      t[k] = [](Builder& b, const Call& c) { return global_pooling(b, c, "ReduceMean"); };
    t["BatchNormalization"] = batch_normalization;
    t["LayerNormalization"] = layer_normalization;
    t["Dense"] = dense;
    // Inference-time identities: dropout and noise act only in training.
    for (const char* k : {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                          "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity"})
      t[k] = identity;
    // Random augmentations pass images through unchanged at inference.
    for (const char* k : {"RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast",
                          "RandomBrightness"})
      t[k] = identity;
    for (const char* k : {"ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"}) t[k] = zero_padding;
    for (const char* k : {"Cropping1D", "Cropping2D", "Cropping3D"}) t[k] = cropping;
    for (const char* k : {"UpSampling1D", "UpSampling2D", "UpSampling3D"}) t[k] = upsampling;
    t["Rescaling"] = rescaling;
    t["UnitNormalization"] = unit_normalization;
    t["ThresholdedReLU"] = thresholded_relu;
    t["Flatten"] = flatten;
    t["Reshape"] = reshape;
    t["Permute"] = permute;
    t["RepeatVector"] = repeat_vector;
    t["Embedding"] = embedding;
    t["Activation"] = activation_layer;
    t["ReLU"] = relu_layer;
    t["LeakyReLU"] = leaky_relu_layer;
    t["ELU"] = elu_layer;
    t["PReLU"] = prelu_layer;
    t["Softmax"] = softmax_layer;
    t["Add"] = [](Builder& b, const Call& c) { return variadic(b, c, "Sum"); };
    t["Average"] = [](Builder& b, const Call& c) { return variadic(b, c, "Mean"); };
    t["Maximum"] = [](Builder& b, const Call& c) { return variadic(b, c, "Max"); };
    t["Minimum"] = [](Builder& b, const Call& c) { return variadic(b, c, "Min"); };
    t["Multiply"] = multiply;
    t["Subtract"] = subtract;
    t["Concatenate"] = concatenate;
    for (const char* k : {"LSTM", "GRU", "SimpleRNN"}) t[k] = recurrent;
    t["Bidirectional"] = bidirectional;
    t["MultiHeadAttention"] = multi_head_attention;
    t["TimeDistributed"] = time_distributed;
    t["GroupNormalization"] = group_normalization;
    t["RMSNormalization"] = rms_normalization;
    t["Attention"] = dense_attention;
    t["AdditiveAttention"] = dense_attention;
    return t;
  }();
  return table;
}

}  // namespace

std::vector<std::string> convert_layer(Builder& b, const Call& call) {
  const auto& table = converters();
  auto it = table.find(call.layer.class_name());
  if (it == table.end()) call.refuse("this layer class has no ONNX mapping");
  return it->second(b, call);
}

std::vector<std::string> exportable_classes() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : converters()) names.push_back(name);
  return names;
}

}  // namespace lamina::onnx
