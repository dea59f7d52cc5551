// SPDX-License-Identifier: Apache-2.0
// Shape ops: transpose, concatenate, one_hot, take, reshape (free function).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

#include "autograd/node.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

Tensor reshape(const Tensor& x, const Shape& shape) { return x.reshape(shape); }

Tensor transpose(const Tensor& x, std::vector<int> perm) {
  const int r = x.ndim();
  if (perm.empty()) {
    perm.resize(r);
    std::iota(perm.rbegin(), perm.rend(), 0);
  }
  if (static_cast<int>(perm.size()) != r)
    throw ShapeError("transpose: permutation of " + std::to_string(perm.size()) +
                     " axes for a tensor of rank " + std::to_string(r));
  std::vector<int> seen(r, 0);
  for (int& p : perm) {
    if (p < 0) p += r;
    if (p < 0 || p >= r || seen[p]++)
      throw ShapeError("transpose: invalid permutation for rank " + std::to_string(r));
  }
  Shape out_shape(static_cast<std::size_t>(r), 0);
  for (int i = 0; i < r; ++i) out_shape[i] = x.shape()[perm[i]];
  Tensor out = make_tensor(out_shape, x.dtype());
  // Input strides, permuted into output order; walk the output with an index counter.
  std::vector<std::int64_t> in_strides(r, 1), s(r);
  for (int i = r - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * x.shape()[i + 1];
  for (int i = 0; i < r; ++i) s[i] = in_strides[perm[i]];
  const std::size_t es = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  const std::int64_t n = x.numel();
  std::vector<std::int64_t> idx(r, 0);
  std::int64_t off = 0;
  detail::dispatch_all(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* sp = reinterpret_cast<const T*>(src);
    T* dp = reinterpret_cast<T*>(dst);
    (void)es;
    for (std::int64_t k = 0; k < n; ++k) {
      dp[k] = sp[off];
      for (int d = r - 1; d >= 0; --d) {
        off += s[d];
        if (++idx[d] < out_shape[d]) break;
        off -= s[d] * out_shape[d];
        idx[d] = 0;
      }
    }
  });
  std::vector<int> inverse(r);
  for (int i = 0; i < r; ++i) inverse[perm[i]] = i;
  return autograd::record_fn(out, "Transpose", {x}, [inverse](const Tensor& g) {
    return std::vector<Tensor>{transpose(g, inverse)};
  });
}

Tensor concatenate(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) throw ValueError("concatenate: needs at least one tensor");
  const int r = xs[0].ndim();
  int a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r)
    throw ShapeError("concatenate: axis " + std::to_string(axis) + " out of range for rank " +
                     std::to_string(r));
  Shape out_shape = xs[0].shape();
  out_shape[a] = 0;
  DType dt = xs[0].dtype();
  for (const Tensor& t : xs) {
    if (t.dtype() != dt)
      throw TypeError(std::string("concatenate: all tensors must share a dtype, got ") +
                      dtype_name(dt) + " and " + dtype_name(t.dtype()));
    Shape s = t.shape();
    bool ok = s.rank() == r;
    for (int i = 0; ok && i < r; ++i) ok = i == a || s[i] == xs[0].shape()[i];
    if (!ok)
      throw ShapeError("concatenate: shapes " + xs[0].shape().str() + " and " + s.str() +
                       " do not match except along axis " + std::to_string(axis));
    out_shape[a] += s[a];
  }
  Tensor out = make_tensor(out_shape, dt);
  std::int64_t outer = 1, inner = 1;
  for (int i = 0; i < a; ++i) outer *= out_shape[i];
  for (int i = a + 1; i < r; ++i) inner *= out_shape[i];
  const std::size_t es = dtype_size(dt);
  char* dst = static_cast<char*>(out.raw_data());
  std::int64_t done = 0;
  std::vector<std::int64_t> sizes;
  for (const Tensor& t : xs) {
    std::int64_t len = t.shape()[a];
    const char* src = static_cast<const char*>(t.raw_data());
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(dst + ((o * out_shape[a] + done) * inner) * es, src + o * len * inner * es,
                  len * inner * es);
    done += len;
    sizes.push_back(len);
  }
  return autograd::record_fn(out, "Concatenate", xs, [sizes, a](const Tensor& g) {
    std::vector<Tensor> grads;
    std::int64_t outer = 1, inner = 1;
    for (int i = 0; i < a; ++i) outer *= g.shape()[i];
    for (int i = a + 1; i < g.ndim(); ++i) inner *= g.shape()[i];
    const std::size_t es = dtype_size(g.dtype());
    const char* src = static_cast<const char*>(g.raw_data());
    std::int64_t done = 0;
    for (std::int64_t len : sizes) {
      Shape s = g.shape();
      s[a] = len;
      Tensor part = make_tensor(s, g.dtype());
      char* dst = static_cast<char*>(part.raw_data());
      for (std::int64_t o = 0; o < outer; ++o)
        std::memcpy(dst + o * len * inner * es, src + ((o * g.shape()[a] + done) * inner) * es,
                    len * inner * es);
      done += len;
      grads.push_back(part);
    }
    return grads;
  });
}

namespace {
// Integer labels as int64, whatever their dtype; floats must hold whole numbers.
std::vector<std::int64_t> as_indices(const Tensor& t, const char* op) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    double v = t.at(i);
    if (!(std::abs(v) < 9.2e18) || v != std::trunc(v))
      throw ValueError(std::string(op) + ": index " + std::to_string(v) + " is not an integer");
    out[i] = static_cast<std::int64_t>(v);
  }
  return out;
}
}  // namespace

Tensor one_hot(const Tensor& labels, std::int64_t depth, DType dtype) {
  auto idx = as_indices(labels, "one_hot");
  Shape s = labels.shape();
  s.push_back(depth);
  Tensor out = Tensor::zeros(s, dtype);
  detail::dispatch_all(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = out.data<T>();
    for (std::size_t i = 0; i < idx.size(); ++i) {
      if (idx[i] < 0 || idx[i] >= depth)
        throw ValueError("one_hot: label " + std::to_string(idx[i]) + " is outside [0, " +
                         std::to_string(depth) + ")");
      p[i * depth + idx[i]] = T(1);
    }
  });
  return out;
}

Tensor take(const Tensor& x, const Tensor& indices) {
  if (x.ndim() == 0) throw ShapeError("take: cannot index a 0-d tensor");
  auto idx = as_indices(indices, "take");
  const std::int64_t rows = x.shape()[0];
  const std::int64_t row = rows ? x.numel() / rows : 0;
  Shape s = indices.shape();
  for (int i = 1; i < x.ndim(); ++i) s.push_back(x.shape()[i]);
  Tensor out = make_tensor(s, x.dtype());
  const std::size_t bytes = row * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (std::size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] < 0 || idx[i] >= rows)
      throw ValueError("take: index " + std::to_string(idx[i]) + " is outside [0, " +
                       std::to_string(rows) + ")");
    std::memcpy(dst + i * bytes, src + idx[i] * bytes, bytes);
  }
  Shape in_shape = x.shape();
  return autograd::record_fn(out, "Take", {x}, [idx, in_shape, row](const Tensor& g) {
    Tensor dx = Tensor::zeros(in_shape, g.dtype());
    detail::dispatch_float(g.dtype(), "take", [&](auto z) {
      using T = decltype(z);
      const T* gp = g.data<T>();
      T* d = dx.data<T>();
      for (std::size_t i = 0; i < idx.size(); ++i)
        for (std::int64_t j = 0; j < row; ++j) d[idx[i] * row + j] += gp[i * row + j];
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace lamina
