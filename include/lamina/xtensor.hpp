// SPDX-License-Identifier: Apache-2.0
// lamina/xtensor.hpp — OPT-IN interop between lamina::Tensor and xtensor.
//
// This is the only public lamina header that includes xtensor. lamina.hpp does not include it,
// and a model script never needs it. To use it, put xtensor (and xtl) on your include path:
//
//   find_package(lamina REQUIRED COMPONENTS xtensor)   # finds xtensor for you
//   target_link_libraries(app PRIVATE lamina::xtensor)  # = lamina::lamina + xtensor
//
// Two directions:
//   - to_xarray<T>(tensor)   a zero-copy xt::xarray_adaptor over the tensor's storage;
//   - from_xtensor(expr)     a new Tensor holding a copy of any xtensor expression.
//
// Layout: lamina tensors are always contiguous and row-major (a reshape or a leading-axis slice is
// a view that is itself contiguous), so the adaptor is a plain row-major buffer adaptor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>

#include "lamina/errors.hpp"
#include "lamina/tensor.hpp"

namespace lamina {

namespace xtensor_detail {

/// True for the element types a Tensor can hold: float, double, int32_t, int64_t, uint8_t.
template <class T>
inline constexpr bool is_tensor_element_v =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int32_t> ||
    std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint8_t>;

/// The C++ element type of a dtype, as a user would write it in to_xarray<T>.
inline const char* cpp_type_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "float";
    case DType::float64: return "double";
    case DType::int32: return "std::int32_t";
    case DType::int64: return "std::int64_t";
    case DType::uint8: return "std::uint8_t";
    case DType::float16: return "lamina::float16_t";
    case DType::bfloat16: return "lamina::bfloat16_t";
  }
  return "?";
}

/// Checks that `t` can be adapted as elements of type T: defined, on the CPU, dtype T.
/// Throws ValueError (undefined / not on the CPU) or TypeError (dtype mismatch).
template <class T>
void check_adaptable(const Tensor& t) {
  static_assert(is_tensor_element_v<T>,
                "lamina::to_xarray<T>: T must be float, double, int32_t, int64_t or uint8_t");
  if (!t.defined()) throw ValueError("to_xarray: the tensor is undefined");
  if (t.device().type != DeviceType::CPU)
    throw ValueError("to_xarray: the tensor is on " + t.device().str() +
                     "; only CPU tensors can be adapted (call .to(Device::cpu()) first)");
  if (t.dtype() != dtype_of<T>::value)
    throw TypeError(std::string("to_xarray<") + cpp_type_name(dtype_of<T>::value) +
                    ">: the tensor has dtype " + dtype_name(t.dtype()) + "; use to_xarray<" +
                    cpp_type_name(t.dtype()) + ">, or astype() for a converted copy");
}

/// The tensor's shape as xtensor's shape type.
inline std::vector<std::size_t> xshape(const Tensor& t) {
  const Shape& s = t.shape();
  return std::vector<std::size_t>(s.begin(), s.end());
}

/// Wraps `ptr` (inside `t`'s storage) in an adaptor that shares ownership of `t`'s storage.
template <class P>
auto adapt_tensor(P* ptr, const Tensor& t) {
  // Aliasing constructor: the adaptor holds a reference to the tensor's implementation (and thus
  // its storage), so it stays valid even when `t` was a temporary handle.
  std::shared_ptr<P> owner(t.impl(), ptr);
  return xt::adapt_smart_ptr(ptr, xshape(t), std::move(owner));
}

}  // namespace xtensor_detail

