// SPDX-License-Identifier: Apache-2.0
// Sorted search, integer hashing and projective image transforms: argument checks, dispatch to
// the backend, and the transform's backward (the kernel's adjoint).
#include <string>

#include "autograd/node.hpp"
#include "backend/backend.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

Tensor search_sorted(const Tensor& sorted, const Tensor& x, bool right) {
  if (sorted.ndim() != 1) throw ShapeError("search_sorted: `sorted` must be 1-D, got " + sorted.shape().str());
  const DType dt = x.dtype() == uint8 ? int32 : x.dtype();
  const Tensor xs = x.detach().astype(dt);
  const Tensor s = sorted.detach().to(x.device()).astype(dt);
  Tensor out = make_tensor(x.shape(), int64, x.device());
  backend::of("search_sorted", xs, s).search_sorted(s, xs, right, out);
  return out;
}

Tensor hash_bucket(const Tensor& x, std::int64_t num_bins, const std::string& method,
                   std::optional<std::array<std::uint64_t, 2>> key) {
  if (num_bins < 1) throw ValueError("hash_bucket: num_bins must be >= 1, got " + std::to_string(num_bins));
  backend::HashMethod m;
  if (method == "floormod") m = backend::HashMethod::floormod;
  else if (method == "fingerprint64") m = backend::HashMethod::fingerprint64;
  else if (method == "siphash") m = backend::HashMethod::siphash;
  else throw ValueError("hash_bucket: method must be \"floormod\", \"fingerprint64\" or \"siphash\", got \"" + method + "\"");
  if (m == backend::HashMethod::siphash && !key) throw ValueError("hash_bucket: siphash needs a key");
  const Tensor xs = x.detach().astype(int64);
  Tensor out = make_tensor(x.shape(), int64, x.device());
  const auto k = key.value_or(std::array<std::uint64_t, 2>{0, 0});
  backend::of("hash_bucket", xs).hash_bucket(m, num_bins, k[0], k[1], xs, out);
  return out;
}

Tensor affine_transform(const Tensor& x, const Tensor& transforms, const std::string& interpolation,
                        const std::string& fill_mode, double fill_value) {
  if (x.ndim() != 4)
    throw ShapeError("affine_transform: images must be 4-D (batch, height, width, channels), got " + x.shape().str());
  const bool per_image = transforms.ndim() == 2;
  if (!(transforms.ndim() == 1 && transforms.dim(0) == 8) &&
      !(per_image && transforms.dim(1) == 8 && transforms.dim(0) == x.dim(0)))
    throw ShapeError("affine_transform: transforms must be (8) or (batch, 8) for images " + x.shape().str() + ", got " +
                     transforms.shape().str());
  backend::ImageTransform t;
  if (interpolation == "bilinear") t.interpolation = backend::SampleInterpolation::bilinear;
  else if (interpolation == "nearest") t.interpolation = backend::SampleInterpolation::nearest;
  else throw ValueError("affine_transform: interpolation must be \"bilinear\" or \"nearest\", got \"" + interpolation + "\"");
  if (fill_mode == "reflect") t.fill_mode = backend::FillMode::reflect;
  else if (fill_mode == "wrap") t.fill_mode = backend::FillMode::wrap;
  else if (fill_mode == "constant") t.fill_mode = backend::FillMode::constant;
  else if (fill_mode == "nearest") t.fill_mode = backend::FillMode::nearest;
  else
    throw ValueError("affine_transform: fill_mode must be \"reflect\", \"wrap\", \"constant\" or \"nearest\", got \"" +
                     fill_mode + "\"");
  t.fill_value = fill_value;
  // The coefficients are a handful of numbers per image: the kernel reads them from the host.
  t.coefficients = transforms.detach().to(Device::cpu()).to_vector<float>();
  backend::Backend& be = backend::of("affine_transform", x);
  Tensor out = make_tensor(x.shape(), x.dtype(), x.device());
  be.affine_transform(t, x, out);
  if (!autograd::any_requires_grad({&x})) return out;
  const Shape shape = x.shape();
  return autograd::record_fn(out, "AffineTransform", {x}, [t, shape, &be](const Tensor& g) {
    Tensor dx = make_tensor(shape, g.dtype(), g.device());
    be.affine_transform_backward(t, g, dx);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace lamina
