// SPDX-License-Identifier: Apache-2.0
// Keras's noise_shape written as Python's tuple text: DropoutOptions takes the dimensions as
// integers, and the braces must not silently become the layer's name either.
// expect-error: lamina::layers::DropoutOptions
#include <lamina/lamina.hpp>
int main() { lamina::layers::Dropout(0.5, {.noise_shape = "(None, 1, 64)"}); }
