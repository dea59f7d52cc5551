// SPDX-License-Identifier: Apache-2.0
// src/backend/backend.hpp — the kernel interface every device implements, and the registry that
// finds a device's backend.
//
// Ops (src/ops) check shapes and dtypes, allocate their outputs on their inputs' device, call one
// of these kernels and record the autograd node. Kernels see only tensors whose shapes and dtypes
// the op has already checked, contiguous and row-major, all on the backend's own device; they
// never allocate the tensors they are given to fill. A new device is one class deriving from
// Backend plus one register_backend() call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/geometry.hpp"
#include "backend/philox.hpp"
#include "lamina/tensor.hpp"

namespace lamina::backend {

// ---------------------------------------------------------------------------------------------
// Kernel vocabulary

enum class BinaryOp : std::uint8_t {
  add, subtract, multiply, divide, maximum, minimum,
  // comparisons write uint8 0/1
  equal, not_equal, less, less_equal, greater, greater_equal,
};
bool is_comparison(BinaryOp op);

enum class UnaryOp : std::uint8_t {
  negative, exp, log, sqrt, square, abs, sign, pow, tanh, sigmoid, relu, erf, clip,
};
/// pow: a = exponent. clip: [a, b].
struct UnaryParams {
  double a = 0, b = 0;
};

enum class Distribution : std::uint8_t { uniform, normal, truncated_normal };

/// How hash_bucket maps an integer to a bucket: floormod (x mod n, the sign of n), or a hash of
/// its decimal text (TensorFlow's as_string), FarmHash's Fingerprint64 (to_hash_bucket_fast) or
/// SipHash-2-4 under a 128-bit key (to_hash_bucket_strong).
enum class HashMethod : std::uint8_t { floormod, fingerprint64, siphash };

/// affine_transform's sampling: TensorFlow's ImageProjectiveTransformV3 interpolations and fill
/// modes (how a point outside the image is read).
enum class SampleInterpolation : std::uint8_t { nearest, bilinear };
enum class FillMode : std::uint8_t { reflect, wrap, constant, nearest };
/// One affine_transform: per image the 8 coefficients (a0 a1 a2 b0 b1 b2 c0 c1) that map an
/// output point (x, y) to the input point ((a0·x + a1·y + a2) / k, (b0·x + b1·y + b2) / k),
/// k = c0·x + c1·y + 1, in float32 as TensorFlow computes them.
struct ImageTransform {
  std::vector<float> coefficients;  ///< 8 per image, or 8 for all
  SampleInterpolation interpolation = SampleInterpolation::bilinear;
  FillMode fill_mode = FillMode::constant;
  double fill_value = 0;
};

/// The optimizers' elementwise update rules (Keras 3's arithmetic), one fused pass over every
/// variable with a gradient.
enum class UpdateRule : std::uint8_t {
  sgd, adam, adamax, nadam, rmsprop, adagrad, adadelta, ftrl, lion,
};
/// One step's hyper-parameters as the rules read them. Step-dependent factors are computed by
/// the optimizer on the host, in double; each rule converts what it reads to the variables'
/// dtype exactly as listed, so that every backend rounds the same constants.
struct UpdateParams {
  /// The rate the rule multiplies by: Adam's alpha = lr·sqrt(1 − β2^t)/(1 − β1^t), Adamax's
  /// lr/(1 − β1^t), the plain learning rate for the others.
  double lr = 0;
  double beta_1 = 0, beta_2 = 0;  ///< adam, adamax, nadam (as 1 − β in double), lion (as β)
  double epsilon = 0;             ///< adam, adamax, nadam, rmsprop, adagrad, adadelta
  double momentum = 0;            ///< sgd, rmsprop
  double rho = 0;                 ///< rmsprop, adadelta
  bool nesterov = false;          ///< sgd
  bool amsgrad = false;           ///< adam
  /// nadam: w −= lr·(m_coefficient·m + g_coefficient·g) / (sqrt(v / v_correction) + ε).
  double m_coefficient = 0, g_coefficient = 0, v_correction = 1;
  /// ftrl: power = −learning_rate_power, l2 = l2 + β/(2·lr), shrinkage = the l2 shrinkage.
  double power = 0, l1 = 0, l2 = 0, shrinkage = 0;
};

/// Where a reduction or softmax runs: the tensor viewed as (outer, n, inner), reducing n.
struct AxisView {
  std::int64_t outer = 1, n = 1, inner = 1;
};
/// `shape` viewed around `axis` (already normalised) as (outer, n, inner).
AxisView axis_view(const Shape& shape, int axis);

// ---------------------------------------------------------------------------------------------
// The interface

class Backend {
 public:
  explicit Backend(Device device) : device_(device) {}
  virtual ~Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  Device device() const { return device_; }

