// SPDX-License-Identifier: Apache-2.0
// The host backend's memory, transfers and layout kernels (fill, cast, transpose, blocks along
// an axis, broadcast, gather/scatter of rows, one-hot, step reversal).
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/broadcast.hpp"
#include "backend/cpu/convert.hpp"
#include "backend/cpu/parallel.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/half.hpp"

namespace lamina::cpu {
namespace {

using backend::ptr;

void* host_alloc(std::size_t n) { return std::aligned_alloc(64, n); }
void host_free(void* p) { std::free(p); }

constexpr std::size_t kMaxCached = std::size_t(2) << 30;
// Blocks of 32 MiB and more are not cached: glibc's malloc hands such sizes back to the system
// too (its largest mmap threshold). They are one-off buffers (a data set converted once, its
// uint8 source), which a cache would keep resident for the rest of the process; re-faulting one
// costs a few ms, against the passes over 32 MiB that any use of it makes.
constexpr std::size_t kUncachedFrom = std::size_t(32) << 20;

std::size_t bytes_of(const Tensor& t) { return t.nbytes(); }

}  // namespace

CpuBackend::CpuBackend(Device device) : CpuBackend(device, host_alloc, host_free) {}

CpuBackend::CpuBackend(Device device, backend::CachingAllocator::RawAlloc alloc,
                       backend::CachingAllocator::RawFree free)
    : Backend(device), memory_(device, alloc, free, kMaxCached, kUncachedFrom) {}

// --- memory and transfers ----------------------------------------------------------------------

void* CpuBackend::allocate(std::size_t nbytes) { return memory_.allocate(nbytes); }
void CpuBackend::deallocate(void* p, std::size_t nbytes) { memory_.deallocate(p, nbytes); }
MemoryStats CpuBackend::memory_stats() const { return memory_.stats(); }
void CpuBackend::reset_peak_memory_stats() { memory_.reset_peak(); }
void CpuBackend::empty_cache() { memory_.empty_cache(); }

void CpuBackend::copy_from_host(void* dst, const void* src, std::size_t n) {
  if (n) std::memcpy(dst, src, n);
}
void CpuBackend::copy_to_host(void* dst, const void* src, std::size_t n) {
  if (n) std::memcpy(dst, src, n);
}
void CpuBackend::copy(void* dst, const void* src, std::size_t n) {
  if (n && dst != src) std::memmove(dst, src, n);
}

// --- copy, cast, fill, layout ------------------------------------------------------------------

void CpuBackend::fill(Tensor& out, double value) {
  if (half::is_half(out.dtype())) {
    std::uint16_t bits = 0;
    half::from_double(out.dtype(), &value, &bits, 1);
    std::fill_n(ptr<std::uint16_t>(out), out.numel(), bits);
    return;
  }
  detail::dispatch_all(out.dtype(), [&](auto z) {
    using T = decltype(z);
    std::fill_n(ptr<T>(out), out.numel(), convert_value<T>(value));
  });
}

void CpuBackend::cast(const Tensor& src, Tensor& dst) {
  if (src.dtype() == dst.dtype()) return copy(ptr<void>(dst), ptr<void>(src), bytes_of(src));
  convert_elements(src.dtype(), ptr<void>(src), dst.dtype(), ptr<void>(dst), src.numel());
}

void CpuBackend::transpose(const Tensor& x, const std::vector<int>& perm, Tensor& out) {
  if (any_half({&x, &out})) {
    Tensor wide_out = widened(out);
    transpose(widened(x), perm, wide_out);
    narrow_into(wide_out, out);
    return;
  }
  const int r = x.ndim();
  const Shape& out_shape = out.shape();
  // Input strides, permuted into output order; walk the output with an index counter.
  std::vector<std::int64_t> in_strides(r, 1), s(r);
  for (int i = r - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * x.shape()[i + 1];
  for (int i = 0; i < r; ++i) s[i] = in_strides[perm[i]];
  const std::int64_t n = x.numel();
  std::vector<std::int64_t> idx(r, 0);
  std::int64_t off = 0;
  detail::dispatch_all(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* sp = ptr<T>(x);
    T* dp = ptr<T>(out);
    for (std::int64_t k = 0; k < n; ++k) {
      dp[k] = sp[off];
      for (int d = r - 1; d >= 0; --d) {
        off += s[d];
        if (++idx[d] < out_shape[d]) break;
        off -= s[d] * out_shape[d];
        idx[d] = 0;
      }
    }
  });
}

void CpuBackend::copy_axis_block(Tensor& x, Tensor& out, const AxisView& v, std::int64_t offset,
                                 bool backward) {
  const std::size_t es = dtype_size(out.dtype());
  const std::int64_t xn = v.outer ? x.numel() / (v.outer * std::max<std::int64_t>(v.inner, 1)) : 0;
  const std::size_t chunk = static_cast<std::size_t>(xn * v.inner) * es;
  char* block = static_cast<char*>(ptr<void>(out)) + offset * v.inner * es;
  char* part = static_cast<char*>(ptr<void>(x));
  if (!chunk) return;
  for (std::int64_t o = 0; o < v.outer; ++o) {
    char* whole = block + static_cast<std::size_t>(o * v.n * v.inner) * es;
    char* piece = part + o * chunk;
    if (backward) std::memcpy(piece, whole, chunk);
    else std::memcpy(whole, piece, chunk);
  }
}

void CpuBackend::broadcast(const Tensor& x, Tensor& out) {
  if (any_half({&x, &out})) {
    Tensor wide_out = widened(out);
    broadcast(widened(x), wide_out);
    narrow_into(wide_out, out);
    return;
  }
  detail::dispatch_all(x.dtype(), [&](auto z) {
    using T = decltype(z);
    T zero = 0;
    broadcast_binary(ptr<T>(x), x.shape(), &zero, Shape{}, ptr<T>(out), out.shape(),
                     [](T v, T) { return v; });
  });
}

void CpuBackend::gather_rows(const Tensor& x, const Tensor& rows, Tensor& out) {
  const std::int64_t n = x.shape()[0];
  const std::size_t bytes = n ? bytes_of(x) / static_cast<std::size_t>(n) : 0;
  const char* src = static_cast<const char*>(ptr<void>(x));
  char* dst = static_cast<char*>(ptr<void>(out));
  const std::int64_t* idx = ptr<std::int64_t>(rows);
  for (std::int64_t i = 0, m = rows.numel(); i < m; ++i)
    std::memcpy(dst + i * bytes, src + idx[i] * bytes, bytes);
}

void CpuBackend::scatter_add_rows(const Tensor& g, const Tensor& rows, Tensor& dx) {
  if (any_half({&g, &rows, &dx})) {
    Tensor wide_dx = widened(dx);
    scatter_add_rows(widened(g), widened(rows), wide_dx);
    narrow_into(wide_dx, dx);
    return;
  }
  const std::int64_t n = dx.shape()[0];
  const std::int64_t row = n ? dx.numel() / n : 0;
  const std::int64_t* idx = ptr<std::int64_t>(rows);
  detail::dispatch_all(g.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* gp = ptr<T>(g);
    T* d = ptr<T>(dx);
    for (std::int64_t i = 0, m = rows.numel(); i < m; ++i)
      for (std::int64_t j = 0; j < row; ++j) d[idx[i] * row + j] += gp[i * row + j];
  });
}

