// SPDX-License-Identifier: Apache-2.0
// The CUDA backend: device memory, transfers, cuBLAS(Lt) GEMMs, the launches of lamina's own
// kernels (kernels.cu), and the host fallback for the kernels that have no GPU version yet.
#include "backend/cuda/cuda_backend.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <utility>

#include "backend/cpu/widen.hpp"
#include "backend/cuda/kernels.hpp"
#include "lamina/errors.hpp"

namespace lamina::gpu {

static_assert(static_cast<int>(backend::BinaryOp::equal) == 6 &&
                  static_cast<int>(backend::BinaryOp::greater_equal) == 11,
              "kernels.cu numbers the binary ops in BinaryOp's order");
static_assert(static_cast<int>(backend::UnaryOp::clip) == 12 &&
                  static_cast<int>(backend::UnaryOp::relu) == 10,
              "kernels.cu numbers the unary ops in UnaryOp's order");
static_assert(static_cast<int>(backend::Epilogue::tanh) == 3,
              "kernels.cu numbers the epilogues in Epilogue's order");

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw DeviceError(std::string("CUDA kernel ") + what + " failed: " + cudaGetErrorString(e));
}

namespace {

using backend::ptr;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so that the next call starts clean
    throw DeviceError(std::string("CUDA: ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                      cudaGetErrorString(e) + ")");
  }
}

void check_blas(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw DeviceError(std::string("cuBLAS: ") + what + " failed: " + cublasGetStatusString(st));
}

backend::Backend& host() { return backend::get(Device::cpu()); }

// The host fallback: every tensor a CPU kernel reads is copied to the host (in), every tensor it
// writes is copied there too (it may accumulate into what the caller zeroed) and back to the
// device by finish(). Correct for every kernel, and slow: a kernel that matters gets a native
// version, and this stays for the rest (README.md, "CUDA backend", lists which).
class HostStage {
 public:
  explicit HostStage(backend::Backend& device) : device_(device) {}
  HostStage(const HostStage&) = delete;
  HostStage& operator=(const HostStage&) = delete;

  Tensor in(const Tensor& t) {
    if (!t.defined()) return Tensor();
    Tensor h = Tensor::empty(t.shape(), t.dtype());
    if (t.nbytes()) device_.copy_to_host(ptr<void>(h), ptr<void>(t), t.nbytes());
    return h;
  }
  Tensor& out(const Tensor& t) {
    outputs_.emplace_back(t, in(t));
    return outputs_.back().second;
  }
  std::vector<Tensor> ins(const std::vector<Tensor>& ts) {
    std::vector<Tensor> h;
    for (const Tensor& t : ts) h.push_back(in(t));
    return h;
  }
  std::vector<Tensor> outs(const std::vector<Tensor>& ts) {
    std::vector<Tensor> h;
    for (const Tensor& t : ts) h.push_back(out(t));  // shares the staged storage
    return h;
  }
  void finish() {
    for (auto& [dev, h] : outputs_)
      if (dev.defined() && dev.nbytes())
        device_.copy_from_host(ptr<void>(dev), ptr<void>(h), dev.nbytes());
  }

 private:
  backend::Backend& device_;
  std::deque<std::pair<Tensor, Tensor>> outputs_;
};

// float16/bfloat16 tensors computed in float32 on the device, as the CPU computes them
// (cpu/widen.hpp): in() widens a copy, out() gives a float32 tensor that finish() rounds back
// into the caller's. The casts run natively (kernels.cu, cast_half).
class Widen {
 public:
  Tensor in(const Tensor& t) { return cpu::widened(t); }
  Tensor& out(const Tensor& t) {
    outputs_.emplace_back(t, cpu::widened(t));
    return outputs_.back().second;
  }
  void finish() {
    for (auto& [narrow, wide] : outputs_) cpu::narrow_into(wide, narrow);
  }

 private:
  std::deque<std::pair<Tensor, Tensor>> outputs_;
};

bool is_half(DType d) { return d == DType::float16 || d == DType::bfloat16; }

bool elem_of(DType d, Elem& e) {
  switch (d) {
    case DType::float32: e = Elem::f32; return true;
    case DType::float64: e = Elem::f64; return true;
    case DType::int32: e = Elem::i32; return true;
    case DType::int64: e = Elem::i64; return true;
    case DType::uint8: e = Elem::u8; return true;
    default: return false;
  }
}

// float32 or float64, the same for every defined tensor given.
bool floating(std::initializer_list<const Tensor*> ts, Elem& e) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first) first = t;
    if (t->dtype() != first->dtype()) return false;
  }
  if (!first || !is_floating(first->dtype())) return false;
  return elem_of(first->dtype(), e) && (e == Elem::f32 || e == Elem::f64);
}

std::vector<std::int64_t> contiguous_strides(const Shape& s) {
  std::vector<std::int64_t> st(s.rank(), 1);
  for (int i = s.rank() - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

// The strides of `in` read along `out`'s axes under NumPy broadcasting (0 along broadcast axes).
void broadcast_strides(const Shape& in, const Shape& out, std::int64_t* stride) {
  const std::vector<std::int64_t> st = contiguous_strides(in);
  const int shift = out.rank() - in.rank();
  for (int d = 0; d < out.rank(); ++d) {
    const int i = d - shift;
    stride[d] = i < 0 || in[i] == 1 ? 0 : st[i];
  }
}

void* device_ptr(const Tensor& t) { return t.defined() ? backend::kernel_data(t) : nullptr; }

ConvShape conv_shape(const backend::ConvGeometry& g) {
  return {g.n, g.h, g.w, g.c, g.kh, g.kw, g.f, g.sh, g.sw, g.dh, g.dw, g.pad_top, g.pad_left, g.oh, g.ow};
}

PoolShape pool_shape(const backend::PoolGeometry& g) {
  return {g.n, g.h, g.w, g.c, g.ph, g.pw, g.sh, g.sw, g.pad_top, g.pad_left, g.oh, g.ow};
}

}  // namespace

// --- construction ------------------------------------------------------------------------------

CudaBackend::CudaBackend(Device device) : Backend(device), index_(device.index) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw DeviceError("no CUDA device visible: " + device.str() + " cannot be used (" +
                      (e != cudaSuccess ? std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e)
                                        : std::string("the driver reports 0 devices")) +
                      ")");
  }
  if (index_ < 0 || index_ >= count)
    throw DeviceError("no CUDA device visible as " + device.str() + ": " + std::to_string(count) +
                      " device(s) visible (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
  activate();
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cudaDeviceGetDefaultMemPool(&pool_, index_), "cudaDeviceGetDefaultMemPool");
  // Freed blocks stay in the pool for the next step instead of going back to the driver.
  std::uint64_t keep = std::numeric_limits<std::uint64_t>::max();
  check(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep), "cudaMemPoolSetAttribute");
  check_blas(cublasCreate(&blas_), "cublasCreate");
  check_blas(cublasSetStream(blas_, stream_), "cublasSetStream");
  check_blas(cublasLtCreate(&lt_), "cublasLtCreate");
  check(cudaMalloc(&lt_workspace_, kLtWorkspace), "cudaMalloc (cuBLASLt workspace)");
  check(cudaMalloc(reinterpret_cast<void**>(&flag_), sizeof(int)), "cudaMalloc");
  if (const char* f = std::getenv("LAMINA_CUDA_FALLBACK")) fallback_.append(",").append(f).append(",");
}

