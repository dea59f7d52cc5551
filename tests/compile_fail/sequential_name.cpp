// SPDX-License-Identifier: Apache-2.0
// Sequential(layers, name="encoder") written with braces.
// expect-error: lamina::Name
#include <lamina/lamina.hpp>
int main() { lamina::Sequential model({lamina::layers::Dense(3)}, {.name = "encoder"}); }
