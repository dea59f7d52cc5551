// SPDX-License-Identifier: Apache-2.0
// lamina/tensor.hpp — the one tensor type: shape, dtype, device, shared storage, autodiff hooks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace lamina {

// ---------------------------------------------------------------------------------------------
// DType

/// Element types. float32 is the default; float64 exists for gradient checks; integer types hold
/// labels and images; float16 (IEEE half) and bfloat16 hold low-precision activations and weights
/// (mixed precision, files). The CPU kernels compute in float32 and float64 only: an op given a
/// float16/bfloat16 tensor throws TypeError until the backend computes in them.
enum class DType : std::uint8_t { float32, float64, int32, int64, uint8, float16, bfloat16 };

inline constexpr DType float32 = DType::float32;
inline constexpr DType float64 = DType::float64;
inline constexpr DType int32 = DType::int32;
inline constexpr DType int64 = DType::int64;
inline constexpr DType uint8 = DType::uint8;
inline constexpr DType float16 = DType::float16;
inline constexpr DType bfloat16 = DType::bfloat16;

/// Bytes per element.
std::size_t dtype_size(DType dtype);
/// Keras/NumPy name: "float32", "int64", ...
const char* dtype_name(DType dtype);
/// Inverse of dtype_name; throws ValueError on an unknown name.
DType dtype_from_name(const std::string& name);
/// float16, bfloat16, float32, float64.
bool is_floating(DType dtype);
/// Promotion of two operand types, as JAX and Keras 3 do: int op float -> that float; between
/// floats the wider wins, and float16 op bfloat16 -> float32 (neither holds the other).
DType promote_types(DType a, DType b);

/// The two 16-bit float formats: IEEE 754 binary16 and bfloat16 (float32's 8 exponent bits, 7
/// mantissa bits).
enum class HalfFormat : std::uint8_t { ieee, brain };

/// One 16-bit float value, the element type of float16 and bfloat16 tensors
/// (`data<float16_t>()`). A plain bit pattern: convert explicitly, `float16_t(1.5f)` (round to
/// nearest even; overflow gives Inf; NaN stays NaN) and `static_cast<float>(h)` (exact).
template <HalfFormat F>
struct half_value {
  std::uint16_t bits = 0;
  half_value() = default;
  explicit half_value(float value);
  explicit operator float() const;
  /// The value with this bit pattern.
  static half_value from_bits(std::uint16_t b) {
    half_value h;
    h.bits = b;
    return h;
  }
};
using float16_t = half_value<HalfFormat::ieee>;
using bfloat16_t = half_value<HalfFormat::brain>;
template <> float16_t::half_value(float value);
template <> float16_t::operator float() const;
template <> bfloat16_t::half_value(float value);
template <> bfloat16_t::operator float() const;

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::float64; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::int32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::int64; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::uint8; };
template <> struct dtype_of<float16_t> { static constexpr DType value = DType::float16; };
template <> struct dtype_of<bfloat16_t> { static constexpr DType value = DType::bfloat16; };

// ---------------------------------------------------------------------------------------------
// Device

/// Test is a device implemented on the CPU whose memory the host may not read; only lamina's
/// tests register it (it catches host code that would read GPU memory, without a GPU).
enum class DeviceType : std::uint8_t { CPU, CUDA, Test };

/// Where a tensor's storage lives. Every op runs on its inputs' device, through that device's
/// backend.
struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  static Device cpu() { return {}; }
  /// "cpu", "cuda", "cuda:1", "test:0"; throws ValueError on anything else.
  static Device parse(const std::string& name);
  bool operator==(const Device&) const = default;
  std::string str() const;  ///< "cpu", "cuda:0", "test:0"
  bool is_host() const { return type == DeviceType::CPU; }
};

/// A device allocator's counters, in bytes (blocks are counted at their size class).
struct MemoryStats {
  std::size_t bytes_in_use = 0;       ///< held by live tensors
  std::size_t peak_bytes_in_use = 0;  ///< since start or reset_peak_memory_stats
  std::size_t bytes_cached = 0;       ///< freed blocks kept for reuse
  std::size_t allocations = 0;        ///< requests served
  std::size_t cache_hits = 0;         ///< requests served from the cache
};

/// The allocator statistics of a device (as torch.cuda.memory_stats / tf get_memory_info).
MemoryStats memory_stats(Device device = {});
void reset_peak_memory_stats(Device device = {});
/// Gives a device's cached blocks back to the system.
void empty_cache(Device device = {});

// ---------------------------------------------------------------------------------------------
// Shape

/// Dimensions, batch first. A dimension of -1 means "unknown" (Keras's None) and appears only in
/// symbolic shapes (layer input/output shapes), never in a concrete tensor.
class Shape : public std::vector<std::int64_t> {
 public:
  using std::vector<std::int64_t>::vector;
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) : std::vector<std::int64_t>(dims) {}
  explicit Shape(const std::vector<std::int64_t>& dims) : std::vector<std::int64_t>(dims) {}

  int rank() const { return static_cast<int>(size()); }
  /// Product of the dimensions (1 for a scalar). Throws if a dimension is unknown.
  std::int64_t numel() const;
  /// Keras notation: "(None, 28, 28, 1)"; "()" for a scalar.
  std::string str() const;
};

std::ostream& operator<<(std::ostream& os, const Shape& shape);

