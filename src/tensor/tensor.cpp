// SPDX-License-Identifier: Apache-2.0
// Tensor basics: dtypes, shapes, storage, construction, views, conversion, printing.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <type_traits>

#include "autograd/node.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "backend/backend.hpp"
#include "tensor/sizes.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/half.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

// --- DType ---------------------------------------------------------------------------------------

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::float32: return 4;
    case DType::float64: return 8;
    case DType::int32: return 4;
    case DType::int64: return 8;
    case DType::uint8: return 1;
    case DType::float16:
    case DType::bfloat16: return 2;
  }
  return 0;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::uint8: return "uint8";
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
  }
  return "?";
}

DType dtype_from_name(const std::string& name) {
  for (DType d : {float32, float64, int32, int64, uint8, float16, bfloat16})
    if (name == dtype_name(d)) return d;
  throw ValueError("unknown dtype '" + name +
                   "' (expected float32, float64, int32, int64, uint8, float16 or bfloat16)");
}

bool is_floating(DType d) {
  return d == DType::float32 || d == DType::float64 || d == DType::float16 || d == DType::bfloat16;
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (is_floating(a) && is_floating(b)) {
    if (a == float64 || b == float64) return float64;
    return float32;  // float32 with a half type, or float16 with bfloat16
  }
  if (is_floating(a)) return a;
  if (is_floating(b)) return b;
  auto rank = [](DType d) { return d == uint8 ? 0 : d == int32 ? 1 : 2; };
  return rank(a) >= rank(b) ? a : b;
}

std::string Device::str() const {
  switch (type) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::CUDA: return "cuda:" + std::to_string(index);
    case DeviceType::Test: return "test:" + std::to_string(index);
  }
  return "?";
}

Device Device::parse(const std::string& name) {
  auto colon = name.find(':');
  std::string kind = name.substr(0, colon);
  int index = 0;
  if (colon != std::string::npos) {
    std::string digits = name.substr(colon + 1);
    if (digits.empty() || digits.size() > 4 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      throw ValueError("invalid device '" + name + "' (expected cpu, cuda, cuda:N or test:N)");
    index = std::stoi(digits);
  }
  if (kind == "cpu" && index == 0) return Device{DeviceType::CPU, 0};
  if (kind == "cuda" || kind == "gpu") return Device{DeviceType::CUDA, index};
  if (kind == "test") return Device{DeviceType::Test, index};
  throw ValueError("invalid device '" + name + "' (expected cpu, cuda, cuda:N or test:N)");
}

template <> float16_t::half_value(float value) : bits(half::float_to_f16(value)) {}
template <> float16_t::operator float() const { return half::f16_to_float(bits); }
template <> bfloat16_t::half_value(float value) : bits(half::float_to_bf16(value)) {}
template <> bfloat16_t::operator float() const { return half::bf16_to_float(bits); }

// --- Shape ---------------------------------------------------------------------------------------

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (auto d : *this) {
    if (d < 0) throw ShapeError("numel of a shape with an unknown dimension " + str());
    if (__builtin_mul_overflow(n, d, &n))
      throw ShapeError("shape " + str() + " holds more elements than 64-bit sizes count");
  }
  return n;
}

std::string Shape::str() const {
  std::string s = "(";
  for (std::size_t i = 0; i < size(); ++i) {
    if (i) s += ", ";
    s += (*this)[i] < 0 ? "None" : std::to_string((*this)[i]);
  }
  if (size() == 1) s += ",";
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape.str(); }

// --- Storage -------------------------------------------------------------------------------------

std::int64_t TensorImpl::numel() const { return shape.numel(); }

Tensor make_tensor(const Shape& shape, DType dtype, Device device) {
  for (auto d : shape)
    if (d < 0) throw ShapeError("cannot create a tensor of shape " + shape.str());
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(sizes::tensor_bytes(shape, dtype_size(dtype)), device);
  return Tensor(std::move(impl));
}

// --- construction --------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return make_tensor(shape, dtype, device);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = make_tensor(shape, dtype, device);
  t.fill(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full(Shape{}, value, dtype); }

Tensor Tensor::arange(std::int64_t n, DType dtype) {
  if (half::is_half(dtype)) return arange(n, float64).astype(dtype);
  Tensor t = make_tensor(Shape{n}, dtype);
  detail::dispatch_all(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();  // a new host tensor
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel())
    throw ShapeError("from_vector: " + std::to_string(values.size()) +
                     " values do not fill a tensor of shape " + shape.str());
  return from_data(values.data(), shape, dtype_of<T>::value);
}

