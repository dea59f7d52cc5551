// SPDX-License-Identifier: Apache-2.0
// optimizers/update_rule.hpp — internal: hands an optimizer's step to the variables' backend.
#pragma once

#include <vector>

#include "backend/backend.hpp"
#include "lamina/tensor.hpp"

namespace lamina::optimizers::detail {

/// Runs `rule` on the backend of the variables' device (all tensors must share it, else
/// DeviceError); `slots` as Backend::apply_update takes them.
void apply_rule(const char* optimizer, backend::UpdateRule rule, const backend::UpdateParams& p,
                const std::vector<Tensor>& grads, const std::vector<Tensor>& vars,
                const std::vector<std::vector<Tensor>>& slots);

}  // namespace lamina::optimizers::detail
