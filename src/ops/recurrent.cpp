// SPDX-License-Identifier: Apache-2.0
// The recurrent time loop as an autograd op: shape checks, dispatch to the CPU kernels, and the
// hand-written BPTT as the node's backward.
#include "ops/recurrent.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/node.hpp"
#include "lamina/errors.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

namespace {
void expect_shape(const char* what, const Tensor& t, const Shape& want) {
  if (t.shape() != want)
    throw ShapeError(std::string("recurrent_scan: ") + what + " must have shape " + want.str() +
                     ", got " + t.shape().str());
}

template <class T>
const T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
}  // namespace

Tensor recurrent_scan(cpu::RecurrentGeometry g, const Tensor& xp, const Tensor& rk,
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
  if (g.kind == cpu::CellKind::lstm) expect_shape("c0", c0, {g.n, g.units});
  if (rbias.defined()) expect_shape("recurrent_bias", rbias, {G});
  if (rmask.defined()) expect_shape("recurrent_mask", rmask, {g.n, g.units});
  std::vector<std::uint8_t> keep;
  if (mask.defined()) {
    expect_shape("mask", mask, {g.n, g.steps});
    std::vector<double> m = mask.to_vector<double>();
    keep.resize(m.size());
    for (std::size_t i = 0; i < m.size(); ++i) keep[i] = m[i] != 0.0;
  }
  const DType dt = xp.dtype();
  for (const Tensor* t : {&rk, &rbias, &h0, &c0, &rmask})
    if (t->defined() && t->dtype() != dt)
      throw TypeError(std::string("recurrent_scan: every operand must be ") + dtype_name(dt) +
                      ", got " + dtype_name(t->dtype()));

  Tensor out = make_tensor({g.steps + g.states() - 1, g.n, g.units}, dt);
  Tensor work = make_tensor({g.steps, g.n, g.work_width()}, dt);
  const std::uint8_t* mp = keep.empty() ? nullptr : keep.data();
  detail::dispatch_float(dt, "recurrent_scan", [&](auto z) {
    using T = decltype(z);
    cpu::recurrent_forward<T>(g, xp.data<T>(), rk.data<T>(), ptr<T>(rbias), h0.data<T>(), ptr<T>(c0),
                              mp, ptr<T>(rmask), out.data<T>(), work.data<T>());
  });
  if (!autograd::any_requires_grad({&xp, &rk, &rbias, &h0, &c0})) return out;
  Tensor saved = out.detach();
  return autograd::record_fn(
      out, "RecurrentScan", {xp, rk, rbias, h0, c0},
      [g, xp_shape = xp.shape(), rk, rbias, h0, c0, rmask, keep = std::move(keep), saved,
       work](const Tensor& grad) {
        Tensor dxp = make_tensor(xp_shape, grad.dtype());
        Tensor drk = make_tensor(rk.shape(), grad.dtype());
        Tensor drb = rbias.defined() ? make_tensor(rbias.shape(), grad.dtype()) : Tensor();
        Tensor dh0 = make_tensor(h0.shape(), grad.dtype());
        Tensor dc0 = c0.defined() ? make_tensor(c0.shape(), grad.dtype()) : Tensor();
        Tensor go = grad;
        detail::dispatch_float(grad.dtype(), "recurrent_scan", [&](auto z) {
          using T = decltype(z);
          cpu::recurrent_backward<T>(g, rk.data<T>(), h0.data<T>(), ptr<T>(c0),
                                     keep.empty() ? nullptr : keep.data(), ptr<T>(rmask),
                                     saved.data<T>(), work.data<T>(), go.data<T>(), dxp.data<T>(),
                                     drk.data<T>(), drb.defined() ? drb.data<T>() : nullptr,
                                     dh0.data<T>(), dc0.defined() ? dc0.data<T>() : nullptr);
        });
        return std::vector<Tensor>{dxp, drk, drb, dh0, dc0};
      });
}

Tensor reverse_steps(const Tensor& x) {
  if (x.ndim() < 2) throw ShapeError("reverse_steps: input must have a time axis, got " + x.shape().str());
  const std::int64_t n = x.shape()[0], steps = x.shape()[1];
  const std::size_t step_bytes = n > 0 && steps > 0 ? x.nbytes() / static_cast<std::size_t>(n * steps) : 0;
  Tensor out = make_tensor(x.shape(), x.dtype());
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < steps; ++t)
      std::memcpy(dst + (i * steps + t) * step_bytes, src + (i * steps + steps - 1 - t) * step_bytes, step_bytes);
  return autograd::record_fn(out, "ReverseSteps", {x}, [](const Tensor& g) {
    return std::vector<Tensor>{reverse_steps(g)};
  });
}

}  // namespace lamina
