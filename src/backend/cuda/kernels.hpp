// SPDX-License-Identifier: Apache-2.0
// src/backend/cuda/kernels.hpp — the launchers of the CUDA backend's own kernels (kernels.cu).
// Plain pointers and sizes only: the .cu file sees no lamina header, so nvcc compiles one small
// translation unit. Every launcher queues work on `stream` and returns at once; each checks the
// launch and throws through check_launch (cuda_backend.cpp) on failure.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace lamina::gpu {

/// The element types the native kernels run on (others take the host fallback).
enum class Elem : std::uint8_t { f32, f64, i32, i64, u8, f16, bf16 };

/// Up to this many axes: the strided kernels carry shapes and strides by value.
inline constexpr int kMaxRank = 8;
struct Strided {
  int rank = 0;
  std::int64_t shape[kMaxRank] = {};    ///< the output's shape
  std::int64_t stride_a[kMaxRank] = {}; ///< in elements; 0 along broadcast axes
  std::int64_t stride_b[kMaxRank] = {};
};

/// Throws DeviceError naming `what` when the last launch failed (defined in cuda_backend.cpp).
void check_launch(const char* what);

// Layout (any element type, by element size 1, 2, 4 or 8).
void fill_bits(void* out, std::int64_t n, int elem_size, std::uint64_t bits, cudaStream_t s);
/// out[k] = in[Σ idx·stride_a] over the output's index space (transpose and broadcast).
void strided_copy(const void* in, void* out, int elem_size, const Strided& g, std::int64_t n,
                  cudaStream_t s);
void gather_rows(const void* x, const std::int64_t* rows, void* out, std::int64_t m,
                 std::int64_t row_bytes, cudaStream_t s);
void reverse_steps(const void* x, void* out, std::int64_t n, std::int64_t steps,
                   std::int64_t step_bytes, cudaStream_t s);
/// out = cond ? a : b (elements of elem_size bytes).
void where(const std::uint8_t* cond, const void* a, const void* b, void* out, std::int64_t n,
           int elem_size, cudaStream_t s);

// Floating kernels (Elem::f32 or f64).
void cast_float(Elem from, const void* src, Elem to, void* dst, std::int64_t n, cudaStream_t s);
/// float16 or bfloat16 (`half`) to float32 (widen) or back, rounding to nearest even, NaN and
/// Inf kept (the CPU's half.hpp rules).
void cast_half(Elem half, bool widen, const void* src, void* dst, std::int64_t n, cudaStream_t s);
void scatter_add_rows(Elem t, const void* g, const std::int64_t* rows, void* dx, std::int64_t m,
                      std::int64_t row, cudaStream_t s);
void one_hot(Elem t, const std::int64_t* labels, void* out, std::int64_t m, std::int64_t depth,
             cudaStream_t s);
/// op: the value of backend::BinaryOp; comparisons write uint8. t: f32, f64, i32 or i64.
void binary(int op, Elem t, const void* a, const void* b, void* out, const Strided& g,
            std::int64_t n, cudaStream_t s);
/// op: the value of backend::UnaryOp.
void unary(int op, Elem t, const void* x, void* out, std::int64_t n, double pa, double pb,
           cudaStream_t s);
void unary_backward(int op, Elem t, const void* x, const void* y, const void* g, void* dx,
                    std::int64_t n, double pa, double pb, cudaStream_t s);
void masked_scale(Elem t, const std::uint8_t* mask, double scale, const void* x, void* y,
                  std::int64_t n, cudaStream_t s);
/// act: the value of backend::Epilogue. In place: y = act(y + bias) (bias may be null).
void bias_activation(int act, Elem t, void* y, const void* bias, std::int64_t rows,
                     std::int64_t units, cudaStream_t s);
/// dz = g · act'(y), from the saved output y.
void epilogue_backward(int act, Elem t, const void* y, const void* g, void* dz, std::int64_t n,
                       cudaStream_t s);

// Reductions over the (outer, n, inner) view: one thread per (outer, inner) pair, in element
// order, floating sums in double (the CPU's contract: a fixed order, never the launch shape's).
void sum_axis(Elem t, const void* x, void* out, std::int64_t outer, std::int64_t n,
              std::int64_t inner, cudaStream_t s);
void extreme_axis(Elem t, const void* x, void* out, std::int64_t* index, std::int64_t outer,
                  std::int64_t n, std::int64_t inner, bool is_max, cudaStream_t s);
void extreme_axis_backward(Elem t, const void* g, const std::int64_t* index, void* dx,
                           std::int64_t outer, std::int64_t n, std::int64_t inner, cudaStream_t s);
/// *flag (device int) is set to 0 when an element is not finite (the caller sets it to 1).
void all_finite(Elem t, const void* x, std::int64_t n, int* flag, cudaStream_t s);

