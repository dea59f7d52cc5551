// SPDX-License-Identifier: Apache-2.0
// Keras's Mean(name="m", dtype=...) written with braces.
// expect-error: lamina::Name
#include <lamina/lamina.hpp>
int main() { lamina::metrics::Mean({.dtype = "float32"}); }