// ---------------------------------------------------------------------------------------------
// Tensor

struct TensorImpl;  // defined in src/tensor/tensor_impl.hpp
class Tensor;

/// A multi-dimensional, contiguous, row-major array with a dtype and a device, sharing
/// reference-counted storage. Copying a Tensor copies the handle, not the data (like
/// torch.Tensor). reshape() and leading-axis slices are views onto the same storage.
///
/// Autodiff: a tensor with requires_grad() is a leaf the tape tracks; every op on tracked inputs
/// records a node (unless a NoGradGuard is alive), and backward() fills the leaves' grad().
class Tensor {
 public:
  /// An undefined tensor (defined() is false).
  Tensor() = default;

  // --- construction ---------------------------------------------------------------------------
  /// Uninitialised storage.
  static Tensor empty(const Shape& shape, DType dtype = float32, Device device = {});
  static Tensor zeros(const Shape& shape, DType dtype = float32, Device device = {});
  static Tensor ones(const Shape& shape, DType dtype = float32, Device device = {});
  static Tensor full(const Shape& shape, double value, DType dtype = float32, Device device = {});
  /// A 0-d tensor.
  static Tensor scalar(double value, DType dtype = float32);
  /// 0, 1, ..., n-1.
  static Tensor arange(std::int64_t n, DType dtype = int64);
  /// Copies `values` (row-major) into a new tensor of `shape`; sizes must agree.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  /// Copies `count` elements from `data`.
  static Tensor from_data(const void* data, const Shape& shape, DType dtype);

  // --- inspection -----------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  /// Size of dimension `axis` (negative counts from the end).
  std::int64_t dim(int axis) const;
  int ndim() const;
  std::int64_t numel() const;
  DType dtype() const;
  Device device() const;
  std::size_t nbytes() const;

  /// Typed pointer to the first element, for host code: throws TypeError if T does not match
  /// dtype() and DeviceError if the tensor is not in host memory (use to(Device::cpu()) first).
  template <class T> T* data();
  template <class T> const T* data() const;
  void* raw_data();
  const void* raw_data() const;

  /// The single element of a one-element tensor, converted to double.
  double item() const;
  /// Element `flat_index` (row-major), converted to double. For tests and printing, not loops.
  double at(std::int64_t flat_index) const;
  /// A copy of the elements as std::vector<T> (converting the dtype if needed).
  template <class T> std::vector<T> to_vector() const;

  // --- views and copies -----------------------------------------------------------------------
  /// Same data, new shape (one dimension may be -1). A view; differentiable.
  Tensor reshape(const Shape& shape) const;
  /// Row `i` of the leading axis, dropping that axis. A view; differentiable.
  Tensor operator[](std::int64_t i) const;
  /// Rows [begin, end) of the leading axis. A view; differentiable.
  Tensor slice(std::int64_t begin, std::int64_t end) const;
  /// A converted copy (or *this if the dtype already matches). Differentiable between floats.
  Tensor astype(DType dtype) const;
  /// A deep copy with its own storage. Differentiable.
  Tensor clone() const;
  /// Moves to a device (a copy unless already there).
  Tensor to(Device device) const;
  /// True when both tensors share the same storage.
  bool shares_storage(const Tensor& other) const;

  // --- in-place (never recorded on the tape) --------------------------------------------------
  /// Copies `src` (same shape; converted dtype) into this tensor's storage.
  Tensor& assign(const Tensor& src);
  Tensor& fill(double value);

  // --- autodiff -------------------------------------------------------------------------------
  bool requires_grad() const;
  /// Marks a leaf for gradient tracking (weights). Returns *this.
  Tensor& set_requires_grad(bool enabled = true);
  /// The accumulated gradient of a leaf (undefined until backward has reached it).
  Tensor grad() const;
  void zero_grad();
  /// Runs reverse-mode autodiff from this tensor. `grad_output` defaults to ones (a scalar loss).
  void backward(const Tensor& grad_output = Tensor()) const;
  /// Same storage, cut from the tape.
  Tensor detach() const;
  /// Internal: the implementation record (autograd and backends use it).
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- reductions and shortcuts (see ops.hpp for the full set) --------------------------------
  Tensor sum(std::vector<int> axes = {}, bool keepdims = false) const;
  Tensor mean(std::vector<int> axes = {}, bool keepdims = false) const;
  Tensor max(std::vector<int> axes = {}, bool keepdims = false) const;
  Tensor min(std::vector<int> axes = {}, bool keepdims = false) const;
  Tensor argmax(int axis = -1) const;

  /// Readable multi-line rendering, NumPy style, with shape and dtype.
  std::string str() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Arithmetic with NumPy broadcasting. A scalar operand keeps the tensor's dtype (a float scalar
// on an integer tensor gives float32). All differentiable.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// Comparisons with broadcasting; the result is uint8 holding 0 or 1. Not differentiable.
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);

// ---------------------------------------------------------------------------------------------
// Global knobs

/// Seeds every random source (initializers, dropout, shuffling). Same seed + same thread count
/// => bit-identical CPU training.
void set_seed(std::uint64_t seed);
/// Threads for lamina's pool and OpenBLAS together (n >= 1); the default is one per core.
void set_num_threads(int n);
int get_num_threads();

/// While alive, ops record nothing on the tape (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Whether ops currently record on the tape (thread-local).
struct GradMode {
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

}  // namespace lamina
