// SPDX-License-Identifier: Apache-2.0
// src/io/onnx/onnx_proto.hpp — the few ONNX protobuf messages the exporter writes, and a minimal
// protobuf encoder for them (no libprotobuf / libonnx needed to build lamina). Only encoding:
// lamina never reads ONNX files. Field numbers and enum values are those of onnx/onnx.proto3
// (ONNX 1.17), cited beside each field in onnx_proto.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lamina::onnx::proto {

/// Protobuf's wire format: varints, and length-delimited fields for strings, bytes, packed
/// repeated scalars and sub-messages.
class Writer {
 public:
  void varint(std::uint64_t v);
  void tag(int field, int wire_type);
  void int_field(int field, std::int64_t v);  ///< wire type 0 (int32 / int64 / enum)
  void float_field(int field, float v);       ///< wire type 5 (fixed32)
  void bytes_field(int field, std::string_view bytes);  ///< wire type 2
  void message_field(int field, const Writer& message) { bytes_field(field, message.bytes()); }
  void packed_ints(int field, const std::vector<std::int64_t>& values);
  void packed_floats(int field, const std::vector<float>& values);
  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

/// TensorProto.DataType.
enum class DataType : int { Float = 1, Int32 = 6, Int64 = 7 };

struct Tensor {
  std::string name;
  DataType type = DataType::Float;
  std::vector<std::int64_t> dims;
  std::string raw;  ///< little-endian values, row-major (TensorProto.raw_data)
};

struct Attribute {
  /// AttributeProto.AttributeType.
  enum class Type : int { Float = 1, Int = 2, String = 3, Tensor = 4, Floats = 6, Ints = 7, Strings = 8 };
  std::string name;
  Type type = Type::Int;
  float f = 0;
  std::int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string op_type, name;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
};

/// A graph input or output: its element type and shape. A dimension < 0 is symbolic: its
/// `dim_param` is dim_names[i].
struct ValueInfo {
  std::string name;
  DataType type = DataType::Float;
  std::vector<std::int64_t> dims;
  std::vector<std::string> dim_names;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs, outputs;
};

struct Model {
  std::int64_t ir_version = 8;
  std::int64_t opset = 17;  ///< of the default domain ("ai.onnx")
  std::string producer_name = "lamina", producer_version;
  std::string doc_string;
  Graph graph;
};

std::string encode(const Tensor& t);
std::string encode(const Attribute& a);
std::string encode(const Node& n);
std::string encode(const ValueInfo& v);
std::string encode(const Graph& g);
std::string encode(const Model& m);

}  // namespace lamina::onnx::proto
