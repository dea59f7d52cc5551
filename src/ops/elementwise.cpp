// SPDX-License-Identifier: Apache-2.0
// Elementwise ops: arithmetic with broadcasting, comparisons, and the unary maths functions.
#include <cmath>
#include <string>

#include "autograd/node.hpp"
#include "backend/backend.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/broadcast.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace {

using backend::BinaryOp;
using backend::UnaryOp;
using detail::broadcast_shapes;

// Both operands converted to their common dtype (float32 at least when float_only), then the
// device's kernel; comparisons give uint8.
Tensor binary_kernel(const Tensor& a, const Tensor& b, const char* name, BinaryOp op,
                     bool float_only = false) {
  backend::Backend& be = backend::of(name, a, b);
  DType common = promote_types(a.dtype(), b.dtype());
  if (float_only && !is_floating(common)) common = float32;
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor ca = a.dtype() == common ? a : a.detach().astype(common);
  Tensor cb = b.dtype() == common ? b : b.detach().astype(common);
  Tensor out = make_tensor(out_shape, backend::is_comparison(op) ? uint8 : common, a.device());
  be.binary(op, ca, cb, out);
  return out;
}

bool needs(const Tensor& t) { return t.defined() && t.requires_grad(); }

// The grad of a broadcast operand: summed back to its shape and cast back to its dtype.
Tensor reduce_grad(const Tensor& g, const Tensor& input) {
  Tensor r = g.shape() == input.shape() ? g : sum_to(g, input.shape());
  return r.dtype() == input.dtype() ? r : r.astype(input.dtype());
}

// A 0-d tensor on t's device.
Tensor scalar_on(const Tensor& t, double v, DType d) { return Tensor::full(Shape{}, v, d, t.device()); }

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
  return scalar_on(t, v, d);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "add", BinaryOp::add);
  return autograd::record_fn(out, "Add", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{needs(a) ? reduce_grad(g, a) : Tensor(),
                               needs(b) ? reduce_grad(g, b) : Tensor()};
  });
}

Tensor subtract(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "subtract", BinaryOp::subtract);
  return autograd::record_fn(out, "Subtract", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{needs(a) ? reduce_grad(g, a) : Tensor(),
                               needs(b) ? reduce_grad(negative(g), b) : Tensor()};
  });
}

Tensor multiply(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "multiply", BinaryOp::multiply);
  return autograd::record_fn(out, "Multiply", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{needs(a) ? reduce_grad(g * b, a) : Tensor(),
                               needs(b) ? reduce_grad(g * a, b) : Tensor()};
  });
}

Tensor divide(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "divide", BinaryOp::divide, true);
  return autograd::record_fn(out, "Divide", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{needs(a) ? reduce_grad(g / b, a) : Tensor(),
                               needs(b) ? reduce_grad(negative(g) * a / (b * b), b) : Tensor()};
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "maximum", BinaryOp::maximum);
  return autograd::record_fn(out, "Maximum", {a, b}, [a, b](const Tensor& g) {
    Tensor mask = (a >= b).astype(g.dtype());
    return std::vector<Tensor>{needs(a) ? reduce_grad(g * mask, a) : Tensor(),
                               needs(b) ? reduce_grad(g * (1.0 - mask), b) : Tensor()};
  });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(a, b, "minimum", BinaryOp::minimum);
  return autograd::record_fn(out, "Minimum", {a, b}, [a, b](const Tensor& g) {
    Tensor mask = (a <= b).astype(g.dtype());
    return std::vector<Tensor>{needs(a) ? reduce_grad(g * mask, a) : Tensor(),
                               needs(b) ? reduce_grad(g * (1.0 - mask), b) : Tensor()};
  });
}

