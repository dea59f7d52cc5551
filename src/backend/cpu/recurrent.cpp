// SPDX-License-Identifier: Apache-2.0
// Recurrent time loops (SimpleRNN, LSTM, GRU) and their BPTT, Keras's gate orders:
// LSTM i, f, c, o; GRU z, r, h. Per step: one GEMM for h·recurrent_kernel (two for GRU with the
// reset gate before the matmul), then one pass over the rows; no allocation inside the loop.
#include "tensor/dispatch.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/recurrent.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/conv.hpp"
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/gemm.hpp"
#include "backend/cpu/parallel.hpp"

namespace lamina::cpu {

namespace {

template <class T>
void activate(GateActivation a, T* p, std::int64_t n) {
  switch (a) {
    case GateActivation::linear:
      return;
    case GateActivation::tanh:
      for (std::int64_t i = 0; i < n; ++i) p[i] = std::tanh(p[i]);
      return;
    case GateActivation::sigmoid:
      for (std::int64_t i = 0; i < n; ++i) p[i] = T(1) / (T(1) + std::exp(-p[i]));
      return;
    case GateActivation::relu:
      for (std::int64_t i = 0; i < n; ++i) p[i] = std::max(p[i], T(0));
      return;
    case GateActivation::hard_sigmoid:
      for (std::int64_t i = 0; i < n; ++i) p[i] = std::clamp(p[i] / T(6) + T(0.5), T(0), T(1));
      return;
    case GateActivation::hard_sigmoid_keras2:
      for (std::int64_t i = 0; i < n; ++i) p[i] = std::clamp(T(0.2) * p[i] + T(0.5), T(0), T(1));
      return;
  }
}

// d act(x)/dx written through the output y = act(x).
template <class T>
T derivative(GateActivation a, T y) {
  switch (a) {
    case GateActivation::tanh:
      return T(1) - y * y;
    case GateActivation::sigmoid:
      return y * (T(1) - y);
    case GateActivation::relu:
      return y <= T(0) ? T(0) : T(1);
    case GateActivation::hard_sigmoid:
      return y > T(0) && y < T(1) ? T(1) / T(6) : T(0);
    case GateActivation::hard_sigmoid_keras2:
      return y > T(0) && y < T(1) ? T(0.2) : T(0);
    default:
      return T(1);
  }
}

// Rows per chunk so that a chunk holds a few thousand gate values.
std::int64_t row_grain(const RecurrentGeometry& g) {
  return std::max<std::int64_t>(1, 8192 / (g.units * g.gates()));
}

bool kept(const RecurrentGeometry& g, const std::uint8_t* mask, std::int64_t row, std::int64_t src) {
  return !mask || mask[row * g.steps + src] != 0;
}

}  // namespace

template <class T>
void recurrent_forward(const RecurrentGeometry& g, const T* xp, const T* rk, const T* rbias,
                       const T* h0, const T* c0, const std::uint8_t* mask, const T* rmask, T* out,
                       T* work) {
  const std::int64_t n = g.n, u = g.units, G = g.gates() * u, W = g.work_width(), hu_at = W - u;
  for (std::int64_t t = 0; t < g.steps; ++t) {
    const std::int64_t src = g.source_step(t);
    const T* hprev = t == 0 ? h0 : out + (t - 1) * n * u;
    T* wt = work + t * n * W;
    T* ot = out + t * n * u;
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t j = 0; j < u; ++j)
        wt[r * W + hu_at + j] = rmask ? hprev[r * u + j] * rmask[r * u + j] : hprev[r * u + j];
    const T* hu = wt + hu_at;

    if (g.kind == CellKind::simple) {
      // h = act(xp + hu·R)
      gemm(false, false, n, u, u, T(1), hu, W, rk, u, T(0), ot, u);
      parallel_for(n, row_grain(g), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = b; r < e; ++r) {
          T* h = ot + r * u;
          const T* x = xp + (r * g.steps + src) * G;
          for (std::int64_t j = 0; j < u; ++j) h[j] += x[j];
          activate(g.activation, h, u);
          if (!kept(g, mask, r, src)) std::copy(hprev + r * u, hprev + (r + 1) * u, h);
        }
      });
    } else if (g.kind == CellKind::lstm) {
      // z = xp + hu·R; i, f, o = σ(z); c̃ = act(z); c = f⊙c_prev + i⊙c̃; h = o⊙act(c)
      gemm(false, false, n, G, u, T(1), hu, W, rk, G, T(0), wt, W);
      parallel_for(n, row_grain(g), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = b; r < e; ++r) {
          T* z = wt + r * W;
          const T* x = xp + (r * g.steps + src) * G;
          const T* cprev = t == 0 ? c0 + r * u : work + ((t - 1) * n + r) * W + 4 * u;
          for (std::int64_t j = 0; j < G; ++j) z[j] += x[j];
          activate(g.recurrent_activation, z, 2 * u);
          activate(g.activation, z + 2 * u, u);
          activate(g.recurrent_activation, z + 3 * u, u);
          T* c = z + 4 * u;
          T* ac = z + 5 * u;
          for (std::int64_t j = 0; j < u; ++j) ac[j] = c[j] = z[u + j] * cprev[j] + z[j] * z[2 * u + j];
          activate(g.activation, ac, u);
          T* h = ot + r * u;
          if (kept(g, mask, r, src)) {
            for (std::int64_t j = 0; j < u; ++j) h[j] = z[3 * u + j] * ac[j];
          } else {
            std::copy(hprev + r * u, hprev + (r + 1) * u, h);
            std::copy(cprev, cprev + u, c);
          }
        }
      });
    } else {
      // z = σ(xz + hu·Rz), r = σ(xr + hu·Rr); reset_after: h̃ = act(xh + r⊙(hu·Rh + bh)),
      // else h̃ = act(xh + (r⊙hu)·Rh); h = z⊙h_prev + (1 − z)⊙h̃.
      gemm(false, false, n, g.reset_after ? G : 2 * u, u, T(1), hu, W, rk, G, T(0), wt, W);
      auto gates_zr = [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = b; r < e; ++r) {
          T* z = wt + r * W;
          const T* x = xp + (r * g.steps + src) * G;
          T* aux = z + 3 * u;
          if (g.reset_after) {
            if (rbias)
              for (std::int64_t j = 0; j < G; ++j) z[j] += rbias[j];
            std::copy(z + 2 * u, z + 3 * u, aux);
          }
          for (std::int64_t j = 0; j < 2 * u; ++j) z[j] += x[j];
          activate(g.recurrent_activation, z, 2 * u);
          if (!g.reset_after)
            for (std::int64_t j = 0; j < u; ++j) aux[j] = z[u + j] * z[4 * u + j];
        }
      };
      parallel_for(n, row_grain(g), gates_zr);
      if (!g.reset_after) gemm(false, false, n, u, u, T(1), wt + 3 * u, W, rk + 2 * u, G, T(0), wt + 2 * u, W);
      parallel_for(n, row_grain(g), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = b; r < e; ++r) {
          T* z = wt + r * W;
          const T* x = xp + (r * g.steps + src) * G;
          T* hh = z + 2 * u;
          if (g.reset_after)
            for (std::int64_t j = 0; j < u; ++j) hh[j] = x[2 * u + j] + z[u + j] * z[3 * u + j];
          else
            for (std::int64_t j = 0; j < u; ++j) hh[j] += x[2 * u + j];
          activate(g.activation, hh, u);
          T* h = ot + r * u;
          const T* hp = hprev + r * u;
          if (kept(g, mask, r, src))
            for (std::int64_t j = 0; j < u; ++j) h[j] = z[j] * hp[j] + (T(1) - z[j]) * hh[j];
          else
            std::copy(hp, hp + u, h);
        }
      });
    }
  }
  if (g.kind == CellKind::lstm) {
    T* c_final = out + g.steps * n * u;
    if (g.steps == 0) std::copy(c0, c0 + n * u, c_final);
    for (std::int64_t r = 0; r < n && g.steps > 0; ++r) {
      const T* c = work + ((g.steps - 1) * n + r) * W + 4 * u;
      std::copy(c, c + u, c_final + r * u);
    }
  }
}

