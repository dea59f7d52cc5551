// SPDX-License-Identifier: Apache-2.0
// Elementwise ops: arithmetic with broadcasting, comparisons, and the unary maths functions.
#include <cmath>
#include <string>

#include "autograd/node.hpp"
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/broadcast.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace {

using detail::broadcast_binary;
using detail::broadcast_shapes;

// Runs f on both operands converted to their common dtype; the output has dtype `out_dtype`
// (or the common dtype when out_dtype is not given).
template <class F>
Tensor binary_kernel(const Tensor& a, const Tensor& b, const char* op, F f, bool float_only,
                     bool compare) {
  DType common = promote_types(a.dtype(), b.dtype());
  if (float_only && !is_floating(common)) common = float32;
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor ca = a.dtype() == common ? a : a.detach().astype(common);
  Tensor cb = b.dtype() == common ? b : b.detach().astype(common);
  Tensor out = make_tensor(out_shape, compare ? uint8 : common);
  detail::dispatch_all(common, [&](auto z) {
    using T = decltype(z);
    if (compare) {
      broadcast_binary(ca.data<T>(), ca.shape(), cb.data<T>(), cb.shape(), out.data<std::uint8_t>(),
                       out_shape, [&](T x, T y) { return static_cast<std::uint8_t>(f(x, y)); });
    } else {
      broadcast_binary(ca.data<T>(), ca.shape(), cb.data<T>(), cb.shape(), out.data<T>(), out_shape,
                       [&](T x, T y) { return static_cast<T>(f(x, y)); });
    }
  });
  return out;
}

bool needs(const Tensor& t) { return t.defined() && t.requires_grad(); }

// The grad of a broadcast operand: summed back to its shape and cast back to its dtype.
Tensor reduce_grad(const Tensor& g, const Tensor& input) {
  Tensor r = g.shape() == input.shape() ? g : sum_to(g, input.shape());
  return r.dtype() == input.dtype() ? r : r.astype(input.dtype());
}

// A scalar operand in the tensor's dtype when it fits there (NumPy's value-based casting): a
// fraction on an integer tensor gives float32, a whole number outside the integer type's range
// (uint8 + -1, uint8 + 300) gives int64 instead of wrapping.
Tensor scalar_like(const Tensor& t, double v) {
  DType d = t.dtype();
  if (!is_floating(d)) {
    if (v != std::floor(v)) {
      d = float32;
    } else {
      double lo = d == uint8 ? 0.0 : d == int32 ? -2147483648.0 : -9223372036854775808.0;
      double hi = d == uint8 ? 255.0 : d == int32 ? 2147483647.0 : 9223372036854775807.0;
      if (v < lo || v > hi) d = d == int64 ? float64 : int64;
    }
  }
  return Tensor::scalar(v, d);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "add", [](auto x, auto y) { return x + y; }, false, false);
  return autograd::record_fn(out, "Add", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{needs(a) ? reduce_grad(g, a) : Tensor(),
                               needs(b) ? reduce_grad(g, b) : Tensor()};
  });
}

Tensor subtract(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "subtract", [](auto x, auto y) { return x - y; }, false, false);
  return autograd::record_fn(out, "Subtract", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{needs(a) ? reduce_grad(g, a) : Tensor(),
                               needs(b) ? reduce_grad(negative(g), b) : Tensor()};
  });
}

Tensor multiply(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "multiply", [](auto x, auto y) { return x * y; }, false, false);
  return autograd::record_fn(out, "Multiply", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{needs(a) ? reduce_grad(g * b, a) : Tensor(),
                               needs(b) ? reduce_grad(g * a, b) : Tensor()};
  });
}

