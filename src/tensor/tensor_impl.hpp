// SPDX-License-Identifier: Apache-2.0
// src/tensor/tensor_impl.hpp — what a Tensor handle points to. Internal to the library.
#pragma once

#include <cstddef>
#include <memory>

#include "lamina/tensor.hpp"

namespace lamina {

namespace autograd { struct Node; }
namespace backend { class Backend; }

/// A block of device memory, from its device's caching allocator and returned to it when the
/// last tensor drops it (src/backend/backend.cpp).
struct Storage {
  void* data = nullptr;
  std::size_t nbytes = 0;
  Device device;
  backend::Backend* owner = nullptr;  ///< the device's backend, which allocated `data`

  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

/// Which activation produced a tensor, so losses can reach the logits (TF-Keras's _keras_logits).
enum class LogitsOf : unsigned char { none, softmax, sigmoid };

struct TensorImpl {
  Shape shape;
  DType dtype = DType::float32;
  std::shared_ptr<Storage> storage;
  std::size_t offset = 0;  ///< bytes from storage->data to the first element

  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;  ///< null for leaves and untracked tensors
  /// Set when backward() has consumed and dropped grad_fn: the tensor still requires a gradient
  /// but is no longer a leaf, so a second backward through it is an error, not a silent stop.
  bool graph_released = false;
  Tensor grad;                              ///< accumulated gradient (leaves)

  LogitsOf logits_of = LogitsOf::none;
  Tensor logits;  ///< detached? no: the live input of the producing softmax/sigmoid

  void* data() const { return static_cast<char*>(storage->data) + offset; }
  std::int64_t numel() const;
};

/// A fresh tensor with new storage.
Tensor make_tensor(const Shape& shape, DType dtype, Device device = {});

/// Moves t's elements to `device` in place: its storage is replaced, so every handle to t (a
/// layer's weight, an optimizer's slot) sees the move. An accumulated gradient moves too.
void relocate(const Tensor& t, Device device);

}  // namespace lamina
