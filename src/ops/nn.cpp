// SPDX-License-Identifier: Apache-2.0
// Neural-network ops with hand-written backward: softmax, log_softmax, the fused dense layer and
// the fused softmax cross-entropies.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "autograd/node.hpp"
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/gemm.hpp"
#include "backend/cpu/parallel.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace {

void split(const Shape& s, int axis, std::int64_t& outer, std::int64_t& n, std::int64_t& inner) {
  outer = inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  n = s[axis];
  for (int i = axis + 1; i < s.rank(); ++i) inner *= s[i];
}

int norm_axis(int axis, int rank, const char* op) {
  int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) +
                     " is out of range for rank " + std::to_string(rank));
  return a;
}

// y = softmax(x) (log=false) or log_softmax(x) (log=true) along an axis viewed as (outer,n,inner).
template <class T>
void softmax_kernel(const T* x, T* y, std::int64_t outer, std::int64_t n, std::int64_t inner,
                    bool log) {
  cpu::parallel_for(outer * inner, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1)),
                    [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t k = b; k < e; ++k) {
      std::int64_t o = k / inner, c = k % inner;
      const T* xs = x + o * n * inner + c;
      T* ys = y + o * n * inner + c;
      T mx = -std::numeric_limits<T>::infinity();
      for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, xs[i * inner]);
      T total = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        T ev = std::exp(xs[i * inner] - mx);
        total += ev;
        if (!log) ys[i * inner] = ev;
      }
      if (log) {
        T lse = mx + std::log(total);
        for (std::int64_t i = 0; i < n; ++i) ys[i * inner] = xs[i * inner] - lse;
      } else {
        T inv = T(1) / total;
        for (std::int64_t i = 0; i < n; ++i) ys[i * inner] *= inv;
      }
    }
  });
}

