// SPDX-License-Identifier: Apache-2.0
// The ONNX messages the exporter writes, encoded by hand. Field numbers from onnx/onnx.proto3;
// repeated scalars are written packed (proto3's default, which every parser also accepts).
#include "io/onnx/onnx_proto.hpp"

#include <bit>
#include <cstring>

namespace lamina::onnx::proto {

namespace {
constexpr int kVarint = 0, kLengthDelimited = 2, kFixed32 = 5;
}  // namespace

void Writer::varint(std::uint64_t v) {
  while (v >= 0x80) {
    buf_ += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf_ += static_cast<char>(v);
}

void Writer::tag(int field, int wire_type) { varint((static_cast<std::uint64_t>(field) << 3) | wire_type); }

void Writer::int_field(int field, std::int64_t v) {
  tag(field, kVarint);
  varint(static_cast<std::uint64_t>(v));  // negative int64: ten bytes, two's complement
}

void Writer::float_field(int field, float v) {
  tag(field, kFixed32);
  const auto bits = std::bit_cast<std::uint32_t>(v);
  for (int k = 0; k < 4; ++k) buf_ += static_cast<char>((bits >> (8 * k)) & 0xff);
}

void Writer::bytes_field(int field, std::string_view bytes) {
  tag(field, kLengthDelimited);
  varint(bytes.size());
  buf_.append(bytes.data(), bytes.size());
}

void Writer::packed_ints(int field, const std::vector<std::int64_t>& values) {
  if (values.empty()) return;
  Writer body;
  for (std::int64_t v : values) body.varint(static_cast<std::uint64_t>(v));
  bytes_field(field, body.bytes());
}

void Writer::packed_floats(int field, const std::vector<float>& values) {
  if (values.empty()) return;
  std::string body(values.size() * 4, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto bits = std::bit_cast<std::uint32_t>(values[i]);
    for (int k = 0; k < 4; ++k) body[4 * i + k] = static_cast<char>((bits >> (8 * k)) & 0xff);
  }
  bytes_field(field, body);
}

std::string encode(const Tensor& t) {
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
  Writer w;
  w.packed_ints(1, t.dims);
  w.int_field(2, static_cast<int>(t.type));
  w.bytes_field(8, t.name);
  w.bytes_field(9, t.raw);
  return w.bytes();
}

std::string encode(const Attribute& a) {
  // AttributeProto: name = 1, f = 2, i = 3, s = 4, floats = 7, ints = 8, strings = 9, type = 20.
  Writer w;
  w.bytes_field(1, a.name);
  switch (a.type) {
    case Attribute::Type::Float: w.float_field(2, a.f); break;
    case Attribute::Type::Int: w.int_field(3, a.i); break;
    case Attribute::Type::String: w.bytes_field(4, a.s); break;
    case Attribute::Type::Floats: w.packed_floats(7, a.floats); break;
    case Attribute::Type::Ints: w.packed_ints(8, a.ints); break;
    case Attribute::Type::Strings:
      for (const std::string& s : a.strings) w.bytes_field(9, s);
      break;
    case Attribute::Type::Tensor: break;  // not written by the exporter
  }
  w.int_field(20, static_cast<int>(a.type));
  return w.bytes();
}

std::string encode(const Node& n) {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
  Writer w;
  for (const std::string& s : n.inputs) w.bytes_field(1, s);
  for (const std::string& s : n.outputs) w.bytes_field(2, s);
  if (!n.name.empty()) w.bytes_field(3, n.name);
  w.bytes_field(4, n.op_type);
  for (const Attribute& a : n.attributes) w.bytes_field(5, encode(a));
  return w.bytes();
}

std::string encode(const ValueInfo& v) {
  // TensorShapeProto.Dimension: dim_value = 1, dim_param = 2; TensorShapeProto: dim = 1;
  // TypeProto.Tensor: elem_type = 1, shape = 2; TypeProto: tensor_type = 1;
  // ValueInfoProto: name = 1, type = 2.
  Writer shape;
  for (std::size_t i = 0; i < v.dims.size(); ++i) {
    Writer dim;
    if (v.dims[i] < 0) dim.bytes_field(2, i < v.dim_names.size() ? v.dim_names[i] : "dim" + std::to_string(i));
    else dim.int_field(1, v.dims[i]);
    shape.message_field(1, dim);
  }
  Writer tensor_type;
  tensor_type.int_field(1, static_cast<int>(v.type));
  tensor_type.message_field(2, shape);
  Writer type;
  type.message_field(1, tensor_type);
  Writer w;
  w.bytes_field(1, v.name);
  w.message_field(2, type);
  return w.bytes();
}

std::string encode(const Graph& g) {
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
  Writer w;
  for (const Node& n : g.nodes) w.bytes_field(1, encode(n));
  w.bytes_field(2, g.name);
  for (const Tensor& t : g.initializers) w.bytes_field(5, encode(t));
  for (const ValueInfo& v : g.inputs) w.bytes_field(11, encode(v));
  for (const ValueInfo& v : g.outputs) w.bytes_field(12, encode(v));
  return w.bytes();
}

std::string encode(const Model& m) {
  // OperatorSetIdProto: domain = 1, version = 2 (the empty domain is "ai.onnx").
  Writer opset;
  opset.bytes_field(1, "");
  opset.int_field(2, m.opset);
  // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6,
  // graph = 7, opset_import = 8.
  Writer w;
  w.int_field(1, m.ir_version);
  w.bytes_field(2, m.producer_name);
  w.bytes_field(3, m.producer_version);
  if (!m.doc_string.empty()) w.bytes_field(6, m.doc_string);
  w.bytes_field(7, encode(m.graph));
  w.message_field(8, opset);
  return w.bytes();
}

}  // namespace lamina::onnx::proto
