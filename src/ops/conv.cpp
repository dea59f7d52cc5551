// SPDX-License-Identifier: Apache-2.0
// Convolution ops (NHWC, Keras kernel layouts): argument checks, the padding rule, dispatch to the
// CPU kernels and the hand-written backward.
#include "backend/backend.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "autograd/node.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
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

std::int64_t conv_transpose_output_length(std::int64_t in, std::int64_t window, std::int64_t stride,
                                          Padding padding,
                                          std::optional<std::int64_t> output_padding,
                                          std::int64_t dilation) {
  if (in < 0) return -1;
  const std::int64_t span = (window - 1) * dilation + 1;
  if (padding == Padding::same)
    return output_padding ? (in - 1) * stride + span % 2 + *output_padding : in * stride;
  return (in - 1) * stride + span + output_padding.value_or(std::max(span, stride) - span);
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

backend::Epilogue epilogue_of(FusedActivation act) {
  switch (act) {
    case FusedActivation::relu:
      return backend::Epilogue::relu;
    case FusedActivation::sigmoid:
      return backend::Epilogue::sigmoid;
    case FusedActivation::tanh:
      return backend::Epilogue::tanh;
    default:
      return backend::Epilogue::linear;
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

// The frame of every fused conv-like op (transpose or not): the activated output in one kernel;
// backward undoes the activation through the saved output, then asks for the gradients wanted.
Tensor fused_conv_op(const char* op, const Tensor& x, const Tensor& kernel, const Tensor& bias,
                     const backend::ConvGeometry& g, bool transpose, backend::Epilogue epi) {
  backend::Backend& be = backend::of(op, {&x, &kernel, &bias});
  const Shape out_shape = transpose ? Shape{g.n, g.h, g.w, g.c} : Shape{g.n, g.oh, g.ow, g.f};
  Tensor out = make_tensor(out_shape, x.dtype(), x.device());
  if (transpose) be.conv2d_transpose_forward(g, x, kernel, bias, epi, out);
  else be.conv2d_forward(g, x, kernel, bias, epi, out);
  if (!autograd::any_requires_grad({&x, &kernel, &bias})) return out;
  Tensor y = out.detach();
  return autograd::record_fn(
      out, op, {x, kernel, bias}, [x, kernel, bias, y, epi, g, transpose, &be](const Tensor& grad) {
        const Device dev = grad.device();
        Tensor gx = x.requires_grad() ? make_tensor(x.shape(), x.dtype(), dev) : Tensor();
        Tensor gk = kernel.requires_grad() ? make_tensor(kernel.shape(), kernel.dtype(), dev)
                                           : Tensor();
        Tensor gb = bias.defined() && bias.requires_grad()
                        ? make_tensor(bias.shape(), bias.dtype(), dev) : Tensor();
        Tensor gz = grad;  // gradient at the pre-activation
        if (epi != backend::Epilogue::linear) {
          gz = make_tensor(grad.shape(), grad.dtype(), dev);
          be.epilogue_backward(epi, y, grad, gz);
        }
        if (transpose) be.conv2d_transpose_backward(g, x, kernel, gz, gx, gk, gb);
        else be.conv2d_backward(g, x, kernel, gz, gx, gk, gb);
        return std::vector<Tensor>{gx, gk, gb};
      });
}

// x (n, h, w, c), kernel (kh, kw, c/groups, f), geometry complete.
Tensor conv2d_run(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                  const backend::ConvGeometry& g, FusedActivation act) {
  return fused_conv_op("conv", x, kernel, bias, g, false, epilogue_of(act));
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
  backend::ConvGeometry g{};
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

Tensor conv2d_transpose(const Tensor& x, const Tensor& kernel, const Tensor& bias, Size2D strides,
                        Padding padding, std::optional<Size2D> output_padding, Size2D dilation,
                        FusedActivation act) {
  if (x.ndim() != 4)
    throw ShapeError("conv2d_transpose: input must be 4-D (batch, height, width, channels), got " +
                     x.shape().str());
  if (kernel.ndim() != 4)
    throw ShapeError("conv2d_transpose: kernel must be 4-D (kh, kw, filters, in), got " +
                     kernel.shape().str());
  if (strides.h < 1 || strides.w < 1 || dilation.h < 1 || dilation.w < 1)
    throw ValueError("conv2d_transpose: strides and dilation_rate must be >= 1");
  if (padding == Padding::causal)
    throw ValueError("conv2d_transpose: padding must be \"valid\" or \"same\"");
  if (output_padding && (output_padding->h < 0 || output_padding->w < 0 ||
                         output_padding->h >= strides.h || output_padding->w >= strides.w))
    throw ValueError("conv2d_transpose: output_padding must be >= 0 and < strides, got (" +
                     std::to_string(output_padding->h) + ", " + std::to_string(output_padding->w) +
                     ")");
  if (x.dtype() != kernel.dtype())
    throw TypeError(std::string("conv2d_transpose: input is ") + dtype_name(x.dtype()) +
                    " but kernel is " + dtype_name(kernel.dtype()));
  if (kernel.shape()[3] != x.shape()[3])
    throw ShapeError("conv2d_transpose: input " + x.shape().str() + " has " +
                     std::to_string(x.shape()[3]) + " channels but kernel " + kernel.shape().str() +
                     " (kh, kw, filters, in) expects " + std::to_string(kernel.shape()[3]));
  // The transposed conv is the input gradient of a conv from y (F channels) to x (C channels)
  // whose kernel, read in the conv layout (kh, kw, in, out), is this very (kh, kw, F, C) array.
  backend::ConvGeometry g{};
  g.n = x.shape()[0], g.oh = x.shape()[1], g.ow = x.shape()[2], g.f = x.shape()[3];
  g.kh = kernel.shape()[0], g.kw = kernel.shape()[1], g.c = kernel.shape()[2];
  g.sh = strides.h, g.sw = strides.w, g.dh = dilation.h, g.dw = dilation.w;
  auto op = [&](std::int64_t Size2D::*axis) -> std::optional<std::int64_t> {
    return output_padding ? std::optional<std::int64_t>((*output_padding).*axis) : std::nullopt;
  };
  g.h = conv_transpose_output_length(g.oh, g.kh, g.sh, padding, op(&Size2D::h), g.dh);
  g.w = conv_transpose_output_length(g.ow, g.kw, g.sw, padding, op(&Size2D::w), g.dw);
  if (g.h <= 0 || g.w <= 0)
    throw ShapeError("conv2d_transpose: input " + x.shape().str() + " with kernel " +
                     kernel.shape().str() + " gives an empty output");
  if (bias.defined() && (bias.ndim() != 1 || bias.shape()[0] != g.c))
    throw ShapeError("conv2d_transpose: bias must have shape (" + std::to_string(g.c) + ",), got " +
                     bias.shape().str());
  if (bias.defined() && bias.dtype() != kernel.dtype())
    throw TypeError(std::string("conv2d_transpose: bias is ") + dtype_name(bias.dtype()) +
                    " but kernel is " + dtype_name(kernel.dtype()));
  // TensorFlow pads the conv whose input gradient this is by its 'same' rule for an input of the
  // output's size, so an uneven crop takes its extra element from the bottom/right.
  g.pad_top = leading_pad(g.h, g.oh, g.kh, g.sh, g.dh, padding);
  g.pad_left = leading_pad(g.w, g.ow, g.kw, g.sw, g.dw, padding);
  return fused_conv_op("conv2d_transpose", x, kernel, bias, g, true, epilogue_of(act));
}

Tensor depthwise_conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias, Size2D strides,
                        Padding padding, Size2D dilation, FusedActivation act) {
  if (x.ndim() != 4)
    throw ShapeError("depthwise_conv2d: input must be 4-D (batch, height, width, channels), got " +
                     x.shape().str());
  if (kernel.ndim() != 4 || kernel.shape()[2] != x.shape()[3])
    throw ShapeError("depthwise_conv2d: kernel must be 4-D (kh, kw, " +
                     std::to_string(x.shape()[3]) + ", depth_multiplier) for input " +
                     x.shape().str() + ", got " + kernel.shape().str());
  // Keras's (kh, kw, C, mult) is, element for element, the (kh, kw, 1, C·mult) kernel of a conv
  // with one group per channel: group c owns output channels c·mult .. c·mult + mult − 1.
  const Shape& k = kernel.shape();
  return conv2d(x, kernel.reshape({k[0], k[1], 1, k[2] * k[3]}), bias, strides, padding, dilation,
                x.shape()[3], act);
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
  backend::ConvGeometry g{};
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
