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
#include "backend/cpu/dispatch.hpp"
#include "backend/cpu/parallel.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "ops/broadcast.hpp"
#include "tensor/dispatch.hpp"
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

// View `shape` around `axis` as (outer, n, inner).
void split_at(const Shape& shape, int axis, std::int64_t& outer, std::int64_t& n,
              std::int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[i];
  n = shape[axis];
  for (int i = axis + 1; i < shape.rank(); ++i) inner *= shape[i];
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

// Σ p[0..n) with eight interleaved accumulators (vectorisable, and a fixed order, so the result
// never depends on the thread count), combined pairwise.
template <class Acc, class T>
Acc row_sum(const T* p, std::int64_t n) {
  Acc a[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) a[j] += static_cast<Acc>(p[i + j]);
  for (int j = 0; i < n; ++i, ++j) a[j] += static_cast<Acc>(p[i]);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// Sum over one axis, keeping it as size 1. Accumulates float32 in double along the reduced axis.
Tensor sum_axis_kept(const Tensor& x, int axis) {
  std::int64_t outer, n, inner;
  split_at(x.shape(), axis, outer, n, inner);
  Shape s = x.shape();
  s[axis] = 1;
  DType dt = is_floating(x.dtype()) ? x.dtype() : (x.dtype() == uint8 || x.dtype() == int32 ? int64 : x.dtype());
  Tensor xin = x.dtype() == dt ? x : x.astype(dt);
  Tensor out = Tensor::zeros(s, dt);
  detail::dispatch_all(dt, [&](auto z) {
    using T = decltype(z);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
    const T* p = xin.data<T>();
    T* o = out.data<T>();
    constexpr std::int64_t kBlock = 1 << 14;
    if (inner == 1 && n >= 4 * kBlock) {
      // Long rows (a full reduction): fixed-size blocks summed in parallel, then in order.
      const std::int64_t blocks = (n + kBlock - 1) / kBlock;
      std::vector<Acc> partial(static_cast<std::size_t>(outer * blocks));
      cpu::parallel_for(outer * blocks, 1, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t k = b; k < e; ++k) {
          const std::int64_t r = k / blocks, blk = k % blocks;
          const std::int64_t begin = blk * kBlock, len = std::min(kBlock, n - begin);
          partial[k] = row_sum<Acc>(p + r * n + begin, len);
        }
      });
      for (std::int64_t r = 0; r < outer; ++r) {
        Acc acc = 0;
        for (std::int64_t blk = 0; blk < blocks; ++blk) acc += partial[r * blocks + blk];
        o[r] = static_cast<T>(acc);
      }
    } else if (inner == 1) {
      cpu::parallel_for(outer, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1)),
                        [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = b; r < e; ++r) o[r] = static_cast<T>(row_sum<Acc>(p + r * n, n));
      });
    } else {
      // Column sums: add rows into the output, vectorised along `inner`.
      cpu::parallel_for(inner, 256, [&](std::int64_t b, std::int64_t e) LAMINA_KERNEL {
        for (std::int64_t r = 0; r < outer; ++r) {
          T* dst = o + r * inner;
          for (std::int64_t i = 0; i < n; ++i) {
            const T* src = p + (r * n + i) * inner;
            for (std::int64_t j = b; j < e; ++j) dst[j] += src[j];
          }
        }
      });
    }
  });
  return out;
}

// Max/min over one axis (kept), with the index of the first extreme element.
Tensor extreme_axis_kept(const Tensor& x, int axis, bool is_max, Tensor* indices) {
  std::int64_t outer, n, inner;
  split_at(x.shape(), axis, outer, n, inner);
  if (n == 0)
    throw ValueError(std::string(is_max ? "max" : "min") + ": cannot reduce an empty axis of " +
                     x.shape().str());
  Shape s = x.shape();
  s[axis] = 1;
  Tensor out = make_tensor(s, x.dtype());
  Tensor idx = make_tensor(s, int64);
  detail::dispatch_all(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* p = x.data<T>();
    T* o = out.data<T>();
    std::int64_t* ix = idx.data<std::int64_t>();
    cpu::parallel_for(outer * inner, 1024, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t k = b; k < e; ++k) {
        std::int64_t r = k / inner, c = k % inner;
        const T* base = p + r * n * inner + c;
        T best = base[0];
        std::int64_t bi = 0;
        for (std::int64_t i = 1; i < n; ++i) {
          T v = base[i * inner];
          if (is_max ? (v > best || (v != v && best == best)) : (v < best || (v != v && best == best))) {
            best = v;
            bi = i;
          }
        }
        o[k] = best;
        ix[k] = bi;
      }
    });
  });
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
      std::int64_t outer, n, inner;
      split_at(in_shape, axis, outer, n, inner);
      Tensor dx = Tensor::zeros(in_shape, g.dtype());
      detail::dispatch_float(g.dtype(), "max", [&](auto z) {
        using T = decltype(z);
        const T* gp = g.data<T>();
        const std::int64_t* ix = idx.data<std::int64_t>();
        T* d = dx.data<T>();
        for (std::int64_t k = 0; k < outer * inner; ++k) {
          std::int64_t r = k / inner, c = k % inner;
          d[r * n * inner + ix[k] * inner + c] = gp[k];
        }
      });
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
  Tensor out = make_tensor(shape, x.dtype());
  detail::dispatch_all(x.dtype(), [&](auto z) {
    using T = decltype(z);
    T zero = 0;
    detail::broadcast_binary(x.data<T>(), x.shape(), &zero, Shape{}, out.data<T>(), shape,
                             [](T v, T) { return v; });
  });
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

bool all_finite(const Tensor& x) {
  if (!is_floating(x.dtype())) return true;
  return detail::dispatch_float(x.dtype(), "all_finite", [&](auto z) {
    using T = decltype(z);
    const T* p = x.data<T>();
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  });
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  for (std::int64_t i = 0, n = a.numel(); i < n; ++i) {
    double x = a.at(i), y = b.at(i);
    if (!(std::abs(x - y) <= atol + rtol * std::abs(y))) return false;
  }
  return true;
}

}  // namespace lamina
