// Convolution ops (NHWC, Keras kernel layouts): argument checks, the padding rule, dispatch to the
// CPU kernels and the hand-written backward.
#include <algorithm>
#include <cctype>
#include <string>

#include "autograd/node.hpp"
#include "backend/cpu/conv.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

Padding padding_from_name(const std::string& name) {
  std::string s;
  for (char c : name) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "valid") return Padding::valid;
  if (s == "same") return Padding::same;
  if (s == "causal") return Padding::causal;
  throw ValueError("padding must be \"valid\", \"same\" or \"causal\", got \"" + name + "\"");
}

const char* padding_name(Padding padding) {
  switch (padding) {
    case Padding::same:
      return "same";
    case Padding::causal:
      return "causal";
    default:
      return "valid";
  }
}

std::int64_t conv_output_length(std::int64_t in, std::int64_t window, std::int64_t stride,
                                Padding padding, std::int64_t dilation) {
  if (in < 0) return -1;
  const std::int64_t span = (window - 1) * dilation + 1;
  // Keras: valid -> ceil((in − span + 1) / stride); same and causal -> ceil(in / stride).
  const std::int64_t len = padding == Padding::valid ? in - span + 1 : in;
  return len <= 0 ? 0 : (len + stride - 1) / stride;
}

namespace {

// TensorFlow's 'same' rule: total = max((out − 1)·stride + span − in, 0), top/left gets the
// smaller half so the extra element goes to the bottom/right.
std::int64_t leading_pad(std::int64_t in, std::int64_t out, std::int64_t window,
                         std::int64_t stride, std::int64_t dilation, Padding padding) {
  const std::int64_t span = (window - 1) * dilation + 1;
  if (padding == Padding::causal) return span - 1;
  if (padding == Padding::valid) return 0;
  return std::max<std::int64_t>((out - 1) * stride + span - in, 0) / 2;
}

cpu::Epilogue epilogue_of(FusedActivation act) {
  switch (act) {
    case FusedActivation::relu:
      return cpu::Epilogue::relu;
    case FusedActivation::sigmoid:
      return cpu::Epilogue::sigmoid;
    case FusedActivation::tanh:
      return cpu::Epilogue::tanh;
    default:
      return cpu::Epilogue::linear;
  }
}

void check_common(const char* op, const Tensor& x, const Tensor& kernel, const Tensor& bias,
                  std::int64_t in_channels, std::int64_t groups) {
  if (x.dtype() != kernel.dtype())
    throw TypeError(std::string(op) + ": input is " + dtype_name(x.dtype()) + " but kernel is " +
                    dtype_name(kernel.dtype()));
  if (groups < 1)
    throw ValueError(std::string(op) + ": groups must be >= 1, got " + std::to_string(groups));
  const std::int64_t per_group = kernel.shape()[kernel.ndim() - 2];
  const std::int64_t filters = kernel.shape()[kernel.ndim() - 1];
  if (per_group * groups != in_channels)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() + " has " +
                     std::to_string(in_channels) + " channels but kernel " + kernel.shape().str() +
                     " with groups=" + std::to_string(groups) + " expects " +
                     std::to_string(per_group * groups));
  if (filters % groups != 0)
    throw ShapeError(std::string(op) + ": filters (" + std::to_string(filters) +
                     ") must be divisible by groups (" + std::to_string(groups) + ")");
  if (bias.defined() && (bias.ndim() != 1 || bias.shape()[0] != filters))
    throw ShapeError(std::string(op) + ": bias must have shape (" + std::to_string(filters) +
                     ",), got " + bias.shape().str());
  if (bias.defined() && bias.dtype() != kernel.dtype())
    throw TypeError(std::string(op) + ": bias is " + dtype_name(bias.dtype()) + " but kernel is " +
                    dtype_name(kernel.dtype()));
}

