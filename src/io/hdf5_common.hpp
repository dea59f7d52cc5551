// SPDX-License-Identifier: Apache-2.0
// src/io/hdf5_common.hpp — what the loader (hdf5.cpp, in liblamina) and the probe helper
// (tools/lamina_h5probe.cpp, a program of its own) both call, so that the helper reads an
// untrusted file with exactly the checks, string types and link rules the loader then uses. It
// needs libhdf5 and nothing else of lamina (the helper links only this and libhdf5).
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/hdf5_id.hpp"

namespace lamina::io::h5 {

// Attributes hold names and configs; anything bigger than this is a corrupt header.
inline constexpr std::uint64_t kMaxAttributeBytes = std::uint64_t{256} << 20;
inline constexpr int kMaxRank = 32;

/// Turns off HDF5's printing of its error stack (once per process).
void silence_hdf5();

/// "parent/child", with "/" as the root.
std::string join_path(const std::string& parent, const std::string& child);

/// Element count of a dataspace (its dims in `*shape` when given); -1 for a null dataspace, a
/// rank over kMaxRank, a dimension over 2^40, a total over 2^50, or a failure.
std::int64_t space_points(hid_t space, std::vector<std::int64_t>* shape);

/// The memory type that string attributes are read into: C strings in the file's own character
/// set (ASCII and UTF-8 do not convert into each other, so a mismatch would make H5Aread refuse
/// before it reads anything). `fixed_size` 0: variable-length.
Id string_memory_type(hid_t file_type, std::size_t fixed_size);

/// Opens an object when every component of `name` exists and is a hard link; invalid Id
/// otherwise. Keras and h5py write hard links only: a soft link could alias or loop, an external
/// or user-defined one leads out of the file, so those are refused and `*refused` says which.
Id open_object(hid_t loc, const std::string& name, std::string* refused = nullptr);

/// Why a dataset's values could come from outside the file or through a filter lamina does not
/// expect; empty for a plain dataset.
std::string refused_storage(hid_t dataset);

/// H5Fopen read-only, with the strong close degree both the loader and the probe use.
Id open_read_only(const std::string& path);

}  // namespace lamina::io::h5