void CpuBackend::one_hot(const Tensor& labels, Tensor& out) {
  if (any_half({&labels, &out})) {
    Tensor wide_out = widened(out);
    one_hot(widened(labels), wide_out);
    narrow_into(wide_out, out);
    return;
  }
  fill(out, 0.0);
  const std::int64_t depth = out.shape()[out.ndim() - 1];
  const std::int64_t* idx = ptr<std::int64_t>(labels);
  detail::dispatch_all(out.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = ptr<T>(out);
    for (std::int64_t i = 0, m = labels.numel(); i < m; ++i) p[i * depth + idx[i]] = T(1);
  });
}

void CpuBackend::reverse_steps(const Tensor& x, Tensor& out) {
  const std::int64_t n = x.shape()[0], steps = x.shape()[1];
  const std::size_t step_bytes =
      n > 0 && steps > 0 ? bytes_of(x) / static_cast<std::size_t>(n * steps) : 0;
  const char* src = static_cast<const char*>(ptr<void>(x));
  char* dst = static_cast<char*>(ptr<void>(out));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < steps; ++t)
      std::memcpy(dst + (i * steps + t) * step_bytes,
                  src + (i * steps + steps - 1 - t) * step_bytes, step_bytes);
}

}  // namespace lamina::cpu

namespace lamina::backend {
std::unique_ptr<Backend> make_cpu_backend(Device device) {
  return std::make_unique<cpu::CpuBackend>(device);
}
}  // namespace lamina::backend
