// SPDX-License-Identifier: Apache-2.0
// lamina_serve: tensors to and from TF Serving's JSON (nested lists, batch first).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/tensor.hpp>

namespace lamina::serve {

/// A request the client got wrong: answered with HTTP 400 and this message.
class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One input or output of the serving signature: its name, dtype, and shape with -1 for the
/// batch (and for any other dimension the model leaves open).
struct TensorSpec {
  std::string name{};
  DType dtype = float32;
  Shape shape{};
};

/// TF's name of a dtype: DT_FLOAT, DT_INT64...
std::string tf_dtype_name(DType dtype);

/// Nesting deeper than this is refused before parsing (no model input has that many axes, and
/// the parser must not recurse without bound on hostile bodies).
inline constexpr int kMaxJsonDepth = 64;
/// Throws BadRequest when brackets nest deeper than kMaxJsonDepth.
void check_json_depth(const std::string& body);

/// A batch from instances, one JSON value per row (row format); each must have the spec's shape
/// without its batch axis. Throws BadRequest naming the input and the row.
Tensor tensor_from_rows(const std::vector<const nlohmann::json*>& rows, const TensorSpec& spec);
/// A batch from one JSON value holding every row (columnar format).
Tensor tensor_from_columns(const nlohmann::json& value, const TensorSpec& spec);

/// Appends row `row` of `t` (a host tensor, batch first) as nested JSON lists, a bare number for
/// a rank-1 tensor. Floats are written in their shortest round-trip form, NaN and infinities as
/// TF Serving writes them (NaN, Infinity, -Infinity).
void append_row(std::string& out, const Tensor& t, std::int64_t row);
/// Appends the whole of `t` as nested JSON lists.
void append_tensor(std::string& out, const Tensor& t);
/// Appends `text` as a JSON string.
void append_string(std::string& out, const std::string& text);

}  // namespace lamina::serve