  // --- memory and transfers -------------------------------------------------------------------
  /// A block of at least nbytes (never null; throws OutOfMemoryError naming the device).
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* ptr, std::size_t nbytes) = 0;
  virtual MemoryStats memory_stats() const = 0;
  virtual void reset_peak_memory_stats() = 0;
  virtual void empty_cache() = 0;
  virtual void copy_from_host(void* dst, const void* host_src, std::size_t nbytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, std::size_t nbytes) = 0;
  /// Within this device (source and destination may overlap).
  virtual void copy(void* dst, const void* src, std::size_t nbytes) = 0;

  // --- copy, cast, fill, layout ---------------------------------------------------------------
  virtual void fill(Tensor& out, double value) = 0;
  /// dst = src converted to dst's dtype (same number of elements).
  virtual void cast(const Tensor& src, Tensor& dst) = 0;
  /// out = x with its axes permuted (out.shape()[i] == x.shape()[perm[i]]).
  virtual void transpose(const Tensor& x, const std::vector<int>& perm, Tensor& out) = 0;
  /// Writes x into the block of out that starts at `offset` along the axis of view (outer, n,
  /// inner) of out; x is (outer, x_n, inner). backward = true reads that block of out into x.
  virtual void copy_axis_block(Tensor& x, Tensor& out, const AxisView& out_view,
                               std::int64_t offset, bool backward) = 0;
  /// out = x broadcast to out's shape (NumPy rules).
  virtual void broadcast(const Tensor& x, Tensor& out) = 0;
  /// out[i] = x[rows[i]] (rows of the leading axis); indices are int64 on the device.
  virtual void gather_rows(const Tensor& x, const Tensor& rows, Tensor& out) = 0;
  /// dx[rows[i]] += g[i] (dx is zeroed by the caller).
  virtual void scatter_add_rows(const Tensor& g, const Tensor& rows, Tensor& dx) = 0;
  /// out (…, depth) = one-hot of int64 labels, already range-checked.
  virtual void one_hot(const Tensor& labels, Tensor& out) = 0;
  /// out (n, steps, …) = x with the step axis reversed.
  virtual void reverse_steps(const Tensor& x, Tensor& out) = 0;

