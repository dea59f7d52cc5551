// SPDX-License-Identifier: Apache-2.0
#include "tensor_json.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>

namespace lamina::serve {
namespace {

using nlohmann::json;

std::string shape_text(const Shape& shape, std::size_t from = 0) {
  std::string text = "(";
  for (std::size_t i = from; i < shape.size(); ++i) {
    if (i > from) text += ", ";
    text += shape[i] < 0 ? std::string("None") : std::to_string(shape[i]);
  }
  return text + (shape.size() == from + 1 ? ",)" : ")");
}

/// The shape a nested list claims, read along its first elements (checked in full by fill).
Shape claimed_shape(const json& value) {
  Shape dims;
  const json* v = &value;
  while (v->is_array()) {
    dims.push_back(static_cast<std::int64_t>(v->size()));
    if (v->empty()) break;
    v = &(*v)[0];
  }
  return dims;
}

template <class T>
void append_leaf(std::vector<T>& out, const json& v, const std::string& where) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) throw BadRequest(where + ": expected a number, got " + std::string(v.type_name()));
    out.push_back(v.get<T>());
  } else {
    if (!v.is_number_integer())
      throw BadRequest(where + ": expected an integer, got " +
                       (v.is_number() ? v.dump() : std::string(v.type_name())));
    bool fits = v.is_number_unsigned()
                    ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                    : v.get<std::int64_t>() >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                          v.get<std::int64_t>() <= static_cast<std::int64_t>(std::numeric_limits<T>::max());
    if (!fits) throw BadRequest(where + ": " + v.dump() + " is out of the input's integer range");
    out.push_back(static_cast<T>(v.get<std::int64_t>()));
  }
}

/// Appends the elements of `v` (row-major), checking that it is a regular nested list of `dims`.
template <class T>
void fill(std::vector<T>& out, const json& v, const Shape& dims, std::size_t depth, const std::string& where) {
  if (depth == dims.size()) return append_leaf(out, v, where);
  if (!v.is_array() || static_cast<std::int64_t>(v.size()) != dims[depth])
    throw BadRequest(where + ": the nested lists are ragged (expected " + std::to_string(dims[depth]) +
                     " elements at depth " + std::to_string(depth) + ", got " +
                     (v.is_array() ? std::to_string(v.size()) : std::string(v.type_name())) + ")");
  for (const json& item : v) fill(out, item, dims, depth + 1, where);
}

/// Checks a row shape (no batch axis) against the spec's.
void check_row_shape(const Shape& row, const TensorSpec& spec, const std::string& where) {
  bool ok = row.size() + 1 == spec.shape.size();
  for (std::size_t i = 0; ok && i < row.size(); ++i)
    ok = spec.shape[i + 1] < 0 || spec.shape[i + 1] == row[i];
  if (!ok)
    throw BadRequest(where + ": expected shape " + shape_text(spec.shape, 1) + " per instance, got " +
                     shape_text(row));
}

template <class T>
Tensor build(const std::vector<const json*>& rows, const Shape& row_shape, const TensorSpec& spec,
             const std::string& what) {
  std::vector<T> values;
  std::int64_t row_numel = 1;
  for (auto d : row_shape) row_numel *= d;
  values.reserve(static_cast<std::size_t>(row_numel) * rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r)
    fill(values, *rows[r], row_shape, 0, what + (rows.size() > 1 ? " (instance " + std::to_string(r) + ")" : ""));
  Shape shape{static_cast<std::int64_t>(rows.size())};
  shape.insert(shape.end(), row_shape.begin(), row_shape.end());
  return Tensor::from_vector(values, shape);
}

Tensor tensor_of(const std::vector<const json*>& rows, const Shape& row_shape, const TensorSpec& spec,
                 const std::string& what) {
  switch (spec.dtype) {
    case DType::float64: return build<double>(rows, row_shape, spec, what);
    case DType::int32: return build<std::int32_t>(rows, row_shape, spec, what);
    case DType::int64: return build<std::int64_t>(rows, row_shape, spec, what);
    case DType::uint8: return build<std::uint8_t>(rows, row_shape, spec, what);
    case DType::float32: return build<float>(rows, row_shape, spec, what);
    default: return build<float>(rows, row_shape, spec, what).astype(spec.dtype);  // the 16-bit floats
  }
}

