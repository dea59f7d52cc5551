// SPDX-License-Identifier: Apache-2.0
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_ready.hpp"
#include "autograd/node.hpp"
#include "lamina/errors.hpp"
#include "lamina/ops.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina {

namespace {
thread_local bool t_grad_enabled = true;
thread_local autograd::GradReadyHook* t_grad_ready = nullptr;
}  // namespace

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

namespace autograd {

namespace {
struct Graveyard {
  std::vector<std::vector<Tensor>> inputs;
  std::vector<std::function<std::vector<Tensor>(const Tensor&)>> captures;
};
// The outermost bury()'s graveyard (on its stack: no thread_local destructor to outlive).
thread_local Graveyard* t_grave = nullptr;
}  // namespace

void bury(std::vector<Tensor>&& inputs, std::function<std::vector<Tensor>(const Tensor&)>&& fn) {
  if (t_grave) {
    if (!inputs.empty()) t_grave->inputs.push_back(std::move(inputs));
    if (fn) t_grave->captures.push_back(std::move(fn));
    return;
  }
  Graveyard grave;
  t_grave = &grave;
  std::vector<Tensor> first_inputs = std::move(inputs);
  std::function<std::vector<Tensor>(const Tensor&)> first_captures = std::move(fn);
  first_inputs.clear();  // what these free only queues its belongings
  first_captures = nullptr;
  while (!grave.inputs.empty() || !grave.captures.empty()) {
    if (!grave.captures.empty()) {
      auto last = std::move(grave.captures.back());
      grave.captures.pop_back();
    } else {
      auto last = std::move(grave.inputs.back());
      grave.inputs.pop_back();
    }
  }
  t_grave = nullptr;
}

GradReadyScope::GradReadyScope(GradReadyHook* hook) : previous_(t_grad_ready) { t_grad_ready = hook; }
GradReadyScope::~GradReadyScope() { t_grad_ready = previous_; }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->impl()->requires_grad) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.impl()->requires_grad) return true;
  return false;
}

void record(Tensor& output, std::shared_ptr<Node> node, std::vector<Tensor> inputs) {
  node->inputs = std::move(inputs);
  output.impl()->requires_grad = true;
  output.impl()->grad_fn = std::move(node);
}

Tensor record_fn(Tensor output, const char* name, std::vector<Tensor> inputs,
                 FunctionNode::Backward backward) {
  if (any_requires_grad(inputs))
    record(output, std::make_shared<FunctionNode>(name, std::move(backward)), std::move(inputs));
  return output;
}

namespace {
// The gradient an op handed to input `in`, in that input's dtype. A shape mismatch is a bug in the
// op's backward; say which op instead of corrupting memory later.
Tensor conform(Tensor g, const Tensor& in, const Node& node) {
  if (g.shape() != in.shape())
    throw ShapeError(std::string("backward of ") + node.name() + ": gradient of shape " +
                     g.shape().str() + " for an input of shape " + in.shape().str());
  return g.dtype() == in.dtype() ? g : g.astype(in.dtype());
}

// True when nothing else refers to g's data, so a leaf may keep it without copying.
bool exclusively_owned(const Tensor& g) {
  return g.impl().use_count() == 1 && g.impl()->storage.use_count() == 1;
}
}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_root) {
  if (!root.impl()->requires_grad)
    throw ValueError("backward: the tensor does not require a gradient (no weight or input "
                     "marked with set_requires_grad reaches it)");
  // Post-order DFS over tensors that require a gradient; reversed, every tensor comes before the
  // inputs it was computed from, so its gradient is complete when it is processed. `handles`
  // keeps each tensor alive until it has been processed, then lets it go, so activations are
  // freed as the pass moves down the graph.
  std::vector<TensorImpl*> order;
  std::unordered_map<TensorImpl*, Tensor> handles;
  std::unordered_set<TensorImpl*> visited;
  auto visit = [&](const Tensor& t) {
    if (t.impl()->graph_released)
      throw ValueError("backward: part of this graph was already freed by an earlier backward() "
                       "(an intermediate tensor was reused across two backward passes); "
                       "recompute it from the leaves for each pass");
    handles.emplace(t.impl().get(), t);
  };
  struct Frame { TensorImpl* t; std::size_t next; };
  visit(root);
  std::vector<Frame> stack{{root.impl().get(), 0}};
  visited.insert(root.impl().get());
  while (!stack.empty()) {
    Frame& f = stack.back();
    Node* node = f.t->grad_fn.get();
    if (node && f.next < node->inputs.size()) {
      const Tensor& in = node->inputs[f.next++];
      if (in.defined() && in.impl()->requires_grad && visited.insert(in.impl().get()).second) {
        visit(in);
        stack.push_back({in.impl().get(), 0});
      }
      continue;
    }
    order.push_back(f.t);
    stack.pop_back();
  }

  NoGradGuard no_grad;  // gradients are not differentiated again
  std::unordered_map<TensorImpl*, Tensor> grads;
  grads.emplace(root.impl().get(), grad_root);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    struct Drop {  // runs last in every path: t is done
      std::unordered_map<TensorImpl*, Tensor>& handles;
      TensorImpl* t;
      ~Drop() { handles.erase(t); }
    } drop{handles, t};
    auto g_it = grads.find(t);
    if (g_it == grads.end()) continue;
    Tensor g = std::move(g_it->second);
    grads.erase(g_it);
    if (!t->grad_fn) {
      // A leaf: accumulate (a weight used twice gets the sum). A gradient still shared with
      // another tensor (ops hand the same tensor to several inputs) is copied, so each leaf owns
      // its grad and an in-place update of one cannot change another.
      if (t->grad.defined()) {
        t->grad = t->grad + g;
      } else {
        t->grad = exclusively_owned(g) ? g : g.clone();
      }
      // Every consumer of the leaf came before it in `order`: its gradient is final.
      if (t_grad_ready) t_grad_ready->gradient_ready(t);
      continue;
    }
    std::shared_ptr<Node> node = t->grad_fn;
    std::vector<Tensor> in_grads = node->backward(g);
    g = Tensor();
    for (std::size_t i = 0; i < node->inputs.size() && i < in_grads.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (!in.defined() || !in.impl()->requires_grad || !in_grads[i].defined()) continue;
      Tensor gi = conform(std::move(in_grads[i]), in, *node);
      auto [slot, inserted] = grads.try_emplace(in.impl().get(), gi);
      if (!inserted) slot->second = slot->second + gi;
    }
    in_grads.clear();
    node->release();
    t->grad_fn.reset();
    t->graph_released = true;
  }
}

}  // namespace autograd
}  // namespace lamina
