// SPDX-License-Identifier: Apache-2.0
// lamina/name.hpp — the type of a layer's, model's or metric's name when it is a trailing
// constructor argument: `layers::Dropout(0.5, "drop")`.
#pragma once

#include <string>
#include <utility>

namespace lamina {

/// A name, implicitly made from a string. It is deliberately not an aggregate: g++ accepts a
/// designated initializer list for a std::string parameter and ignores the designator, so with a
/// std::string here `Dropout(0.5, {.noise_shape = ...})` or `Flatten({.data_format = ...})` would
/// compile and name the layer after the value. With Name they are compile errors ("designated
/// initializers cannot be used with a non-aggregate type").
class Name {
 public:
  Name() = default;
  Name(const char* name) : value_(name) {}               // NOLINT(google-explicit-constructor)
  Name(std::string name) : value_(std::move(name)) {}    // NOLINT(google-explicit-constructor)

  operator std::string() const& { return value_; }        // NOLINT(google-explicit-constructor)
  operator std::string() && { return std::move(value_); }  // NOLINT(google-explicit-constructor)
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

}  // namespace lamina