template <class T>
void recurrent_backward(const RecurrentGeometry& g, const T* rk, const T* h0, const T* c0,
                        const std::uint8_t* mask, const T* rmask, const T* out, const T* work,
                        const T* dout, T* dxp, T* drk, T* drbias, T* dh0, T* dc0) {
  const std::int64_t n = g.n, u = g.units, G = g.gates() * u, W = g.work_width(), hu_at = W - u;
  // dzr: the gradient at the recurrent pre-activation hu·R (+ bias), every step, time-major.
  std::vector<T> dzr(static_cast<std::size_t>(std::max<std::int64_t>(g.steps * n * G, 1)));
  std::vector<T> dh(static_cast<std::size_t>(n * u), T(0)), dc(static_cast<std::size_t>(n * u), T(0));
  std::vector<T> dhu(static_cast<std::size_t>(n * u));
  if (g.kind == CellKind::lstm) std::copy(dout + g.steps * n * u, dout + (g.steps + 1) * n * u, dc.begin());

  for (std::int64_t t = g.steps - 1; t >= 0; --t) {
    const std::int64_t src = g.source_step(t);
    const T* hprev = t == 0 ? h0 : out + (t - 1) * n * u;
    const T* wt = work + t * n * W;
    const T* ot = out + t * n * u;
    T* dz = dzr.data() + t * n * G;
    for (std::int64_t i = 0; i < n * u; ++i) dh[i] += dout[t * n * u + i];
    // Per row: the gates' gradients into dz and dxp, and dh becomes the part of dh_prev that does
    // not go through the recurrent kernel (all of it on a masked step).
    auto cell = [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t r = b; r < e; ++r) {
        T* dx = dxp + (r * g.steps + src) * G;
        T* dzr_row = dz + r * G;
        T* dhr = dh.data() + r * u;
        if (!kept(g, mask, r, src)) {
          std::fill(dx, dx + G, T(0));
          std::fill(dzr_row, dzr_row + G, T(0));
          continue;
        }
        const T* z = wt + r * W;
        if (g.kind == CellKind::simple) {
          for (std::int64_t j = 0; j < u; ++j) dx[j] = dhr[j] * derivative(g.activation, ot[r * u + j]);
          std::fill(dhr, dhr + u, T(0));
        } else if (g.kind == CellKind::lstm) {
          const T* cprev = t == 0 ? c0 + r * u : work + ((t - 1) * n + r) * W + 4 * u;
          T* dcr = dc.data() + r * u;
          for (std::int64_t j = 0; j < u; ++j) {
            const T i = z[j], f = z[u + j], cc = z[2 * u + j], o = z[3 * u + j], ac = z[5 * u + j];
            const T dct = dcr[j] + dhr[j] * o * derivative(g.activation, ac);
            dx[j] = dct * cc * derivative(g.recurrent_activation, i);
            dx[u + j] = dct * cprev[j] * derivative(g.recurrent_activation, f);
            dx[2 * u + j] = dct * i * derivative(g.activation, cc);
            dx[3 * u + j] = dhr[j] * ac * derivative(g.recurrent_activation, o);
            dcr[j] = dct * f;
            dhr[j] = T(0);
          }
        } else {
          const T* hp = hprev + r * u;
          for (std::int64_t j = 0; j < u; ++j) {
            const T zz = z[j], hh = z[2 * u + j];
            const T dhh = dhr[j] * (T(1) - zz) * derivative(g.activation, hh);
            dx[j] = dhr[j] * (hp[j] - hh) * derivative(g.recurrent_activation, zz);
            dx[2 * u + j] = dhh;
            // reset-before: the reset gate's share needs d(r⊙hu), filled in after the next GEMM
            dx[u + j] = g.reset_after ? dhh * z[3 * u + j] * derivative(g.recurrent_activation, z[u + j]) : T(0);
            dhr[j] = dhr[j] * zz;
          }
        }
        std::copy(dx, dx + G, dzr_row);
        if (g.kind == CellKind::gru && g.reset_after)
          for (std::int64_t j = 0; j < u; ++j) dzr_row[2 * u + j] = dx[2 * u + j] * z[u + j];
      }
    };
    parallel_for(n, row_grain(g), cell);

    if (g.kind == CellKind::gru && !g.reset_after) {
      // d(r⊙hu) = dh̃_pre·Rhᵀ, then the reset gate's gradient and that path's share of dhu.
      gemm(false, true, n, u, u, T(1), dz + 2 * u, G, rk + 2 * u, G, T(0), dhu.data(), u);
      parallel_for(n, row_grain(g), [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = b; r < e; ++r) {
          T* dzr_row = dz + r * G;
          T* dx = dxp + (r * g.steps + src) * G;
          T* drhu = dhu.data() + r * u;
          if (!kept(g, mask, r, src)) {
            std::fill(drhu, drhu + u, T(0));
            continue;
          }
          const T* z = wt + r * W;
          for (std::int64_t j = 0; j < u; ++j) {
            dx[u + j] = dzr_row[u + j] = drhu[j] * z[hu_at + j] * derivative(g.recurrent_activation, z[u + j]);
            drhu[j] *= z[u + j];
          }
        }
      });
      gemm(false, true, n, u, 2 * u, T(1), dz, G, rk, G, T(1), dhu.data(), u);
    } else {
      gemm(false, true, n, u, G, T(1), dz, G, rk, G, T(0), dhu.data(), u);
    }
    for (std::int64_t i = 0; i < n * u; ++i) dh[i] += rmask ? dhu[i] * rmask[i] : dhu[i];
  }

  // dR = Σ_t huᵀ·dz_t over all steps at once (the h̃ block of a reset-before GRU sees r⊙hu).
  const std::int64_t rows = g.steps * n;
  if (g.kind == CellKind::gru && !g.reset_after) {
    gemm(true, false, u, 2 * u, rows, T(1), work + hu_at, W, dzr.data(), G, T(0), drk, G);
    gemm(true, false, u, u, rows, T(1), work + 3 * u, W, dzr.data() + 2 * u, G, T(0), drk + 2 * u, G);
  } else {
    gemm(true, false, u, G, rows, T(1), work + hu_at, W, dzr.data(), G, T(0), drk, G);
  }
  if (drbias) column_sums(dzr.data(), rows, G, drbias);
  if (dh0) std::copy(dh.begin(), dh.end(), dh0);
  if (dc0 && g.kind == CellKind::lstm) std::copy(dc.begin(), dc.end(), dc0);
}

