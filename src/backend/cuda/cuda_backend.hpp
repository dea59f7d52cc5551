// SPDX-License-Identifier: Apache-2.0
// src/backend/cuda/cuda_backend.hpp — the CUDA backend: memory from a stream-ordered pool
// (cudaMallocFromPoolAsync, with a release threshold that keeps freed memory cached), one
// compute stream per device, cuBLAS/cuBLASLt GEMMs, lamina's own kernels (kernels.cu) and, for
// the kernels not yet written for the GPU, a correct host fallback: the tensors are copied to
// the host, the CPU backend's kernel runs, and the outputs are copied back (HostStage). The
// table of which kernel is native is in README.md ("CUDA backend").
//
// LAMINA_CUDA_FALLBACK=all (or a comma-separated list of kernel names) sends those kernels
// through the host fallback even where a native one exists: a GPU session bisects a wrong
// result with it.
#pragma once

#include <cuda_runtime_api.h>
#include <cublasLt.h>
#include <cublas_v2.h>

#include <mutex>
#include <string>

#include "backend/backend.hpp"

namespace lamina::gpu {

class CudaBackend final : public backend::Backend {
 public:
  using ConvGeometry = backend::ConvGeometry;
  using PoolGeometry = backend::PoolGeometry;
  using RecurrentGeometry = backend::RecurrentGeometry;
  using Epilogue = backend::Epilogue;
  using Tap = backend::Tap;
  using AxisView = backend::AxisView;
  using BinaryOp = backend::BinaryOp;
  using UnaryOp = backend::UnaryOp;
  using UnaryParams = backend::UnaryParams;

