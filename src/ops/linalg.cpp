// SPDX-License-Identifier: Apache-2.0
// matmul: GEMM over the last two axes, with batch axes on the left operand (or both).
#include <algorithm>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "autograd/node.hpp"
#include "backend/backend.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
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
  std::int64_t b_batch = 1;
  for (int i = 0; i < sb.rank() - 2; ++i) b_batch *= sb[i];
  if (b_batch != 1 && (sb.rank() != sa.rank() || !std::equal(sa.begin(), sa.end() - 2, sb.begin())))
    throw ShapeError("matmul: batch dimensions differ: " + sa.str() + " and " + sb.str() +
                     " (the right operand must be 2-D or have the same batch axes)");
  Shape out_shape(sa.begin(), sa.end() - 2);
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = make_tensor(out_shape, a.dtype(), a.device());
  backend::of("matmul", a, b).matmul(a, b, ta, tb, out);
  return out;
}
}  // namespace

namespace {
// x with its last two axes swapped (a copy).
Tensor swap_last_two(const Tensor& x) {
  std::vector<int> perm(static_cast<std::size_t>(x.ndim()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
  return transpose(x, perm);
}

std::int64_t batch_size(const Shape& s) {
  std::int64_t n = 1;
  for (int i = 0; i < s.rank() - 2; ++i) n *= s[i];
  return n;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor out = matmul_raw(a, b, ta, tb);
  return autograd::record_fn(out, "MatMul", {a, b}, [a, b, ta, tb](const Tensor& g) {
    // C = op(A)·op(B). dop(A) = g·op(B)ᵀ and dop(B) = op(A)ᵀ·g, transposed back where an operand
    // was used transposed. A right operand without batch axes (2-D, or batch size 1) is shared by
    // every batch of A, so its gradient sums over them: fold the batch into GEMM rows.
    const bool shared_b = batch_size(b.shape()) == 1;
    const bool batched_a = a.ndim() > 2;
    Tensor ga, gb;
    if (a.requires_grad()) {
      if (!ta) ga = matmul_raw(g, b, false, !tb);
      else if (!batched_a || !shared_b) ga = matmul_raw(b, g, tb, true);
      else ga = swap_last_two(matmul_raw(g, b, false, !tb));
      if (ga.shape() != a.shape()) ga = ga.reshape(a.shape());
    }
    if (b.requires_grad()) {
      if (shared_b && batched_a) {
        const std::int64_t k = ta ? a.dim(-2) : a.dim(-1);
        Tensor a_rows = (ta ? swap_last_two(a) : a).reshape({-1, k});  // (batch·m, k)
        Tensor g_rows = g.reshape({-1, g.dim(-1)});                     // (batch·m, n)
        gb = tb ? matmul_raw(g_rows, a_rows, true, false) : matmul_raw(a_rows, g_rows, true, false);
      } else {
        gb = tb ? matmul_raw(g, a, true, ta) : matmul_raw(a, g, !ta, false);
      }
      if (gb.shape() != b.shape()) gb = gb.reshape(b.shape());
    }
    return std::vector<Tensor>{ga, gb};
  });
}

}  // namespace lamina
