// SPDX-License-Identifier: Apache-2.0
// src/io/hdf5.cpp — the HDF5 C API behind RAII handles. Untrusted files: every size read from a
// header is bounded before anything is allocated, and every HDF5 failure becomes a
// FileFormatError naming the file and the object.
#include "io/hdf5.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "lamina/errors.hpp"

namespace lamina::io::h5 {

static_assert(std::is_same_v<hid, hid_t>, "hid must be HDF5's hid_t");

namespace {

// Attributes hold names and configs; anything bigger than this is a corrupt header.
constexpr std::uint64_t kMaxAttributeBytes = std::uint64_t{256} << 20;
constexpr int kMaxRank = 32;

void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

std::string join_path(const std::string& parent, const std::string& child) {
  if (child.empty()) return parent;
  if (parent.empty() || parent == "/") return "/" + child;
  return parent + "/" + child;
}

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

// Element count of a dataspace; -1 for a null dataspace or a failure.
std::int64_t space_points(hid_t space, Shape* shape) {
  const H5S_class_t cls = H5Sget_simple_extent_type(space);
  if (cls == H5S_SCALAR) {
    if (shape) shape->clear();
    return 1;
  }
  if (cls != H5S_SIMPLE) return -1;
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > kMaxRank) return -1;
  hsize_t dims[kMaxRank];
  if (H5Sget_simple_extent_dims(space, dims, nullptr) < 0) return -1;
  std::int64_t n = 1;
  Shape s;
  for (int i = 0; i < rank; ++i) {
    // Caps each factor so the product cannot overflow; callers bound the total further.
    if (dims[i] > (hsize_t{1} << 40)) return -1;
    s.push_back(static_cast<std::int64_t>(dims[i]));
    n *= static_cast<std::int64_t>(dims[i]);
    if (n > (std::int64_t{1} << 50)) return -1;
  }
  if (shape) *shape = std::move(s);
  return n;
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

// The memory type that string attributes are read into: C strings in the file's own character
// set (ASCII and UTF-8 do not convert into each other, so a mismatch would make H5Aread refuse
// before it reads anything). The probe child reads with the same types as the loader.
Id string_memory_type(hid_t file_type, std::size_t fixed_size) {
  Id mem(H5Tcopy(H5T_C_S1));
  if (fixed_size == 0) {
    H5Tset_size(mem.get(), H5T_VARIABLE);
  } else {
    H5Tset_size(mem.get(), fixed_size);
    H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  }
  H5Tset_cset(mem.get(), H5Tget_cset(file_type));
  return mem;
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

// Link access for every traversal: an external link is never followed into another file, even
// where a check below were missed (its callback refuses the traversal).
hid_t no_external_links() {
  static const hid_t lapl = [] {
    const hid_t p = H5Pcreate(H5P_LINK_ACCESS);
    H5Pset_elink_cb(
        p, [](const char*, const char*, const char*, const char*, unsigned*, hid_t, void*) -> herr_t { return -1; },
        nullptr);
    return p;
  }();
  return lapl;
}

// Opens an object when every component of `name` exists and is a hard link; invalid Id
// otherwise. Keras and h5py write hard links only: a soft link could alias or loop, an external
// or user-defined one leads out of the file, so those are refused and `*refused` says which.
Id open_object(hid_t loc, const std::string& name, std::string* refused = nullptr) {
  if (name.empty()) return Id();
  const hid_t lapl = no_external_links();
  std::size_t pos = 0;
  while (true) {
    const std::size_t slash = name.find('/', pos);
    const std::string prefix = name.substr(0, slash);
    if (!prefix.empty()) {
      if (H5Lexists(loc, prefix.c_str(), lapl) <= 0) return Id();
      H5L_info_t link;
      if (H5Lget_info(loc, prefix.c_str(), &link, lapl) < 0) return Id();
      if (link.type != H5L_TYPE_HARD) {
        if (refused)
          *refused = "'" + prefix + "' is " +
                     (link.type == H5L_TYPE_SOFT       ? "a soft link"
                      : link.type == H5L_TYPE_EXTERNAL ? "an external link (to another file)"
                                                       : "a user-defined link") +
                     ", which lamina does not follow";
        return Id();
      }
    }
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return Id(H5Oopen(loc, name.c_str(), lapl));
}

// Why a dataset's values could come from outside the file or through a filter lamina does not
// expect; empty for a plain dataset. Keras and h5py write contiguous or chunked datasets, at most
// with deflate (gzip), shuffle and fletcher32.
std::string refused_storage(hid_t dataset) {
  Id dcpl(H5Dget_create_plist(dataset));
  if (!dcpl.valid()) return "its storage properties are unreadable (corrupt file)";
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_VIRTUAL) return "it is a virtual dataset (its values live in other files), which lamina refuses";
  if (layout < 0) return "its storage layout is unreadable (corrupt file)";
  const int external = H5Pget_external_count(dcpl.get());
  if (external != 0)
    return "it has external storage (its values live in another file), which lamina refuses";
  const int filters = H5Pget_nfilters(dcpl.get());
  if (filters < 0) return "its filter pipeline is unreadable (corrupt file)";
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t values = 0;
    char name[64] = {};
    const H5Z_filter_t filter = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &values,
                                               nullptr, sizeof name, name, &config);
    if (filter != H5Z_FILTER_DEFLATE && filter != H5Z_FILTER_SHUFFLE && filter != H5Z_FILTER_FLETCHER32)
      return "it uses HDF5 filter " + std::to_string(filter) + (name[0] ? " ('" + std::string(name) + "')" : "") +
             ", which lamina does not read (deflate, shuffle and fletcher32 only)";
  }
  return {};
}

}  // namespace

