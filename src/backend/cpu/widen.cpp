// SPDX-License-Identifier: Apache-2.0
#include "backend/cpu/widen.hpp"

#include "backend/backend.hpp"
#include "tensor/half.hpp"
#include "tensor/tensor_impl.hpp"

namespace lamina::cpu {

bool any_half(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && half::is_half(t->dtype())) return true;
  return false;
}

Tensor widened(const Tensor& t) {
  if (!t.defined() || !half::is_half(t.dtype())) return t;
  Tensor wide = make_tensor(t.shape(), float32, t.device());
  backend::get(t.device()).cast(t, wide);
  return wide;
}

void narrow_into(const Tensor& wide, const Tensor& out) {
  if (!out.defined() || wide.shares_storage(out)) return;
  backend::get(out.device()).cast(wide, const_cast<Tensor&>(out));
}

}  // namespace lamina::cpu
