// matmul: GEMM over the last two axes, with batch axes on the left operand (or both).
#include <string>

#include "autograd/node.hpp"
#include "backend/cpu/gemm.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

namespace {
// Raw product with no autodiff. a: (..., m|k), b: (k|n) or (..., k|n) matching batch axes.
Tensor matmul_raw(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  if (a.ndim() < 2 || b.ndim() < 2)
    throw ShapeError("matmul: operands must have at least 2 dimensions, got " + a.shape().str() +
                     " and " + b.shape().str());
  if (a.dtype() != b.dtype() || !is_floating(a.dtype()))
    throw TypeError(std::string("matmul: operands must share a float dtype, got ") +
                    dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::int64_t ar = sa[sa.rank() - 2], ac = sa[sa.rank() - 1];
  const std::int64_t br = sb[sb.rank() - 2], bc = sb[sb.rank() - 1];
  const std::int64_t m = ta ? ac : ar, k = ta ? ar : ac;
  const std::int64_t kb = tb ? bc : br, n = tb ? br : bc;
  if (k != kb)
    throw ShapeError("matmul: inner dimensions differ: " + sa.str() + (ta ? "ᵀ" : "") + " · " +
                     sb.str() + (tb ? "ᵀ" : ""));
  std::int64_t batch = 1;
  for (int i = 0; i < sa.rank() - 2; ++i) batch *= sa[i];
  std::int64_t b_batch = 1;
  for (int i = 0; i < sb.rank() - 2; ++i) b_batch *= sb[i];
  if (b_batch != 1 && b_batch != batch)
    throw ShapeError("matmul: batch dimensions differ: " + sa.str() + " and " + sb.str());
  Shape out_shape(sa.begin(), sa.end() - 2);
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = make_tensor(out_shape, a.dtype());
  detail::dispatch_float(a.dtype(), "matmul", [&](auto z) {
    using T = decltype(z);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    if (b_batch == 1 && !ta) {
      // Leading axes fold into the rows: one GEMM.
      cpu::gemm(false, tb, batch * m, n, k, T(1), pa, ac, pb, bc, T(0), pc, n);
      return;
    }
    for (std::int64_t i = 0; i < batch; ++i)
      cpu::gemm(ta, tb, m, n, k, T(1), pa + i * ar * ac, ac, pb + (b_batch == 1 ? 0 : i * br * bc),
                bc, T(0), pc + i * m * n, n);
  });
  return out;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor out = matmul_raw(a, b, ta, tb);
  return autograd::record_fn(out, "MatMul", {a, b}, [a, b, ta, tb](const Tensor& g) {
    Tensor ga, gb;
    if (a.requires_grad()) {
      // C = op(A)·op(B): dA = g·op(B)ᵀ (transposed back if A was used transposed).
      ga = ta ? matmul_raw(b, g, tb, true) : matmul_raw(g, b, false, !tb);
      if (ga.shape() != a.shape()) ga = ga.reshape(a.shape());
    }
    if (b.requires_grad()) {
      if (b.ndim() == 2 && a.ndim() > 2) {
        // Batch axes of A were folded into rows; fold them for the weight gradient too.
        Tensor a2 = a.reshape({-1, a.shape()[a.ndim() - 1]});
        Tensor g2 = g.reshape({-1, g.shape()[g.ndim() - 1]});
        if (ta) throw ShapeError("matmul: transpose_a with a batched left operand is unsupported");
        gb = tb ? matmul_raw(g2, a2, true, false) : matmul_raw(a2, g2, true, false);
      } else {
        gb = tb ? matmul_raw(g, a, true, ta) : matmul_raw(a, g, !ta, false);
      }
    }
    return std::vector<Tensor>{ga, gb};
  });
}

}  // namespace lamina
