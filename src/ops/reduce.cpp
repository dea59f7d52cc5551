// SPDX-License-Identifier: Apache-2.0
// Reductions (sum, mean, max, min, argmax) and their adjoints broadcast_to / sum_to.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "autograd/node.hpp"
#include "backend/backend.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/broadcast.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace {

int norm_axis(int axis, int rank, const char* op) {
  int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) +
                     " is out of range for a tensor of rank " + std::to_string(rank));
  return a;
}

// Sorted, unique, non-negative axes; empty input means all axes.
std::vector<int> norm_axes(std::vector<int> axes, int rank, const char* op) {
  if (axes.empty()) {
    for (int i = 0; i < rank; ++i) axes.push_back(i);
    return axes;
  }
  for (int& a : axes) a = norm_axis(a, rank, op);
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}


Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keepdims) {
  Shape out;
  for (int i = 0; i < s.rank(); ++i) {
    bool r = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!r) out.push_back(s[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

// Sum over one axis, keeping it as size 1. Accumulates float32 in double along the reduced axis.
Tensor sum_axis_kept(const Tensor& x, int axis) {
  Shape s = x.shape();
  s[axis] = 1;
  DType dt = is_floating(x.dtype()) ? x.dtype() : (x.dtype() == uint8 || x.dtype() == int32 ? int64 : x.dtype());
  Tensor xin = x.dtype() == dt ? x : x.astype(dt);
  Tensor out = make_tensor(s, dt, x.device());
  backend::of("sum", x).sum_axis(xin, backend::axis_view(x.shape(), axis), out);
  return out;
}

// Max/min over one axis (kept), with the index of the first extreme element.
Tensor extreme_axis_kept(const Tensor& x, int axis, bool is_max, Tensor* indices) {
  if (x.shape()[axis] == 0)
    throw ValueError(std::string(is_max ? "max" : "min") + ": cannot reduce an empty axis of " +
                     x.shape().str());
  Shape s = x.shape();
  s[axis] = 1;
  Tensor out = make_tensor(s, x.dtype(), x.device());
  Tensor idx = make_tensor(s, int64, x.device());
  backend::of(is_max ? "max" : "min", x).extreme_axis(x, backend::axis_view(x.shape(), axis), is_max, out, idx);
  if (indices) *indices = idx;
  return out;
}

Tensor extreme(const Tensor& x, std::vector<int> axes, bool keepdims, bool is_max) {
  const char* op = is_max ? "max" : "min";
  auto ax = norm_axes(std::move(axes), x.ndim(), op);
  if (x.ndim() == 0) return x;
  Tensor cur = x;
  // Reduce one axis at a time; each step records its own node so gradients route correctly.
  for (int a : ax) {
    Tensor idx;
    Tensor out = extreme_axis_kept(cur, a, is_max, &idx);
    Shape in_shape = cur.shape();
    int axis = a;
    cur = autograd::record_fn(out, is_max ? "Max" : "Min", {cur},
                              [idx, in_shape, axis](const Tensor& g) {
      Tensor dx = Tensor::zeros(in_shape, g.dtype(), g.device());
      backend::of("max", g).extreme_axis_backward(g, idx, backend::axis_view(in_shape, axis), dx);
      return std::vector<Tensor>{dx};
    });
  }
  return keepdims ? cur : cur.reshape(reduced_shape(x.shape(), ax, false));
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdims) {
  auto ax = norm_axes(std::move(axes), x.ndim(), "sum");
  Tensor out;
  {
    NoGradGuard no_grad;
    Tensor cur = x;
    if (x.ndim() > 0 && ax.size() == static_cast<std::size_t>(x.ndim()) && x.ndim() > 1) {
      cur = x.reshape({1, x.numel()});
      cur = sum_axis_kept(cur, 1);
    } else {
      for (int a : ax) cur = sum_axis_kept(cur, a);
    }
    out = cur.reshape(reduced_shape(x.shape(), ax, keepdims));
    if (out.shares_storage(x)) out = out.clone();
  }
  Shape in_shape = x.shape();
  Shape kept = reduced_shape(x.shape(), ax, true);
  return autograd::record_fn(out, "Sum", {x}, [in_shape, kept](const Tensor& g) {
    return std::vector<Tensor>{broadcast_to(g.reshape(kept), in_shape)};
  });
}

Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdims) {
  auto ax = norm_axes(std::move(axes), x.ndim(), "mean");
  std::int64_t count = 1;
  for (int a : ax) count *= x.shape()[a];
  if (count == 0) throw ValueError("mean: cannot average an empty tensor of shape " + x.shape().str());
  Tensor s = sum(is_floating(x.dtype()) ? x : x.astype(float32), ax, keepdims);
  return s / static_cast<double>(count);
}

Tensor max(const Tensor& x, std::vector<int> axes, bool keepdims) {
  return extreme(x, std::move(axes), keepdims, true);
}

Tensor min(const Tensor& x, std::vector<int> axes, bool keepdims) {
  return extreme(x, std::move(axes), keepdims, false);
}

Tensor argmax(const Tensor& x, int axis) {
  int a = norm_axis(axis, x.ndim(), "argmax");
  Tensor idx;
  {
    NoGradGuard no_grad;
    extreme_axis_kept(x, a, true, &idx);
  }
  return idx.reshape(reduced_shape(x.shape(), {a}, false));
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  Shape b = detail::broadcast_shapes(x.shape(), shape, "broadcast_to");
  if (b != shape)
    throw ShapeError("broadcast_to: cannot broadcast " + x.shape().str() + " to " + shape.str());
  if (x.shape() == shape) return x;
  Tensor out = make_tensor(shape, x.dtype(), x.device());
  backend::of("broadcast_to", x).broadcast(x, out);
  Shape in_shape = x.shape();
  return autograd::record_fn(out, "BroadcastTo", {x}, [in_shape](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, in_shape)};
  });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int r = x.ndim(), off = r - shape.rank();
  if (off < 0) throw ShapeError("sum_to: cannot reduce " + x.shape().str() + " to " + shape.str());
  std::vector<int> axes;
  for (int i = 0; i < r; ++i) {
    std::int64_t target = i < off ? 1 : shape[i - off];
    if (i < off || (target == 1 && x.shape()[i] != 1)) axes.push_back(i);
    else if (target != x.shape()[i])
      throw ShapeError("sum_to: cannot reduce " + x.shape().str() + " to " + shape.str());
  }
  return sum(x, axes, true).reshape(shape);
}

bool all_finite(const Tensor& x) { return backend::of("all_finite", x).all_finite(x); }

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i) {
    double x = va[i], y = vb[i];
    if (!(std::abs(x - y) <= atol + rtol * std::abs(y))) return false;
  }
  return true;
}

}  // namespace lamina
