// SPDX-License-Identifier: Apache-2.0
// Array conversions between float and the 16-bit float formats (the scalar rules: half.hpp).
#include "tensor/half.hpp"

#include "lamina/errors.hpp"

namespace lamina::half {

namespace {

// float16's rule or bfloat16's, for `half_type`.
template <class Rule>
Rule pick(DType half_type, Rule f16, Rule bf16) {
  if (half_type == DType::float16) return f16;
  if (half_type == DType::bfloat16) return bf16;
  throw TypeError(std::string("expected a float16 or bfloat16 tensor, got ") + dtype_name(half_type));
}

template <class In, class Out>
void each(const In* in, Out* out, std::int64_t n, Out (*rule)(In)) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = rule(in[i]);
}

}  // namespace

void to_float(DType half_type, const std::uint16_t* bits, float* out, std::int64_t n) {
  each(bits, out, n, pick(half_type, &f16_to_float, &bf16_to_float));
}

void from_float(DType half_type, const float* in, std::uint16_t* bits, std::int64_t n) {
  each(in, bits, n, pick(half_type, &float_to_f16, &float_to_bf16));
}

void from_double(DType half_type, const double* in, std::uint16_t* bits, std::int64_t n) {
  each(in, bits, n, pick(half_type, &double_to_f16, &double_to_bf16));
}

}  // namespace lamina::half