Tensor divide(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "divide", [](auto x, auto y) { return x / y; }, true, false);
  return autograd::record_fn(out, "Divide", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{needs(a) ? reduce_grad(g / b, a) : Tensor(),
                               needs(b) ? reduce_grad(negative(g) * a / (b * b), b) : Tensor()};
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  // A NaN on either side wins, as in NumPy, TensorFlow, PyTorch and JAX.
  Tensor out = binary_kernel(a, b, "maximum", [](auto x, auto y) { return x >= y || x != x ? x : y; },
                             false, false);
  return autograd::record_fn(out, "Maximum", {a, b}, [a, b](const Tensor& g) {
    Tensor mask = (a >= b).astype(g.dtype());
    return std::vector<Tensor>{needs(a) ? reduce_grad(g * mask, a) : Tensor(),
                               needs(b) ? reduce_grad(g * (1.0 - mask), b) : Tensor()};
  });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "minimum", [](auto x, auto y) { return x <= y || x != x ? x : y; },
                             false, false);
  return autograd::record_fn(out, "Minimum", {a, b}, [a, b](const Tensor& g) {
    Tensor mask = (a <= b).astype(g.dtype());
    return std::vector<Tensor>{needs(a) ? reduce_grad(g * mask, a) : Tensor(),
                               needs(b) ? reduce_grad(g * (1.0 - mask), b) : Tensor()};
  });
}

Tensor negative(const Tensor& x) {
  Tensor out = make_tensor(x.shape(), x.dtype());
  detail::dispatch_all(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* p = x.data<T>();
    T* o = out.data<T>();
    cpu::parallel_for(x.numel(), 1 << 15, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t i = s; i < e; ++i) o[i] = static_cast<T>(-p[i]);
    });
  });
  return autograd::record_fn(out, "Negative", {x},
                             [](const Tensor& g) { return std::vector<Tensor>{negative(g)}; });
}