  /// Throws DeviceError when the device is not visible.
  explicit CudaBackend(Device device);
  ~CudaBackend() override;

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  MemoryStats memory_stats() const override;
  void reset_peak_memory_stats() override;
  void empty_cache() override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes) override;
  void copy(void* dst, const void* src, std::size_t nbytes) override;
  void fill(Tensor& out, double value) override;
  void cast(const Tensor& src, Tensor& dst) override;
  void transpose(const Tensor& x, const std::vector<int>& perm, Tensor& out) override;
  void copy_axis_block(Tensor& x, Tensor& out, const AxisView& out_view, std::int64_t offset, bool backward) override;
  void broadcast(const Tensor& x, Tensor& out) override;
  void gather_rows(const Tensor& x, const Tensor& rows, Tensor& out) override;
  void scatter_add_rows(const Tensor& g, const Tensor& rows, Tensor& dx) override;
  void one_hot(const Tensor& labels, Tensor& out) override;
  void reverse_steps(const Tensor& x, Tensor& out) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) override;
  void unary(UnaryOp op, const Tensor& x, Tensor& out, UnaryParams p) override;
  void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g, Tensor& dx, UnaryParams p) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) override;
  void sum_axis(const Tensor& x, const AxisView& v, Tensor& out) override;
  void extreme_axis(const Tensor& x, const AxisView& v, bool is_max, Tensor& out, Tensor& index) override;
  void extreme_axis_backward(const Tensor& g, const Tensor& index, const AxisView& v, Tensor& dx) override;
  bool all_finite(const Tensor& x) override;
  double sum_of_squares(const Tensor& x) override;
  void matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out) override;
  void dense_forward(const Tensor& x, const Tensor& kernel, const Tensor& bias, Epilogue act, Tensor& y) override;
  void dense_backward(const Tensor& x, const Tensor& kernel, const Tensor& y, const Tensor& g, Epilogue act, Tensor& dx, Tensor& dkernel, Tensor& dbias) override;
  void softmax(const Tensor& x, const AxisView& v, bool log, Tensor& y) override;
  void softmax_backward(const Tensor& y, const Tensor& g, const AxisView& v, bool log, Tensor& dx) override;
  void sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& probs, Tensor& loss) override;
  void sparse_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& g, Tensor& dlogits) override;
  void softmax_cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& logp, Tensor& loss) override;
  void softmax_cross_entropy_backward(const Tensor& logp, const Tensor& targets, const Tensor& g, Tensor& dlogits, Tensor& dtargets) override;
  void conv2d_forward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel, const Tensor& bias, Epilogue act, Tensor& y) override;
  void conv2d_transpose_forward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel, const Tensor& bias, Epilogue act, Tensor& y) override;
  void epilogue_backward(Epilogue act, const Tensor& y, const Tensor& g, Tensor& dz) override;
  void conv2d_backward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel, const Tensor& dz, Tensor& dx, Tensor& dkernel, Tensor& dbias) override;
  void conv2d_transpose_backward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel, const Tensor& dz, Tensor& dx, Tensor& dkernel, Tensor& dbias) override;
  void max_pool2d_forward(const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor& argmax) override;
  void max_pool2d_backward(const PoolGeometry& g, const Tensor& dy, const Tensor& argmax, Tensor& dx) override;
  void avg_pool2d_forward(const PoolGeometry& g, const Tensor& x, Tensor& y) override;
  void avg_pool2d_backward(const PoolGeometry& g, const Tensor& dy, Tensor& dx) override;
  void batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor& y, Tensor& mean, Tensor& var) override;
  void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& var, double eps, const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta) override;
  void layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor& y, Tensor& mean, Tensor& inv_std) override;
  void layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& inv_std, const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta) override;
  void shift_window(const Tensor& x, std::int64_t top, std::int64_t left, Tensor& y) override;
  void resize_forward(const std::vector<Tap>& rows, const std::vector<Tap>& cols, const Tensor& x, Tensor& y) override;
  void resize_backward(const std::vector<Tap>& rows, const std::vector<Tap>& cols, const Tensor& dy, Tensor& dx) override;
  void search_sorted(const Tensor& sorted, const Tensor& x, bool right, Tensor& out) override;
  void hash_bucket(backend::HashMethod method, std::int64_t num_bins, std::uint64_t k0, std::uint64_t k1, const Tensor& x, Tensor& out) override;
  void affine_transform(const backend::ImageTransform& t, const Tensor& x, Tensor& y) override;
  void affine_transform_backward(const backend::ImageTransform& t, const Tensor& dy, Tensor& dx) override;
  void random_fill(backend::Distribution d, const backend::PhiloxPlace& place, double a, double b, Tensor& out) override;
  void bernoulli_mask(const backend::PhiloxPlace& place, double rate, Tensor& mask) override;
  void masked_scale(const Tensor& mask, double scale, const Tensor& x, Tensor& y) override;
  void random_permutation(const backend::PhiloxPlace& place, Tensor& out) override;

  void apply_update(backend::UpdateRule rule, const backend::UpdateParams& p, const std::vector<Tensor>& grads, const std::vector<Tensor>& vars, const std::vector<std::vector<Tensor>>& slots) override;
  void recurrent_forward(const RecurrentGeometry& g, const Tensor& xp, const Tensor& rk, const Tensor& rbias, const Tensor& h0, const Tensor& c0, const Tensor& mask, const Tensor& rmask, Tensor& out, Tensor& work) override;
  void recurrent_backward(const RecurrentGeometry& g, const Tensor& rk, const Tensor& h0, const Tensor& c0, const Tensor& mask, const Tensor& rmask, const Tensor& out, const Tensor& work, const Tensor& dout, Tensor& dxp, Tensor& drk, Tensor& drbias, Tensor& dh0, Tensor& dc0) override;

  cudaStream_t stream() const { return stream_; }
  /// Whether `kernel` runs natively (not sent to the host by LAMINA_CUDA_FALLBACK).
  bool native(const char* kernel) const;

 private:
  void activate() const;  // makes this device current on the calling thread
  void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
            DType dtype, const void* a, std::int64_t lda, std::int64_t stride_a, const void* b,
            std::int64_t ldb, std::int64_t stride_b, void* c, std::int64_t ldc,
            std::int64_t stride_c, std::int64_t batch, bool accumulate);
  bool fused_update(backend::UpdateRule rule, const backend::UpdateParams& p, const std::vector<Tensor>& grads,
                    const std::vector<Tensor>& vars, const std::vector<std::vector<Tensor>>& slots);
  bool lt_dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, Epilogue act,
                Tensor& y);

  static constexpr std::size_t kLtWorkspace = std::size_t(32) << 20;

  int index_;
  cudaStream_t stream_ = nullptr;
  cudaMemPool_t pool_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* lt_workspace_ = nullptr;
  int* flag_ = nullptr;  // all_finite's answer
  std::string fallback_;  // LAMINA_CUDA_FALLBACK, with commas around each name
  mutable std::mutex mutex_;
  MemoryStats stats_;
};

}  // namespace lamina::gpu