// Backends live as long as the process (backend.cpp); nothing is released at exit, when the CUDA
// runtime may already be gone.
CudaBackend::~CudaBackend() = default;

void CudaBackend::activate() const { check(cudaSetDevice(index_), "cudaSetDevice"); }

bool CudaBackend::native(const char* kernel) const {
  if (fallback_.empty()) return true;
  std::string name(",");
  name.append(kernel).append(",");
  return fallback_ != ",all," && fallback_.find(name) == std::string::npos;
}

// --- memory and transfers ----------------------------------------------------------------------

void* CudaBackend::allocate(std::size_t nbytes) {
  activate();
  const std::size_t size = std::max<std::size_t>(nbytes, 1);
  void* p = nullptr;
  cudaError_t e = cudaMallocFromPoolAsync(&p, size, pool_, stream_);
  if (e == cudaErrorMemoryAllocation) {
    // What the pool holds unused goes back to the driver, once, before giving up.
    cudaGetLastError();
    cudaStreamSynchronize(stream_);
    cudaMemPoolTrimTo(pool_, 0);
    e = cudaMallocFromPoolAsync(&p, size, pool_, stream_);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    std::size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    const MemoryStats st = memory_stats();
    throw OutOfMemoryError("out of memory on " + device().str() + ": a request of " +
                           std::to_string(nbytes) + " bytes failed (" + cudaGetErrorString(e) +
                           "); lamina holds " + std::to_string(st.bytes_in_use) +
                           " bytes in tensors (peak " + std::to_string(st.peak_bytes_in_use) +
                           "), the pool caches " + std::to_string(st.bytes_cached) +
                           ", and the device has " + std::to_string(free_bytes) + " of " +
                           std::to_string(total) + " bytes free");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  stats_.bytes_in_use += nbytes;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return p;
}

void CudaBackend::deallocate(void* p, std::size_t nbytes) {
  if (!p) return;
  // Stream-ordered: the block is reused only by work queued after the kernels that read it. No
  // error is thrown from here (destructors call it, at exit too, when the runtime may be gone).
  if (cudaSetDevice(index_) == cudaSuccess && cudaFreeAsync(p, stream_) != cudaSuccess) cudaGetLastError();
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.bytes_in_use -= std::min(stats_.bytes_in_use, nbytes);
}

MemoryStats CudaBackend::memory_stats() const {
  std::uint64_t reserved = 0, used = 0;
  cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrReservedMemCurrent, &reserved);
  cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrUsedMemCurrent, &used);
  std::lock_guard<std::mutex> lock(mutex_);
  MemoryStats st = stats_;
  // The pool's own reuse is not counted per request: cache_hits stays 0 on this device.
  st.bytes_cached = reserved > used ? static_cast<std::size_t>(reserved - used) : 0;
  return st;
}

void CudaBackend::reset_peak_memory_stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

void CudaBackend::empty_cache() {
  activate();
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  check(cudaMemPoolTrimTo(pool_, 0), "cudaMemPoolTrimTo");
}

void CudaBackend::copy_from_host(void* dst, const void* src, std::size_t n) {
  if (!n) return;
  activate();
  // From pageable memory the call returns once the source has been staged, so the caller may
  // free or reuse it at once; the copy itself is ordered on the compute stream.
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync (to device)");
}

void CudaBackend::copy_to_host(void* dst, const void* src, std::size_t n) {
  if (!n) return;
  activate();
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync (to host)");
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (after a copy to the host)");
}

