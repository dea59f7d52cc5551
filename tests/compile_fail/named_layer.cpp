// SPDX-License-Identifier: Apache-2.0
// The control case: a plain name compiles, so the other files fail for the braces alone.
// expect-success
#include <lamina/lamina.hpp>
int main() {
  lamina::layers::Dropout(0.5, "drop");
  lamina::layers::Flatten(std::string("flat"));
  lamina::Sequential model({lamina::layers::Dense(3)}, "encoder");
  lamina::metrics::Mean("m");
}