Tensor softmax_impl(const Tensor& x, int axis, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  int a = norm_axis(axis, x.ndim(), op);
  std::int64_t outer, n, inner;
  split(x.shape(), a, outer, n, inner);
  Tensor out = make_tensor(x.shape(), x.dtype());
  detail::dispatch_float(x.dtype(), op, [&](auto z) {
    using T = decltype(z);
    softmax_kernel(x.data<T>(), out.data<T>(), outer, n, inner, log);
  });
  if (!autograd::any_requires_grad({&x})) return out;
  Tensor y = out.detach();
  return autograd::record_fn(out, log ? "LogSoftmax" : "Softmax", {x},
                             [y, outer, n, inner, log](const Tensor& g) {
    Tensor dx = make_tensor(g.shape(), g.dtype());
    detail::dispatch_float(g.dtype(), "softmax", [&](auto z) {
      using T = decltype(z);
      const T* gp = g.data<T>();
      const T* yp = y.data<T>();
      T* d = dx.data<T>();
      cpu::parallel_for(outer * inner, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1)),
                        [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t k = b; k < e; ++k) {
          std::int64_t base = (k / inner) * n * inner + k % inner;
          T dot = 0;
          // softmax: dx = y·(g − Σ g·y); log_softmax: dx = g − softmax·Σ g.
          for (std::int64_t i = 0; i < n; ++i)
            dot += log ? gp[base + i * inner] : gp[base + i * inner] * yp[base + i * inner];
          for (std::int64_t i = 0; i < n; ++i) {
            std::int64_t j = base + i * inner;
            d[j] = log ? gp[j] - std::exp(yp[j]) * dot : yp[j] * (gp[j] - dot);
          }
        }
      });
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) {
  Tensor out = softmax_impl(x, axis, false);
  if (axis == -1 || axis == x.ndim() - 1) {
    out.impl()->logits_of = LogitsOf::softmax;
    out.impl()->logits = x;
  }
  return out;
}

Tensor log_softmax(const Tensor& x, int axis) { return softmax_impl(x, axis, true); }

Tensor softmax_logits_of(const Tensor& probs) {
  return probs.defined() && probs.impl()->logits_of == LogitsOf::softmax ? probs.impl()->logits
                                                                         : Tensor();
}

Tensor sigmoid_logits_of(const Tensor& probs) {
  return probs.defined() && probs.impl()->logits_of == LogitsOf::sigmoid ? probs.impl()->logits
                                                                         : Tensor();
}

// --- fused dense -----------------------------------------------------------------------------------

namespace {

// One sweep over the rows gives both the gradient at the pre-activation z and the bias
// gradient: gz = g·act'(z) (from y = act(z)); gb_j += Σ_r gz_rj (rows added in order).
template <class T>
LAMINA_KERNEL void dense_pre_activation_grad(FusedActivation act, std::int64_t rows,
                                             std::int64_t units, const T* gp, const T* yp, T* d,
                                             T* gbp) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* __restrict gr = gp + r * units;
    const T* __restrict yr = yp + r * units;
    T* __restrict dr = d + r * units;
    switch (act) {
      case FusedActivation::relu:
        for (std::int64_t j = 0; j < units; ++j) dr[j] = yr[j] <= T(0) ? T(0) : gr[j];  // NaN passes the gradient, as PyTorch
        break;
      case FusedActivation::sigmoid:
        for (std::int64_t j = 0; j < units; ++j) dr[j] = gr[j] * yr[j] * (T(1) - yr[j]);
        break;
      case FusedActivation::tanh:
        for (std::int64_t j = 0; j < units; ++j) dr[j] = gr[j] * (T(1) - yr[j] * yr[j]);
        break;
      default: break;
    }
    if (gbp) {
      const T* __restrict src = act == FusedActivation::linear ? gr : dr;
      for (std::int64_t j = 0; j < units; ++j) gbp[j] += src[j];
    }
  }
}

}  // namespace

Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, FusedActivation act) {
  if (kernel.ndim() != 2)
    throw ShapeError("dense: kernel must be 2-D (in, out), got " + kernel.shape().str());
  if (x.ndim() < 1 || x.shape()[x.ndim() - 1] != kernel.shape()[0])
    throw ShapeError("dense: input " + x.shape().str() + " does not fit kernel " +
                     kernel.shape().str() + " (last dimension must be " +
                     std::to_string(kernel.shape()[0]) + ")");
  const std::int64_t in = kernel.shape()[0], units = kernel.shape()[1];
  if (bias.defined() && (bias.ndim() != 1 || bias.shape()[0] != units))
    throw ShapeError("dense: bias must have shape (" + std::to_string(units) + ",), got " +
                     bias.shape().str());
  if (x.dtype() != kernel.dtype())
    throw TypeError(std::string("dense: input is ") + dtype_name(x.dtype()) + " but kernel is " +
                    dtype_name(kernel.dtype()));
  if (bias.defined() && bias.dtype() != kernel.dtype())
    throw TypeError(std::string("dense: bias is ") + dtype_name(bias.dtype()) + " but kernel is " +
                    dtype_name(kernel.dtype()));
  std::int64_t rows = 1;  // the product of the leading axes (also right when in == 0)
  for (int i = 0; i + 1 < x.ndim(); ++i) rows *= x.shape()[i];
  Shape out_shape = x.shape();
  out_shape[out_shape.rank() - 1] = units;
  Tensor out = make_tensor(out_shape, x.dtype());
  detail::dispatch_float(x.dtype(), "dense", [&](auto z) {
    using T = decltype(z);
    T* y = out.data<T>();
    T beta = T(0);
    if (bias.defined()) {
      // Start from the broadcast bias and let GEMM accumulate into it (beta = 1).
      const T* b = bias.data<T>();
      for (std::int64_t r = 0; r < rows; ++r) std::copy(b, b + units, y + r * units);
      beta = T(1);
    }
    cpu::gemm(false, false, rows, units, in, T(1), x.data<T>(), in, kernel.data<T>(), units, beta,
              y, units);
    const std::int64_t total = rows * units;
    // ReLU is one compare per element: a batch of MLP activations (~1e5) takes microseconds, less
    // than waking the pool while OpenBLAS's threads still hold the cores. Exp-based ones split.
    const std::int64_t grain = act == FusedActivation::relu ? (1 << 20) : (1 << 14);
    if (act != FusedActivation::linear) {
      cpu::parallel_for(total, grain, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
        switch (act) {
          case FusedActivation::relu:
            // NaN fails the test and stays NaN, as relu's.
            for (std::int64_t i = s; i < e; ++i) y[i] = y[i] < T(0) ? T(0) : y[i];
            break;
          case FusedActivation::sigmoid:
            for (std::int64_t i = s; i < e; ++i) y[i] = T(1) / (T(1) + std::exp(-y[i]));
            break;
          case FusedActivation::tanh:
            for (std::int64_t i = s; i < e; ++i) y[i] = std::tanh(y[i]);
            break;
          default: break;
        }
      });
    }
  });
  if (!autograd::any_requires_grad({&x, &kernel, &bias})) return out;
  Tensor y = out.detach();
  return autograd::record_fn(out, "Dense", {x, kernel, bias},
                             [x, kernel, bias, y, act, rows, in, units](const Tensor& g) {
    const bool want_gb = bias.defined() && bias.requires_grad();
    Tensor gz = act == FusedActivation::linear ? g : make_tensor(g.shape(), g.dtype());
    Tensor gb = want_gb ? Tensor::zeros(bias.shape(), bias.dtype()) : Tensor();
    Tensor gx, gk;
    detail::dispatch_float(g.dtype(), "dense", [&](auto z) {
      using T = decltype(z);
      const T* gp = g.data<T>();
      const T* yp = y.data<T>();
      T* d = gz.template data<T>();
      T* gbp = want_gb ? gb.template data<T>() : nullptr;
      dense_pre_activation_grad(act, rows, units, gp, yp, d, gbp);
      if (x.requires_grad()) {
        gx = make_tensor(x.shape(), x.dtype());
        cpu::gemm(false, true, rows, in, units, T(1), gz.template data<T>(), units,
                  kernel.template data<T>(), units, T(0), gx.template data<T>(), in);
      }
      if (kernel.requires_grad()) {
        gk = make_tensor(kernel.shape(), kernel.dtype());
        cpu::gemm(true, false, in, units, rows, T(1), x.template data<T>(), in,
                  gz.template data<T>(), units, T(0), gk.template data<T>(), units);
      }
    });
    return std::vector<Tensor>{gx, gk, gb};
  });
}

