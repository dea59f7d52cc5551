// SPDX-License-Identifier: Apache-2.0
// The recurrent time loop as an autograd op: shape checks, dispatch to the CPU kernels, and the
// hand-written BPTT as the node's backward.
#include "ops/recurrent.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/node.hpp"
#include "backend/backend.hpp"
#include "lamina/errors.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

namespace {
void expect_shape(const char* what, const Tensor& t, const Shape& want) {
  if (t.shape() != want)
    throw ShapeError(std::string("recurrent_scan: ") + what + " must have shape " + want.str() +
                     ", got " + t.shape().str());
}

}  // namespace

Tensor recurrent_scan(backend::RecurrentGeometry g, const Tensor& xp, const Tensor& rk,
                      const Tensor& rbias, const Tensor& h0, const Tensor& c0, const Tensor& mask,
                      const Tensor& rmask) {
  if (xp.ndim() != 3) throw ShapeError("recurrent_scan: xp must be 3-D, got " + xp.shape().str());
  g.n = xp.shape()[0];
  g.steps = xp.shape()[1];
  g.units = rk.ndim() == 2 ? rk.shape()[0] : 0;
  const std::int64_t G = g.gates() * g.units;
  expect_shape("recurrent_kernel", rk, {g.units, G});
  expect_shape("xp", xp, {g.n, g.steps, G});
  expect_shape("h0", h0, {g.n, g.units});
  if (g.kind == backend::CellKind::lstm) expect_shape("c0", c0, {g.n, g.units});
  if (rbias.defined()) expect_shape("recurrent_bias", rbias, {G});
  if (rmask.defined()) expect_shape("recurrent_mask", rmask, {g.n, g.units});
  // The step mask as uint8 0/1 on the scan's device.
  Tensor keep;
  if (mask.defined()) {
    expect_shape("mask", mask, {g.n, g.steps});
    keep = mask.detach() != 0.0;
  }
  const DType dt = xp.dtype();
  for (const Tensor* t : {&rk, &rbias, &h0, &c0, &rmask})
    if (t->defined() && t->dtype() != dt)
      throw TypeError(std::string("recurrent_scan: every operand must be ") + dtype_name(dt) +
                      ", got " + dtype_name(t->dtype()));

  backend::Backend& be = backend::of("recurrent_scan", {&xp, &rk, &rbias, &h0, &c0, &keep, &rmask});
  const Device dev = xp.device();
  Tensor out = make_tensor({g.steps + g.states() - 1, g.n, g.units}, dt, dev);
  Tensor work = make_tensor({g.steps, g.n, g.work_width()}, dt, dev);
  be.recurrent_forward(g, xp, rk, rbias, h0, c0, keep, rmask, out, work);
  if (!autograd::any_requires_grad({&xp, &rk, &rbias, &h0, &c0})) return out;
  Tensor saved = out.detach();
  return autograd::record_fn(
      out, "RecurrentScan", {xp, rk, rbias, h0, c0},
      [g, xp_shape = xp.shape(), rk, rbias, h0, c0, rmask, keep, saved, work,
       &be](const Tensor& grad) {
        const Device dev = grad.device();
        Tensor dxp = make_tensor(xp_shape, grad.dtype(), dev);
        Tensor drk = make_tensor(rk.shape(), grad.dtype(), dev);
        Tensor drb = rbias.defined() ? make_tensor(rbias.shape(), grad.dtype(), dev) : Tensor();
        Tensor dh0 = make_tensor(h0.shape(), grad.dtype(), dev);
        Tensor dc0 = c0.defined() ? make_tensor(c0.shape(), grad.dtype(), dev) : Tensor();
        be.recurrent_backward(g, rk, h0, c0, keep, rmask, saved, work, grad, dxp, drk, drb, dh0,
                              dc0);
        return std::vector<Tensor>{dxp, drk, drb, dh0, dc0};
      });
}

Tensor reverse_steps(const Tensor& x) {
  if (x.ndim() < 2) throw ShapeError("reverse_steps: input must have a time axis, got " + x.shape().str());
  Tensor out = make_tensor(x.shape(), x.dtype(), x.device());
  backend::of("reverse_steps", x).reverse_steps(x, out);
  return autograd::record_fn(out, "ReverseSteps", {x}, [](const Tensor& g) {
    return std::vector<Tensor>{reverse_steps(g)};
  });
}

}  // namespace lamina
