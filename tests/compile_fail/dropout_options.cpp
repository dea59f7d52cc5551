// SPDX-License-Identifier: Apache-2.0
// Keras's Dropout(0.5, noise_shape=...) written with braces: lamina's Dropout takes a rate and a
// name, and the braces must not silently become the name.
// expect-error: lamina::Name
#include <lamina/lamina.hpp>
int main() { lamina::layers::Dropout(0.5, {.noise_shape = "(None, 1, 64)"}); }
