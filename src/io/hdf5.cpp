// SPDX-License-Identifier: Apache-2.0
// src/io/hdf5.cpp — the HDF5 C API behind RAII handles. Untrusted files: every size read from a
// header is bounded before anything is allocated, and every HDF5 failure becomes a
// FileFormatError naming the file and the object.
#include "io/hdf5.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "io/h5probe.hpp"
#include "io/hdf5_common.hpp"
#include "lamina/errors.hpp"

namespace lamina::io::h5 {

static_assert(std::is_same_v<hid, hid_t>, "hid must be HDF5's hid_t");

namespace {

// h5py's float16: IEEE binary16, little-endian (HDF5 1.10 predefines none). Made once, never
// closed, like HDF5's own predefined types.
hid_t ieee_f16le() {
  static const hid_t type = [] {
    const hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    H5Tlock(t);
    return t;
  }();
  return type;
}

// What h5py writes for ml_dtypes' bfloat16 (numpy kind 'V', 2 bytes): an untagged opaque type.
// Keras 3 marks such a dataset with the attribute dtype = "bfloat16".
hid_t opaque2() {
  static const hid_t type = [] {
    const hid_t t = H5Tcreate(H5T_OPAQUE, 2);
    H5Tlock(t);
    return t;
  }();
  return type;
}

// A 2-byte float type with these fields: float16's, bfloat16's (some tools write bfloat16 as an
// HDF5 float) or another layout (converted by HDF5).
bool float_fields(hid_t type, std::size_t exponent_bits, std::size_t mantissa_bits, std::size_t bias) {
  std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
  return H5Tget_order(type) == H5T_ORDER_LE && spos == 15 && esize == exponent_bits &&
         epos == mantissa_bits && mpos == 0 && msize == mantissa_bits && H5Tget_ebias(type) == bias;
}

hid_t memory_type(DType dtype) {
  switch (dtype) {
    case DType::float32: return H5T_NATIVE_FLOAT;
    case DType::float64: return H5T_NATIVE_DOUBLE;
    case DType::int32: return H5T_NATIVE_INT32;
    case DType::int64: return H5T_NATIVE_INT64;
    case DType::uint8: return H5T_NATIVE_UINT8;
    case DType::float16: return ieee_f16le();
    case DType::bfloat16: return opaque2();
  }
  return H5T_NATIVE_FLOAT;
}

hid_t file_type(DType dtype) {
  switch (dtype) {
    case DType::float32: return H5T_IEEE_F32LE;
    case DType::float64: return H5T_IEEE_F64LE;
    case DType::int32: return H5T_STD_I32LE;
    case DType::int64: return H5T_STD_I64LE;
    case DType::uint8: return H5T_STD_U8LE;
    case DType::float16: return ieee_f16le();
    case DType::bfloat16: return opaque2();
  }
  return H5T_IEEE_F32LE;
}

// The system's reason for a failed write (EFBIG, ENOSPC, EIO...), as " (File too large)"; HDF5
// reports only that it failed. errno is cleared before each write so that a stale value is not
// blamed.
std::string write_failure_reason() {
  const int err = errno;
  return err != 0 ? std::string(" (") + std::strerror(err) + ")" : std::string(" (disk full?)");
}

std::string strip_padding(const char* p, std::size_t n, H5T_str_t pad) {
  std::size_t len = 0;
  while (len < n && p[len] != '\0') ++len;
  if (pad == H5T_STR_SPACEPAD)
    while (len > 0 && p[len - 1] == ' ') --len;
  return std::string(p, len);
}

std::vector<std::string> read_strings(hid_t attr, const Group& g, const std::string& name);

// A scalar variable-length UTF-8 string attribute on any object (what h5py writes for a str).
bool write_string(hid_t object, const std::string& name, const std::string& value) {
  Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Id space(H5Screate(H5S_SCALAR));
  Id attr(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const char* p = value.c_str();
  return attr.valid() && H5Awrite(attr.get(), type.get(), &p) >= 0;
}

// A dataset's string attribute "dtype" (Keras 3's mark on bfloat16 data); empty when absent.
std::string dtype_attribute(hid_t dataset, const Group& g, const std::string& name) {
  if (H5Aexists(dataset, "dtype") <= 0) return {};
  Id attr(H5Aopen(dataset, "dtype", H5P_DEFAULT));
  Id type(attr.valid() ? H5Aget_type(attr.get()) : -1);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_STRING) g.fail(name, "unreadable attribute 'dtype'");
  const std::vector<std::string> values = read_strings(attr.get(), g, name + " attribute 'dtype'");
  return values.size() == 1 ? values[0] : std::string("?");
}

// Reads every string of a string-typed attribute (scalar or 1-D).
std::vector<std::string> read_strings(hid_t attr, const Group& g, const std::string& name) {
  Id type(H5Aget_type(attr));
  Id space(H5Aget_space(attr));
  if (!type.valid() || !space.valid()) g.fail(name, "unreadable attribute");
  const std::int64_t n = space_points(space.get(), nullptr);
  if (n < 0) g.fail(name, "attribute with a corrupt dataspace");
  const htri_t is_var = H5Tis_variable_str(type.get());
  if (is_var < 0) g.fail(name, "attribute with a corrupt string type");
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(std::min<std::int64_t>(n, 1 << 16)));
  if (is_var > 0) {
    if (static_cast<std::uint64_t>(n) * sizeof(char*) > kMaxAttributeBytes)
      g.fail(name, "attribute with " + std::to_string(n) + " strings");
    Id mem = string_memory_type(type.get(), 0);
    std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
    if (n > 0 && H5Aread(attr, mem.get(), ptrs.data()) < 0)
      g.fail(name, "cannot read the string attribute (corrupt or truncated file)");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    if (n > 0) H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (size == 0 || static_cast<std::uint64_t>(n) * size > kMaxAttributeBytes)
    g.fail(name, "string attribute of " + std::to_string(n) + " x " + std::to_string(size) +
                     " bytes");
  const H5T_str_t pad = H5Tget_strpad(type.get());
  Id mem = string_memory_type(type.get(), size);
  std::vector<char> buf(static_cast<std::size_t>(n) * size + 1, '\0');
  if (n > 0 && H5Aread(attr, mem.get(), buf.data()) < 0)
    g.fail(name, "cannot read the string attribute (corrupt or truncated file)");
  for (std::int64_t i = 0; i < n; ++i)
    out.push_back(strip_padding(buf.data() + i * size, size, pad));
  return out;
}

Id open_attribute(const Group& g, const std::string& name) {
  if (!g.has_attr(name)) g.fail("", "missing attribute '" + name + "'");
  Id attr(H5Aopen(g.id(), name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) g.fail("", "cannot open attribute '" + name + "'");
  return attr;
}

Id link_create_list() {
  Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8);
  return lcpl;
}

}  // namespace

std::string Group::where(const std::string& child) const {
  return file_ + ": " + join_path(path_, child);
}

void Group::fail(const std::string& child, const std::string& what) const {
  throw FileFormatError(where(child) + ": " + what);
}

namespace {

// open_object for the loader: a link that leads out of the file, or a dataset whose values do,
// fails naming it even though the probe helper refused the file first.
Id open_in_file(const Group& g, const std::string& name) {
  std::string refused;
  Id obj = open_object(g.id(), name, &refused);
  if (!refused.empty()) g.fail(name, refused);
  if (obj.valid() && H5Iget_type(obj.get()) == H5I_DATASET)
    if (const std::string why = refused_storage(obj.get()); !why.empty()) g.fail(name, why);
  return obj;
}

}  // namespace

bool Group::has_group(const std::string& name) const {
  Id obj = open_in_file(*this, name);
  return obj.valid() && H5Iget_type(obj.get()) == H5I_GROUP;
}

bool Group::has_dataset(const std::string& name) const {
  Id obj = open_in_file(*this, name);
  return obj.valid() && H5Iget_type(obj.get()) == H5I_DATASET;
}

std::vector<std::string> Group::children() const {
  H5G_info_t info;
  if (H5Gget_info(id(), &info) < 0) fail("", "cannot list the group (corrupt file)");
  if (info.nlinks > (hsize_t{1} << 24)) fail("", "group with " + std::to_string(info.nlinks) + " links");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len =
        H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0 || len > (1 << 20)) fail("", "unreadable link name (corrupt file)");
    std::string s(static_cast<std::size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), s.size(), H5P_DEFAULT);
    s.resize(static_cast<std::size_t>(len));
    names.push_back(std::move(s));
  }
  return names;
}