// x (n, h, w, c), kernel (kh, kw, c/groups, f), geometry complete.
Tensor conv2d_run(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                  const cpu::ConvGeometry& g, FusedActivation act) {
  Tensor out = make_tensor({g.n, g.oh, g.ow, g.f}, x.dtype());
  const cpu::Epilogue epi = epilogue_of(act);
  detail::dispatch_float(x.dtype(), "conv", [&](auto z) {
    using T = decltype(z);
    cpu::conv2d_forward<T>(g, x.data<T>(), kernel.data<T>(),
                           bias.defined() ? bias.data<T>() : nullptr, epi, out.data<T>());
  });
  if (!autograd::any_requires_grad({&x, &kernel, &bias})) return out;
  Tensor y = out.detach();
  return autograd::record_fn(
      out, "Conv", {x, kernel, bias}, [x, kernel, bias, y, g, epi](const Tensor& grad) {
        Tensor gx, gk, gb;
        detail::dispatch_float(grad.dtype(), "conv", [&](auto z) {
          using T = decltype(z);
          Tensor gz = grad;  // gradient at the pre-activation
          if (epi != cpu::Epilogue::linear) {
            gz = make_tensor(grad.shape(), grad.dtype());
            cpu::epilogue_backward<T>(epi, y.data<T>(), grad.data<T>(), gz.data<T>(), grad.numel());
          }
          if (x.requires_grad()) gx = make_tensor(x.shape(), x.dtype());
          if (kernel.requires_grad()) gk = make_tensor(kernel.shape(), kernel.dtype());
          if (bias.defined() && bias.requires_grad()) gb = make_tensor(bias.shape(), bias.dtype());
          cpu::conv2d_backward<T>(g, x.data<T>(), kernel.data<T>(), gz.template data<T>(),
                                  gx.defined() ? gx.template data<T>() : nullptr,
                                  gk.defined() ? gk.template data<T>() : nullptr,
                                  gb.defined() ? gb.template data<T>() : nullptr);
        });
        return std::vector<Tensor>{gx, gk, gb};
      });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias, Size2D strides,
              Padding padding, Size2D dilation, std::int64_t groups, FusedActivation act) {
  if (x.ndim() != 4)
    throw ShapeError("conv2d: input must be 4-D (batch, height, width, channels), got " +
                     x.shape().str());
  if (kernel.ndim() != 4)
    throw ShapeError("conv2d: kernel must be 4-D (kh, kw, in/groups, filters), got " +
                     kernel.shape().str());
  if (strides.h < 1 || strides.w < 1 || dilation.h < 1 || dilation.w < 1)
    throw ValueError("conv2d: strides and dilation_rate must be >= 1");
  if (padding == Padding::causal)
    throw ValueError("conv2d: causal padding exists only for 1-D convolutions");
  check_common("conv2d", x, kernel, bias, x.shape()[3], groups);
  cpu::ConvGeometry g{};
  g.n = x.shape()[0], g.h = x.shape()[1], g.w = x.shape()[2], g.c = x.shape()[3];
  g.kh = kernel.shape()[0], g.kw = kernel.shape()[1], g.f = kernel.shape()[3];
  g.groups = groups, g.sh = strides.h, g.sw = strides.w, g.dh = dilation.h, g.dw = dilation.w;
  g.oh = conv_output_length(g.h, g.kh, g.sh, padding, g.dh);
  g.ow = conv_output_length(g.w, g.kw, g.sw, padding, g.dw);
  if (g.oh <= 0 || g.ow <= 0)
    throw ShapeError("conv2d: kernel " + kernel.shape().str() + " with dilation (" +
                     std::to_string(g.dh) + ", " + std::to_string(g.dw) + ") does not fit input " +
                     x.shape().str() + " with 'valid' padding");
  g.pad_top = leading_pad(g.h, g.oh, g.kh, g.sh, g.dh, padding);
  g.pad_left = leading_pad(g.w, g.ow, g.kw, g.sw, g.dw, padding);
  return conv2d_run(x, kernel, bias, g, act);
}

Tensor conv1d(const Tensor& x, const Tensor& kernel, const Tensor& bias, std::int64_t stride,
              Padding padding, std::int64_t dilation, std::int64_t groups, FusedActivation act) {
  if (x.ndim() != 3)
    throw ShapeError("conv1d: input must be 3-D (batch, steps, channels), got " + x.shape().str());
  if (kernel.ndim() != 3)
    throw ShapeError("conv1d: kernel must be 3-D (k, in/groups, filters), got " +
                     kernel.shape().str());
  if (stride < 1 || dilation < 1)
    throw ValueError("conv1d: strides and dilation_rate must be >= 1");
  check_common("conv1d", x, kernel, bias, x.shape()[2], groups);
  // A 1-D convolution is a 2-D one over a height-1 image.
  cpu::ConvGeometry g{};
  g.n = x.shape()[0], g.h = 1, g.w = x.shape()[1], g.c = x.shape()[2];
  g.kh = 1, g.kw = kernel.shape()[0], g.f = kernel.shape()[2];
  g.groups = groups, g.sw = stride, g.dw = dilation;
  g.oh = 1;
  g.ow = conv_output_length(g.w, g.kw, g.sw, padding, g.dw);
  if (g.ow <= 0)
    throw ShapeError("conv1d: kernel " + kernel.shape().str() + " with dilation " +
                     std::to_string(dilation) + " does not fit input " + x.shape().str() +
                     " with 'valid' padding");
  g.pad_left = leading_pad(g.w, g.ow, g.kw, g.sw, g.dw, padding);
  Tensor x4 = x.reshape({g.n, 1, g.w, g.c});
  Tensor k4 = kernel.reshape({1, g.kw, kernel.shape()[1], g.f});
  return conv2d_run(x4, k4, bias, g, act).reshape({g.n, g.ow, g.f});
}

}  // namespace lamina