// --- operators -----------------------------------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return subtract(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return multiply(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return divide(a, b); }
Tensor operator-(const Tensor& a) { return negative(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return subtract(a, scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return multiply(a, scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return divide(a, scalar_like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return subtract(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return multiply(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return divide(scalar_like(b, a), b); }

#define LAMINA_COMPARE(OP, NAME)                                                              \
  Tensor operator OP(const Tensor& a, const Tensor& b) {                                      \
    return binary_kernel(a, b, NAME, [](auto x, auto y) { return x OP y; }, false, true);     \
  }                                                                                           \
  Tensor operator OP(const Tensor& a, double b) {                                             \
    return binary_kernel(a, Tensor::scalar(b, is_floating(a.dtype()) ? a.dtype() : float64), \
                         NAME, [](auto x, auto y) { return x OP y; }, false, true);           \
  }
LAMINA_COMPARE(==, "equal")
LAMINA_COMPARE(!=, "not_equal")
LAMINA_COMPARE(<, "less")
LAMINA_COMPARE(<=, "less_equal")
LAMINA_COMPARE(>, "greater")
LAMINA_COMPARE(>=, "greater_equal")
#undef LAMINA_COMPARE

// --- unary maths ---------------------------------------------------------------------------------

namespace {

// y = f(x) elementwise; backward dx = g · df(x, y). Both lambdas are generic over T.
template <class F, class DF>
Tensor unary(const Tensor& x, const char* name, F f, DF df) {
  Tensor out = make_tensor(x.shape(), is_floating(x.dtype()) ? x.dtype() : float32);
  Tensor xf = x.dtype() == out.dtype() ? x : x.astype(out.dtype());
  detail::dispatch_float(out.dtype(), name, [&](auto z) {
    using T = decltype(z);
    const T* p = xf.data<T>();
    T* o = out.data<T>();
    cpu::parallel_for(x.numel(), 1 << 14, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t i = s; i < e; ++i) o[i] = f(p[i]);
    });
  });
  if (!autograd::any_requires_grad({&x})) return out;
  Tensor y = out.detach();
  return autograd::record_fn(out, name, {x}, [xf, y, df, name](const Tensor& g) {
    Tensor dx = make_tensor(g.shape(), g.dtype());
    detail::dispatch_float(g.dtype(), name, [&](auto z) {
      using T = decltype(z);
      const T* gp = g.data<T>();
      const T* xp = xf.data<T>();
      const T* yp = y.data<T>();
      T* d = dx.data<T>();
      cpu::parallel_for(g.numel(), 1 << 14, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t i = s; i < e; ++i) d[i] = gp[i] * df(xp[i], yp[i]);
      });
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor exp(const Tensor& x) {
  return unary(x, "exp", [](auto v) { return std::exp(v); }, [](auto, auto y) { return y; });
}

Tensor log(const Tensor& x) {
  return unary(x, "log", [](auto v) { return std::log(v); }, [](auto v, auto) { return 1 / v; });
}

Tensor sqrt(const Tensor& x) {
  return unary(x, "sqrt", [](auto v) { return std::sqrt(v); },
               [](auto, auto y) { return decltype(y)(0.5) / y; });
}

Tensor square(const Tensor& x) {
  return unary(x, "square", [](auto v) { return v * v; }, [](auto v, auto) { return 2 * v; });
}

Tensor abs(const Tensor& x) {
  return unary(x, "abs", [](auto v) { return std::abs(v); },
               [](auto v, auto) { return decltype(v)(v > 0 ? 1 : v < 0 ? -1 : 0); });
}

Tensor sign(const Tensor& x) {
  NoGradGuard no_grad;
  return unary(x, "sign", [](auto v) { return decltype(v)(v > 0 ? 1 : v < 0 ? -1 : 0); },
               [](auto v, auto) { return decltype(v)(0); });
}

Tensor pow(const Tensor& x, double e) {
  return unary(x, "pow", [e](auto v) { return static_cast<decltype(v)>(std::pow(v, e)); },
               [e](auto v, auto) { return static_cast<decltype(v)>(e * std::pow(v, e - 1)); });
}

Tensor tanh(const Tensor& x) {
  return unary(x, "tanh", [](auto v) { return std::tanh(v); },
               [](auto, auto y) { return 1 - y * y; });
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary(x, "sigmoid", [](auto v) {
    using T = decltype(v);
    // Stable on both tails.
    if (v >= 0) return T(1) / (T(1) + std::exp(-v));
    T e = std::exp(v);
    return e / (T(1) + e);
  }, [](auto, auto y) { return y * (1 - y); });
  out.impl()->logits_of = LogitsOf::sigmoid;
  out.impl()->logits = x;
  return out;
}

Tensor relu(const Tensor& x) {
  // Written so that NaN fails the comparison and passes through (relu(NaN) = NaN, as in
  // TensorFlow); its gradient passes too, as PyTorch's.
  return unary(x, "relu", [](auto v) { return v < 0 ? decltype(v)(0) : v; },
               [](auto v, auto) { return decltype(v)(v <= 0 ? 0 : 1); });
}

Tensor erf(const Tensor& x) {
  return unary(x, "erf", [](auto v) { return std::erf(v); }, [](auto v, auto) {
    using T = decltype(v);
    return static_cast<T>(1.1283791670955126 * std::exp(-double(v) * double(v)));
  });
}

Tensor clip(const Tensor& x, double lo, double hi) {
  if (lo > hi)
    throw ValueError("clip: lower bound " + std::to_string(lo) + " exceeds upper bound " +
                     std::to_string(hi));
  return unary(x, "clip", [lo, hi](auto v) {
    using T = decltype(v);
    return v < T(lo) ? T(lo) : v > T(hi) ? T(hi) : v;
  }, [lo, hi](auto v, auto) {
    using T = decltype(v);
    return T(v >= T(lo) && v <= T(hi) ? 1 : 0);
  });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Shape s = detail::broadcast_shapes(detail::broadcast_shapes(cond.shape(), a.shape(), "where"),
                                     b.shape(), "where");
  DType common = promote_types(a.dtype(), b.dtype());
  Tensor c = broadcast_to(cond.detach() != 0.0, s);
  Tensor ca = broadcast_to(a.detach(), s).astype(common);
  Tensor cb = broadcast_to(b.detach(), s).astype(common);
  Tensor out = make_tensor(s, common);
  detail::dispatch_all(common, [&](auto z) {
    using T = decltype(z);
    const std::uint8_t* cp = c.data<std::uint8_t>();
    const T* ap = ca.data<T>();
    const T* bp = cb.data<T>();
    T* o = out.data<T>();
    cpu::parallel_for(out.numel(), 1 << 15, [&](std::int64_t s, std::int64_t e) LAMINA_KERNEL {
      for (std::int64_t i = s; i < e; ++i) o[i] = cp[i] ? ap[i] : bp[i];
    });
  });
  return autograd::record_fn(out, "Where", {a, b}, [c, a, b](const Tensor& g) {
    Tensor m = c.astype(g.dtype());
    return std::vector<Tensor>{needs(a) ? reduce_grad(g * m, a) : Tensor(),
                               needs(b) ? reduce_grad(g * (1.0 - m), b) : Tensor()};
  });
}

}  // namespace lamina
