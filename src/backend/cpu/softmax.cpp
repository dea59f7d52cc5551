// SPDX-License-Identifier: Apache-2.0
// The host's softmax and log-softmax along any axis, and the fused softmax cross-entropies.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::cpu {
namespace {

using backend::ptr;

// y = softmax(x) (log=false) or log_softmax(x) (log=true) along an axis viewed as (outer,n,inner).
template <class T>
void softmax_kernel(const T* x, T* y, std::int64_t outer, std::int64_t n, std::int64_t inner,
                    bool log) {
  parallel_for(outer * inner, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1)),
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

}  // namespace

void CpuBackend::softmax(const Tensor& x, const AxisView& v, bool log, Tensor& out) {
  if (any_half({&x, &out})) {
    Tensor wide_out = widened(out);
    softmax(widened(x), v, log, wide_out);
    narrow_into(wide_out, out);
    return;
  }
  detail::dispatch_float(x.dtype(), log ? "log_softmax" : "softmax", [&](auto z) {
    using T = decltype(z);
    softmax_kernel(ptr<T>(x), ptr<T>(out), v.outer, v.n, v.inner, log);
  });
}

void CpuBackend::softmax_backward(const Tensor& y, const Tensor& g, const AxisView& v, bool log,
                                  Tensor& dx) {
  if (any_half({&y, &g, &dx})) {
    Tensor wide_dx = widened(dx);
    softmax_backward(widened(y), widened(g), v, log, wide_dx);
    narrow_into(wide_dx, dx);
    return;
  }
  const std::int64_t outer = v.outer, n = v.n, inner = v.inner;
  detail::dispatch_float(g.dtype(), "softmax", [&](auto z) {
    using T = decltype(z);
    const T* gp = ptr<T>(g);
    const T* yp = ptr<T>(y);
    T* d = ptr<T>(dx);
    parallel_for(outer * inner, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1)),
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
}

void CpuBackend::sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels,
                                              Tensor& probs, Tensor& loss) {
  if (any_half({&logits, &labels, &probs, &loss})) {
    Tensor wide_probs = widened(probs);
    Tensor wide_loss = widened(loss);
    sparse_softmax_cross_entropy(widened(logits), widened(labels), wide_probs, wide_loss);
    narrow_into(wide_probs, probs);
    narrow_into(wide_loss, loss);
    return;
  }
  const std::int64_t classes = logits.shape()[logits.ndim() - 1];
  const std::int64_t rows = loss.numel();
  const std::int64_t* idx = ptr<std::int64_t>(labels);
  detail::dispatch_float(logits.dtype(), "sparse_softmax_cross_entropy", [&](auto z) {
    using T = decltype(z);
    T* p = ptr<T>(probs);
    T* l = ptr<T>(loss);
    softmax_kernel(ptr<T>(logits), p, rows, classes, 1, true);  // log-probabilities
    for (std::int64_t r = 0; r < rows; ++r) {
      l[r] = -p[r * classes + idx[r]];
      for (std::int64_t c = 0; c < classes; ++c) p[r * classes + c] = std::exp(p[r * classes + c]);
    }
  });
}

void CpuBackend::sparse_softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels,
                                                       const Tensor& g, Tensor& dx) {
  if (any_half({&probs, &labels, &g, &dx})) {
    Tensor wide_dx = widened(dx);
    sparse_softmax_cross_entropy_backward(widened(probs), widened(labels), widened(g), wide_dx);
    narrow_into(wide_dx, dx);
    return;
  }
  const std::int64_t classes = probs.shape()[probs.ndim() - 1];
  const std::int64_t rows = g.numel();
  const std::int64_t* idx = ptr<std::int64_t>(labels);
  // d loss_r / d logit_rc = p_rc − [c == label_r]
  detail::dispatch_float(probs.dtype(), "sparse_softmax_cross_entropy", [&](auto z) {
    using T = decltype(z);
    const T* p = ptr<T>(probs);
    const T* gp = ptr<T>(g);
    T* d = ptr<T>(dx);
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < classes; ++c) d[r * classes + c] = p[r * classes + c] * gp[r];
      d[r * classes + idx[r]] -= gp[r];
    }
  });
}

void CpuBackend::softmax_cross_entropy(const Tensor& logits, const Tensor& t, Tensor& logp,
                                       Tensor& loss) {
  if (any_half({&logits, &t, &logp, &loss})) {
    Tensor wide_logp = widened(logp);
    Tensor wide_loss = widened(loss);
    softmax_cross_entropy(widened(logits), widened(t), wide_logp, wide_loss);
    narrow_into(wide_logp, logp);
    narrow_into(wide_loss, loss);
    return;
  }
  const std::int64_t classes = logits.shape()[logits.ndim() - 1];
  const std::int64_t rows = loss.numel();
  detail::dispatch_float(logits.dtype(), "softmax_cross_entropy", [&](auto z) {
    using T = decltype(z);
    softmax_kernel(ptr<T>(logits), ptr<T>(logp), rows, classes, 1, true);
    const T* lp = ptr<T>(logp);
    const T* tp = ptr<T>(t);
    T* l = ptr<T>(loss);
    for (std::int64_t r = 0; r < rows; ++r) {
      T acc = 0;
      for (std::int64_t c = 0; c < classes; ++c) acc -= tp[r * classes + c] * lp[r * classes + c];
      l[r] = acc;
    }
  });
}

void CpuBackend::softmax_cross_entropy_backward(const Tensor& logp, const Tensor& td,
                                                const Tensor& g, Tensor& dx, Tensor& dt) {
  if (any_half({&logp, &td, &g, &dx, &dt})) {
    Tensor wide_dx = widened(dx);
    Tensor wide_dt = widened(dt);
    softmax_cross_entropy_backward(widened(logp), widened(td), widened(g), wide_dx, wide_dt);
    narrow_into(wide_dx, dx);
    narrow_into(wide_dt, dt);
    return;
  }
  const std::int64_t classes = logp.shape()[logp.ndim() - 1];
  const std::int64_t rows = g.numel();
  // d/dlogits = g·(softmax·Σt − t); d/dt = −g·log_softmax
  detail::dispatch_float(logp.dtype(), "softmax_cross_entropy", [&](auto z) {
    using T = decltype(z);
    const T* lp = ptr<T>(logp);
    const T* tp = ptr<T>(td);
    const T* gp = ptr<T>(g);
    T* d = ptr<T>(dx);
    T* dtp = ptr<T>(dt);
    for (std::int64_t r = 0; r < rows; ++r) {
      T tsum = 0;
      for (std::int64_t c = 0; c < classes; ++c) tsum += tp[r * classes + c];
      for (std::int64_t c = 0; c < classes; ++c) {
        std::int64_t j = r * classes + c;
        if (d) d[j] = gp[r] * (std::exp(lp[j]) * tsum - tp[j]);
        if (dtp) dtp[j] = -gp[r] * lp[j];
      }
    }
  });
}

}  // namespace lamina::cpu
