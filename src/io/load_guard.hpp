// SPDX-License-Identifier: Apache-2.0
// src/io/load_guard.hpp — the loaders' entry points: whatever a file makes the standard library
// throw (std::bad_alloc from an allocation the file asked for, std::length_error from a size past
// a container's limit) leaves as a lamina error that names the file.
#pragma once

#include <new>
#include <stdexcept>
#include <string>

#include "lamina/errors.hpp"

namespace lamina::io {

/// Runs `load()`; std::bad_alloc and std::length_error become an `E` "<source>: ...". Other
/// errors pass through.
template <class E = FileFormatError, class Load>
decltype(auto) guard_load(const std::string& source, Load&& load) {
  try {
    return load();
  } catch (const std::bad_alloc&) {
    throw E(source + ": out of memory while reading it");
  } catch (const std::length_error& e) {
    throw E(source + ": a size in it is past what can be allocated (" + e.what() + ")");
  }
}

/// The bytes of weights a load may create for a file of `file_bytes` (sizes::WeightBudget):
/// a file holds its weights at 2 (float16) or 4 bytes each, uncompressed as Keras writes them,
/// so four times its size covers the float32 copies with room for modest HDF5 compression; the
/// 64 MiB floor keeps small files with unsaved weights (none in Keras) loadable.
inline std::uint64_t weight_limit_for(std::uint64_t file_bytes) {
  constexpr std::uint64_t kFloor = std::uint64_t{64} << 20;
  return file_bytes > kFloor / 4 ? 4 * file_bytes : kFloor;
}

}  // namespace lamina::io
