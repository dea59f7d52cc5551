// optimizers/check_variables.hpp — internal: an optimizer's slots were made for one list of
// variables; a different list would make the update loops read past the slots.
#pragma once

#include <string>
#include <vector>

#include "lamina/errors.hpp"
#include "lamina/tensor.hpp"

namespace lamina::optimizers::detail {

/// Throws ValueError naming the optimizer when `vars` is not the list `slots` were built for.
inline void check_same_variables(const std::string& optimizer, const std::vector<Tensor>& slots,
                                 const std::vector<Tensor>& vars) {
  if (slots.size() != vars.size())
    throw ValueError(optimizer + ".apply_gradients: got " + std::to_string(vars.size()) +
                     " variables but the optimizer was built for " + std::to_string(slots.size()) +
                     "; an optimizer serves one fixed list of variables");
  for (std::size_t i = 0; i < vars.size(); ++i)
    if (slots[i].shape() != vars[i].shape() || slots[i].dtype() != vars[i].dtype())
      throw ValueError(optimizer + ".apply_gradients: variable " + std::to_string(i) + " is " +
                       vars[i].shape().str() + " " + dtype_name(vars[i].dtype()) +
                       " but the optimizer was built for " + slots[i].shape().str() + " " +
                       dtype_name(slots[i].dtype()));
}

}  // namespace lamina::optimizers::detail
