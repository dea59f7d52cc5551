// SPDX-License-Identifier: Apache-2.0
// src/autograd/grad_ready.hpp — the autograd's per-gradient "ready" hook (PyTorch's
// post-accumulate-grad hook): while a GradReadyScope lives on a thread, every backward pass on
// that thread calls it once for each leaf (a weight) as soon as the leaf's gradient of the pass is
// final, i.e. once every op that consumed the leaf has handed back its part. A data-parallel
// strategy starts all-reducing a bucket of gradients from there while backward goes on with the
// layers below. Unset (the default), backward pays one thread-local load per leaf.
#pragma once

namespace lamina {
struct TensorImpl;
}

namespace lamina::autograd {

class GradReadyHook {
 public:
  virtual ~GradReadyHook() = default;
  /// `leaf`'s grad (TensorImpl::grad) holds its final gradient of this pass.
  virtual void gradient_ready(TensorImpl* leaf) = 0;
};

/// Installs `hook` for this thread's backward passes until the scope ends (null: none).
class GradReadyScope {
 public:
  explicit GradReadyScope(GradReadyHook* hook);
  ~GradReadyScope();
  GradReadyScope(const GradReadyScope&) = delete;
  GradReadyScope& operator=(const GradReadyScope&) = delete;

 private:
  GradReadyHook* previous_;
};

}  // namespace lamina::autograd