template <class T>
void append_number(std::string& out, T value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(value)) return void(out += "NaN");
    if (std::isinf(value)) return void(out += value > 0 ? "Infinity" : "-Infinity");
  }
  char buffer[32];
  auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out.append(buffer, end);
}

template <class T>
void append_nested(std::string& out, const T* data, const Shape& shape, std::size_t depth, std::int64_t stride) {
  if (depth == shape.size()) return append_number(out, *data);
  std::int64_t inner = stride / std::max<std::int64_t>(shape[depth], 1);
  out += '[';
  for (std::int64_t i = 0; i < shape[depth]; ++i) {
    if (i) out += ',';
    append_nested(out, data + i * inner, shape, depth + 1, inner);
  }
  out += ']';
}

/// Appends `count` elements of `t` from `offset`, nested as `shape`.
void append_elements(std::string& out, const Tensor& t, std::int64_t offset, const Shape& shape) {
  std::int64_t numel = 1;
  for (auto d : shape) numel *= d;
  switch (t.dtype()) {
    case DType::float32: return append_nested(out, t.data<float>() + offset, shape, 0, numel);
    case DType::float64: return append_nested(out, t.data<double>() + offset, shape, 0, numel);
    case DType::int32: return append_nested(out, t.data<std::int32_t>() + offset, shape, 0, numel);
    case DType::int64: return append_nested(out, t.data<std::int64_t>() + offset, shape, 0, numel);
    case DType::uint8: return append_nested(out, t.data<std::uint8_t>() + offset, shape, 0, numel);
    default: return append_elements(out, t.astype(float32), offset, shape);
  }
}

}  // namespace

std::string tf_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "DT_FLOAT";
    case DType::float64: return "DT_DOUBLE";
    case DType::int32: return "DT_INT32";
    case DType::int64: return "DT_INT64";
    case DType::uint8: return "DT_UINT8";
    case DType::float16: return "DT_HALF";
    case DType::bfloat16: return "DT_BFLOAT16";
  }
  return "DT_INVALID";
}

void check_json_depth(const std::string& body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw BadRequest("JSON Parse error: nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

Tensor tensor_from_rows(const std::vector<const json*>& rows, const TensorSpec& spec) {
  std::string what = "input '" + spec.name + "'";
  if (rows.empty()) throw BadRequest(what + ": no instances");
  Shape row_shape = claimed_shape(*rows.front());
  check_row_shape(row_shape, spec, what);
  return tensor_of(rows, row_shape, spec, what);
}

Tensor tensor_from_columns(const json& value, const TensorSpec& spec) {
  std::string what = "input '" + spec.name + "'";
  Shape shape = claimed_shape(value);
  if (shape.empty()) throw BadRequest(what + ": expected a list of instances (batch first), got a " +
                                      std::string(value.type_name()));
  if (shape[0] == 0) throw BadRequest(what + ": no instances");
  std::vector<const json*> rows;
  for (const json& row : value) rows.push_back(&row);
  Shape row_shape(shape.begin() + 1, shape.end());
  check_row_shape(row_shape, spec, what);
  return tensor_of(rows, row_shape, spec, what);
}

void append_row(std::string& out, const Tensor& t, std::int64_t row) {
  Shape row_shape(t.shape().begin() + 1, t.shape().end());
  std::int64_t row_numel = 1;
  for (auto d : row_shape) row_numel *= d;
  append_elements(out, t, row * row_numel, row_shape);
}

void append_tensor(std::string& out, const Tensor& t) { append_elements(out, t, 0, t.shape()); }

void append_string(std::string& out, const std::string& text) {
  // Error messages may quote the client's bytes, which need not be UTF-8.
  out += json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace lamina::serve
