// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/cpu_backend.hpp — the host's backend: OpenBLAS GEMMs and lamina's own loops
// (im2col convolutions, fused cells, vectorised elementwise and reduction kernels), on memory
// from a caching allocator. The kernels are defined next to the loops they run, one file per
// family (elementwise.cpp, reduce.cpp, dense.cpp, conv.cpp, ...).
#pragma once

#include "backend/backend.hpp"
#include "backend/caching_allocator.hpp"

namespace lamina::cpu {

class CpuBackend : public backend::Backend {
 public:
  using Backend::Backend;
  using ConvGeometry = backend::ConvGeometry;
  using PoolGeometry = backend::PoolGeometry;
  using RecurrentGeometry = backend::RecurrentGeometry;
  using Epilogue = backend::Epilogue;
  using Tap = backend::Tap;
  using AxisView = backend::AxisView;
  using BinaryOp = backend::BinaryOp;
  using UnaryOp = backend::UnaryOp;
  using UnaryParams = backend::UnaryParams;

  /// The host backend, with its allocator bounded to 2 GiB of cached blocks.
  explicit CpuBackend(Device device);

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

 protected:
  /// For devices that run these kernels on memory of their own (the test device).
  CpuBackend(Device device, backend::CachingAllocator::RawAlloc alloc,
             backend::CachingAllocator::RawFree free);

 private:
  backend::CachingAllocator memory_;
};

}  // namespace lamina::cpu
