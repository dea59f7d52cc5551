// SPDX-License-Identifier: Apache-2.0
// The forms of Dropout a user writes: rate, rate and name, rate and options.
// expect-success
#include <lamina/lamina.hpp>
int main() {
  lamina::layers::Dropout a(0.5);
  lamina::layers::Dropout b(0.5, "drop");
  lamina::layers::Dropout c(0.5, {.noise_shape = std::vector<std::int64_t>{-1, 1, 64}, .seed = 7, .name = "d"});
  (void)a;
  (void)b;
  (void)c;
}