void CudaBackend::copy(void* dst, const void* src, std::size_t n) {
  if (!n || dst == src) return;
  activate();
  const auto* d = static_cast<const char*>(dst);
  const auto* s = static_cast<const char*>(src);
  if (d < s + n && s < d + n) {
    // Overlapping ranges (cudaMemcpy's are undefined): through a scratch block.
    void* tmp = allocate(n);
    check(cudaMemcpyAsync(tmp, src, n, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpyAsync");
    check(cudaMemcpyAsync(dst, tmp, n, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpyAsync");
    deallocate(tmp, n);
    return;
  }
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpyAsync");
}

// --- copy, cast, fill, layout ------------------------------------------------------------------

void CudaBackend::fill(Tensor& out, double value) {
  if (!out.numel()) return;
  activate();
  // The element's bits as the CPU backend converts the value (every dtype, float16 included).
  Tensor one = Tensor::empty(Shape{1}, out.dtype());
  host().fill(one, value);
  std::uint64_t bits = 0;
  std::memcpy(&bits, ptr<void>(one), dtype_size(out.dtype()));
  fill_bits(device_ptr(out), out.numel(), static_cast<int>(dtype_size(out.dtype())), bits, stream_);
}

void CudaBackend::cast(const Tensor& src, Tensor& dst) {
  if (src.dtype() == dst.dtype()) return copy(device_ptr(dst), device_ptr(src), src.nbytes());
  if (native("cast") && ((is_half(src.dtype()) && dst.dtype() == float32) ||
                         (src.dtype() == float32 && is_half(dst.dtype())))) {
    activate();
    const bool widen = is_half(src.dtype());
    const Elem half = (widen ? src.dtype() : dst.dtype()) == DType::bfloat16 ? Elem::bf16 : Elem::f16;
    return cast_half(half, widen, device_ptr(src), device_ptr(dst), src.numel(), stream_);
  }
  Elem from, to;
  if (native("cast") && floating({&src}, from) && floating({&dst}, to)) {
    activate();
    return cast_float(from, device_ptr(src), to, device_ptr(dst), src.numel(), stream_);
  }
  HostStage s(*this);  // host fallback: the integer conversions, float64 <-> 16-bit
  host().cast(s.in(src), s.out(dst));
  s.finish();
}

void CudaBackend::transpose(const Tensor& x, const std::vector<int>& perm, Tensor& out) {
  const int r = x.ndim();
  if (!native("transpose") || r > kMaxRank) {
    HostStage s(*this);
    host().transpose(s.in(x), perm, s.out(out));
    return s.finish();
  }
  activate();
  Strided g;
  g.rank = r;
  const std::vector<std::int64_t> in_strides = contiguous_strides(x.shape());
  for (int i = 0; i < r; ++i) {
    g.shape[i] = out.shape()[i];
    g.stride_a[i] = in_strides[perm[i]];
  }
  strided_copy(device_ptr(x), device_ptr(out), static_cast<int>(dtype_size(x.dtype())), g, out.numel(), stream_);
}

void CudaBackend::copy_axis_block(Tensor& x, Tensor& out, const AxisView& v, std::int64_t offset,
                                  bool backward) {
  const std::size_t es = dtype_size(out.dtype());
  const std::int64_t xn = v.outer ? x.numel() / (v.outer * std::max<std::int64_t>(v.inner, 1)) : 0;
  const std::size_t chunk = static_cast<std::size_t>(xn * v.inner) * es;
  if (!chunk || !v.outer) return;
  activate();
  char* block = static_cast<char*>(device_ptr(out)) + offset * v.inner * es;
  char* part = static_cast<char*>(device_ptr(x));
  const std::size_t pitch = static_cast<std::size_t>(v.n * v.inner) * es;
  const auto rows = static_cast<std::size_t>(v.outer);
  if (backward)
    check(cudaMemcpy2DAsync(part, chunk, block, pitch, chunk, rows, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpy2DAsync");
  else
    check(cudaMemcpy2DAsync(block, pitch, part, chunk, chunk, rows, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpy2DAsync");
}

void CudaBackend::broadcast(const Tensor& x, Tensor& out) {
  if (!native("broadcast") || out.ndim() > kMaxRank) {
    HostStage s(*this);
    host().broadcast(s.in(x), s.out(out));
    return s.finish();
  }
  activate();
  Strided g;
  g.rank = out.ndim();
  for (int d = 0; d < g.rank; ++d) g.shape[d] = out.shape()[d];
  broadcast_strides(x.shape(), out.shape(), g.stride_a);
  strided_copy(device_ptr(x), device_ptr(out), static_cast<int>(dtype_size(x.dtype())), g, out.numel(), stream_);
}

void CudaBackend::gather_rows(const Tensor& x, const Tensor& rows, Tensor& out) {
  const std::int64_t n = x.shape()[0];
  const std::int64_t bytes = n ? static_cast<std::int64_t>(x.nbytes()) / n : 0;
  if (!native("gather_rows")) {
    HostStage s(*this);
    host().gather_rows(s.in(x), s.in(rows), s.out(out));
    return s.finish();
  }
  activate();
  gpu::gather_rows(device_ptr(x), ptr<std::int64_t>(rows), device_ptr(out), rows.numel(), bytes, stream_);
}

void CudaBackend::scatter_add_rows(const Tensor& g, const Tensor& rows, Tensor& dx) {
  if (cpu::any_half({&g, &dx})) {
    Widen w;
    scatter_add_rows(w.in(g), rows, w.out(dx));
    return w.finish();
  }
  Elem t;
  if (native("scatter_add_rows") && floating({&g, &dx}, t)) {
    activate();
    const std::int64_t n = dx.shape()[0];
    const std::int64_t row = n ? dx.numel() / n : 0;
    return gpu::scatter_add_rows(t, device_ptr(g), ptr<std::int64_t>(rows), device_ptr(dx), rows.numel(), row, stream_);
  }
  HostStage s(*this);
  host().scatter_add_rows(s.in(g), s.in(rows), s.out(dx));
  s.finish();
}

void CudaBackend::one_hot(const Tensor& labels, Tensor& out) {
  if (cpu::any_half({&out})) {
    Widen w;
    one_hot(labels, w.out(out));
    return w.finish();
  }
  Elem t;
  if (native("one_hot") && labels.dtype() == int64 && floating({&out}, t)) {
    activate();
    const std::int64_t depth = out.shape()[out.ndim() - 1];
    return gpu::one_hot(t, ptr<std::int64_t>(labels), device_ptr(out), labels.numel(), depth, stream_);
  }
  HostStage s(*this);
  host().one_hot(s.in(labels), s.out(out));
  s.finish();
}

void CudaBackend::reverse_steps(const Tensor& x, Tensor& out) {
  const std::int64_t n = x.shape()[0], steps = x.shape()[1];
  if (n <= 0 || steps <= 0) return;
  if (!native("reverse_steps")) {
    HostStage s(*this);
    host().reverse_steps(s.in(x), s.out(out));
    return s.finish();
  }
  activate();
  gpu::reverse_steps(device_ptr(x), device_ptr(out), n, steps,
                     static_cast<std::int64_t>(x.nbytes()) / (n * steps), stream_);
}

// --- elementwise -------------------------------------------------------------------------------

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  if (cpu::any_half({&a, &b, &out})) {
    Widen w;
    binary(op, w.in(a), w.in(b), w.out(out));
    return w.finish();
  }
  Elem t;
  if (native("binary") && elem_of(a.dtype(), t) && out.ndim() <= kMaxRank) {
    activate();
    Strided g;
    g.rank = out.ndim();
    for (int d = 0; d < g.rank; ++d) g.shape[d] = out.shape()[d];
    broadcast_strides(a.shape(), out.shape(), g.stride_a);
    broadcast_strides(b.shape(), out.shape(), g.stride_b);
    return gpu::binary(static_cast<int>(op), t, device_ptr(a), device_ptr(b), device_ptr(out), g,
                       out.numel(), stream_);
  }
  HostStage s(*this);
  host().binary(op, s.in(a), s.in(b), s.out(out));
  s.finish();
}

void CudaBackend::unary(UnaryOp op, const Tensor& x, Tensor& out, UnaryParams p) {
  if (cpu::any_half({&x, &out})) {
    Widen w;
    unary(op, w.in(x), w.out(out), p);
    return w.finish();
  }
  Elem t;
  if (native("unary") && floating({&x, &out}, t)) {
    activate();
    return gpu::unary(static_cast<int>(op), t, device_ptr(x), device_ptr(out), x.numel(), p.a, p.b, stream_);
  }
  HostStage s(*this);
  host().unary(op, s.in(x), s.out(out), p);
  s.finish();
}

void CudaBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g,
                                 Tensor& dx, UnaryParams p) {
  if (cpu::any_half({&x, &y, &g, &dx})) {
    Widen w;
    unary_backward(op, w.in(x), w.in(y), w.in(g), w.out(dx), p);
    return w.finish();
  }
  Elem t;
  if (native("unary_backward") && floating({&x, &y, &g, &dx}, t)) {
    activate();
    return gpu::unary_backward(static_cast<int>(op), t, device_ptr(x), device_ptr(y), device_ptr(g),
                               device_ptr(dx), g.numel(), p.a, p.b, stream_);
  }
  HostStage s(*this);
  host().unary_backward(op, s.in(x), s.in(y), s.in(g), s.out(dx), p);
  s.finish();
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  if (native("where") && cond.dtype() == uint8 && a.dtype() == out.dtype() && b.dtype() == out.dtype()) {
    activate();
    return gpu::where(ptr<std::uint8_t>(cond), device_ptr(a), device_ptr(b), device_ptr(out), out.numel(),
                      static_cast<int>(dtype_size(out.dtype())), stream_);
  }
  HostStage s(*this);
  host().where(s.in(cond), s.in(a), s.in(b), s.out(out));
  s.finish();
}

// --- reductions --------------------------------------------------------------------------------

void CudaBackend::sum_axis(const Tensor& x, const AxisView& v, Tensor& out) {
  if (cpu::any_half({&x, &out})) {
    Widen w;
    sum_axis(w.in(x), v, w.out(out));
    return w.finish();
  }
  Elem t;
  if (native("sum_axis") && elem_of(x.dtype(), t) && x.dtype() == out.dtype()) {
    activate();
    return gpu::sum_axis(t, device_ptr(x), device_ptr(out), v.outer, v.n, v.inner, stream_);
  }
  HostStage s(*this);
  host().sum_axis(s.in(x), v, s.out(out));
  s.finish();
}

void CudaBackend::extreme_axis(const Tensor& x, const AxisView& v, bool is_max, Tensor& out, Tensor& index) {
  if (cpu::any_half({&x, &out})) {
    Widen w;
    extreme_axis(w.in(x), v, is_max, w.out(out), index);
    return w.finish();
  }
  Elem t;
  if (native("extreme_axis") && floating({&x, &out}, t) && v.n > 0) {
    activate();
    return gpu::extreme_axis(t, device_ptr(x), device_ptr(out), ptr<std::int64_t>(index), v.outer, v.n,
                             v.inner, is_max, stream_);
  }
  HostStage s(*this);
  host().extreme_axis(s.in(x), v, is_max, s.out(out), s.out(index));
  s.finish();
}

void CudaBackend::extreme_axis_backward(const Tensor& g, const Tensor& index, const AxisView& v, Tensor& dx) {
  if (cpu::any_half({&g, &dx})) {
    Widen w;
    extreme_axis_backward(w.in(g), index, v, w.out(dx));
    return w.finish();
  }
  Elem t;
  if (native("extreme_axis_backward") && floating({&g, &dx}, t)) {
    activate();
    return gpu::extreme_axis_backward(t, device_ptr(g), ptr<std::int64_t>(index), device_ptr(dx), v.outer,
                                      v.n, v.inner, stream_);
  }
  HostStage s(*this);
  host().extreme_axis_backward(s.in(g), s.in(index), v, s.out(dx));
  s.finish();
}

bool CudaBackend::all_finite(const Tensor& x) {
  if (!is_floating(x.dtype())) return true;
  if (is_half(x.dtype())) return all_finite(cpu::widened(x));
  Elem t;
  if (native("all_finite") && floating({&x}, t)) {
    activate();
    const int one = 1;
    int answer = 1;
    check(cudaMemcpyAsync(flag_, &one, sizeof one, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
    gpu::all_finite(t, device_ptr(x), x.numel(), flag_, stream_);
    copy_to_host(&answer, flag_, sizeof answer);
    return answer != 0;
  }
  HostStage s(*this);
  return host().all_finite(s.in(x));
}

double CudaBackend::sum_of_squares(const Tensor& x) {
  // Host fallback: the contract is a double sum in element order (clipnorm reads it on the host).
  HostStage s(*this);
  return host().sum_of_squares(s.in(x));
}

// --- matrix products ---------------------------------------------------------------------------

// Row-major C (m × n) = op(A) · op(B) as cuBLAS's column-major C^T = op(B)^T · op(A)^T: the same
// transpose flags with the operands swapped.
void CudaBackend::gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, DType dtype,
                       const void* a, std::int64_t lda, std::int64_t sa, const void* b, std::int64_t ldb,
                       std::int64_t sb, void* c, std::int64_t ldc, std::int64_t sc, std::int64_t batch,
                       bool accumulate) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  if (k <= 0) {
    if (!accumulate) check(cudaMemsetAsync(c, 0, static_cast<std::size_t>(sc * (batch - 1) + m * ldc) * dtype_size(dtype), stream_), "cudaMemsetAsync");
    return;
  }
  const bool f64 = dtype == float64;
  const float one_f = 1, beta_f = accumulate ? 1.f : 0.f;
  const double one_d = 1, beta_d = accumulate ? 1.0 : 0.0;
  const cudaDataType_t type = f64 ? CUDA_R_64F
                              : dtype == DType::bfloat16 ? CUDA_R_16BF
                              : dtype == DType::float16  ? CUDA_R_16F
                                                         : CUDA_R_32F;
  check_blas(cublasGemmStridedBatchedEx(
                 blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                 static_cast<int>(n), static_cast<int>(m), static_cast<int>(k),
                 f64 ? static_cast<const void*>(&one_d) : &one_f, b, type, static_cast<int>(ldb), sb,
                 a, type, static_cast<int>(lda), sa, f64 ? static_cast<const void*>(&beta_d) : &beta_f, c,
                 type, static_cast<int>(ldc), sc, static_cast<int>(batch),
                 f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "cublasGemmStridedBatchedEx");
}

void CudaBackend::matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, Tensor& out) {
  Elem t;
  // float16/bfloat16 of one dtype: straight to cuBLAS (tensor cores, float32 accumulation, one
  // rounding of the result, as the CPU's widened GEMM); mixed dtypes computed widened.
  const bool half = is_half(a.dtype()) && b.dtype() == a.dtype() && out.dtype() == a.dtype();
  if (!half && cpu::any_half({&a, &b, &out})) {
    Widen w;
    matmul(w.in(a), w.in(b), ta, tb, w.out(out));
    return w.finish();
  }
  if (!native("matmul") || !(half || floating({&a, &b, &out}, t))) {
    HostStage s(*this);
    host().matmul(s.in(a), s.in(b), ta, tb, s.out(out));
    return s.finish();
  }
  activate();
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::int64_t ar = sa[sa.rank() - 2], ac = sa[sa.rank() - 1];
  const std::int64_t br = sb[sb.rank() - 2], bc = sb[sb.rank() - 1];
  const std::int64_t m = ta ? ac : ar, k = ta ? ar : ac;
  const std::int64_t n = tb ? br : bc;
  std::int64_t batch = 1, b_batch = 1;
  for (int i = 0; i < sa.rank() - 2; ++i) batch *= sa[i];
  for (int i = 0; i < sb.rank() - 2; ++i) b_batch *= sb[i];
  if (b_batch == 1 && !ta)  // leading axes fold into the rows: one GEMM
    return gemm(false, tb, batch * m, n, k, a.dtype(), device_ptr(a), ac, 0, device_ptr(b), bc, 0,
                device_ptr(out), n, 0, 1, false);
  gemm(ta, tb, m, n, k, a.dtype(), device_ptr(a), ac, ar * ac, device_ptr(b), bc,
       b_batch == 1 ? 0 : br * bc, device_ptr(out), n, m * n, batch, false);
}

// float32 dense through cuBLASLt, the bias (and ReLU) in the GEMM's epilogue; false when
// cuBLASLt offers no algorithm (the caller then runs GEMM and a bias/activation kernel).
bool CudaBackend::lt_dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, Epilogue act, Tensor& y) {
  const std::int64_t in = kernel.shape()[0], units = kernel.shape()[1];
  const std::int64_t rows = x.numel() / in;
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  bool done = false;
  try {
    check_blas(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    cublasLtEpilogue_t epi = bias.defined() ? (act == Epilogue::relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                            : (act == Epilogue::relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
    check_blas(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), "epilogue");
    if (bias.defined()) {
      const void* bp = device_ptr(bias);
      check_blas(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp), "bias");
    }
    // Column-major: y^T (units × rows) = kernel^T (units × in) · x^T (in × rows).
    check_blas(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, units, in, units), "layout");
    check_blas(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, in, rows, in), "layout");
    check_blas(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, units, rows, units), "layout");
    check_blas(cublasLtMatmulPreferenceCreate(&pref), "preference");
    std::size_t ws = kLtWorkspace;
    check_blas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws), "workspace");
    // The heuristic assumes 256-byte aligned operands unless told: views into larger tensors
    // (slices with an offset) may be less aligned.
    const std::pair<cublasLtMatmulPreferenceAttributes_t, const void*> operands[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, device_ptr(kernel)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, device_ptr(x)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, device_ptr(y)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, device_ptr(y)}};
    for (const auto& [attribute, address] : operands) {
      std::uint32_t align = 256;
      while (align > 4 && reinterpret_cast<std::uintptr_t>(address) % align) align /= 2;
      check_blas(cublasLtMatmulPreferenceSetAttribute(pref, attribute, &align, sizeof align), "alignment");
    }
    cublasLtMatmulHeuristicResult_t heuristic{};
    int found = 0;
    const float alpha = 1, beta = 0;
    // No algorithm, or one that refuses these operands: false, and the caller's GEMM path runs.
    done = cublasLtMatmulAlgoGetHeuristic(lt_, op, la, lb, lc, lc, pref, 1, &heuristic, &found) ==
               CUBLAS_STATUS_SUCCESS &&
           found > 0 &&
           cublasLtMatmul(lt_, op, &alpha, device_ptr(kernel), la, device_ptr(x), lb, &beta, device_ptr(y), lc,
                          device_ptr(y), lc, &heuristic.algo, lt_workspace_, kLtWorkspace, stream_) ==
               CUBLAS_STATUS_SUCCESS;
  } catch (...) {
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatmulDescDestroy(op);
    throw;
  }
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatmulDescDestroy(op);
  // cuBLASLt has no sigmoid or tanh epilogue: a separate pass (README, "CUDA backend").
  if (done && (act == Epilogue::sigmoid || act == Epilogue::tanh))
    bias_activation(static_cast<int>(act), Elem::f32, device_ptr(y), nullptr, rows, units, stream_);
  return done;
}