Tensor negative(const Tensor& x) {
  Tensor out = make_tensor(x.shape(), x.dtype(), x.device());
  backend::of("negative", x).unary(UnaryOp::negative, x, out);
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
    return binary_kernel(a, b, #NAME, BinaryOp::NAME);                                        \
  }                                                                                           \
  Tensor operator OP(const Tensor& a, double b) {                                             \
    return binary_kernel(a, scalar_on(a, b, is_floating(a.dtype()) ? a.dtype() : float64),  \
                         #NAME, BinaryOp::NAME);                                              \
  }
LAMINA_COMPARE(==, equal)
LAMINA_COMPARE(!=, not_equal)
LAMINA_COMPARE(<, less)
LAMINA_COMPARE(<=, less_equal)
LAMINA_COMPARE(>, greater)
LAMINA_COMPARE(>=, greater_equal)
#undef LAMINA_COMPARE

// --- unary maths ---------------------------------------------------------------------------------

namespace {

// y = f(x) on the device, in floating point; backward dx = g · f'(x) from the saved x and y.
Tensor unary(const Tensor& x, const char* name, UnaryOp op, backend::UnaryParams p = {}) {
  backend::Backend& be = backend::of(name, x);
  Tensor out = make_tensor(x.shape(), is_floating(x.dtype()) ? x.dtype() : float32, x.device());
  Tensor xf = x.dtype() == out.dtype() ? x : x.astype(out.dtype());
  be.unary(op, xf, out, p);
  if (!autograd::any_requires_grad({&x})) return out;
  Tensor y = out.detach();
  return autograd::record_fn(out, name, {x}, [xf, y, op, p, &be](const Tensor& g) {
    Tensor dx = make_tensor(g.shape(), g.dtype(), g.device());
    be.unary_backward(op, xf, y, g, dx, p);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor exp(const Tensor& x) {
  return unary(x, "exp", UnaryOp::exp);
}

Tensor log(const Tensor& x) {
  return unary(x, "log", UnaryOp::log);
}

Tensor sqrt(const Tensor& x) {
  return unary(x, "sqrt", UnaryOp::sqrt);
}

Tensor square(const Tensor& x) {
  return unary(x, "square", UnaryOp::square);
}

Tensor abs(const Tensor& x) {
  return unary(x, "abs", UnaryOp::abs);
}

Tensor sign(const Tensor& x) {
  NoGradGuard no_grad;
  return unary(x, "sign", UnaryOp::sign);
}

Tensor pow(const Tensor& x, double e) {
  return unary(x, "pow", UnaryOp::pow, {e});
}

Tensor tanh(const Tensor& x) {
  return unary(x, "tanh", UnaryOp::tanh);
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary(x, "sigmoid", UnaryOp::sigmoid);
  out.impl()->logits_of = LogitsOf::sigmoid;
  out.impl()->logits = x;
  return out;
}

Tensor relu(const Tensor& x) {
  // NaN passes through (relu(NaN) = NaN, as in TensorFlow); its gradient passes too.
  return unary(x, "relu", UnaryOp::relu);
}

Tensor erf(const Tensor& x) {
  return unary(x, "erf", UnaryOp::erf);
}

Tensor clip(const Tensor& x, double lo, double hi) {
  if (lo > hi)
    throw ValueError("clip: lower bound " + std::to_string(lo) + " exceeds upper bound " +
                     std::to_string(hi));
  return unary(x, "clip", UnaryOp::clip, {lo, hi});
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Shape s = detail::broadcast_shapes(detail::broadcast_shapes(cond.shape(), a.shape(), "where"),
                                     b.shape(), "where");
  DType common = promote_types(a.dtype(), b.dtype());
  Tensor c = broadcast_to(cond.detach() != 0.0, s);
  Tensor ca = broadcast_to(a.detach(), s).astype(common);
  Tensor cb = broadcast_to(b.detach(), s).astype(common);
  Tensor out = make_tensor(s, common, a.device());
  backend::of("where", {&cond, &a, &b}).where(c, ca, cb, out);
  return autograd::record_fn(out, "Where", {a, b}, [c, a, b](const Tensor& g) {
    Tensor m = c.astype(g.dtype());
    return std::vector<Tensor>{needs(a) ? reduce_grad(g * m, a) : Tensor(),
                               needs(b) ? reduce_grad(g * (1.0 - m), b) : Tensor()};
  });
}

}  // namespace lamina
