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
#include "backend/backend.hpp"
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
  Tensor out = make_tensor(out_shape, x.dtype(), x.device());
  backend::of("transpose", x).transpose(x, perm, out);
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
  std::vector<const Tensor*> all;
  for (const Tensor& t : xs) all.push_back(&t);
  backend::Backend& be = backend::of("concatenate", all);
  Tensor out = make_tensor(out_shape, dt, xs[0].device());
  const backend::AxisView view = backend::axis_view(out_shape, a);
  std::int64_t done = 0;
  std::vector<std::int64_t> sizes;
  for (const Tensor& t : xs) {
    Tensor part = t;
    be.copy_axis_block(part, out, view, done, false);
    done += t.shape()[a];
    sizes.push_back(t.shape()[a]);
  }
  return autograd::record_fn(out, "Concatenate", xs, [sizes, a](const Tensor& g) {
    std::vector<Tensor> grads;
    backend::Backend& be = backend::of("concatenate", g);
    const backend::AxisView view = backend::axis_view(g.shape(), a);
    Tensor whole = g;
    std::int64_t done = 0;
    for (std::int64_t len : sizes) {
      Shape s = g.shape();
      s[a] = len;
      Tensor part = make_tensor(s, g.dtype(), g.device());
      be.copy_axis_block(part, whole, view, done, true);
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
  const std::vector<double> values = t.to_vector<double>();
  for (std::size_t i = 0; i < values.size(); ++i) {
    double v = values[i];
    if (!(std::abs(v) < 9.2e18) || v != std::trunc(v))
      throw ValueError(std::string(op) + ": index " + std::to_string(v) + " is not an integer");
    out[i] = static_cast<std::int64_t>(v);
  }
  return out;
}
// Checked indices as an int64 tensor on the device that will use them.
Tensor index_tensor(const std::vector<std::int64_t>& idx, const Shape& shape, Device device) {
  return Tensor::from_vector(idx, shape).to(device);
}
}  // namespace

Tensor one_hot(const Tensor& labels, std::int64_t depth, DType dtype) {
  auto idx = as_indices(labels, "one_hot");
  Shape s = labels.shape();
  s.push_back(depth);
  for (std::int64_t i : idx)
    if (i < 0 || i >= depth)
      throw ValueError("one_hot: label " + std::to_string(i) + " is outside [0, " +
                       std::to_string(depth) + ")");
  Tensor out = make_tensor(s, dtype, labels.device());
  backend::of("one_hot", labels).one_hot(index_tensor(idx, labels.shape(), labels.device()), out);
  return out;
}

Tensor take(const Tensor& x, const Tensor& indices) {
  if (x.ndim() == 0) throw ShapeError("take: cannot index a 0-d tensor");
  auto idx = as_indices(indices, "take");
  const std::int64_t rows = x.shape()[0];
  const std::int64_t row = rows ? x.numel() / rows : 0;
  Shape s = indices.shape();
  for (int i = 1; i < x.ndim(); ++i) s.push_back(x.shape()[i]);
  for (std::int64_t i : idx)
    if (i < 0 || i >= rows)
      throw ValueError("take: index " + std::to_string(i) + " is outside [0, " +
                       std::to_string(rows) + ")");
  backend::Backend& be = backend::of("take", x, indices);
  Tensor positions = index_tensor(idx, indices.shape(), x.device());
  Tensor out = make_tensor(s, x.dtype(), x.device());
  be.gather_rows(x, positions, out);
  Shape in_shape = x.shape();
  return autograd::record_fn(out, "Take", {x}, [positions, in_shape, &be](const Tensor& g) {
    Tensor dx = Tensor::zeros(in_shape, g.dtype(), g.device());
    be.scatter_add_rows(g, positions, dx);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace lamina