void CudaBackend::dense_forward(const Tensor& x, const Tensor& kernel, const Tensor& bias, Epilogue act, Tensor& y) {
  if (cpu::any_half({&x, &kernel, &bias, &y})) {
    Widen w;
    dense_forward(w.in(x), w.in(kernel), w.in(bias), act, w.out(y));
    return w.finish();
  }
  Elem t;
  if (!native("dense_forward") || !floating({&x, &kernel, &bias, &y}, t)) {
    HostStage s(*this);
    host().dense_forward(s.in(x), s.in(kernel), s.in(bias), act, s.out(y));
    return s.finish();
  }
  activate();
  const std::int64_t in = kernel.shape()[0], units = kernel.shape()[1];
  const std::int64_t rows = in ? x.numel() / in : y.numel() / std::max<std::int64_t>(units, 1);
  if (rows == 0 || units == 0) return;
  if (in > 0 && t == Elem::f32 && native("cublaslt") && lt_dense(x, kernel, bias, act, y)) return;
  gemm(false, false, rows, units, in, x.dtype(), device_ptr(x), in, 0, device_ptr(kernel), units, 0,
       device_ptr(y), units, 0, 1, false);
  bias_activation(static_cast<int>(act), t, device_ptr(y), device_ptr(bias), rows, units, stream_);
}

