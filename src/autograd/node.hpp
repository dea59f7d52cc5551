// SPDX-License-Identifier: Apache-2.0
// src/autograd/node.hpp — the tape. Every differentiable op that sees an input requiring a
// gradient attaches a Node to its output; backward() walks the nodes in reverse topological order.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina::autograd {

/// One recorded op. `inputs` are the op's inputs; backward() maps the output's gradient to one
/// gradient per input (undefined where an input needs none).
// What a node owns (its inputs, its backward's captures) can own the node before it, so a long
// chain (a 65,536-step recurrent layer) freed recursively overflows the stack. A node's destructor
// hands those to bury(): the outermost call frees them in a loop, nested ones only queue them
// (PyTorch's deleteNode does the same).
void bury(std::vector<Tensor>&& inputs, std::function<std::vector<Tensor>(const Tensor&)>&& fn);

struct Node {
  std::vector<Tensor> inputs;
  virtual ~Node() { bury(std::move(inputs), {}); }
  virtual const char* name() const = 0;
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  /// Drops saved tensors once backward has run, freeing activations early.
  virtual void release() { inputs.clear(); }
};

/// A node whose backward is a lambda. The lambda must not capture the op's output itself (that
/// would be a reference cycle): capture output.detach() instead.
struct FunctionNode : Node {
  using Backward = std::function<std::vector<Tensor>(const Tensor&)>;
  const char* op_name;
  Backward fn;
  FunctionNode(const char* n, Backward f) : op_name(n), fn(std::move(f)) {}
  ~FunctionNode() override {
    Backward captures;
    captures.swap(fn);
    bury({}, std::move(captures));
  }
  const char* name() const override { return op_name; }
  std::vector<Tensor> backward(const Tensor& g) override { return fn(g); }
  void release() override {
    inputs.clear();
    fn = nullptr;
  }
};

/// True when grad mode is on and any of `inputs` requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

/// Attaches `node` (with `inputs`) to `output`, marking it as requiring a gradient.
void record(Tensor& output, std::shared_ptr<Node> node, std::vector<Tensor> inputs);

/// Shorthand: records a FunctionNode when any input requires a gradient. Returns output.
Tensor record_fn(Tensor output, const char* name, std::vector<Tensor> inputs,
                 FunctionNode::Backward backward);

/// Runs reverse-mode autodiff from `root` with initial gradient `grad_root`.
void run_backward(const Tensor& root, const Tensor& grad_root);

}  // namespace lamina::autograd
