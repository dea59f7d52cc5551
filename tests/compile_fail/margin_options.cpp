// SPDX-License-Identifier: Apache-2.0
// ZeroPadding2D's amounts with their outer braces forgotten: the second pair must not become the
// options (MarginOptions's data_format is an optional, which no integer makes, not even 0).
// expect-error: ZeroPadding2D
#include <lamina/lamina.hpp>
int main() { lamina::layers::ZeroPadding2D({1, 0}, {0, 0}); }