void CudaBackend::dense_backward(const Tensor& x, const Tensor& kernel, const Tensor& y, const Tensor& g,
                                 Epilogue act, Tensor& dx, Tensor& dkernel, Tensor& dbias) {
  if (cpu::any_half({&x, &kernel, &y, &g, &dx, &dkernel, &dbias})) {
    Widen w;
    dense_backward(w.in(x), w.in(kernel), w.in(y), w.in(g), act, w.out(dx), w.out(dkernel), w.out(dbias));
    return w.finish();
  }
  Elem t;
  if (!native("dense_backward") || !floating({&x, &kernel, &y, &g, &dx, &dkernel, &dbias}, t)) {
    HostStage s(*this);
    host().dense_backward(s.in(x), s.in(kernel), s.in(y), s.in(g), act, s.out(dx), s.out(dkernel), s.out(dbias));
    return s.finish();
  }
  activate();
  const std::int64_t in = kernel.shape()[0], units = kernel.shape()[1];
  const std::int64_t rows = units ? g.numel() / units : 0;
  // The gradient at the pre-activation: g itself when linear, else a scratch tensor.
  Tensor gz = act == Epilogue::linear ? g : Tensor::empty(g.shape(), g.dtype(), g.device());
  if (act != Epilogue::linear)
    gpu::epilogue_backward(static_cast<int>(act), t, device_ptr(y), device_ptr(g), device_ptr(gz), g.numel(), stream_);
  if (dbias.defined() && rows > 0)  // the caller zeroed it: the column sums are the gradient
    gpu::sum_axis(t, device_ptr(gz), device_ptr(dbias), 1, rows, units, stream_);
  if (dx.defined())
    gemm(false, true, rows, in, units, g.dtype(), device_ptr(gz), units, 0, device_ptr(kernel), units, 0,
         device_ptr(dx), in, 0, 1, false);
  if (dkernel.defined())
    gemm(true, false, in, units, rows, g.dtype(), device_ptr(x), in, 0, device_ptr(gz), units, 0,
         device_ptr(dkernel), units, 0, 1, false);
}

// --- softmax and cross-entropy -----------------------------------------------------------------

void CudaBackend::softmax(const Tensor& x, const AxisView& v, bool log, Tensor& y) {
  if (cpu::any_half({&x, &y})) {
    Widen w;
    softmax(w.in(x), v, log, w.out(y));
    return w.finish();
  }
  Elem t;
  if (native("softmax") && floating({&x, &y}, t)) {
    activate();
    return gpu::softmax(t, device_ptr(x), device_ptr(y), v.outer, v.n, v.inner, log, stream_);
  }
  HostStage s(*this);
  host().softmax(s.in(x), v, log, s.out(y));
  s.finish();
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& g, const AxisView& v, bool log, Tensor& dx) {
  if (cpu::any_half({&y, &g, &dx})) {
    Widen w;
    softmax_backward(w.in(y), w.in(g), v, log, w.out(dx));
    return w.finish();
  }
  Elem t;
  if (native("softmax_backward") && floating({&y, &g, &dx}, t)) {
    activate();
    return gpu::softmax_backward(t, device_ptr(y), device_ptr(g), device_ptr(dx), v.outer, v.n, v.inner, log, stream_);
  }
  HostStage s(*this);
  host().softmax_backward(s.in(y), s.in(g), v, log, s.out(dx));
  s.finish();
}

void CudaBackend::sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& probs, Tensor& loss) {
  if (cpu::any_half({&logits, &probs, &loss})) {
    Widen w;
    sparse_softmax_cross_entropy(w.in(logits), labels, w.out(probs), w.out(loss));
    return w.finish();
  }
  Elem t;
  if (native("sparse_softmax_cross_entropy") && floating({&logits, &probs, &loss}, t) && labels.dtype() == int64) {
    activate();
    const std::int64_t classes = logits.shape()[logits.ndim() - 1];
    return gpu::sparse_softmax_cross_entropy(t, device_ptr(logits), ptr<std::int64_t>(labels), device_ptr(probs),
                                             device_ptr(loss), loss.numel(), classes, stream_);
  }
  HostStage s(*this);
  host().sparse_softmax_cross_entropy(s.in(logits), s.in(labels), s.out(probs), s.out(loss));
  s.finish();
}

void CudaBackend::sparse_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& g,
                                                        Tensor& dlogits) {
  if (cpu::any_half({&probs, &g, &dlogits})) {
    Widen w;
    sparse_softmax_cross_entropy_backward(w.in(probs), labels, w.in(g), w.out(dlogits));
    return w.finish();
  }
  Elem t;
  if (native("sparse_softmax_cross_entropy_backward") && floating({&probs, &g, &dlogits}, t) &&
      labels.dtype() == int64) {
    activate();
    const std::int64_t classes = probs.shape()[probs.ndim() - 1];
    return gpu::sparse_softmax_cross_entropy_backward(t, device_ptr(probs), ptr<std::int64_t>(labels), device_ptr(g),
                                                      device_ptr(dlogits), g.numel(), classes, stream_);
  }
  HostStage s(*this);
  host().sparse_softmax_cross_entropy_backward(s.in(probs), s.in(labels), s.in(g), s.out(dlogits));
  s.finish();
}

