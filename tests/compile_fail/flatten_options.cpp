// SPDX-License-Identifier: Apache-2.0
// Keras's Flatten(data_format="channels_first") written with braces.
// expect-error: lamina::Name
#include <lamina/lamina.hpp>
int main() { lamina::layers::Flatten({.data_format = "channels_first"}); }