Id::~Id() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
}

Id& Id::operator=(Id&& other) noexcept {
  if (this != &other) {
    Id old(id_);
    id_ = other.id_;
    other.id_ = -1;
  }
  return *this;
}

std::string Group::where(const std::string& child) const {
  return file_ + ": " + join_path(path_, child);
}

void Group::fail(const std::string& child, const std::string& what) const {
  throw FileFormatError(where(child) + ": " + what);
}

namespace {

// open_object for the loader: a link that leads out of the file, or a dataset whose values do,
// fails naming it even though the probe child refused the file first.
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

namespace {

// Reads every attribute and small dataset below `loc`, as a loader would. Run in a child process:
// the HDF5 library (1.10) can crash on corrupted metadata (e.g. a bad global heap under a
// variable-length string) instead of returning an error.
// The probe child's exit status when the HDF5 library reports an error on the file.
constexpr int kProbeFoundCorruption = 3;

// In the probe child: the HDF5 library failed on this file. The loader would make the same call
// and fail too (or, in 1.10, crash while cleaning up: freeing a half-decoded link table), so the
// file is refused without the parent ever making it.
[[noreturn]] void probe_failed() { ::_exit(kProbeFoundCorruption); }

// The probe child's exit status when the file holds something lamina refuses by policy (a link or
// storage leading out of the file); the reason goes to the parent through g_probe_report.
constexpr int kProbeRefused = 4;
int g_probe_report = -1;

[[noreturn]] void probe_refused(const std::string& what) {
  const std::string message = what.substr(0, 4000);
  if (::write(g_probe_report, message.data(), message.size()) < 0) probe_failed();
  ::_exit(kProbeRefused);
}

// Reads all of a dataset's values, as the loader will (weights are read whole), a block of rows
// at a time so that the child's memory stays small; what the loader would refuse by size alone
// (over 1 GiB declared) is skipped.
void probe_dataset(hid_t dataset, const std::string& path) {
  if (const std::string why = refused_storage(dataset); !why.empty()) probe_refused(path + ": " + why);
  Id type(H5Dget_type(dataset));
  Id space(H5Dget_space(dataset));
  if (!type.valid() || !space.valid()) probe_failed();
  const int rank = H5Sget_simple_extent_ndims(space.get());
  const std::int64_t n = space_points(space.get(), nullptr);
  const std::size_t size = H5Tget_size(type.get());
  if (rank < 0 || size == 0) probe_failed();
  if (rank > 32 || n <= 0 || size > 64 ||
      static_cast<std::uint64_t>(n) * size > (std::uint64_t{1} << 30))
    return;
  // Floating-point data as the loader reads it (native floats); anything else as stored.
  const bool is_float = H5Tget_class(type.get()) == H5T_FLOAT;
  const hid_t mem = is_float ? H5T_NATIVE_DOUBLE : type.get();
  const std::size_t mem_size = is_float ? sizeof(double) : size;
  if (rank == 0) {
    std::vector<char> buf(mem_size);
    if (H5Dread(dataset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) probe_failed();
    return;
  }
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  const std::uint64_t row = static_cast<std::uint64_t>(n) / dims[0] * mem_size;
  const hsize_t rows_per_block = std::max<hsize_t>(1, (std::uint64_t{4} << 20) / std::max<std::uint64_t>(row, 1));
  std::vector<char> buf(static_cast<std::size_t>(std::min<std::uint64_t>(rows_per_block, dims[0]) * row));
  for (hsize_t first = 0; first < dims[0]; first += rows_per_block) {
    std::vector<hsize_t> start(dims.size(), 0), count = dims;
    start[0] = first;
    count[0] = std::min<hsize_t>(rows_per_block, dims[0] - first);
    Id file_block(H5Scopy(space.get()));
    Id mem_block(H5Screate_simple(rank, count.data(), nullptr));
    if (H5Sselect_hyperslab(file_block.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0 ||
        H5Dread(dataset, mem, mem_block.get(), file_block.get(), H5P_DEFAULT, buf.data()) < 0)
      probe_failed();
  }
}

void probe_object(hid_t obj, const std::string& path, int depth, int& budget) {
  if (--budget < 0 || depth > 64) return;
  H5O_info_t object_info;
  if (H5Oget_info2(obj, &object_info, H5O_INFO_NUM_ATTRS) < 0) probe_failed();
  for (hsize_t i = 0; i < object_info.num_attrs && i < 4096; ++i) {
    Id attr(H5Aopen_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT));
    if (!attr.valid()) probe_failed();
    Id type(H5Aget_type(attr.get()));
    Id space(H5Aget_space(attr.get()));
    if (!type.valid() || !space.valid()) probe_failed();
    const std::int64_t n = space_points(space.get(), nullptr);
    // No points, or a shape the loader refuses by its size before reading (space_points: -1).
    if (n <= 0 || n > (1 << 20)) continue;
    const H5T_class_t type_class = H5Tget_class(type.get());
    const htri_t variable = type_class == H5T_STRING ? H5Tis_variable_str(type.get()) : 0;
    if (type_class < 0 || variable < 0) probe_failed();
    if (variable > 0) {
      Id mem = string_memory_type(type.get(), 0);
      std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
      if (H5Aread(attr.get(), mem.get(), ptrs.data()) < 0) probe_failed();
      H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
      continue;
    }
    const std::size_t size = H5Tget_size(type.get());
    if (size == 0 || static_cast<std::uint64_t>(n) * size > kMaxAttributeBytes) continue;
    std::vector<char> buf(static_cast<std::size_t>(n) * size + 1);
    if (type_class == H5T_STRING) {
      Id mem = string_memory_type(type.get(), size);
      if (H5Aread(attr.get(), mem.get(), buf.data()) < 0) probe_failed();
    } else if (H5Aread(attr.get(), type.get(), buf.data()) < 0) {
      probe_failed();
    }
  }
  const H5I_type_t kind = H5Iget_type(obj);
  if (kind == H5I_DATASET) {
    probe_dataset(obj, path);
    return;
  }
  if (kind != H5I_GROUP) return;
  H5G_info_t info;
  if (H5Gget_info(obj, &info) < 0) probe_failed();
  // The loader lists a group's links by name (Group::children) and opens each by name; do the
  // same, so that metadata only those calls touch (a corrupt compact link table) is read here first.
  for (hsize_t i = 0; i < info.nlinks && i < 65536; ++i) {
    const ssize_t len = H5Lget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0 || len > (1 << 20)) probe_failed();
    std::string link(static_cast<std::size_t>(len) + 1, '\0');
    if (H5Lget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, link.data(), link.size(), H5P_DEFAULT) < 0)
      probe_failed();
    link.resize(static_cast<std::size_t>(len));
    const std::string child_path = join_path(path, link);
    std::string refused;
    Id child(open_object(obj, link, &refused));
    if (!refused.empty()) probe_refused(path + ": " + refused);
    if (!child.valid()) probe_failed();
    probe_object(child.get(), child_path, depth + 1, budget);
  }
}

// Reads the whole file in a child process first; a crash or hang there becomes a
// FileFormatError here instead of taking the caller down.
void probe_in_child(const std::string& path, const std::string& name) {
  // Reading the file directly when no child can be made would let a corrupt file crash the
  // caller (a loaded machine can refuse fork for a moment: EAGAIN, ENOMEM), so retry, then refuse.
  // The child's reason for a refusal; read only after it has exited (a message fits the pipe's
  // buffer), so that a write end inherited by another thread's child cannot block the read.
  int report[2];
  if (::pipe2(report, O_CLOEXEC | O_NONBLOCK) != 0)
    throw FileFormatError(name + ": cannot check the file before reading it (" + std::strerror(errno) + ")");
  struct Pipe {
    int* fds;
    ~Pipe() {
      for (int i = 0; i < 2; ++i)
        if (fds[i] >= 0) ::close(fds[i]);
    }
  } pipe_guard{report};
  pid_t pid = -1;
  for (int attempt = 0; attempt < 20 && pid < 0; ++attempt) {
    pid = ::fork();
    if (pid < 0 && errno != EAGAIN && errno != ENOMEM) break;
    if (pid < 0) ::usleep(50'000);
  }
  if (pid < 0)
    throw FileFormatError(name + ": cannot check the file in a child process before reading it (" +
                          std::strerror(errno) + ")");
  if (pid == 0) {
    g_probe_report = report[1];
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) std::signal(sig, SIG_DFL);
    ::alarm(60);
    Id fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
    Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
    if (!f.valid()) probe_failed();
    Id root(H5Gopen2(f.get(), "/", H5P_DEFAULT));
    if (!root.valid()) probe_failed();
    int budget = 100000;
    probe_object(root.get(), "/", 0, budget);
    ::_exit(0);
  }
  ::close(report[1]);
  report[1] = -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kProbeRefused) {
    char message[4096];
    const ssize_t n = ::read(report[0], message, sizeof message);
    throw FileFormatError(name + ": " + (n > 0 ? std::string(message, static_cast<std::size_t>(n))
                                               : std::string("refused (a link or storage outside the file)")));
  }
  if (WIFSIGNALED(status))
    throw FileFormatError(name + ": corrupt HDF5 file (reading it " +
                          (WTERMSIG(status) == SIGALRM ? std::string("does not finish")
                                                       : "crashes the HDF5 library, signal " +
                                                             std::to_string(WTERMSIG(status))) +
                          ")");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw FileFormatError(name + ": corrupt HDF5 file (the HDF5 library failed reading it)");
}

}  // namespace

File File::open(const std::string& path, const std::string& display) {
  silence_hdf5();
  const std::string name = display.empty() ? path : display;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw FileFormatError(name + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw FileFormatError(name + ": not an HDF5 file (no HDF5 signature)");
  probe_in_child(path, name);
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
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