// --- fused softmax cross-entropy ------------------------------------------------------------------

Tensor sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels) {
  if (logits.ndim() < 1) throw ShapeError("sparse_softmax_cross_entropy: logits must have a class axis");
  const std::int64_t classes = logits.shape()[logits.ndim() - 1];
  Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  if (labels.numel() != lead.numel())
    throw ShapeError("sparse_softmax_cross_entropy: labels of shape " + labels.shape().str() +
                     " do not fit logits of shape " + logits.shape().str());
  const std::int64_t rows = lead.numel();
  std::vector<std::int64_t> idx(static_cast<std::size_t>(rows));
  detail::dispatch_all(labels.dtype(), [&](auto z) {
    using L = decltype(z);
    const L* lp = labels.data<L>();
    for (std::int64_t i = 0; i < rows; ++i) {
      double v = static_cast<double>(lp[i]);
      if (!(v >= 0 && v < classes) || v != std::floor(v))
        throw ValueError("sparse_softmax_cross_entropy: label " + std::to_string(v) +
                         " is outside [0, " + std::to_string(classes) + ")");
      idx[i] = static_cast<std::int64_t>(v);
    }
  });
  Tensor probs = make_tensor(logits.shape(), logits.dtype());
  Tensor loss = make_tensor(lead, logits.dtype());
  detail::dispatch_float(logits.dtype(), "sparse_softmax_cross_entropy", [&](auto z) {
    using T = decltype(z);
    const T* x = logits.data<T>();
    T* p = probs.data<T>();
    T* l = loss.data<T>();
    softmax_kernel(x, p, rows, classes, 1, true);  // log-probabilities
    for (std::int64_t r = 0; r < rows; ++r) {
      l[r] = -p[r * classes + idx[r]];
      for (std::int64_t c = 0; c < classes; ++c) p[r * classes + c] = std::exp(p[r * classes + c]);
    }
  });
  return autograd::record_fn(loss, "SparseSoftmaxCrossEntropy", {logits},
                             [probs, idx, rows, classes](const Tensor& g) {
    // d loss_r / d logit_rc = p_rc − [c == label_r]
    Tensor dx = make_tensor(probs.shape(), probs.dtype());
    detail::dispatch_float(probs.dtype(), "sparse_softmax_cross_entropy", [&](auto z) {
      using T = decltype(z);
      const T* p = probs.data<T>();
      const T* gp = g.data<T>();
      T* d = dx.data<T>();
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t c = 0; c < classes; ++c) d[r * classes + c] = p[r * classes + c] * gp[r];
        d[r * classes + idx[r]] -= gp[r];
      }
    });
    return std::vector<Tensor>{dx};
  });
}

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& targets) {
  if (logits.ndim() < 1) throw ShapeError("softmax_cross_entropy: logits must have a class axis");
  if (logits.shape() != targets.shape())
    throw ShapeError("softmax_cross_entropy: targets of shape " + targets.shape().str() +
                     " do not match logits of shape " + logits.shape().str());
  const std::int64_t classes = logits.shape()[logits.ndim() - 1];
  Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  const std::int64_t rows = lead.numel();
  Tensor t = targets.dtype() == logits.dtype() ? targets : targets.astype(logits.dtype());
  Tensor logp = make_tensor(logits.shape(), logits.dtype());
  Tensor loss = make_tensor(lead, logits.dtype());
  detail::dispatch_float(logits.dtype(), "softmax_cross_entropy", [&](auto z) {
    using T = decltype(z);
    softmax_kernel(logits.data<T>(), logp.data<T>(), rows, classes, 1, true);
    const T* lp = logp.data<T>();
    const T* tp = t.data<T>();
    T* l = loss.data<T>();
    for (std::int64_t r = 0; r < rows; ++r) {
      T acc = 0;
      for (std::int64_t c = 0; c < classes; ++c) acc -= tp[r * classes + c] * lp[r * classes + c];
      l[r] = acc;
    }
  });
  Tensor td = t.detach();
  return autograd::record_fn(loss, "SoftmaxCrossEntropy", {logits, t},
                             [logp, td, rows, classes](const Tensor& g) {
    // d/dlogits = g·(softmax·Σt − t); d/dt = −g·log_softmax
    Tensor dx = make_tensor(logp.shape(), logp.dtype());
    Tensor dt = make_tensor(logp.shape(), logp.dtype());
    detail::dispatch_float(logp.dtype(), "softmax_cross_entropy", [&](auto z) {
      using T = decltype(z);
      const T* lp = logp.data<T>();
      const T* tp = td.data<T>();
      const T* gp = g.data<T>();
      T* d = dx.data<T>();
      T* dtp = dt.data<T>();
      for (std::int64_t r = 0; r < rows; ++r) {
        T tsum = 0;
        for (std::int64_t c = 0; c < classes; ++c) tsum += tp[r * classes + c];
        for (std::int64_t c = 0; c < classes; ++c) {
          std::int64_t j = r * classes + c;
          d[j] = gp[r] * (std::exp(lp[j]) * tsum - tp[j]);
          dtp[j] = -gp[r] * lp[j];
        }
      }
    });
    return std::vector<Tensor>{dx, dt};
  });
}

}  // namespace lamina
