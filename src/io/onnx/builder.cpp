// SPDX-License-Identifier: Apache-2.0
#include "io/onnx/builder.hpp"

#include <bit>
#include <cstring>

#include "lamina/errors.hpp"

namespace lamina::onnx {

static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian");

using proto::Attribute;

namespace {
template <class T>
proto::Attribute make_attr(const std::string& name, Attribute::Type type, T Attribute::*field, T value) {
  Attribute a;
  a.name = name;
  a.type = type;
  a.*field = std::move(value);
  return a;
}
}  // namespace

proto::Attribute attr(const std::string& name, std::int64_t v) { return make_attr(name, Attribute::Type::Int, &Attribute::i, v); }
proto::Attribute attr(const std::string& name, int v) { return attr(name, static_cast<std::int64_t>(v)); }
proto::Attribute attr(const std::string& name, float v) { return make_attr(name, Attribute::Type::Float, &Attribute::f, v); }
proto::Attribute attr(const std::string& name, const std::string& v) {
  return make_attr(name, Attribute::Type::String, &Attribute::s, v);
}
proto::Attribute attr(const std::string& name, const std::vector<std::int64_t>& v) {
  return make_attr(name, Attribute::Type::Ints, &Attribute::ints, v);
}
proto::Attribute attr(const std::string& name, const std::vector<float>& v) {
  return make_attr(name, Attribute::Type::Floats, &Attribute::floats, v);
}
proto::Attribute attr(const std::string& name, const std::vector<std::string>& v) {
  return make_attr(name, Attribute::Type::Strings, &Attribute::strings, v);
}

void Builder::begin_layer(const std::string& layer_name, std::vector<std::string>* ops) {
  prefix_ = layer_name;
  ops_ = ops;
}

std::string Builder::fresh(const std::string& hint) { return prefix_ + "/" + hint + "_" + std::to_string(counter_++); }

std::vector<std::string> Builder::op_n(const std::string& type, std::vector<std::string> inputs, int outputs,
                                       std::vector<proto::Attribute> attributes) {
  proto::Node n{.op_type = type, .name = fresh(type), .inputs = std::move(inputs), .outputs = {},
                .attributes = std::move(attributes)};
  for (int i = 0; i < outputs; ++i) {
    n.outputs.push_back(n.name);
    if (outputs > 1) n.outputs.back().append(":").append(std::to_string(i));
  }
  if (ops_) ops_->push_back(type);
  graph_.nodes.push_back(std::move(n));
  return graph_.nodes.back().outputs;
}

std::string Builder::op(const std::string& type, std::vector<std::string> inputs,
                        std::vector<proto::Attribute> attributes) {
  return op_n(type, std::move(inputs), 1, std::move(attributes))[0];
}

void Builder::op_to(const std::string& type, std::vector<std::string> inputs, const std::string& output) {
  graph_.nodes.push_back({.op_type = type, .name = fresh(type), .inputs = std::move(inputs), .outputs = {output},
                          .attributes = {}});
}

std::string Builder::floats(const std::string& hint, const std::vector<std::int64_t>& dims,
                            const std::vector<float>& values) {
  proto::Tensor t{.name = fresh(hint), .type = proto::DataType::Float, .dims = dims, .raw = {}};
  t.raw.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(t.raw.data(), values.data(), t.raw.size());
  graph_.initializers.push_back(std::move(t));
  return graph_.initializers.back().name;
}

// Scalar constants (1, 0.5, ...) are shared by every layer that needs them.
std::string Builder::scalar(float value) {
  for (const auto& [v, name] : scalars_)
    if (std::bit_cast<std::uint32_t>(v) == std::bit_cast<std::uint32_t>(value)) return name;
  const std::string saved = prefix_;
  prefix_ = "const";
  std::string name = floats("scalar", {}, {value});
  prefix_ = saved;
  scalars_.emplace_back(value, name);
  return name;
}

std::string Builder::ints(const std::vector<std::int64_t>& values) {
  proto::Tensor t{.name = fresh("ints"), .type = proto::DataType::Int64,
                  .dims = {static_cast<std::int64_t>(values.size())}, .raw = {}};
  t.raw.resize(values.size() * sizeof(std::int64_t));
  if (!values.empty()) std::memcpy(t.raw.data(), values.data(), t.raw.size());
  graph_.initializers.push_back(std::move(t));
  return graph_.initializers.back().name;
}

std::string Builder::transpose(const std::string& x, const std::vector<std::int64_t>& perm) {
  return op("Transpose", {x}, {attr("perm", perm)});
}

std::string Builder::reshape(const std::string& x, const std::vector<std::int64_t>& shape) {
  return op("Reshape", {x, ints(shape)});
}

std::string Builder::squeeze(const std::string& x, const std::vector<std::int64_t>& axes) {
  return op("Squeeze", {x, ints(axes)});  // axes an input since opset 13
}

std::string Builder::unsqueeze(const std::string& x, const std::vector<std::int64_t>& axes) {
  return op("Unsqueeze", {x, ints(axes)});
}

std::string Builder::reduce(const std::string& type, const std::string& x, const std::vector<std::int64_t>& axes,
                            bool keepdims) {
  // ReduceMean/ReduceMax/ReduceSumSquare took `axes` as an attribute up to opset 17, as an
  // input from 18; ReduceSum already from 13.
  if (opset_ < 18 && type != "ReduceSum") return op(type, {x}, {attr("axes", axes), attr("keepdims", keepdims ? 1 : 0)});
  return op(type, {x, ints(axes)}, {attr("keepdims", keepdims ? 1 : 0)});
}

void Call::refuse(const std::string& what) const {
  throw ValueError("ONNX export: " + layer.class_name() + " '" + layer.name() + "': " + what);
}

const std::string& Call::x() const {
  if (in.size() != 1) refuse("expected one input, got " + std::to_string(in.size()));
  return in[0];
}

namespace {
Tensor find_weight(const Layer& layer, const std::string& name) {
  for (const Layer::Weight& w : layer.own_weights())
    if (w.name == name) return w.value;
  for (const auto& sub : layer.sublayers())
    if (Tensor t = find_weight(*sub, name); t.defined()) return t;
  return Tensor();
}
}  // namespace

Tensor Call::weight(const std::string& name) const { return find_weight(layer, name); }

std::vector<float> host_floats(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

}  // namespace lamina::onnx
