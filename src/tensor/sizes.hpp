// SPDX-License-Identifier: Apache-2.0
// src/tensor/sizes.hpp — sizes that come from configs and files, checked before any arithmetic
// or allocation depends on them: overflow-checked int64 products and sums, the largest dimension
// lamina accepts, the largest tensor this machine can hold, and the weight budget of a load.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "lamina/errors.hpp"
#include "lamina/tensor.hpp"

namespace lamina::sizes {

/// The largest size accepted for one dimension or one size-like hyperparameter (units, filters,
/// kernel_size, strides, n, input_dim...): TensorFlow's int32 dimensions. With every factor below
/// 2^31, the products of two that shape rules compute (kernel x dilation, size x dim) fit in int64.
inline constexpr std::int64_t kMaxDimension = std::numeric_limits<std::int32_t>::max();

/// a * b; ShapeError "<who>: <a> x <b> overflows 64-bit sizes" when it does not fit.
std::int64_t mul(std::int64_t a, std::int64_t b, const std::string& who);
/// a + b; ShapeError "<who>: ..." when it does not fit.
std::int64_t add(std::int64_t a, std::int64_t b, const std::string& who);

/// ValueError "<who>: <what> must be a positive integer, got <value>" (or "must be at most
/// 2147483647") unless 0 < value <= kMaxDimension (`allow_zero`: 0 too, for paddings).
void require_size(const std::string& who, const char* what, std::int64_t value, bool allow_zero = false);

/// A shape a layer computed or was given: every known dimension at most kMaxDimension and the
/// known dimensions' product (as float64 elements, per batch entry) within int64 bytes;
/// ShapeError "<who>: ..." otherwise. Unknown dimensions (-1) are skipped.
void require_shape(const std::string& who, const Shape& shape);
/// True when require_shape would accept `shape` (no message is built).
bool shape_fits(const Shape& shape);

/// The bytes of a tensor of `shape` with elements of `element_size` bytes, refused (ValueError
/// "<who>: cannot allocate a tensor of shape ...") when that overflows or exceeds the machine's
/// physical memory: such a request can only fail, and with Linux's overcommit it would fail late,
/// in the OOM killer, instead of here.
std::size_t tensor_bytes(const Shape& shape, std::size_t element_size, const std::string& who = {});

/// While alive, bounds the bytes of weights that Layer::add_weight may create on this thread
/// (a load from a file: weights in a file cannot outgrow the file by much, see
/// io::weight_limit_for). An inner budget replaces an outer one until it ends.
class WeightBudget {
 public:
  explicit WeightBudget(std::uint64_t bytes);
  ~WeightBudget();
  WeightBudget(const WeightBudget&) = delete;
  WeightBudget& operator=(const WeightBudget&) = delete;

  /// Counts `bytes` of a new weight against the innermost budget of this thread, if any;
  /// FileFormatError "the architecture needs more weights than the file can hold (<who> ...)"
  /// when it runs out, before anything is allocated (the loaders add the file's name).
  static void charge(std::uint64_t bytes, const std::string& who);

 private:
  std::uint64_t left_;
  std::uint64_t limit_;
  WeightBudget* outer_;
};

}  // namespace lamina::sizes
