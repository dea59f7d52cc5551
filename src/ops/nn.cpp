// SPDX-License-Identifier: Apache-2.0
// Neural-network ops with hand-written backward: softmax, log_softmax, the fused dense layer and
// the fused softmax cross-entropies.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "autograd/node.hpp"
#include "backend/backend.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {
namespace {

int norm_axis(int axis, int rank, const char* op) {
  int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) +
                     " is out of range for rank " + std::to_string(rank));
  return a;
}

Tensor softmax_impl(const Tensor& x, int axis, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  int a = norm_axis(axis, x.ndim(), op);
  const backend::AxisView v = backend::axis_view(x.shape(), a);
  backend::Backend& be = backend::of(op, x);
  Tensor out = make_tensor(x.shape(), x.dtype(), x.device());
  be.softmax(x, v, log, out);
  if (!autograd::any_requires_grad({&x})) return out;
  Tensor y = out.detach();
  return autograd::record_fn(out, log ? "LogSoftmax" : "Softmax", {x},
                             [y, v, log, &be](const Tensor& g) {
    Tensor dx = make_tensor(g.shape(), g.dtype(), g.device());
    be.softmax_backward(y, g, v, log, dx);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) {
  Tensor out = softmax_impl(x, axis, false);
  if (axis == -1 || axis == x.ndim() - 1) {
    out.impl()->logits_of = LogitsOf::softmax;
    out.impl()->logits = x;
  }
  return out;
}

Tensor log_softmax(const Tensor& x, int axis) { return softmax_impl(x, axis, true); }

Tensor softmax_logits_of(const Tensor& probs) {
  return probs.defined() && probs.impl()->logits_of == LogitsOf::softmax ? probs.impl()->logits
                                                                         : Tensor();
}

Tensor sigmoid_logits_of(const Tensor& probs) {
  return probs.defined() && probs.impl()->logits_of == LogitsOf::sigmoid ? probs.impl()->logits
                                                                         : Tensor();
}

// --- fused dense -----------------------------------------------------------------------------------

namespace {

backend::Epilogue epilogue_of(FusedActivation act) {
  switch (act) {
    case FusedActivation::relu: return backend::Epilogue::relu;
    case FusedActivation::sigmoid: return backend::Epilogue::sigmoid;
    case FusedActivation::tanh: return backend::Epilogue::tanh;
    default: return backend::Epilogue::linear;
  }
}

}  // namespace

Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, FusedActivation act) {
  if (kernel.ndim() != 2)
    throw ShapeError("dense: kernel must be 2-D (in, out), got " + kernel.shape().str());
  if (x.ndim() < 1 || x.shape()[x.ndim() - 1] != kernel.shape()[0])
    throw ShapeError("dense: input " + x.shape().str() + " does not fit kernel " +
                     kernel.shape().str() + " (last dimension must be " +
                     std::to_string(kernel.shape()[0]) + ")");
  const std::int64_t units = kernel.shape()[1];
  if (bias.defined() && (bias.ndim() != 1 || bias.shape()[0] != units))
    throw ShapeError("dense: bias must have shape (" + std::to_string(units) + ",), got " +
                     bias.shape().str());
  if (x.dtype() != kernel.dtype())
    throw TypeError(std::string("dense: input is ") + dtype_name(x.dtype()) + " but kernel is " +
                    dtype_name(kernel.dtype()));
  if (bias.defined() && bias.dtype() != kernel.dtype())
    throw TypeError(std::string("dense: bias is ") + dtype_name(bias.dtype()) + " but kernel is " +
                    dtype_name(kernel.dtype()));
  backend::Backend& be = backend::of("dense", {&x, &kernel, &bias});
  Shape out_shape = x.shape();
  out_shape[out_shape.rank() - 1] = units;
  Tensor out = make_tensor(out_shape, x.dtype(), x.device());
  const backend::Epilogue epi = epilogue_of(act);
  be.dense_forward(x, kernel, bias, epi, out);
  if (!autograd::any_requires_grad({&x, &kernel, &bias})) return out;
  Tensor y = out.detach();
  return autograd::record_fn(out, "Dense", {x, kernel, bias},
                             [x, kernel, bias, y, epi, &be](const Tensor& g) {
    Tensor gb = bias.defined() && bias.requires_grad()
                    ? Tensor::zeros(bias.shape(), bias.dtype(), g.device()) : Tensor();
    Tensor gx = x.requires_grad() ? make_tensor(x.shape(), x.dtype(), g.device()) : Tensor();
    Tensor gk = kernel.requires_grad() ? make_tensor(kernel.shape(), kernel.dtype(), g.device())
                                       : Tensor();
    be.dense_backward(x, kernel, y, g, epi, gx, gk, gb);
    return std::vector<Tensor>{gx, gk, gb};
  });
}

// --- fused softmax cross-entropy ------------------------------------------------------------------

Tensor sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels) {
  if (logits.ndim() < 1) throw ShapeError("sparse_softmax_cross_entropy: logits must have a class axis");
  const std::int64_t classes = logits.shape()[logits.ndim() - 1];
  Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  if (labels.numel() != lead.numel())
    throw ShapeError("sparse_softmax_cross_entropy: labels of shape " + labels.shape().str() +
                     " do not fit logits of shape " + logits.shape().str());
  std::vector<std::int64_t> idx;
  idx.reserve(static_cast<std::size_t>(lead.numel()));
  for (double v : labels.to_vector<double>()) {
    if (!(v >= 0 && v < classes) || v != std::floor(v))
      throw ValueError("sparse_softmax_cross_entropy: label " + std::to_string(v) +
                       " is outside [0, " + std::to_string(classes) + ")");
    idx.push_back(static_cast<std::int64_t>(v));
  }
  backend::Backend& be = backend::of("sparse_softmax_cross_entropy", logits, labels);
  Tensor rows = Tensor::from_vector(idx, lead).to(logits.device());
  Tensor probs = make_tensor(logits.shape(), logits.dtype(), logits.device());
  Tensor loss = make_tensor(lead, logits.dtype(), logits.device());
  be.sparse_softmax_cross_entropy(logits, rows, probs, loss);
  return autograd::record_fn(loss, "SparseSoftmaxCrossEntropy", {logits},
                             [probs, rows, &be](const Tensor& g) {
    Tensor dx = make_tensor(probs.shape(), probs.dtype(), g.device());
    be.sparse_softmax_cross_entropy_backward(probs, rows, g, dx);
    return std::vector<Tensor>{dx};
  });
}

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& targets) {
  if (logits.ndim() < 1) throw ShapeError("softmax_cross_entropy: logits must have a class axis");
  if (logits.shape() != targets.shape())
    throw ShapeError("softmax_cross_entropy: targets of shape " + targets.shape().str() +
                     " do not match logits of shape " + logits.shape().str());
  Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  backend::Backend& be = backend::of("softmax_cross_entropy", logits, targets);
  Tensor t = targets.dtype() == logits.dtype() ? targets : targets.astype(logits.dtype());
  Tensor logp = make_tensor(logits.shape(), logits.dtype(), logits.device());
  Tensor loss = make_tensor(lead, logits.dtype(), logits.device());
  be.softmax_cross_entropy(logits, t, logp, loss);
  Tensor td = t.detach();
  return autograd::record_fn(loss, "SoftmaxCrossEntropy", {logits, t},
                             [logp, td, &be](const Tensor& g) {
    Tensor dx = make_tensor(logp.shape(), logp.dtype(), g.device());
    Tensor dt = make_tensor(logp.shape(), logp.dtype(), g.device());
    be.softmax_cross_entropy_backward(logp, td, g, dx, dt);
    return std::vector<Tensor>{dx, dt};
  });
}

}  // namespace lamina
