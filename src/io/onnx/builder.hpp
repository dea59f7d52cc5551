// SPDX-License-Identifier: Apache-2.0
// src/io/onnx/builder.hpp — the ONNX graph under construction, with helpers that emit one
// operator each (the opset-dependent spellings, e.g. Reduce* axes as attribute or input, live
// here), and the per-layer context the converters in layers.cpp receive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/onnx/onnx_proto.hpp"
#include "lamina/layer.hpp"

namespace lamina::onnx {

proto::Attribute attr(const std::string& name, std::int64_t v);
proto::Attribute attr(const std::string& name, int v);
proto::Attribute attr(const std::string& name, float v);
proto::Attribute attr(const std::string& name, const std::string& v);
proto::Attribute attr(const std::string& name, const std::vector<std::int64_t>& v);
proto::Attribute attr(const std::string& name, const std::vector<float>& v);
proto::Attribute attr(const std::string& name, const std::vector<std::string>& v);

class Builder {
 public:
  explicit Builder(int opset) : opset_(opset) {}
  int opset() const { return opset_; }
  proto::Graph& graph() { return graph_; }

  /// The layer whose operators follow: names are prefixed with it, and its operators recorded.
  void begin_layer(const std::string& layer_name, std::vector<std::string>* ops);

  /// One operator with one output (returned).
  std::string op(const std::string& type, std::vector<std::string> inputs,
                 std::vector<proto::Attribute> attributes = {});
  /// One operator with `outputs` outputs.
  std::vector<std::string> op_n(const std::string& type, std::vector<std::string> inputs, int outputs,
                                std::vector<proto::Attribute> attributes = {});
  /// An operator writing to a given name (graph outputs).
  void op_to(const std::string& type, std::vector<std::string> inputs, const std::string& output);

  std::string floats(const std::string& hint, const std::vector<std::int64_t>& dims, const std::vector<float>& values);
  std::string scalar(float value);
  std::string ints(const std::vector<std::int64_t>& values);

  std::string transpose(const std::string& x, const std::vector<std::int64_t>& perm);
  std::string reshape(const std::string& x, const std::vector<std::int64_t>& shape);
  std::string squeeze(const std::string& x, const std::vector<std::int64_t>& axes);
  std::string unsqueeze(const std::string& x, const std::vector<std::int64_t>& axes);
  std::string reduce(const std::string& type, const std::string& x, const std::vector<std::int64_t>& axes,
                     bool keepdims);

 private:
  std::string fresh(const std::string& hint);

  int opset_;
  proto::Graph graph_;
  std::string prefix_ = "graph";
  std::vector<std::string>* ops_ = nullptr;
  int counter_ = 0;
  std::vector<std::pair<float, std::string>> scalars_;
};

/// One layer call to convert: the layer, its Keras config, the ONNX names of its inputs and the
/// Keras shapes (batch -1) of its inputs and outputs.
struct Call {
  const Layer& layer;
  nlohmann::json config;
  std::vector<std::string> in;
  std::vector<Shape> in_shapes;
  std::vector<Shape> out_shapes;

  /// Throws ValueError: "ONNX export: <Class> '<name>': <what>".
  [[noreturn]] void refuse(const std::string& what) const;
  /// The single input (refuses a call with several).
  const std::string& x() const;
  /// A weight by its Keras name, searched in the layer and its sublayers; empty when absent.
  Tensor weight(const std::string& name) const;
};

/// Weight values on the host, as float32, with its shape.
std::vector<float> host_floats(const Tensor& t);

/// Converts one layer call; returns the ONNX names of its outputs. Throws ValueError naming the
/// layer and class when there is no mapping.
std::vector<std::string> convert_layer(Builder& b, const Call& call);
/// The layer classes convert_layer maps, sorted.
std::vector<std::string> exportable_classes();

}  // namespace lamina::onnx