  // --- elementwise ----------------------------------------------------------------------------
  /// out = a op b with NumPy broadcasting; a and b share a dtype.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) = 0;
  virtual void unary(UnaryOp op, const Tensor& x, Tensor& out, UnaryParams p = {}) = 0;
  /// dx = g · f'(x) given y = f(x).
  virtual void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g,
                              Tensor& dx, UnaryParams p = {}) = 0;
  /// out = cond ? a : b, all of out's shape (cond is uint8).
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) = 0;

  // --- reductions -----------------------------------------------------------------------------
  /// out (outer, inner) = Σ over n. Floating sums accumulate in double in a fixed order.
  virtual void sum_axis(const Tensor& x, const AxisView& v, Tensor& out) = 0;
  /// out = max or min over n (NaN wins), index (int64) of the first extreme element.
  virtual void extreme_axis(const Tensor& x, const AxisView& v, bool is_max, Tensor& out,
                            Tensor& index) = 0;
  /// dx (zeroed by the caller) gets g at each saved index.
  virtual void extreme_axis_backward(const Tensor& g, const Tensor& index, const AxisView& v,
                                     Tensor& dx) = 0;
  /// Whether every element is finite (true for integer tensors).
  virtual bool all_finite(const Tensor& x) = 0;
  /// Σ x² of a floating tensor, each square and the sum in double, in element order (the
  /// optimizers' clipnorm).
  virtual double sum_of_squares(const Tensor& x) = 0;

  // --- matrix products ------------------------------------------------------------------------
  /// out = op(a) · op(b), batched over a's leading axes; b is 2-D or has a's batch axes.
  virtual void matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                      Tensor& out) = 0;
  /// y = act(x · kernel + bias); x is (rows, in), kernel (in, units), bias (units) or undefined.
  virtual void dense_forward(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                             Epilogue act, Tensor& y) = 0;
  /// From g = dL/dy and the saved y: the gradients asked for (undefined outputs are skipped).
  /// dbias is zeroed by the caller.
  virtual void dense_backward(const Tensor& x, const Tensor& kernel, const Tensor& y,
                              const Tensor& g, Epilogue act, Tensor& dx, Tensor& dkernel,
                              Tensor& dbias) = 0;

  // --- softmax and cross-entropy --------------------------------------------------------------
  virtual void softmax(const Tensor& x, const AxisView& v, bool log, Tensor& y) = 0;
  virtual void softmax_backward(const Tensor& y, const Tensor& g, const AxisView& v, bool log,
                                Tensor& dx) = 0;
  /// Per row of (rows, classes) logits with int64 labels: probs = softmax, loss = −log p[label].
  virtual void sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels,
                                            Tensor& probs, Tensor& loss) = 0;
  virtual void sparse_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels,
                                                     const Tensor& g, Tensor& dlogits) = 0;
  /// Per row with dense targets: logp = log_softmax, loss = −Σ t·logp.
  virtual void softmax_cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& logp,
                                     Tensor& loss) = 0;
  /// Either gradient may be undefined (not wanted).
  virtual void softmax_cross_entropy_backward(const Tensor& logp, const Tensor& targets,
                                              const Tensor& g, Tensor& dlogits,
                                              Tensor& dtargets) = 0;

  // --- convolution, pooling, normalization, resampling ----------------------------------------
  virtual void conv2d_forward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel,
                              const Tensor& bias, Epilogue act, Tensor& y) = 0;
  virtual void conv2d_transpose_forward(const ConvGeometry& g, const Tensor& x,
                                        const Tensor& kernel, const Tensor& bias, Epilogue act,
                                        Tensor& y) = 0;
  /// dz = g · act'(y), from the saved output.
  virtual void epilogue_backward(Epilogue act, const Tensor& y, const Tensor& g, Tensor& dz) = 0;
  /// Undefined gradient outputs are not wanted.
  virtual void conv2d_backward(const ConvGeometry& g, const Tensor& x, const Tensor& kernel,
                               const Tensor& dz, Tensor& dx, Tensor& dkernel, Tensor& dbias) = 0;
  virtual void conv2d_transpose_backward(const ConvGeometry& g, const Tensor& x,
                                         const Tensor& kernel, const Tensor& dz, Tensor& dx,
                                         Tensor& dkernel, Tensor& dbias) = 0;
  /// argmax (int32) is written when defined.
  virtual void max_pool2d_forward(const PoolGeometry& g, const Tensor& x, Tensor& y,
                                  Tensor& argmax) = 0;
  virtual void max_pool2d_backward(const PoolGeometry& g, const Tensor& dy, const Tensor& argmax,
                                   Tensor& dx) = 0;
  virtual void avg_pool2d_forward(const PoolGeometry& g, const Tensor& x, Tensor& y) = 0;
  virtual void avg_pool2d_backward(const PoolGeometry& g, const Tensor& dy, Tensor& dx) = 0;
  /// x viewed as (rows, c); gamma/beta may be undefined. Writes the batch mean and variance.
  virtual void batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  double eps, Tensor& y, Tensor& mean, Tensor& var) = 0;
  virtual void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                   const Tensor& var, double eps, const Tensor& dy, Tensor& dx,
                                   Tensor& dgamma, Tensor& dbeta) = 0;
  virtual void layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  double eps, Tensor& y, Tensor& mean, Tensor& inv_std) = 0;
  virtual void layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                   const Tensor& inv_std, const Tensor& dy, Tensor& dx,
                                   Tensor& dgamma, Tensor& dbeta) = 0;
  /// y (n, oh, ow, c) = the window of x (n, h, w, c) at (top, left); outside reads zero.
  virtual void shift_window(const Tensor& x, std::int64_t top, std::int64_t left, Tensor& y) = 0;
  virtual void resize_forward(const std::vector<Tap>& rows, const std::vector<Tap>& cols,
                              const Tensor& x, Tensor& y) = 0;
  virtual void resize_backward(const std::vector<Tap>& rows, const std::vector<Tap>& cols,
                               const Tensor& dy, Tensor& dx) = 0;

  // --- preprocessing lookups and image transforms -----------------------------------------------
  /// out (int64, x's shape) = NumPy's searchsorted: per element of x, how many of `sorted`
  /// (1-D, ascending, x's dtype) are < x (`right`: <= x).
  virtual void search_sorted(const Tensor& sorted, const Tensor& x, bool right, Tensor& out) = 0;
  /// out (int64, x's shape) = the bucket in [0, num_bins) of each element of x (int64) by
  /// `method`; key is SipHash's (k0, k1).
  virtual void hash_bucket(HashMethod method, std::int64_t num_bins, std::uint64_t k0, std::uint64_t k1,
                           const Tensor& x, Tensor& out) = 0;
  /// y (n, h, w, c) = x (n, h, w, c) sampled at the transformed points of each output pixel.
  virtual void affine_transform(const ImageTransform& t, const Tensor& x, Tensor& y) = 0;
  /// dx (zeroed here) = the adjoint of affine_transform applied to dy.
  virtual void affine_transform_backward(const ImageTransform& t, const Tensor& dy, Tensor& dx) = 0;

  // --- random draws (counter-based: value i is a function of the place and i alone) ----------
  /// out = uniform [a, b), normal (mean a, stddev b) or Keras's truncated normal (redrawn
  /// outside ±2 stddev), float32 or float64.
  virtual void random_fill(Distribution d, const PhiloxPlace& place, double a, double b,
                           Tensor& out) = 0;
  /// uint8 mask: 1 (keep) with probability 1 − rate.
  virtual void bernoulli_mask(const PhiloxPlace& place, double rate, Tensor& mask) = 0;
  /// y = mask ? x·scale : 0.
  virtual void masked_scale(const Tensor& mask, double scale, const Tensor& x, Tensor& y) = 0;
  /// out (int64, n) = a permutation of 0..n−1.
  virtual void random_permutation(const PhiloxPlace& place, Tensor& out) = 0;

  // --- optimizer updates ----------------------------------------------------------------------
  /// vars[i] and its slots updated in place by `rule` with grads[i], for every i whose gradient
  /// is defined (grads[i] has vars[i]'s shape and dtype). slots[k] lists the k-th state of every
  /// variable, or is empty when the rule runs without it (sgd: momentum; adam: momentum,
  /// velocity, velocity_hat; adamax: momentum, norm; nadam: momentum, velocity; rmsprop:
  /// velocity, momentum, average_gradient; adagrad: accumulator; adadelta: accumulated_grad,
  /// accumulated_delta_var; ftrl: accumulator, linear; lion: momentum).
  virtual void apply_update(UpdateRule rule, const UpdateParams& p,
                            const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                            const std::vector<std::vector<Tensor>>& slots) = 0;

  // --- recurrent cells ------------------------------------------------------------------------
  /// See RecurrentGeometry for the tensors; optional ones may be undefined; mask is uint8.
  virtual void recurrent_forward(const RecurrentGeometry& g, const Tensor& xp, const Tensor& rk,
                                 const Tensor& rbias, const Tensor& h0, const Tensor& c0,
                                 const Tensor& mask, const Tensor& rmask, Tensor& out,
                                 Tensor& work) = 0;
  virtual void recurrent_backward(const RecurrentGeometry& g, const Tensor& rk, const Tensor& h0,
                                  const Tensor& c0, const Tensor& mask, const Tensor& rmask,
                                  const Tensor& out, const Tensor& work, const Tensor& dout,
                                  Tensor& dxp, Tensor& drk, Tensor& drbias, Tensor& dh0,
                                  Tensor& dc0) = 0;

 private:
  Device device_;
};

// ---------------------------------------------------------------------------------------------
// Registry

using BackendFactory = std::function<std::unique_ptr<Backend>(Device)>;

/// Makes `factory` the maker of backends for every device of `type` (replacing an earlier one).
void register_backend(DeviceType type, BackendFactory factory);
/// The backend of a device, made on first use; throws ValueError naming the device when no
/// backend for it is registered (e.g. CUDA in a build without it).
Backend& get(Device device);
/// The backend of the tensors' common device; throws DeviceError naming both devices when two
/// defined tensors live on different devices. Undefined tensors are skipped.
Backend& of(const char* op, std::initializer_list<const Tensor*> tensors);
Backend& of(const char* op, const std::vector<const Tensor*>& tensors);
inline Backend& of(const char* op, const Tensor& a) { return of(op, {&a}); }
inline Backend& of(const char* op, const Tensor& a, const Tensor& b) { return of(op, {&a, &b}); }

/// The element pointer of a tensor on any device, for kernels (never the host's business: a
/// host read of it is what Tensor::data<T>() refuses for device tensors).
void* kernel_data(const Tensor& t);
template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(kernel_data(t)) : nullptr;
}

}  // namespace lamina::backend