void CudaBackend::softmax_cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& logp, Tensor& loss) {
  if (cpu::any_half({&logits, &targets, &logp, &loss})) {
    Widen w;
    softmax_cross_entropy(w.in(logits), w.in(targets), w.out(logp), w.out(loss));
    return w.finish();
  }
  Elem t;
  if (native("softmax_cross_entropy") && floating({&logits, &targets, &logp, &loss}, t)) {
    activate();
    const std::int64_t classes = logits.shape()[logits.ndim() - 1];
    return gpu::softmax_cross_entropy(t, device_ptr(logits), device_ptr(targets), device_ptr(logp), device_ptr(loss),
                                      loss.numel(), classes, stream_);
  }
  HostStage s(*this);
  host().softmax_cross_entropy(s.in(logits), s.in(targets), s.out(logp), s.out(loss));
  s.finish();
}

void CudaBackend::softmax_cross_entropy_backward(const Tensor& logp, const Tensor& targets, const Tensor& g,
                                                 Tensor& dlogits, Tensor& dtargets) {
  if (cpu::any_half({&logp, &targets, &g, &dlogits, &dtargets})) {
    Widen w;
    softmax_cross_entropy_backward(w.in(logp), w.in(targets), w.in(g), w.out(dlogits), w.out(dtargets));
    return w.finish();
  }
  Elem t;
  if (native("softmax_cross_entropy_backward") && floating({&logp, &targets, &g, &dlogits, &dtargets}, t)) {
    activate();
    const std::int64_t classes = logp.shape()[logp.ndim() - 1];
    return gpu::softmax_cross_entropy_backward(t, device_ptr(logp), device_ptr(targets), device_ptr(g),
                                               device_ptr(dlogits), device_ptr(dtargets), g.numel(), classes, stream_);
  }
  HostStage s(*this);
  host().softmax_cross_entropy_backward(s.in(logp), s.in(targets), s.in(g), s.out(dlogits), s.out(dtargets));
  s.finish();
}

void CudaBackend::epilogue_backward(Epilogue act, const Tensor& y, const Tensor& g, Tensor& dz) {
  if (cpu::any_half({&y, &g, &dz})) {
    Widen w;
    epilogue_backward(act, w.in(y), w.in(g), w.out(dz));
    return w.finish();
  }
  Elem t;
  if (native("epilogue_backward") && floating({&y, &g, &dz}, t)) {
    activate();
    return gpu::epilogue_backward(static_cast<int>(act), t, device_ptr(y), device_ptr(g), device_ptr(dz), g.numel(), stream_);
  }
  HostStage s(*this);
  host().epilogue_backward(act, s.in(y), s.in(g), s.out(dz));
  s.finish();
}

void CudaBackend::masked_scale(const Tensor& mask, double scale, const Tensor& x, Tensor& y) {
  if (cpu::any_half({&x, &y})) {
    Widen w;
    masked_scale(mask, scale, w.in(x), w.out(y));
    return w.finish();
  }
  Elem t;
  if (native("masked_scale") && floating({&x, &y}, t) && mask.dtype() == uint8) {
    activate();
    return gpu::masked_scale(t, ptr<std::uint8_t>(mask), scale, device_ptr(x), device_ptr(y), x.numel(), stream_);
  }
  HostStage s(*this);
  host().masked_scale(s.in(mask), scale, s.in(x), s.out(y));
  s.finish();
}

// --- convolution, pooling, and the host fallbacks ----------------------------------------------
// Convolutions with groups = 1, pooling and batch normalization are native; everything else here
// has no GPU version yet and takes the host fallback: grouped (depthwise) and transposed
// convolutions, layer normalization, resampling, the preprocessing kernels, the random draws
// other than dropout's mask (the CPU's Philox stream, so they equal the CPU's value for value),
// and the recurrent cells. Each
// copies its tensors to the host, runs the CPU backend's kernel and copies the outputs back.

void CudaBackend::conv2d_forward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel, const Tensor& bias,
                                 Epilogue act, Tensor& y) {
  if (cpu::any_half({&x, &kernel, &bias, &y})) {
    Widen w;
    conv2d_forward(g, w.in(x), w.in(kernel), w.in(bias), act, w.out(y));
    return w.finish();
  }
  Elem t;
  if (native("conv2d_forward") && g.groups == 1 && floating({&x, &kernel, &bias, &y}, t)) {
    // im2col + one GEMM against the kernel seen as (kh·kw·c, f), then bias and activation.
    activate();
    const std::int64_t rows = g.n * g.oh * g.ow, width = g.col_width();
    if (rows == 0 || g.f == 0) return;
    Tensor col;
    const void* a = device_ptr(x);
    if (!g.pointwise()) {
      col = Tensor::empty(Shape{rows, width}, x.dtype(), x.device());
      im2col(t, device_ptr(x), device_ptr(col), conv_shape(g), stream_);
      a = device_ptr(col);
    }
    gemm(false, false, rows, g.f, width, x.dtype(), a, width, 0, device_ptr(kernel), g.f, 0, device_ptr(y), g.f, 0, 1,
         false);
    bias_activation(static_cast<int>(act), t, device_ptr(y), device_ptr(bias), rows, g.f, stream_);
    return;
  }
  HostStage s(*this);
  host().conv2d_forward(g, s.in(x), s.in(kernel), s.in(bias), act, s.out(y));
  s.finish();
}

void CudaBackend::conv2d_transpose_forward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel,
                                           const Tensor& bias, Epilogue act, Tensor& y) {
  HostStage s(*this);
  host().conv2d_transpose_forward(g, s.in(x), s.in(kernel), s.in(bias), act, s.out(y));
  s.finish();
}

void CudaBackend::conv2d_backward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel, const Tensor& dz,
                                  Tensor& dx, Tensor& dkernel, Tensor& dbias) {
  if (cpu::any_half({&x, &kernel, &dz, &dx, &dkernel, &dbias})) {
    Widen w;
    conv2d_backward(g, w.in(x), w.in(kernel), w.in(dz), w.out(dx), w.out(dkernel), w.out(dbias));
    return w.finish();
  }
  Elem t;
  if (native("conv2d_backward") && g.groups == 1 && floating({&x, &kernel, &dz, &dx, &dkernel, &dbias}, t)) {
    // dbias = column sums of dz; dkernel = colᵀ·dz; dx = col2im(dz·kernelᵀ). Every output is
    // written (the op hands them over uninitialised).
    activate();
    const std::int64_t rows = g.n * g.oh * g.ow, width = g.col_width();
    if (dbias.defined()) {
      if (rows == 0) fill(dbias, 0.0);
      else gpu::sum_axis(t, device_ptr(dz), device_ptr(dbias), 1, rows, g.f, stream_);
    }
    const bool direct = g.pointwise();
    if (dkernel.defined()) {
      const void* a = device_ptr(x);
      Tensor col;
      if (!direct && rows > 0) {
        col = Tensor::empty(Shape{rows, width}, x.dtype(), x.device());
        im2col(t, device_ptr(x), device_ptr(col), conv_shape(g), stream_);
        a = device_ptr(col);
      }
      gemm(true, false, width, g.f, rows, x.dtype(), a, width, 0, device_ptr(dz), g.f, 0, device_ptr(dkernel), g.f, 0,
           1, false);
    }
    if (dx.defined()) {
      if (direct) {
        gemm(false, true, rows, width, g.f, x.dtype(), device_ptr(dz), g.f, 0, device_ptr(kernel), g.f, 0,
             device_ptr(dx), width, 0, 1, false);
      } else if (rows == 0) {
        fill(dx, 0.0);
      } else {
        Tensor dcol = Tensor::empty(Shape{rows, width}, x.dtype(), x.device());
        gemm(false, true, rows, width, g.f, x.dtype(), device_ptr(dz), g.f, 0, device_ptr(kernel), g.f, 0,
             device_ptr(dcol), width, 0, 1, false);
        col2im(t, device_ptr(dcol), device_ptr(dx), conv_shape(g), stream_);
      }
    }
    return;
  }
  HostStage s(*this);
  host().conv2d_backward(g, s.in(x), s.in(kernel), s.in(dz), s.out(dx), s.out(dkernel), s.out(dbias));
  s.finish();
}