Group Group::group(const std::string& name) const {
  Id obj = open_in_file(*this, name);
  if (!obj.valid()) fail(name, "missing group");
  if (H5Iget_type(obj.get()) != H5I_GROUP) fail(name, "expected a group");
  return Group(std::move(obj), file_, join_path(path_, name));
}

Group Group::create_group(const std::string& name) {
  Id lcpl = link_create_list();
  Id g(H5Gcreate2(id(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) fail(name, "cannot create group");
  return Group(std::move(g), file_, join_path(path_, name));
}

DatasetInfo Group::dataset_info(const std::string& name) const {
  Id obj = open_in_file(*this, name);
  if (!obj.valid()) fail(name, "missing dataset");
  if (H5Iget_type(obj.get()) != H5I_DATASET) fail(name, "expected a dataset");
  Id type(H5Dget_type(obj.get()));
  Id space(H5Dget_space(obj.get()));
  if (!type.valid() || !space.valid()) fail(name, "unreadable dataset header (corrupt file)");
  DatasetInfo info;
  if (space_points(space.get(), &info.shape) < 0) fail(name, "dataset with a corrupt or absurd shape");
  const H5T_class_t cls = H5Tget_class(type.get());
  const std::size_t size = H5Tget_size(type.get());
  if (cls == H5T_FLOAT && size == 2 && float_fields(type.get(), 5, 10, 15)) {
    info.dtype = float16;
  } else if (cls == H5T_FLOAT && size == 2 && float_fields(type.get(), 8, 7, 127)) {
    info.dtype = bfloat16;
  } else if (cls == H5T_OPAQUE && size == 2) {
    // Keras 3 (.weights.h5) marks its bfloat16 with an attribute; its legacy .h5 writer does not,
    // and no other 2-byte opaque type reaches a Keras file.
    if (const std::string marked = dtype_attribute(obj.get(), *this, name); !marked.empty() && marked != "bfloat16")
      fail(name, "2-byte opaque data marked dtype '" + marked + "'; expected bfloat16");
    info.dtype = bfloat16;
  } else if (cls == H5T_FLOAT && (size == 2 || size == 4)) {
    info.dtype = float32;
  } else if (cls == H5T_FLOAT && size == 8) {
    info.dtype = float64;
  } else if (cls == H5T_INTEGER && size >= 1 && size <= 8) {
    info.dtype = size == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE ? uint8
                 : size <= 4                                          ? int32
                                                                      : int64;
  } else {
    fail(name, "unsupported element type (class " + std::to_string(static_cast<int>(cls)) +
                   ", " + std::to_string(size) + " bytes); expected a float or integer dataset");
  }
  return info;
}

Tensor Group::read_dataset(const std::string& name, const Shape& expected, DType dtype) const {
  const DatasetInfo info = dataset_info(name);
  if (info.shape != expected)
    fail(name, "shape " + info.shape.str() + " in the file, expected " + expected.str());
  Id ds = open_in_file(*this, name);
  if (!ds.valid()) fail(name, "cannot open dataset");
  // The 16-bit floats are read as stored and converted by lamina (HDF5 cannot convert opaque
  // bfloat16, and rounds into float16 its own way).
  const bool half = dtype == float16 || dtype == bfloat16 || info.dtype == float16 || info.dtype == bfloat16;
  const DType read_as = half ? info.dtype : dtype;
  // Opaque data reads only into an opaque type with the same tag: the dataset's own.
  Id stored(H5Dget_type(ds.get()));
  const bool opaque = stored.valid() && H5Tget_class(stored.get()) == H5T_OPAQUE;
  Tensor out = Tensor::empty(expected, read_as);
  if (out.numel() > 0 && H5Dread(ds.get(), opaque ? stored.get() : memory_type(read_as), H5S_ALL, H5S_ALL,
                                 H5P_DEFAULT, out.raw_data()) < 0)
    fail(name, "cannot read the data (corrupt or truncated file)");
  return out.astype(dtype);
}

double Group::read_scalar(const std::string& name) const {
  const DatasetInfo info = dataset_info(name);
  std::int64_t n = 1;
  for (auto d : info.shape) n *= d;
  if (n != 1) fail(name, "expected a scalar, got shape " + info.shape.str());
  return read_dataset(name, info.shape, float64).item();
}

void Group::write_dataset(const std::string& name, const Tensor& value) {
  const Tensor v = value.to(Device::cpu());
  std::vector<hsize_t> dims(v.shape().begin(), v.shape().end());
  Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Id lcpl = link_create_list();
  Id ds(H5Dcreate2(id(), name.c_str(), file_type(v.dtype()), space.get(), lcpl.get(), H5P_DEFAULT,
                   H5P_DEFAULT));
  if (!ds.valid()) fail(name, "cannot create dataset");
  errno = 0;
  if (v.numel() > 0 &&
      H5Dwrite(ds.get(), memory_type(v.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.raw_data()) < 0)
    fail(name, "cannot write dataset" + write_failure_reason());
  if (v.dtype() == bfloat16 && !write_string(ds.get(), "dtype", "bfloat16"))
    fail(name, "cannot write the attribute dtype" + write_failure_reason());
}

bool Group::has_attr(const std::string& name) const {
  return H5Aexists(id(), name.c_str()) > 0;
}

std::string Group::read_string_attr(const std::string& name) const {
  Id attr = open_attribute(*this, name);
  Id type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING) fail("", "attribute '" + name + "' is not a string");
  std::vector<std::string> values = read_strings(attr.get(), *this, name);
  if (values.size() != 1)
    fail("", "attribute '" + name + "' holds " + std::to_string(values.size()) +
                 " strings, expected one");
  return values[0];
}

std::vector<std::string> Group::read_string_list_attr(const std::string& name) const {
  Id attr = open_attribute(*this, name);
  Id type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) == H5T_STRING) return read_strings(attr.get(), *this, name);
  // Keras writes an empty list as numpy's default empty float64 array.
  Id space(H5Aget_space(attr.get()));
  if (space.valid() && space_points(space.get(), nullptr) == 0) return {};
  fail("", "attribute '" + name + "' is not a list of strings");
}

