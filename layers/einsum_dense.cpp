// SPDX-License-Identifier: Apache-2.0
// EinsumDense: the equation's labels sorted into shared (input, kernel and output), free (input
// and output), contracted (input and kernel) and kernel-output groups; the input and the kernel
// are transposed and reshaped so that one (batched) matrix product computes the einsum, and the
// result is reshaped and transposed into the output's order. Composed from ops, so autodiff
// gives the backward.
#include "common/json_int.hpp"
#include "lamina/layers/einsum_dense.hpp"
#include "catalogue.hpp"

#include <algorithm>
#include <numeric>
#include <regex>

#include <nlohmann/json.hpp>

#include "config_keys.hpp"
#include "engine/config.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"

namespace lamina::layers {

namespace {
using json = nlohmann::json;

bool has(const std::string& s, char c) { return s.find(c) != std::string::npos; }

std::vector<int> identity_perm(std::size_t n) {
  std::vector<int> p(n);
  std::iota(p.begin(), p.end(), 0);
  return p;
}

Tensor transposed(const Tensor& x, const std::vector<int>& perm) {
  return perm == identity_perm(perm.size()) ? x : transpose(x, perm);
}

std::int64_t product(const Shape& s, const std::vector<int>& at) {
  std::int64_t n = 1;
  for (int i : at) n *= s[i];
  return n;
}

// Keras's VarianceScaling family, whose fans EinsumDense computes from the kernel's input and
// output axes rather than from its shape.
bool variance_scaling(const Initializer& init) {
  static const std::vector<std::string> names = {"VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
                                                 "HeNormal",        "LecunUniform",  "LecunNormal"};
  return std::find(names.begin(), names.end(), init.class_name()) != names.end();
}
}  // namespace

// How one input shape is computed: labels of the full operands (an ellipsis's axes get labels
// '0', '1', ...), each group's labels, and the shapes.
struct EinsumDenseLayer::Plan {
  std::string in, ker, out;              // full labels
  std::string summed, shared, free, contracted, produced;  // groups
  Shape output, kernel, bias;            // bias empty: none
};

EinsumDenseLayer::EinsumDenseLayer(std::string equation, std::vector<std::int64_t> output_shape,
                                   EinsumDenseOptions options)
    : Layer(options.name, options.dtype),
      equation_(std::move(equation)),
      output_shape_(std::move(output_shape)),
      options_(std::move(options)) {
  auto refuse = [&](const std::string& why) {
    throw ValueError("EinsumDense: equation '" + equation_ + "' " + why);
  };
  // Keras's three forms: "X,Y->Z", "...X,Y->...Z" and "X...,Y->Z..." (X of two labels or more).
  std::smatch m;
  static const std::regex plain("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)");
  static const std::regex left("\\.\\.\\.([a-zA-Z]+),([a-zA-Z]+)->\\.\\.\\.([a-zA-Z]+)");
  static const std::regex right("([a-zA-Z]{2,})\\.\\.\\.,([a-zA-Z]+)->([a-zA-Z]+)\\.\\.\\.");
  if (std::regex_match(equation_, m, plain)) {
  } else if (std::regex_match(equation_, m, left)) {
    left_ellipsis_ = true;
  } else if (std::regex_match(equation_, m, right)) {
    right_ellipsis_ = true;
  } else {
    refuse("is not of the form X,Y->Z, ...X,Y->...Z or X...,Y->Z... with one input and one kernel");
  }
  input_spec_ = m[1];
  kernel_spec_ = m[2];
  output_spec_ = m[3];
  for (const std::string* spec : {&input_spec_, &kernel_spec_, &output_spec_})
    for (char c : *spec)
      if (std::count(spec->begin(), spec->end(), c) > 1)
        refuse("repeats the label '" + std::string(1, c) + "' in one operand (diagonals are not supported)");
  for (char c : output_spec_)
    if (!has(input_spec_, c) && !has(kernel_spec_, c))
      refuse("has the output label '" + std::string(1, c) + "' in neither the input nor the kernel");
  for (char c : kernel_spec_)
    if (!has(input_spec_, c) && !has(output_spec_, c))
      refuse("has the kernel label '" + std::string(1, c) + "' in neither the input nor the output");
  for (char c : options_.bias_axes)
    if (!has(output_spec_, c))
      refuse("has no output label '" + std::string(1, c) + "' for bias_axes '" + options_.bias_axes + "'");
  const std::size_t named = output_spec_.size() - (left_ellipsis_ ? 0 : 1);  // the batch is not named
  if (output_shape_.size() != named)
    refuse("needs an output_shape of " + std::to_string(named) + " dimensions (the output labels" +
           (left_ellipsis_ ? "" : " after the batch") + "), got " + std::to_string(output_shape_.size()));
  for (auto d : output_shape_)
    if (d == 0 || d < -1) refuse("needs output_shape entries that are positive or -1 (None)");
}

EinsumDenseLayer::Plan EinsumDenseLayer::plan_for(const Shape& s) const {
  auto fail = [&](const std::string& what) { fail_shape("equation '" + equation_ + "': " + what); };
  const int elided = s.rank() - static_cast<int>(input_spec_.size());
  if (elided < 0 || (elided > 0 && !left_ellipsis_ && !right_ellipsis_))
    fail("the input " + s.str() + " does not have the rank the equation's input names");
  Plan p;
  std::string dots;
  for (int i = 0; i < elided; ++i) dots += static_cast<char>('0' + i);
  p.in = left_ellipsis_ ? dots + input_spec_ : input_spec_ + dots;
  p.out = left_ellipsis_ ? dots + output_spec_ : output_spec_ + dots;
  p.ker = kernel_spec_;
  // Keras's full output shape: the batch (or the leading elided axes), output_shape, then the
  // trailing elided axes.
  if (left_ellipsis_) p.output.insert(p.output.end(), s.begin(), s.begin() + elided);
  else p.output.push_back(s[0]);
  p.output.insert(p.output.end(), output_shape_.begin(), output_shape_.end());
  if (right_ellipsis_) p.output.insert(p.output.end(), s.end() - elided, s.end());
  auto in_dim = [&](char c) { return s[static_cast<int>(p.in.find(c))]; };
  for (std::size_t i = 0; i < p.out.size(); ++i) {
    const char c = p.out[i];
    if (!has(p.in, c)) continue;
    if (p.output[i] >= 0 && in_dim(c) >= 0 && p.output[i] != in_dim(c))
      fail("output_shape gives '" + std::string(1, c) + "' dimension " + std::to_string(p.output[i]) +
           " but the input " + s.str() + " has " + std::to_string(in_dim(c)));
    if (p.output[i] < 0) p.output[i] = in_dim(c);
  }
  for (char c : p.ker) {
    const std::size_t o = p.out.find(c);
    const std::int64_t d = o != std::string::npos && p.output[o] >= 0 ? p.output[o] : has(p.in, c) ? in_dim(c) : -1;
    if (d < 0) fail("the kernel's '" + std::string(1, c) + "' dimension is unknown for input " + s.str());
    p.kernel.push_back(d);
  }
  for (char c : p.in) {
    const bool k = has(p.ker, c), o = has(p.out, c);
    (k && o ? p.shared : o ? p.free : k ? p.contracted : p.summed) += c;
  }
  for (char c : p.ker)
    if (!has(p.in, c)) p.produced += c;
  if (!options_.bias_axes.empty()) {
    // Keras's layout: the output from the first bias label on, 1 where no bias label is.
    std::size_t first = output_spec_.size();
    for (char c : options_.bias_axes) first = std::min(first, output_spec_.find(c));
    const std::size_t offset = left_ellipsis_ ? static_cast<std::size_t>(elided) : 0;
    for (std::size_t i = first; i < output_spec_.size(); ++i)
      p.bias.push_back(has(options_.bias_axes, output_spec_[i]) ? p.output[offset + i] : 1);
    if (right_ellipsis_) p.bias.insert(p.bias.end(), static_cast<std::size_t>(elided), 1);
    for (auto d : p.bias)
      if (d < 0) fail("the bias's dimensions must be known, got input " + s.str());
  }
  return p;
}

void EinsumDenseLayer::build(const Shape& input_shape) {
  const Plan p = plan_for(input_shape);
  const auto& o = options_;
  Initializer init = o.kernel_initializer;
  if (variance_scaling(init) && p.kernel.rank() != 2) {
    // Keras's fans for an einsum kernel: the product of its input axes' dimensions, and of its
    // output axes'. The values are independent draws, so a (fan_in, fan_out) draw reshaped is
    // the same distribution.
    std::int64_t fan_in = 1, fan_out = 1;
    for (std::size_t i = 0; i < p.ker.size(); ++i) (has(p.out, p.ker[i]) ? fan_out : fan_in) *= p.kernel[i];
    const Initializer base = init;
    init = Initializer(base.class_name(), base.config(),
                       [base, fan_in, fan_out](const Shape& shape, DType dt) {
                         return base(Shape{fan_in, fan_out}, dt).reshape(shape);
                       },
                       base.string_config());
  }
  kernel = add_weight("kernel", p.kernel, init, true, float32, o.kernel_regularizer, o.kernel_constraint);
  if (!p.bias.empty())
    bias = add_weight("bias", p.bias, o.bias_initializer, true, float32, o.bias_regularizer, o.bias_constraint);
}

Shape EinsumDenseLayer::compute_output_shape(const Shape& input_shape) {
  Plan p = plan_for(input_shape);
  if (kernel.defined() && kernel.shape() != p.kernel)
    fail_shape("equation '" + equation_ + "': input " + input_shape.str() + " needs a kernel " + p.kernel.str() +
               ", built with " + kernel.shape().str());
  return p.output;
}

Tensor EinsumDenseLayer::call(const Tensor& x_in, bool) {
  const Plan p = plan_for(x_in.shape());
  if (kernel.shape() != p.kernel)
    fail_shape("equation '" + equation_ + "': input " + x_in.shape().str() + " needs a kernel " + p.kernel.str() +
               ", built with " + kernel.shape().str());
  Tensor x = is_floating(x_in.dtype()) ? x_in : x_in.astype(float32);
  Tensor k = autocast(kernel);
  if (k.dtype() != x.dtype()) k = k.astype(x.dtype());
  std::string in = p.in;
  if (!p.summed.empty()) {  // input labels in neither the kernel nor the output are summed over
    std::vector<int> axes;
    for (char c : p.summed) axes.push_back(static_cast<int>(in.find(c)));
    x = sum(x, axes);
    std::erase_if(in, [&](char c) { return has(p.summed, c); });
  }
  auto positions = [](const std::string& labels, const std::string& order) {
    std::vector<int> at;
    for (char c : order) at.push_back(static_cast<int>(labels.find(c)));
    return at;
  };
  const Shape xs = x.shape();
  const std::vector<int> s_at = positions(in, p.shared), f_at = positions(in, p.free), c_at = positions(in, p.contracted);
  const std::int64_t ns = product(xs, s_at), nf = product(xs, f_at), nc = product(xs, c_at);
  const std::int64_t np = product(kernel.shape(), positions(p.ker, p.produced));
  std::vector<int> x_perm = s_at;
  x_perm.insert(x_perm.end(), f_at.begin(), f_at.end());
  x_perm.insert(x_perm.end(), c_at.begin(), c_at.end());
  std::vector<int> k_perm = positions(p.ker, p.shared);
  for (const std::string* g : {&p.contracted, &p.produced}) {
    const std::vector<int> at = positions(p.ker, *g);
    k_perm.insert(k_perm.end(), at.begin(), at.end());
  }
  Tensor y;
  if (p.shared.empty()) {
    y = dense(transposed(x, x_perm).reshape({nf, nc}), transposed(k, k_perm).reshape({nc, np}), Tensor());
  } else {
    y = matmul(transposed(x, x_perm).reshape({ns, nf, nc}), transposed(k, k_perm).reshape({ns, nc, np}));
  }
  // (shared, free, produced) back to their dimensions, then into the output's order.
  const std::string order = p.shared + p.free + p.produced;
  Shape dims;
  for (char c : order) {
    const std::size_t i = in.find(c);
    dims.push_back(i != std::string::npos ? xs[static_cast<int>(i)] : kernel.shape()[static_cast<int>(p.ker.find(c))]);
  }
  y = transposed(y.reshape(dims), positions(order, p.out));
  if (bias.defined()) {
    Tensor b = autocast(bias);
    y = y + (b.dtype() == y.dtype() ? b : b.astype(y.dtype()));
  }
  return regularize_activity(options_.activation(y), options_.activity_regularizer);
}

json EinsumDenseLayer::get_config() const {
  json c = Layer::get_config();
  json shape = json::array();
  for (auto d : output_shape_) shape.push_back(d < 0 ? json(nullptr) : json(d));
  c["output_shape"] = shape;
  c["equation"] = equation_;
  c["activation"] = options_.activation.name();
  c["bias_axes"] = options_.bias_axes.empty() ? json(nullptr) : json(options_.bias_axes);
  c["kernel_initializer"] = engine::initializer_config(options_.kernel_initializer);
  c["bias_initializer"] = engine::initializer_config(options_.bias_initializer);
  const auto& o = options_;
  KernelBiasRegularization{o.kernel_regularizer, o.bias_regularizer, o.activity_regularizer, o.kernel_constraint,
                           o.bias_constraint}
      .to_config(c);
  if (!c.contains("activity_regularizer")) c["activity_regularizer"] = nullptr;  // Keras's EinsumDense writes it
  return c;
}

EinsumDense::EinsumDense(std::string equation, std::vector<std::int64_t> output_shape, EinsumDenseOptions options)
    : LayerHandle(std::make_shared<EinsumDenseLayer>(std::move(equation), std::move(output_shape), std::move(options))) {}

namespace {
// Keras's output_shape: an integer, or a list of integers and nulls.
std::vector<std::int64_t> output_shape_of(const json& c) {
  const json& v = c.at("output_shape");
  if (v.is_number_integer()) return {json_int<std::int64_t>(v)};
  std::vector<std::int64_t> out;
  if (v.is_array())
    for (const json& d : v) {
      if (!d.is_null() && !d.is_number_integer()) break;
      out.push_back(d.is_null() ? -1 : json_int<std::int64_t>(d));
    }
  if (!v.is_array() || out.size() != v.size())
    throw ValueError("output_shape=" + v.dump() + " must be an integer or a list of integers and nulls");
  return out;
}

}  // namespace

void register_einsum_dense_layers() {
  engine::register_layer_spec({
      .class_name = "EinsumDense",
      .factory = [](const json& c) -> std::shared_ptr<Layer> {
        const auto r = KernelBiasRegularization::from_config(c);
        std::string bias_axes;
        if (c.contains("bias_axes") && !c["bias_axes"].is_null()) {
          if (!c["bias_axes"].is_string()) throw ValueError("bias_axes=" + c["bias_axes"].dump() + " must be a string");
          bias_axes = c["bias_axes"].get<std::string>();
        }
        return EinsumDense(c.at("equation").get<std::string>(), output_shape_of(c),
                           {.activation = engine::activation_of(c, "activation", "linear"),
                            .bias_axes = bias_axes,
                            .kernel_initializer = engine::initializer_of(c, "kernel_initializer", "glorot_uniform"),
                            .bias_initializer = engine::initializer_of(c, "bias_initializer", "zeros"),
                            .kernel_regularizer = r.kernel_regularizer,
                            .bias_regularizer = r.bias_regularizer,
                            .activity_regularizer = r.activity_regularizer,
                            .kernel_constraint = r.kernel_constraint,
                            .bias_constraint = r.bias_constraint,
                            .name = engine::name_of(c)})
            .ptr();
      },
      .honoured_keys = keys::join({keys::kernel_bias(),
                                   {"equation", "output_shape", "activation", "bias_axes", "kernel_initializer",
                                    "bias_initializer", "lora_alpha"}}),
      .key_rules = keys::no_quantization(),
  });
}

}  // namespace lamina::layers
