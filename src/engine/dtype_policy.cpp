// SPDX-License-Identifier: Apache-2.0
// Keras's dtype policies and the global one.
#include "lamina/dtype_policy.hpp"

#include <mutex>

#include "lamina/errors.hpp"

namespace lamina {

DTypePolicy::DTypePolicy(const std::string& name) : name_(name) {
  if (name == "mixed_float16") {
    compute_ = float16;
  } else if (name == "mixed_bfloat16") {
    compute_ = bfloat16;
  } else if (name == "float32" || name == "float64" || name == "float16" || name == "bfloat16") {
    compute_ = variable_ = dtype_from_name(name);
  } else {
    throw ValueError("unknown dtype policy '" + name +
                     "' (expected float32, float64, float16, bfloat16, mixed_float16 or "
                     "mixed_bfloat16)");
  }
}

namespace {
std::mutex g_policy_mutex;
DTypePolicy& global_policy() {
  static DTypePolicy policy;
  return policy;
}
}  // namespace

void set_dtype_policy(const DTypePolicy& policy) {
  std::lock_guard<std::mutex> lock(g_policy_mutex);
  global_policy() = policy;
}

DTypePolicy dtype_policy() {
  std::lock_guard<std::mutex> lock(g_policy_mutex);
  return global_policy();
}

}  // namespace lamina
