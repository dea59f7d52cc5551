// SPDX-License-Identifier: Apache-2.0
// The opt-in interop header from an installed lamina (find_package(lamina COMPONENTS xtensor)).
#include <lamina/lamina.hpp>
#include <lamina/xtensor.hpp>

#include <cstdio>

#include <xtensor/xarray.hpp>

int main() {
  lamina::Tensor t = lamina::Tensor::zeros({2, 3});
  auto a = lamina::to_xarray<float>(t);
  a(1, 2) = 7.0f;  // zero copy: lands in t
  xt::xarray<double> x = {{1.0, 2.0}, {3.0, 4.0}};
  lamina::Tensor u = lamina::from_xtensor(x * 2.0);
  if (t.at(5) != 7.0 || u.dtype() != lamina::float64 || u.at(3) != 8.0) {
    std::printf("interop mismatch\n");
    return 1;
  }
  std::printf("lamina xtensor interop OK\n");
  return 0;
}
