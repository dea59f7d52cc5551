// SPDX-License-Identifier: Apache-2.0
// fuzz/fuzz_harness.cpp — one libFuzzer harness, compiled once per entry point of
// fuzz/entry_points.hpp with LAMINA_FUZZ_ENTRY naming it (fuzz/CMakeLists.txt). A lamina Error is a
// clean refusal; any other exception, a sanitizer report, a crash, a timeout (-timeout) or memory
// past -rss_limit_mb / -malloc_limit_mb is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>
#include <typeinfo>

#include <lamina/errors.hpp>

#include "fuzz/entry_points.hpp"

#ifndef LAMINA_FUZZ_ENTRY
#error "fuzz/CMakeLists.txt names the entry point (LAMINA_FUZZ_ENTRY)"
#endif
#ifndef LAMINA_FUZZ_H5PROBE
#error "fuzz/CMakeLists.txt gives the probe helper's path (LAMINA_FUZZ_H5PROBE)"
#endif

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Each HDF5 load starts the probe helper (src/io/h5probe.hpp): this build tree's, unless the
  // caller chose another. A probe that does not finish is a clean refusal, given a budget well
  // inside libFuzzer's -timeout.
  ::setenv("LAMINA_H5PROBE", LAMINA_FUZZ_H5PROBE, 0);
  ::setenv("LAMINA_H5PROBE_TIMEOUT_S", "3", 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const lamina::fuzz::EntryPoint& entry = lamina::fuzz::entry_point(LAMINA_FUZZ_ENTRY);
  try {
    entry.run(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const lamina::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lamina fuzz: %s let a %s escape: %s\n", entry.name, typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "lamina fuzz: %s let an exception of unknown type escape\n", entry.name);
    std::abort();
  }
  return 0;
}
