// SPDX-License-Identifier: Apache-2.0
// tests/support/gradcheck.hpp — the one finite-difference gradient check every op and layer test
// uses. It compares autodiff's gradient of sum(f(inputs) · probe) (probe: a fixed random tensor,
// so every output element matters) with central differences, in float64.
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

namespace lamina::testing {

struct GradcheckResult {
  bool ok = true;
  std::string report;  ///< the first mismatches, for INFO()
};

/// f must be deterministic (no dropout) and smooth near the inputs. Inputs are converted to
/// float64 leaves; `extra_leaves` (e.g. a layer's weights, already float64) are checked too.
inline GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                 std::vector<Tensor> inputs, std::vector<Tensor> extra_leaves = {},
                                 double eps = 1e-6, double atol = 1e-6, double rtol = 1e-4) {
  for (auto& x : inputs) x = x.astype(float64).clone().detach().set_requires_grad(true);
  for (auto& w : extra_leaves) { w.zero_grad(); w.set_requires_grad(true); }
  std::vector<Tensor> leaves = inputs;
  leaves.insert(leaves.end(), extra_leaves.begin(), extra_leaves.end());

  Tensor out = f(inputs);
  Tensor probe;
  {
    NoGradGuard ng;
    // A fixed, non-symmetric probe: 0.3 + 0.7 * frac(i * golden ratio).
    std::vector<double> p(static_cast<std::size_t>(out.numel()));
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = 0.3 + 0.7 * std::fmod(i * 0.6180339887, 1.0);
    probe = Tensor::from_vector(p, out.shape());
  }
  Tensor loss = sum(out.astype(float64) * probe);
  loss.backward();

  GradcheckResult result;
  std::ostringstream report;
  int shown = 0;
  for (std::size_t li = 0; li < leaves.size(); ++li) {
    Tensor leaf = leaves[li];
    Tensor analytic = leaf.grad();
    auto* data = leaf.data<double>();
    for (std::int64_t i = 0; i < leaf.numel(); ++i) {
      double saved = data[i];
      double plus, minus;
      {
        NoGradGuard ng;
        data[i] = saved + eps;
        plus = sum(f(inputs).astype(float64) * probe).item();
        data[i] = saved - eps;
        minus = sum(f(inputs).astype(float64) * probe).item();
        data[i] = saved;
      }
      double numeric = (plus - minus) / (2 * eps);
      double got = analytic.defined() ? analytic.at(i) : 0.0;
      if (!(std::abs(got - numeric) <= atol + rtol * std::abs(numeric))) {
        result.ok = false;
        if (shown++ < 8)
          report << "leaf " << li << " element " << i << ": autodiff " << got << ", numeric "
                 << numeric << "\n";
      }
    }
  }
  result.report = report.str();
  return result;
}

}  // namespace lamina::testing