/// A zero-copy, writable xt::xarray_adaptor over `tensor`'s elements.
///
/// - Shape: the tensor's shape (rank 0 gives a 0-d adaptor holding one element); row-major.
/// - Copies: nothing. Writes through the adaptor change the tensor and every view sharing its
///   storage. The writes are not recorded by autodiff (like Tensor::assign).
/// - Lifetime: the adaptor shares ownership of the storage, so it stays valid after `tensor` (or
///   a temporary view such as `t.reshape(...)` / `t[i]`) goes away.
/// - Throws: TypeError when T is not the tensor's element type (float32 <-> float, float64 <->
///   double, int32 <-> int32_t, int64 <-> int64_t, uint8 <-> uint8_t); ValueError when the tensor
///   is undefined or not on the CPU. A T that no dtype uses is a compile error.
///
/// \code
///   Tensor t = Tensor::zeros({2, 3});
///   auto a = lamina::to_xarray<float>(t);
///   a(1, 2) = 5.0f;             // t.at(5) == 5
/// \endcode
template <class T>
auto to_xarray(Tensor& tensor) {
  xtensor_detail::check_adaptable<T>(tensor);
  return xtensor_detail::adapt_tensor<T>(tensor.template data<T>(), tensor);
}

/// Same as to_xarray(Tensor&), for a temporary handle (e.g. `to_xarray<float>(t.reshape({6}))`
/// or `to_xarray<float>(t[0])`): writable, zero-copy, and it keeps the storage alive.
template <class T>
auto to_xarray(Tensor&& tensor) {
  return to_xarray<T>(static_cast<Tensor&>(tensor));
}

/// A zero-copy, READ-ONLY xt::xarray_adaptor over a const tensor's elements (element type
/// `const T`). Shape, lifetime and throws as for to_xarray(Tensor&). Copies nothing; later
/// writes to the tensor are visible through the adaptor.
template <class T>
auto to_xarray(const Tensor& tensor) {
  xtensor_detail::check_adaptable<T>(tensor);
  return xtensor_detail::adapt_tensor<const T>(tensor.template data<T>(), tensor);
}

/// The type to_xarray<T>(Tensor&) returns (writable adaptor), for declarations and members.
template <class T>
using xarray_adaptor_t = decltype(to_xarray<T>(std::declval<Tensor&>()));
/// The type to_xarray<T>(const Tensor&) returns (read-only adaptor).
template <class T>
using const_xarray_adaptor_t = decltype(to_xarray<T>(std::declval<const Tensor&>()));

/// A new CPU Tensor holding a COPY of the xtensor expression `expr` (an xarray, xtensor,
/// adaptor, view or lazy expression; evaluated once, in row-major order, whatever its layout).
///
/// - Shape: expr's shape (an expression of rank 0 gives a 0-d tensor).
/// - DType: from expr's value_type: float -> float32, double -> float64, int32_t -> int32,
///   int64_t -> int64, uint8_t -> uint8, bool -> uint8 (0/1). Any other value_type is a compile
///   error; convert it first (e.g. xt::cast<float>(expr)).
/// - Copies: always; the result shares nothing with `expr`, and does not require grad.
/// - Throws: whatever Tensor::empty throws (e.g. on allocation failure).
///
/// \code
///   xt::xarray<double> a = {{1, 2}, {3, 4}};
///   Tensor t = lamina::from_xtensor(a * 2.0);   // float64, shape (2, 2)
/// \endcode
template <class E>
Tensor from_xtensor(const xt::xexpression<E>& expr) {
  const E& e = expr.derived_cast();
  using value_type = std::decay_t<typename E::value_type>;
  static_assert(xtensor_detail::is_tensor_element_v<value_type> || std::is_same_v<value_type, bool>,
                "lamina::from_xtensor: the expression's value_type must be float, double, int32_t, "
                "int64_t, uint8_t or bool; convert it first with xt::cast<T>(expr)");
  using stored_type = std::conditional_t<std::is_same_v<value_type, bool>, std::uint8_t, value_type>;

  Shape shape;
  shape.reserve(e.dimension());
  for (auto d : e.shape()) shape.push_back(static_cast<std::int64_t>(d));

  Tensor out = Tensor::empty(shape, dtype_of<stored_type>::value);
  if (out.numel() == 0) return out;
  auto dst = xt::adapt(out.template data<stored_type>(), static_cast<std::size_t>(out.numel()),
                       xt::no_ownership(), xtensor_detail::xshape(out));
  if constexpr (std::is_same_v<value_type, bool>)
    xt::noalias(dst) = xt::cast<std::uint8_t>(e);
  else
    xt::noalias(dst) = e;
  return out;
}

}  // namespace lamina