void CudaBackend::conv2d_transpose_backward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel,
                                            const Tensor& dz, Tensor& dx, Tensor& dkernel, Tensor& dbias) {
  HostStage s(*this);
  host().conv2d_transpose_backward(g, s.in(x), s.in(kernel), s.in(dz), s.out(dx), s.out(dkernel), s.out(dbias));
  s.finish();
}

void CudaBackend::max_pool2d_forward(const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor& argmax) {
  if (cpu::any_half({&x, &y})) {
    Widen w;
    max_pool2d_forward(g, w.in(x), w.out(y), argmax);
    return w.finish();
  }
  Elem t;
  if (native("max_pool2d_forward") && floating({&x, &y}, t)) {
    activate();
    return max_pool_forward(t, device_ptr(x), device_ptr(y), ptr<std::int32_t>(argmax), pool_shape(g), stream_);
  }
  HostStage s(*this);
  host().max_pool2d_forward(g, s.in(x), s.out(y), s.out(argmax));
  s.finish();
}

void CudaBackend::max_pool2d_backward(const PoolGeometry& g, const Tensor& dy, const Tensor& argmax, Tensor& dx) {
  if (cpu::any_half({&dy, &dx})) {
    Widen w;
    max_pool2d_backward(g, w.in(dy), argmax, w.out(dx));
    return w.finish();
  }
  Elem t;
  if (native("max_pool2d_backward") && floating({&dy, &dx}, t)) {
    activate();
    return max_pool_backward(t, device_ptr(dy), ptr<std::int32_t>(argmax), device_ptr(dx), pool_shape(g), stream_);
  }
  HostStage s(*this);
  host().max_pool2d_backward(g, s.in(dy), s.in(argmax), s.out(dx));
  s.finish();
}

void CudaBackend::avg_pool2d_forward(const PoolGeometry& g, const Tensor& x, Tensor& y) {
  if (cpu::any_half({&x, &y})) {
    Widen w;
    avg_pool2d_forward(g, w.in(x), w.out(y));
    return w.finish();
  }
  Elem t;
  if (native("avg_pool2d_forward") && floating({&x, &y}, t)) {
    activate();
    return avg_pool_forward(t, device_ptr(x), device_ptr(y), pool_shape(g), stream_);
  }
  HostStage s(*this);
  host().avg_pool2d_forward(g, s.in(x), s.out(y));
  s.finish();
}

void CudaBackend::avg_pool2d_backward(const PoolGeometry& g, const Tensor& dy, Tensor& dx) {
  if (cpu::any_half({&dy, &dx})) {
    Widen w;
    avg_pool2d_backward(g, w.in(dy), w.out(dx));
    return w.finish();
  }
  Elem t;
  if (native("avg_pool2d_backward") && floating({&dy, &dx}, t)) {
    activate();
    return avg_pool_backward(t, device_ptr(dy), device_ptr(dx), pool_shape(g), stream_);
  }
  HostStage s(*this);
  host().avg_pool2d_backward(g, s.in(dy), s.out(dx));
  s.finish();
}

void CudaBackend::batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor& y,
                                     Tensor& mean, Tensor& var) {
  if (cpu::any_half({&x, &gamma, &beta, &y, &mean, &var})) {
    Widen w;
    batch_norm_forward(w.in(x), w.in(gamma), w.in(beta), eps, w.out(y), w.out(mean), w.out(var));
    return w.finish();
  }
  Elem t;
  const std::int64_t c = mean.numel(), rows = c ? x.numel() / c : 0;
  if (native("batch_norm_forward") && rows > 0 && floating({&x, &gamma, &beta, &y, &mean, &var}, t)) {
    activate();
    Tensor scratch = Tensor::empty(Shape{2 * c}, x.dtype(), x.device());
    return gpu::batch_norm_forward(t, device_ptr(x), device_ptr(gamma), device_ptr(beta), eps, device_ptr(y),
                                   device_ptr(mean), device_ptr(var), device_ptr(scratch), rows, c, stream_);
  }
  HostStage s(*this);
  host().batch_norm_forward(s.in(x), s.in(gamma), s.in(beta), eps, s.out(y), s.out(mean), s.out(var));
  s.finish();
}

void CudaBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& var,
                                      double eps, const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  if (cpu::any_half({&x, &gamma, &mean, &var, &dy, &dx, &dgamma, &dbeta})) {
    Widen w;
    batch_norm_backward(w.in(x), w.in(gamma), w.in(mean), w.in(var), eps, w.in(dy), w.out(dx), w.out(dgamma), w.out(dbeta));
    return w.finish();
  }
  Elem t;
  const std::int64_t c = mean.numel(), rows = c ? x.numel() / c : 0;
  if (native("batch_norm_backward") && rows > 0 &&
      floating({&x, &gamma, &mean, &var, &dy, &dx, &dgamma, &dbeta}, t)) {
    activate();
    Tensor scratch = Tensor::empty(Shape{3 * c}, x.dtype(), x.device());
    return gpu::batch_norm_backward(t, device_ptr(x), device_ptr(gamma), device_ptr(mean), device_ptr(var), eps,
                                    device_ptr(dy), device_ptr(dx), device_ptr(dgamma), device_ptr(dbeta),
                                    device_ptr(scratch), rows, c, stream_);
  }
  HostStage s(*this);
  host().batch_norm_backward(s.in(x), s.in(gamma), s.in(mean), s.in(var), eps, s.in(dy), s.out(dx), s.out(dgamma),
                             s.out(dbeta));
  s.finish();
}

void CudaBackend::layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor& y,
                                     Tensor& mean, Tensor& inv_std) {
  HostStage s(*this);
  host().layer_norm_forward(s.in(x), s.in(gamma), s.in(beta), eps, s.out(y), s.out(mean), s.out(inv_std));
  s.finish();
}

void CudaBackend::layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& inv_std,
                                      const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  HostStage s(*this);
  host().layer_norm_backward(s.in(x), s.in(gamma), s.in(mean), s.in(inv_std), s.in(dy), s.out(dx), s.out(dgamma),
                             s.out(dbeta));
  s.finish();
}

void CudaBackend::shift_window(const Tensor& x, std::int64_t top, std::int64_t left, Tensor& y) {
  HostStage s(*this);
  host().shift_window(s.in(x), top, left, s.out(y));
  s.finish();
}