template void recurrent_forward<float>(const RecurrentGeometry&, const float*, const float*,
                                       const float*, const float*, const float*,
                                       const std::uint8_t*, const float*, float*, float*);
template void recurrent_forward<double>(const RecurrentGeometry&, const double*, const double*,
                                        const double*, const double*, const double*,
                                        const std::uint8_t*, const double*, double*, double*);
template void recurrent_backward<float>(const RecurrentGeometry&, const float*, const float*,
                                        const float*, const std::uint8_t*, const float*,
                                        const float*, const float*, const float*, float*, float*,
                                        float*, float*, float*);
template void recurrent_backward<double>(const RecurrentGeometry&, const double*, const double*,
                                         const double*, const std::uint8_t*, const double*,
                                         const double*, const double*, const double*, double*,
                                         double*, double*, double*, double*);

// --- the backend's recurrent kernels -----------------------------------------------------------

void CpuBackend::recurrent_forward(const RecurrentGeometry& g, const Tensor& xp, const Tensor& rk,
                                   const Tensor& rbias, const Tensor& h0, const Tensor& c0,
                                   const Tensor& mask, const Tensor& rmask, Tensor& out,
                                   Tensor& work) {
  detail::dispatch_float(xp.dtype(), "recurrent_scan", [&](auto z) {
    using T = decltype(z);
    using backend::ptr;
    cpu::recurrent_forward<T>(g, ptr<T>(xp), ptr<T>(rk), ptr<T>(rbias), ptr<T>(h0), ptr<T>(c0),
                              ptr<std::uint8_t>(mask), ptr<T>(rmask), ptr<T>(out), ptr<T>(work));
  });
}

void CpuBackend::recurrent_backward(const RecurrentGeometry& g, const Tensor& rk, const Tensor& h0,
                                    const Tensor& c0, const Tensor& mask, const Tensor& rmask,
                                    const Tensor& out, const Tensor& work, const Tensor& dout,
                                    Tensor& dxp, Tensor& drk, Tensor& drbias, Tensor& dh0,
                                    Tensor& dc0) {
  detail::dispatch_float(dout.dtype(), "recurrent_scan", [&](auto z) {
    using T = decltype(z);
    using backend::ptr;
    cpu::recurrent_backward<T>(g, ptr<T>(rk), ptr<T>(h0), ptr<T>(c0), ptr<std::uint8_t>(mask),
                               ptr<T>(rmask), ptr<T>(out), ptr<T>(work), ptr<T>(dout), ptr<T>(dxp),
                               ptr<T>(drk), ptr<T>(drbias), ptr<T>(dh0), ptr<T>(dc0));
  });
}

}  // namespace lamina::cpu
