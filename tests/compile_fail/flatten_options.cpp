// SPDX-License-Identifier: Apache-2.0
// Keras's Flatten(data_format="channels_first") written with braces picks FlattenOptions (it once
// had to be refused: with a std::string name the braces would have named the layer instead).
// expect-success
#include <lamina/lamina.hpp>
int main() {
  lamina::layers::Flatten a({.data_format = "channels_first"});
  lamina::layers::Flatten b({.data_format = "channels_first", .name = "flat"});
  lamina::layers::Flatten c("flat");
  lamina::layers::SpatialDropout2D d(0.2, {.data_format = "channels_first"});
  lamina::layers::SpatialDropout2D e(0.2, "drop");
  lamina::layers::ZeroPadding2D f({{1, 0}, {2, 2}});
  lamina::layers::ZeroPadding2D g({{1, 0}, {2, 2}}, {.name = "pad", .data_format = "channels_first"});
  lamina::layers::Cropping2D h({1, 2}, {"crop"});
  (void)a, (void)b, (void)c, (void)d, (void)e, (void)f, (void)g, (void)h;
}
