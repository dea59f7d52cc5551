// SPDX-License-Identifier: Apache-2.0
// src/io/hdf5.hpp — RAII over the HDF5 C API, reduced to what Keras files need: groups,
// float/int datasets, string and string-list attributes (h5py's fixed- and variable-length
// strings, Keras's chunked lists). Every failure is a FileFormatError naming the file and the
// object; HDF5's own error printing is silenced.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/hdf5_id.hpp"
#include "lamina/tensor.hpp"

namespace lamina::io::h5 {

/// Shape and element type of a dataset, read from its header (no data read).
struct DatasetInfo {
  Shape shape;
  DType dtype = float32;
};

/// A group (or a file's root group). `file` names the file in error messages.
class Group {
 public:
  Group(Id id, std::string file, std::string path)
      : id_(std::move(id)), file_(std::move(file)), path_(std::move(path)) {}

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  /// "<file>: <path>" for messages.
  std::string where(const std::string& child = {}) const;
  /// Throws FileFormatError "<file>: <path>/<child>: <what>".
  [[noreturn]] void fail(const std::string& child, const std::string& what) const;

  /// True when `name` (which may contain '/') leads to an object of that kind.
  bool has_group(const std::string& name) const;
  bool has_dataset(const std::string& name) const;
  /// Child names (links), in name order.
  std::vector<std::string> children() const;
  /// Opens a sub-group; FileFormatError naming it when missing or not a group.
  Group group(const std::string& name) const;
  /// Creates a sub-group (and intermediate groups for names with '/').
  Group create_group(const std::string& name);

  /// Shape and dtype of a dataset: float16 (h5py's), bfloat16 (Keras 3's 2-byte opaque data, or a
  /// bfloat16-shaped float), float32/64 (other floats convert to float32), int8..64, uint8;
  /// anything else is refused.
  DatasetInfo dataset_info(const std::string& name) const;
  /// Reads a dataset whose header must say `expected` shape (checked before any allocation);
  /// the values are converted to `dtype` (to and from the 16-bit floats by lamina, rounding to
  /// nearest even).
  Tensor read_dataset(const std::string& name, const Shape& expected, DType dtype) const;
  /// Reads a scalar or one-element dataset as a double.
  double read_scalar(const std::string& name) const;
  /// Writes a contiguous little-endian dataset (intermediate groups created for '/'); a bfloat16
  /// one as Keras 3 does (2-byte opaque data with the attribute dtype = "bfloat16").
  void write_dataset(const std::string& name, const Tensor& value);

  bool has_attr(const std::string& name) const;
  /// A scalar string attribute (fixed- or variable-length).
  std::string read_string_attr(const std::string& name) const;
  /// A 1-D string-array attribute; an empty numeric array (Keras's `[]`) reads as empty.
  std::vector<std::string> read_string_list_attr(const std::string& name) const;
  /// Keras's chunked list: `name` if present, else `name0`, `name1`, ... concatenated.
  std::vector<std::string> read_chunked_list_attr(const std::string& name) const;
  /// A scalar variable-length UTF-8 string attribute (what h5py writes for a str).
  void write_string_attr(const std::string& name, const std::string& value);
  /// A 1-D fixed-length NULLPAD string array (numpy `|S n`), or an empty float64 array when
  /// `values` is empty, as Keras writes it.
  void write_string_list_attr(const std::string& name, const std::vector<std::string>& values);
  /// Splits like Keras's save_attributes_to_hdf5_group: one attribute if its data fits in
  /// 64512 bytes, else `name0`, `name1`, ... each within the limit.
  void write_chunked_list_attr(const std::string& name, const std::vector<std::string>& values);

  hid id() const { return id_.get(); }

 private:
  Id id_;
  std::string file_;
  std::string path_;
};

/// An open HDF5 file. `display` names it in errors (defaults to the path).
class File {
 public:
  /// Opens read-only, once the probe helper has read the whole file (io/h5probe.hpp).
  /// FileFormatError when missing, not HDF5, truncated, corrupt or refused.
  static File open(const std::string& path, const std::string& display = {});
  /// Creates (truncating) a file for writing.
  static File create(const std::string& path, const std::string& display = {});
  Group root() const;
  /// Flushes and closes; errors surface here rather than in the destructor.
  void close();
  const std::string& display() const { return display_; }

 private:
  File(Id id, std::string display) : id_(std::move(id)), display_(std::move(display)) {}
  Id id_;
  std::string display_;
};

/// Keras's limit on one attribute's data (HDF5_OBJECT_HEADER_LIMIT).
inline constexpr std::size_t kAttributeLimit = 64512;

/// How many chunks Keras splits a fixed-length string list into (1 = no split).
std::size_t keras_chunk_count(const std::vector<std::string>& values);

}  // namespace lamina::io::h5
