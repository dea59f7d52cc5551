// SPDX-License-Identifier: Apache-2.0
// The host's elementwise kernels: binary ops with broadcasting, the unary maths functions and
// their derivatives, and where().
#include <cmath>
#include <cstdint>

#include "backend/cpu/broadcast.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/widen.hpp"
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"
#include "lamina/errors.hpp"
#include "tensor/dispatch.hpp"

namespace lamina::cpu {
namespace {

using backend::BinaryOp;
using backend::ptr;
using backend::UnaryOp;
using backend::UnaryParams;

template <class T, class F>
void run_binary(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  broadcast_binary(ptr<T>(a), a.shape(), ptr<T>(b), b.shape(), ptr<T>(out), out.shape(),
                   [&](T x, T y) { return static_cast<T>(f(x, y)); });
}

template <class T, class F>
void run_compare(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  broadcast_binary(ptr<T>(a), a.shape(), ptr<T>(b), b.shape(), ptr<std::uint8_t>(out),
                   out.shape(), [&](T x, T y) { return static_cast<std::uint8_t>(f(x, y)); });
}

// y = f(x) elementwise over n values.
template <class T, class F>
void map_unary(const T* p, T* o, std::int64_t n, F f) {
  parallel_for(n, 1 << 14, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t i = s; i < e; ++i) o[i] = f(p[i]);
  });
}

// d = g · df(x, y) elementwise over n values.
template <class T, class DF>
void map_unary_grad(const T* gp, const T* xp, const T* yp, T* d, std::int64_t n, DF df) {
  parallel_for(n, 1 << 14, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
    for (std::int64_t i = s; i < e; ++i) d[i] = gp[i] * df(xp[i], yp[i]);
  });
}

// Calls visit(f, df) with the value and derivative functions of `op` for element type T. The
// derivative takes (x, y = f(x)).
template <class T, class V>
void with_unary(UnaryOp op, UnaryParams p, V visit) {
  switch (op) {
    case UnaryOp::negative:
      return visit([](T v) { return static_cast<T>(-v); }, [](T, T) { return T(-1); });
    case UnaryOp::exp:
      return visit([](T v) { return std::exp(v); }, [](T, T y) { return y; });
    case UnaryOp::log:
      return visit([](T v) { return std::log(v); }, [](T v, T) { return 1 / v; });
    case UnaryOp::sqrt:
      return visit([](T v) { return std::sqrt(v); }, [](T, T y) { return T(0.5) / y; });
    case UnaryOp::square:
      return visit([](T v) { return v * v; }, [](T v, T) { return 2 * v; });
    case UnaryOp::abs:
      return visit([](T v) { return std::abs(v); },
                   [](T v, T) { return T(v > 0 ? 1 : v < 0 ? -1 : 0); });
    case UnaryOp::sign:
      return visit([](T v) { return T(v > 0 ? 1 : v < 0 ? -1 : 0); }, [](T, T) { return T(0); });
    case UnaryOp::pow: {
      const double e = p.a;
      return visit([e](T v) { return static_cast<T>(std::pow(v, e)); },
                   [e](T v, T) { return static_cast<T>(e * std::pow(v, e - 1)); });
    }
    case UnaryOp::tanh:
      return visit([](T v) { return std::tanh(v); }, [](T, T y) { return 1 - y * y; });
    case UnaryOp::sigmoid:
      return visit([](T v) {
        // Stable on both tails.
        if (v >= 0) return T(1) / (T(1) + std::exp(-v));
        T e = std::exp(v);
        return e / (T(1) + e);
      }, [](T, T y) { return y * (1 - y); });
    case UnaryOp::relu:
      // Written so that NaN fails the comparison and passes through (relu(NaN) = NaN, as in
      // TensorFlow); its gradient passes too, as PyTorch's.
      return visit([](T v) { return v < 0 ? T(0) : v; }, [](T v, T) { return T(v <= 0 ? 0 : 1); });
    case UnaryOp::erf:
      return visit([](T v) { return std::erf(v); }, [](T v, T) {
        return static_cast<T>(1.1283791670955126 * std::exp(-double(v) * double(v)));
      });
    case UnaryOp::clip: {
      const T lo = T(p.a), hi = T(p.b);
      return visit([lo, hi](T v) { return v < lo ? lo : v > hi ? hi : v; },
                   [lo, hi](T v, T) { return T(v >= lo && v <= hi ? 1 : 0); });
    }
  }
  throw ValueError("unknown unary op");
}

}  // namespace

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  if (any_half({&a, &b, &out})) {
    Tensor wide_out = widened(out);
    binary(op, widened(a), widened(b), wide_out);
    narrow_into(wide_out, out);
    return;
  }
  detail::dispatch_all(a.dtype(), [&](auto z) {
    using T = decltype(z);
    switch (op) {
      case BinaryOp::add: return run_binary<T>(a, b, out, [](T x, T y) { return x + y; });
      case BinaryOp::subtract: return run_binary<T>(a, b, out, [](T x, T y) { return x - y; });
      case BinaryOp::multiply: return run_binary<T>(a, b, out, [](T x, T y) { return x * y; });
      case BinaryOp::divide: return run_binary<T>(a, b, out, [](T x, T y) { return x / y; });
      // A NaN on either side wins, as in NumPy, TensorFlow, PyTorch and JAX.
      case BinaryOp::maximum:
        return run_binary<T>(a, b, out, [](T x, T y) { return x >= y || x != x ? x : y; });
      case BinaryOp::minimum:
        return run_binary<T>(a, b, out, [](T x, T y) { return x <= y || x != x ? x : y; });
      case BinaryOp::equal: return run_compare<T>(a, b, out, [](T x, T y) { return x == y; });
      case BinaryOp::not_equal: return run_compare<T>(a, b, out, [](T x, T y) { return x != y; });
      case BinaryOp::less: return run_compare<T>(a, b, out, [](T x, T y) { return x < y; });
      case BinaryOp::less_equal: return run_compare<T>(a, b, out, [](T x, T y) { return x <= y; });
      case BinaryOp::greater: return run_compare<T>(a, b, out, [](T x, T y) { return x > y; });
      case BinaryOp::greater_equal:
        return run_compare<T>(a, b, out, [](T x, T y) { return x >= y; });
    }
  });
}