template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<std::int32_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<std::int64_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<std::uint8_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<float16_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<bfloat16_t>&, const Shape&);

Tensor Tensor::from_data(const void* data, const Shape& shape, DType dtype) {
  Tensor t = make_tensor(shape, dtype);
  if (t.nbytes()) std::memcpy(t.raw_data(), data, t.nbytes());
  return t;
}

// --- inspection ----------------------------------------------------------------------------------

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) throw ValueError("use of an undefined Tensor");
  return *impl;
}

int normalize_axis(int axis, int rank) {
  int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw ShapeError("axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                     std::to_string(rank));
  return a;
}
}  // namespace

const Shape& Tensor::shape() const { return checked(impl_).shape; }
std::int64_t Tensor::dim(int axis) const { return shape()[normalize_axis(axis, ndim())]; }
int Tensor::ndim() const { return shape().rank(); }
std::int64_t Tensor::numel() const { return shape().numel(); }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device; }
std::size_t Tensor::nbytes() const { return numel() * dtype_size(dtype()); }

namespace {
// The host may read and write only host memory: device memory is reached through to().
void check_host(const TensorImpl& t, const char* what) {
  if (!t.storage->device.is_host())
    throw DeviceError(std::string(what) + " on a tensor on " + t.storage->device.str() +
                      ": the host cannot read device memory; copy it with to(Device::cpu())");
}
}  // namespace

template <class T>
T* Tensor::data() {
  if (dtype() != dtype_of<T>::value)
    throw TypeError(std::string("data<") + dtype_name(dtype_of<T>::value) + ">() on a " +
                    dtype_name(dtype()) + " tensor");
  check_host(*impl_, "data()");
  return static_cast<T*>(impl_->data());
}

template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

template float* Tensor::data<float>();
template double* Tensor::data<double>();
template std::int32_t* Tensor::data<std::int32_t>();
template std::int64_t* Tensor::data<std::int64_t>();
template std::uint8_t* Tensor::data<std::uint8_t>();
template float16_t* Tensor::data<float16_t>();
template bfloat16_t* Tensor::data<bfloat16_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const std::int32_t* Tensor::data<std::int32_t>() const;
template const std::int64_t* Tensor::data<std::int64_t>() const;
template const std::uint8_t* Tensor::data<std::uint8_t>() const;
template const float16_t* Tensor::data<float16_t>() const;
template const bfloat16_t* Tensor::data<bfloat16_t>() const;

void* Tensor::raw_data() {
  check_host(checked(impl_), "raw_data()");
  return impl_->data();
}
const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

double Tensor::at(std::int64_t i) const {
  if (i < 0 || i >= numel())
    throw ValueError("index " + std::to_string(i) + " out of range for " + std::to_string(numel()) +
                     " elements");
  // One element from any device: a copy to the host of just that element.
  alignas(8) unsigned char value[8];
  const std::size_t es = dtype_size(dtype());
  impl_->storage->owner->copy_to_host(value, static_cast<const char*>(impl_->data()) + i * es, es);
  if (half::is_half(dtype())) {
    float v = 0.0f;
    std::uint16_t bits;
    std::memcpy(&bits, value, sizeof bits);
    half::to_float(dtype(), &bits, &v, 1);
    return v;
  }
  return detail::dispatch_all(dtype(), [&](auto z) -> double {
    using T = decltype(z);
    T v;
    std::memcpy(&v, value, sizeof v);
    return static_cast<double>(v);
  });
}

double Tensor::item() const {
  if (numel() != 1)
    throw ValueError("item() needs a tensor with one element, got shape " + shape().str());
  return at(0);
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(Device::cpu()).astype(dtype_of<T>::value);
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}

template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<std::int32_t> Tensor::to_vector() const;
template std::vector<std::int64_t> Tensor::to_vector() const;
template std::vector<std::uint8_t> Tensor::to_vector() const;
template std::vector<float16_t> Tensor::to_vector() const;
template std::vector<bfloat16_t> Tensor::to_vector() const;

bool Tensor::shares_storage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

// --- views ---------------------------------------------------------------------------------------

namespace {
Tensor view_of(const Tensor& src, const Shape& shape, std::size_t extra_offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = src.dtype();
  impl->storage = src.impl()->storage;
  impl->offset = src.impl()->offset + extra_offset;
  return Tensor(std::move(impl));
}
}  // namespace