// Softmax and the cross-entropies, one thread per row.
void softmax(Elem t, const void* x, void* y, std::int64_t outer, std::int64_t n,
             std::int64_t inner, bool log, cudaStream_t s);
void softmax_backward(Elem t, const void* y, const void* g, void* dx, std::int64_t outer,
                      std::int64_t n, std::int64_t inner, bool log, cudaStream_t s);
void sparse_softmax_cross_entropy(Elem t, const void* logits, const std::int64_t* labels,
                                  void* probs, void* loss, std::int64_t rows,
                                  std::int64_t classes, cudaStream_t s);
void sparse_softmax_cross_entropy_backward(Elem t, const void* probs, const std::int64_t* labels,
                                           const void* g, void* dx, std::int64_t rows,
                                           std::int64_t classes, cudaStream_t s);
void softmax_cross_entropy(Elem t, const void* logits, const void* targets, void* logp,
                           void* loss, std::int64_t rows, std::int64_t classes, cudaStream_t s);
/// dx or dt may be null (not wanted).
void softmax_cross_entropy_backward(Elem t, const void* logp, const void* targets, const void* g,
                                    void* dx, void* dt, std::int64_t rows, std::int64_t classes,
                                    cudaStream_t s);

/// mask[i] = gpu::keep(key, offset, stream, threshold, i) (philox_device.hpp): dropout's draw.
void bernoulli_mask(std::uint64_t key, std::uint64_t offset, std::uint32_t stream, double threshold,
                    std::uint8_t* mask, std::int64_t n, cudaStream_t s);

// Convolution (groups = 1) as im2col + GEMM, and NHWC pooling. The geometry as
// backend::ConvGeometry / PoolGeometry say it (kept free of lamina headers here).
struct ConvShape {
  std::int64_t n, h, w, c, kh, kw, f, sh, sw, dh, dw, pad_top, pad_left, oh, ow;
};
/// col (n·oh·ow, kh·kw·c): each output position's window, zeros outside the input.
void im2col(Elem t, const void* x, void* col, const ConvShape& g, cudaStream_t s);
/// dx (n, h, w, c) = the sum of col's entries that read each input element (written, not added).
void col2im(Elem t, const void* col, void* dx, const ConvShape& g, cudaStream_t s);
struct PoolShape {
  std::int64_t n, h, w, c, ph, pw, sh, sw, pad_top, pad_left, oh, ow;
};
void max_pool_forward(Elem t, const void* x, void* y, std::int32_t* argmax, const PoolShape& g, cudaStream_t s);
void max_pool_backward(Elem t, const void* dy, const std::int32_t* argmax, void* dx, const PoolShape& g,
                       cudaStream_t s);
void avg_pool_forward(Elem t, const void* x, void* y, const PoolShape& g, cudaStream_t s);
void avg_pool_backward(Elem t, const void* dy, void* dx, const PoolShape& g, cudaStream_t s);

// BatchNormalization over x viewed as (rows, c), the CPU's two-pass statistics in double: one
// block per channel reduces its column in a fixed tree order (deterministic), then an elementwise
// pass. scratch: 2·c values of T (the per-channel scale and shift, or the backward's k2, k3 and
// k1 in 3·c). gamma/beta may be null.
void batch_norm_forward(Elem t, const void* x, const void* gamma, const void* beta, double eps, void* y,
                        void* mean, void* var, void* scratch, std::int64_t rows, std::int64_t c, cudaStream_t s);
void batch_norm_backward(Elem t, const void* x, const void* gamma, const void* mean, const void* var, double eps,
                         const void* dy, void* dx, void* dgamma, void* dbeta, void* scratch, std::int64_t rows,
                         std::int64_t c, cudaStream_t s);

// The optimizers' fused update: every variable of one dtype in one launch (a multi-tensor
// kernel), each element found in its variable by a binary search over the spans' offsets. The
// arithmetic is the CPU's, operation for operation, with round-to-nearest intrinsics (no fused
// multiply-add), so that the weights stay bit-identical to the CPU's.
struct UpdateSpan {
  void* w;
  const void* g;
  void* s[3];          ///< the rule's slots (null when not given)
  std::int64_t begin;  ///< offset of this variable in the concatenation
};
/// rule: 0 SGD (c = lr, momentum; flag = nesterov), 1 Adam (c = alpha, 1 − β1, 1 − β2, ε;
/// flag = amsgrad). `spans` is in device memory, sorted by begin.
void apply_update(int rule, Elem t, const UpdateSpan* spans, int count, std::int64_t total,
                  const double c[4], bool flag, cudaStream_t s);

}  // namespace lamina::gpu