void CudaBackend::resize_forward(const std::vector<Tap>& rows, const std::vector<Tap>& cols, const Tensor& x, Tensor& y) {
  HostStage s(*this);
  host().resize_forward(rows, cols, s.in(x), s.out(y));
  s.finish();
}

void CudaBackend::resize_backward(const std::vector<Tap>& rows, const std::vector<Tap>& cols, const Tensor& dy,
                                  Tensor& dx) {
  HostStage s(*this);
  host().resize_backward(rows, cols, s.in(dy), s.out(dx));
  s.finish();
}

void CudaBackend::search_sorted(const Tensor& sorted, const Tensor& x, bool right, Tensor& out) {
  HostStage s(*this);
  host().search_sorted(s.in(sorted), s.in(x), right, s.out(out));
  s.finish();
}

void CudaBackend::hash_bucket(backend::HashMethod method, std::int64_t num_bins, std::uint64_t k0, std::uint64_t k1,
                              const Tensor& x, Tensor& out) {
  HostStage s(*this);
  host().hash_bucket(method, num_bins, k0, k1, s.in(x), s.out(out));
  s.finish();
}

void CudaBackend::affine_transform(const backend::ImageTransform& t, const Tensor& x, Tensor& y) {
  HostStage s(*this);
  host().affine_transform(t, s.in(x), s.out(y));
  s.finish();
}

void CudaBackend::affine_transform_backward(const backend::ImageTransform& t, const Tensor& dy, Tensor& dx) {
  HostStage s(*this);
  host().affine_transform_backward(t, s.in(dy), s.out(dx));
  s.finish();
}

void CudaBackend::random_fill(backend::Distribution d, const backend::PhiloxPlace& place, double a, double b,
                              Tensor& out) {
  HostStage s(*this);
  host().random_fill(d, place, a, b, s.out(out));
  s.finish();
}

void CudaBackend::bernoulli_mask(const backend::PhiloxPlace& place, double rate, Tensor& mask) {
  if (native("bernoulli_mask") && mask.dtype() == uint8) {
    // Drawn on the device from the same counters as the CPU's (philox_device.hpp): equal masks.
    activate();
    return gpu::bernoulli_mask(place.key, place.offset, place.stream, rate * 4294967296.0, ptr<std::uint8_t>(mask),
                               mask.numel(), stream_);
  }
  HostStage s(*this);
  host().bernoulli_mask(place, rate, s.out(mask));
  s.finish();
}

void CudaBackend::random_permutation(const backend::PhiloxPlace& place, Tensor& out) {
  HostStage s(*this);
  host().random_permutation(place, s.out(out));
  s.finish();
}

// SGD and Adam (float32 or float64, one dtype throughout) run as one multi-tensor kernel; the
// other rules, and lists the CPU's checks refuse, take the host fallback.
bool CudaBackend::fused_update(backend::UpdateRule rule, const backend::UpdateParams& p,
                               const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                               const std::vector<std::vector<Tensor>>& slots) {
  const bool sgd = rule == backend::UpdateRule::sgd, adam = rule == backend::UpdateRule::adam;
  if (!native("apply_update") || !(sgd || adam) || grads.size() != vars.size() || slots.size() > (sgd ? 1u : 3u))
    return false;
  for (const std::vector<Tensor>& list : slots)
    if (!list.empty() && list.size() != vars.size()) return false;
  if (adam && (slots.size() < 2 || slots[0].empty() || slots[1].empty() ||
               (p.amsgrad && (slots.size() < 3 || slots[2].empty()))))
    return false;
  std::vector<UpdateSpan> spans;
  std::int64_t total = 0;
  DType dtype = float32;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i].defined() || !vars[i].numel()) continue;
    if (spans.empty()) dtype = vars[i].dtype();
    if (vars[i].dtype() != dtype || grads[i].dtype() != dtype || !is_floating(dtype) ||
        (dtype != float32 && dtype != float64))
      return false;
    UpdateSpan span{device_ptr(vars[i]), device_ptr(grads[i]), {nullptr, nullptr, nullptr}, total};
    for (std::size_t k = 0; k < slots.size(); ++k)
      if (!slots[k].empty()) span.s[k] = device_ptr(slots[k][i]);
    spans.push_back(span);
    total += vars[i].numel();
  }
  if (spans.empty()) return true;
  activate();
  const std::size_t bytes = spans.size() * sizeof(UpdateSpan);
  void* table = allocate(bytes);
  copy_from_host(table, spans.data(), bytes);
  const double c[4] = {p.lr, sgd ? p.momentum : 1.0 - p.beta_1, 1.0 - p.beta_2, p.epsilon};
  gpu::apply_update(sgd ? 0 : 1, dtype == float64 ? Elem::f64 : Elem::f32, static_cast<const UpdateSpan*>(table),
                    static_cast<int>(spans.size()), total, c, sgd ? p.nesterov : p.amsgrad, stream_);
  deallocate(table, bytes);  // stream-ordered: freed after the kernel has read it
  return true;
}

void CudaBackend::apply_update(backend::UpdateRule rule, const backend::UpdateParams& p,
                               const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                               const std::vector<std::vector<Tensor>>& slots) {
  if (fused_update(rule, p, grads, vars, slots)) return;
  HostStage s(*this);
  const std::vector<Tensor> g = s.ins(grads), v = s.outs(vars);
  std::vector<std::vector<Tensor>> sl;
  for (const std::vector<Tensor>& k : slots) sl.push_back(s.outs(k));
  host().apply_update(rule, p, g, v, sl);
  s.finish();
}

void CudaBackend::recurrent_forward(const RecurrentGeometry& g, const Tensor& xp, const Tensor& rk, const Tensor& rbias,
                                    const Tensor& h0, const Tensor& c0, const Tensor& mask, const Tensor& rmask,
                                    Tensor& out, Tensor& work) {
  HostStage s(*this);
  host().recurrent_forward(g, s.in(xp), s.in(rk), s.in(rbias), s.in(h0), s.in(c0), s.in(mask), s.in(rmask),
                           s.out(out), s.out(work));
  s.finish();
}

void CudaBackend::recurrent_backward(const RecurrentGeometry& g, const Tensor& rk, const Tensor& h0, const Tensor& c0,
                                     const Tensor& mask, const Tensor& rmask, const Tensor& out, const Tensor& work,
                                     const Tensor& dout, Tensor& dxp, Tensor& drk, Tensor& drbias, Tensor& dh0,
                                     Tensor& dc0) {
  HostStage s(*this);
  host().recurrent_backward(g, s.in(rk), s.in(h0), s.in(c0), s.in(mask), s.in(rmask), s.in(out), s.in(work),
                            s.in(dout), s.out(dxp), s.out(drk), s.out(drbias), s.out(dh0), s.out(dc0));
  s.finish();
}

}  // namespace lamina::gpu

namespace lamina::backend {

std::unique_ptr<Backend> make_cuda_backend(Device device) {
  return std::make_unique<gpu::CudaBackend>(device);
}

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

void cuda_synchronize(Backend& b) {
  auto& cuda = dynamic_cast<gpu::CudaBackend&>(b);
  if (cudaSetDevice(cuda.device().index) != cudaSuccess || cudaStreamSynchronize(cuda.stream()) != cudaSuccess) {
    const cudaError_t e = cudaGetLastError();
    throw DeviceError(cuda.device().str() + ": synchronize failed: " + cudaGetErrorString(e));
  }
}

}  // namespace lamina::backend
