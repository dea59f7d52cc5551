// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/dispatch.hpp — internal: run-time choice of instruction set for the hot loops.
//
// The library is built for baseline x86-64 (SSE2) so that one binary runs on any x86-64 CPU.
// LAMINA_KERNEL on a function (or after a lambda's parameter list) asks GCC for three copies of
// it, for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and the baseline, and an ifunc resolver
// that binds the best one the CPU supports once, at load time. Mark the function that holds the
// loops: a clone does not extend to what it calls through std::function (parallel_for's chunk
// bodies), so a loop inside such a lambda needs the mark on that lambda.
//
// Empty where it has no work or no support: a -march=native build (LAMINA_NATIVE, already
// specialised), other architectures, and compilers other than GCC (Clang 14 refuses
// target_clones on templates and lambdas). ifunc needs glibc's dynamic loader. Also empty under
// ThreadSanitizer: the ifunc resolvers run while the loader relocates, before the TSan runtime is
// up, and an instrumented resolver crashes the process at start.
#pragma once

#include <cstddef>  // defines __GLIBC__

#if !defined(LAMINA_NATIVE) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    __GNUC__ >= 11 && defined(__GLIBC__) && !defined(__SANITIZE_THREAD__)
#define LAMINA_KERNEL \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LAMINA_KERNEL
#endif
