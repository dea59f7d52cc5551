// SPDX-License-Identifier: Apache-2.0
// src/io/hdf5_common.cpp — see hdf5_common.hpp: compiled once (an object library), linked into
// liblamina and into the probe helper lamina-h5probe.
#include "io/hdf5_common.hpp"

namespace lamina::io::h5 {

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

std::int64_t space_points(hid_t space, std::vector<std::int64_t>* shape) {
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
  std::vector<std::int64_t> s;
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

namespace {

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

}  // namespace

Id open_object(hid_t loc, const std::string& name, std::string* refused) {
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

// Keras and h5py write contiguous or chunked datasets, at most
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


Id open_read_only(const std::string& path) {
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
  // No flock() for reading. libhdf5 opens files without O_CLOEXEC, so a process that another thread
  // spawns at that moment (the probe, or any fork + exec) briefly holds a copy of a writer's
  // descriptor and with it the writer's exclusive lock; a save followed at once by a load of the
  // same path then failed now and then with "corrupt HDF5 file". Lamina replaces files by rename,
  // so a reader never sees a file being written and the lock protects nothing here.
  H5Pset_file_locking(fapl.get(), false, true);
#endif
  return Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
}

}  // namespace lamina::io::h5
