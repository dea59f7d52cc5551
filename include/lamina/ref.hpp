// SPDX-License-Identifier: Apache-2.0
// lamina/ref.hpp — "by Keras name or by object": the argument type behind
// `.optimizer = "adam"` and `.optimizer = optimizers::Adam({...})` alike.
#pragma once

#include <concepts>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace lamina {

/// Holds a shared Base made from a Keras name (Base::from_name), from a Base-derived object
/// (copied into shared ownership), from a shared_ptr, or — where Base::from_function exists —
/// from a plain callable.
template <class Base>
class Ref {
 public:
  Ref() = default;
  Ref(const char* name) : ptr_(Base::from_name(name)) {}          // NOLINT
  Ref(const std::string& name) : ptr_(Base::from_name(name)) {}   // NOLINT
  template <std::derived_from<Base> D>
  Ref(D object) : ptr_(std::make_shared<D>(std::move(object))) {}  // NOLINT
  template <std::derived_from<Base> D>
  Ref(std::shared_ptr<D> p) : ptr_(std::move(p)) {}  // NOLINT
  template <class F>
    requires(!std::derived_from<std::decay_t<F>, Base> &&
             !std::is_convertible_v<F, std::string> &&
             requires(F f) { Base::from_function(std::move(f)); })
  Ref(F fn) : ptr_(Base::from_function(std::move(fn))) {}  // NOLINT

  explicit operator bool() const { return ptr_ != nullptr; }
  Base* operator->() const { return ptr_.get(); }
  Base& operator*() const { return *ptr_; }
  const std::shared_ptr<Base>& ptr() const { return ptr_; }

 private:
  std::shared_ptr<Base> ptr_;
};

}  // namespace lamina