Tensor Tensor::reshape(const Shape& shape) const {
  Shape target = shape;
  std::int64_t known = 1;
  int unknown = -1;
  for (int i = 0; i < target.rank(); ++i) {
    if (target[i] == -1) {
      if (unknown >= 0) throw ShapeError("reshape: only one dimension may be -1, got " + shape.str());
      unknown = i;
    } else if (target[i] < 0) {
      throw ShapeError("reshape: invalid target shape " + shape.str());
    } else {
      known *= target[i];
    }
  }
  if (unknown >= 0) {
    if (known == 0 || numel() % known != 0)
      throw ShapeError("reshape: cannot reshape " + this->shape().str() + " into " + shape.str());
    target[unknown] = numel() / known;
  }
  if (target.numel() != numel())
    throw ShapeError("reshape: cannot reshape " + this->shape().str() + " (" +
                     std::to_string(numel()) + " elements) into " + target.str());
  Tensor out = view_of(*this, target, 0);
  Shape in_shape = this->shape();
  return autograd::record_fn(out, "Reshape", {*this},
                             [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
}

Tensor Tensor::slice(std::int64_t begin, std::int64_t end) const {
  if (ndim() == 0) throw ShapeError("slice: cannot slice a 0-d tensor");
  std::int64_t n = shape()[0];
  if (begin < 0 || end > n || begin > end)
    throw ShapeError("slice [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") is out of range for leading dimension " + std::to_string(n));
  Shape s = shape();
  std::int64_t row = n ? numel() / n : 0;
  s[0] = end - begin;
  Tensor out = view_of(*this, s, begin * row * dtype_size(dtype()));
  Shape in_shape = shape();
  DType dt = dtype();
  return autograd::record_fn(out, "Slice", {*this}, [in_shape, dt, begin, end](const Tensor& g) {
    Tensor full = Tensor::zeros(in_shape, dt, g.device());
    full.slice(begin, end).assign(g);
    return std::vector<Tensor>{full};
  });
}

Tensor Tensor::operator[](std::int64_t i) const {
  if (ndim() == 0) throw ShapeError("cannot index a 0-d tensor");
  const std::int64_t n = shape()[0];
  if (i < -n || i >= n)
    throw ShapeError("index " + std::to_string(i) + " is out of range for leading dimension " +
                     std::to_string(n) + " of " + shape().str());
  if (i < 0) i += n;
  Shape s(shape().begin() + 1, shape().end());
  return slice(i, i + 1).reshape(s);
}

// --- conversion ----------------------------------------------------------------------------------

Tensor Tensor::astype(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = make_tensor(shape(), target, device());
  impl_->storage->owner->cast(*this, out);
  if (!is_floating(dtype()) || !is_floating(target)) return out;
  DType src_type = dtype();
  return autograd::record_fn(out, "Cast", {*this}, [src_type](const Tensor& g) {
    return std::vector<Tensor>{g.astype(src_type)};
  });
}

Tensor Tensor::clone() const {
  Tensor out = make_tensor(shape(), dtype(), device());
  impl_->storage->owner->copy(out.impl()->data(), impl_->data(), nbytes());
  return autograd::record_fn(out, "Clone", {*this},
                             [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

namespace {
// dst = src byte for byte (same dtype and size), across devices: host <-> device through the
// device's backend, device <-> device through a host buffer.
void transfer(const TensorImpl& src, const TensorImpl& dst, std::size_t nbytes) {
  if (!nbytes) return;
  backend::Backend& from = *src.storage->owner;
  backend::Backend& to = *dst.storage->owner;
  if (&from == &to) return from.copy(dst.data(), src.data(), nbytes);
  if (src.storage->device.is_host()) return to.copy_from_host(dst.data(), src.data(), nbytes);
  if (dst.storage->device.is_host()) return from.copy_to_host(dst.data(), src.data(), nbytes);
  std::vector<unsigned char> staging(nbytes);
  from.copy_to_host(staging.data(), src.data(), nbytes);
  to.copy_from_host(dst.data(), staging.data(), nbytes);
}
}  // namespace

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = make_tensor(shape(), dtype(), target);
  transfer(*impl_, *out.impl(), nbytes());
  Device source = device();
  return autograd::record_fn(out, "ToDevice", {*this}, [source](const Tensor& g) {
    return std::vector<Tensor>{g.to(source)};
  });
}

void relocate(const Tensor& t, Device device) {
  if (!t.defined() || t.device() == device) return;
  TensorImpl& impl = *t.impl();
  auto moved = std::make_shared<Storage>(t.nbytes(), device);
  TensorImpl staged;  // the destination, seen through a record without autograd
  staged.shape = impl.shape;
  staged.dtype = impl.dtype;
  staged.storage = moved;
  transfer(impl, staged, t.nbytes());
  impl.storage = std::move(moved);
  impl.offset = 0;
  relocate(impl.grad, device);
}

Tensor& Tensor::assign(const Tensor& src) {
  if (src.shape() != shape())
    throw ShapeError("assign: source shape " + src.shape().str() + " does not match " +
                     shape().str());
  NoGradGuard no_grad;
  Tensor s = src.dtype() == dtype() ? src : src.astype(dtype());
  if (s.impl()->data() != impl_->data()) transfer(*s.impl(), *impl_, nbytes());
  return *this;
}

Tensor& Tensor::fill(double value) {
  impl_->storage->owner->fill(*this, value);
  return *this;
}

// --- autodiff ------------------------------------------------------------------------------------

bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }

Tensor& Tensor::set_requires_grad(bool enabled) {
  checked(impl_);
  if (enabled && !is_floating(dtype()))
    throw TypeError(std::string("only float tensors can require gradients, got ") +
                    dtype_name(dtype()));
  if (impl_->grad_fn || impl_->graph_released)
    throw ValueError("set_requires_grad: only leaf tensors (not results of ops) can be marked; "
                     "use detach() to cut a result from the tape first");
  impl_->requires_grad = enabled;
  return *this;
}

Tensor Tensor::grad() const { return checked(impl_).grad; }
void Tensor::zero_grad() { checked(impl_), impl_->grad = Tensor(); }

void Tensor::backward(const Tensor& grad_output) const {
  Tensor g = grad_output;
  if (!g.defined()) {
    if (numel() != 1)
      throw ValueError("backward() without a gradient needs a one-element (scalar) tensor, got "
                       "shape " + shape().str());
    g = Tensor::ones(shape(), dtype(), device());
  } else if (g.shape() != shape()) {
    throw ShapeError("backward: gradient shape " + g.shape().str() + " does not match tensor " +
                     shape().str());
  } else if (g.dtype() != dtype()) {
    NoGradGuard no_grad;
    g = g.astype(dtype());
  }
  autograd::run_backward(*this, g);
}

Tensor Tensor::detach() const {
  return view_of(*this, shape(), 0);
}

// --- shortcuts -----------------------------------------------------------------------------------

Tensor Tensor::sum(std::vector<int> axes, bool keepdims) const { return lamina::sum(*this, axes, keepdims); }
Tensor Tensor::mean(std::vector<int> axes, bool keepdims) const { return lamina::mean(*this, axes, keepdims); }
Tensor Tensor::max(std::vector<int> axes, bool keepdims) const { return lamina::max(*this, axes, keepdims); }
Tensor Tensor::min(std::vector<int> axes, bool keepdims) const { return lamina::min(*this, axes, keepdims); }
Tensor Tensor::argmax(int axis) const { return lamina::argmax(*this, axis); }

// --- printing ------------------------------------------------------------------------------------

namespace {

std::string format_value(double v, bool floating) {
  if (!floating) return std::to_string(static_cast<long long>(v));
  std::ostringstream os;
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v != 0 && (std::abs(v) >= 1e6 || std::abs(v) < 1e-4)) {
    os << std::scientific << std::setprecision(4) << v;
  } else {
    os << std::fixed << std::setprecision(4) << v;
  }
  return os.str();
}

// NumPy-like nested brackets; long axes show their first and last three entries.
void render(std::ostringstream& os, const Tensor& t, int axis, std::int64_t offset,
            std::int64_t stride, int indent, bool floating) {
  const Shape& s = t.shape();
  std::int64_t n = s[axis];
  std::int64_t inner = stride / std::max<std::int64_t>(n, 1);
  os << "[";
  for (std::int64_t i = 0; i < n; ++i) {
    if (n > 6 && i == 3) {
      os << (axis + 1 == s.rank() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - 3;
    }
    if (axis + 1 == s.rank()) {
      os << format_value(t.at(offset + i), floating);
    } else {
      render(os, t, axis + 1, offset + i * inner, inner, indent + 1, floating);
    }
    if (i + 1 < n) os << (axis + 1 == s.rank() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << shape().str() << ", dtype=" << dtype_name(dtype()) << ")\n";
  if (ndim() == 0) {
    os << format_value(at(0), is_floating(dtype()));
  } else if (numel() == 0) {
    os << "[]";
  } else {
    render(os, *this, 0, 0, numel(), 0, is_floating(dtype()));
  }
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace lamina
