// SPDX-License-Identifier: Apache-2.0
// src/io/hdf5_id.hpp — an owned HDF5 identifier, without including hdf5.h. Shared by the loader
// (liblamina) and the probe helper (tools/lamina_h5probe.cpp), which links no other part of
// lamina: nothing here may need more than libhdf5.
#pragma once

#include <cstdint>

namespace lamina::io::h5 {

using hid = std::int64_t;  // hid_t, without including hdf5.h here

/// Owns one HDF5 identifier and closes it with the matching H5?close.
class Id {
 public:
  Id() = default;
  explicit Id(hid id) : id_(id) {}
  ~Id();
  Id(Id&& other) noexcept : id_(other.id_) { other.id_ = -1; }
  Id& operator=(Id&& other) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid get() const { return id_; }
  /// Gives up ownership without closing.
  hid release() {
    const hid id = id_;
    id_ = -1;
    return id;
  }
  bool valid() const { return id_ >= 0; }

 private:
  hid id_ = -1;
};

}  // namespace lamina::io::h5