std::vector<std::string> Group::read_chunked_list_attr(const std::string& name) const {
  if (has_attr(name)) return read_string_list_attr(name);
  std::vector<std::string> out;
  for (int i = 0; has_attr(name + std::to_string(i)); ++i) {
    auto part = read_string_list_attr(name + std::to_string(i));
    out.insert(out.end(), part.begin(), part.end());
  }
  if (out.empty() && !has_attr(name + "0")) fail("", "missing attribute '" + name + "'");
  return out;
}

void Group::write_string_attr(const std::string& name, const std::string& value) {
  if (!write_string(id(), name, value)) fail("", "cannot write attribute '" + name + "'");
}

void Group::write_string_list_attr(const std::string& name, const std::vector<std::string>& values) {
  const hsize_t n = values.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  if (values.empty()) {
    Id attr(H5Acreate2(id(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
    if (!attr.valid()) fail("", "cannot write attribute '" + name + "'");
    return;
  }
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), width);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  std::vector<char> buf(width * values.size(), '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::memcpy(buf.data() + i * width, values[i].data(), values[i].size());
  Id attr(H5Acreate2(id(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr.get(), type.get(), buf.data()) < 0)
    fail("", "cannot write attribute '" + name + "'");
}

std::size_t keras_chunk_count(const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  if (width > kAttributeLimit)
    throw ValueError("cannot save a name of " + std::to_string(width) +
                     " bytes in an HDF5 attribute: the limit is " + std::to_string(kAttributeLimit));
  // np.array_split(arr, n): the largest piece has ceil(N / n) items.
  std::size_t chunks = 1;
  while ((values.size() + chunks - 1) / chunks * width > kAttributeLimit) ++chunks;
  return chunks;
}

void Group::write_chunked_list_attr(const std::string& name, const std::vector<std::string>& values) {
  const std::size_t chunks = keras_chunk_count(values);
  if (chunks == 1) return write_string_list_attr(name, values);
  // np.array_split: the first N % n pieces get one extra item.
  const std::size_t base = values.size() / chunks, extra = values.size() % chunks;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < chunks; ++i) {
    const std::size_t len = base + (i < extra ? 1 : 0);
    write_string_list_attr(name + std::to_string(i),
                           std::vector<std::string>(values.begin() + static_cast<std::ptrdiff_t>(begin),
                                                    values.begin() + static_cast<std::ptrdiff_t>(begin + len)));
    begin += len;
  }
}

File File::open(const std::string& path, const std::string& display) {
  silence_hdf5();
  const std::string name = display.empty() ? path : display;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw FileFormatError(name + ": no such file");
  // Before libhdf5 sees the file in this process (not even its signature): the helper reads all
  // of it in a process of its own (io/h5probe.hpp).
  h5probe::check_file(path, name);
  Id f = open_read_only(path);
  if (!f.valid()) throw FileFormatError(name + ": cannot open the HDF5 file (truncated or corrupt)");
  return File(std::move(f), name);
}

File File::create(const std::string& path, const std::string& display) {
  silence_hdf5();
  const std::string name = display.empty() ? path : display;
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!f.valid()) throw FileFormatError(name + ": cannot create the file");
  return File(std::move(f), name);
}

Group File::root() const {
  Id g(H5Gopen2(id_.get(), "/", H5P_DEFAULT));
  if (!g.valid()) throw FileFormatError(display_ + ": cannot open the root group (corrupt file)");
  return Group(std::move(g), display_, "/");
}

void File::close() {
  if (!id_.valid()) return;
  errno = 0;
  const bool flushed = H5Fflush(id_.get(), H5F_SCOPE_GLOBAL) >= 0;
  const std::string reason = write_failure_reason();
  const bool closed = H5Fclose(id_.release()) >= 0;
  if (!flushed || !closed) throw FileFormatError(display_ + ": cannot write the file" + reason);
}

}  // namespace lamina::io::h5
