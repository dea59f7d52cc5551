// SPDX-License-Identifier: Apache-2.0
// src/tensor/sizes.cpp — checked sizes and the weight budget of a load.
#include "tensor/sizes.hpp"

#include <unistd.h>

namespace lamina::sizes {
namespace {

thread_local WeightBudget* t_budget = nullptr;

std::uint64_t physical_memory() {
  static const std::uint64_t bytes = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    // Unknown (a sandbox without /proc): only overflow is refused.
    if (pages <= 0 || page <= 0) return std::numeric_limits<std::uint64_t>::max();
    return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
  }();
  return bytes;
}

[[noreturn]] void overflows(std::int64_t a, const char* op, std::int64_t b, const std::string& who) {
  throw ShapeError(who + ": " + std::to_string(a) + op + std::to_string(b) + " overflows 64-bit sizes");
}

}  // namespace

std::int64_t mul(std::int64_t a, std::int64_t b, const std::string& who) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) overflows(a, " x ", b, who);
  return out;
}

std::int64_t add(std::int64_t a, std::int64_t b, const std::string& who) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) overflows(a, " + ", b, who);
  return out;
}

void require_size(const std::string& who, const char* what, std::int64_t value, bool allow_zero) {
  if (value > kMaxDimension)
    throw ValueError(who + ": " + what + " must be at most " + std::to_string(kMaxDimension) +
                     ", got " + std::to_string(value));
  if (value < 0 || (value == 0 && !allow_zero))
    throw ValueError(who + ": " + what + " must be a " + (allow_zero ? "non-negative" : "positive") +
                     " integer, got " + std::to_string(value));
}

bool shape_fits(const Shape& shape) {
  std::int64_t bytes = 8;
  for (const std::int64_t d : shape)
    if (d > kMaxDimension || (d > 0 && __builtin_mul_overflow(bytes, d, &bytes))) return false;
  return true;
}

void require_shape(const std::string& who, const Shape& shape) {
  if (shape_fits(shape)) return;
  for (const std::int64_t d : shape)
    if (d > kMaxDimension)
      throw ShapeError(who + ": dimension " + std::to_string(d) + " of " + shape.str() +
                       " is over the limit of " + std::to_string(kMaxDimension));
  throw ShapeError(who + ": shape " + shape.str() + " holds more elements than 64-bit sizes count");
}

std::size_t tensor_bytes(const Shape& shape, std::size_t element_size, const std::string& who) {
  const std::string prefix = who.empty() ? std::string() : who + ": ";
  std::uint64_t bytes = element_size;
  for (const std::int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes))
      throw ValueError(prefix + "cannot allocate a tensor of shape " + shape.str() +
                       ": its size overflows 64-bit sizes");
  if (bytes > physical_memory())
    throw ValueError(prefix + "cannot allocate a tensor of shape " + shape.str() + ": " +
                     std::to_string(bytes) + " bytes, more than this machine's memory (" +
                     std::to_string(physical_memory()) + " bytes)");
  return static_cast<std::size_t>(bytes);
}

WeightBudget::WeightBudget(std::uint64_t bytes) : left_(bytes), limit_(bytes), outer_(t_budget) {
  t_budget = this;
}

WeightBudget::~WeightBudget() { t_budget = outer_; }

void WeightBudget::charge(std::uint64_t bytes, const std::string& who) {
  WeightBudget* b = t_budget;
  if (!b) return;
  if (bytes > b->left_)
    throw FileFormatError("the architecture needs more weights than the file can hold (" + who +
                          " would pass the load's limit of " +
                          std::to_string(b->limit_) + " bytes of weights)");
  b->left_ -= bytes;
}

}  // namespace lamina::sizes