void CpuBackend::unary(UnaryOp op, const Tensor& x, Tensor& out, UnaryParams p) {
  if (any_half({&x, &out})) {
    Tensor wide_out = widened(out);
    unary(op, widened(x), wide_out, p);
    narrow_into(wide_out, out);
    return;
  }
  if (op == UnaryOp::negative) {
    // The one unary op on every dtype (the others compute in floating point).
    detail::dispatch_all(x.dtype(), [&](auto z) {
      using T = decltype(z);
      const T* s = ptr<T>(x);
      T* o = ptr<T>(out);
      parallel_for(x.numel(), 1 << 15, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t i = b; i < e; ++i) o[i] = static_cast<T>(-s[i]);
      });
    });
    return;
  }
  detail::dispatch_float(x.dtype(), "unary", [&](auto z) {
    using T = decltype(z);
    with_unary<T>(op, p, [&](auto f, auto) { map_unary(ptr<T>(x), ptr<T>(out), x.numel(), f); });
  });
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& g,
                                Tensor& dx, UnaryParams p) {
  if (any_half({&x, &y, &g, &dx})) {
    Tensor wide_dx = widened(dx);
    unary_backward(op, widened(x), widened(y), widened(g), wide_dx, p);
    narrow_into(wide_dx, dx);
    return;
  }
  detail::dispatch_float(g.dtype(), "unary_backward", [&](auto z) {
    using T = decltype(z);
    with_unary<T>(op, p, [&](auto, auto df) {
      map_unary_grad(ptr<T>(g), ptr<T>(x), ptr<T>(y), ptr<T>(dx), g.numel(), df);
    });
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  if (any_half({&cond, &a, &b, &out})) {
    Tensor wide_out = widened(out);
    where(widened(cond), widened(a), widened(b), wide_out);
    narrow_into(wide_out, out);
    return;
  }
  detail::dispatch_all(out.dtype(), [&](auto z) {
    using T = decltype(z);
    const std::uint8_t* cp = ptr<std::uint8_t>(cond);
    const T* ap = ptr<T>(a);
    const T* bp = ptr<T>(b);
    T* o = ptr<T>(out);
    parallel_for(out.numel(), 1 << 15, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t i = s; i < e; ++i) o[i] = cp[i] ? ap[i] : bp[i];
    });
  });
}

}  // namespace lamina::cpu
