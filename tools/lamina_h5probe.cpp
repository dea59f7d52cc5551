// SPDX-License-Identifier: Apache-2.0
// tools/lamina_h5probe.cpp — lamina-h5probe FILE [SECONDS]: reads an untrusted HDF5 file as the
// loader will, in a process of its own, and reports a verdict (io/h5probe.hpp). Started by
// liblamina (src/io/h5probe_client.cpp) before the loader opens the file: the HDF5 library (1.10)
// can crash on corrupted metadata (a bad global heap under a variable-length string, a
// half-decoded link table) or loop, instead of returning an error. It reads every attribute with
// the loader's string types (the file's own character set) and every dataset's values, lists and
// opens every link as the loader does, and refuses what the loader refuses (io/hdf5_common.hpp:
// the same functions), so that the loader never calls libhdf5 on anything read here first.
//
// Links libhdf5 and hdf5_common only: no liblamina, OpenBLAS or thread pool to start.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/h5probe.hpp"
#include "io/hdf5_common.hpp"

using namespace lamina::io::h5;
namespace protocol = lamina::io::h5probe;

namespace {

// Writes the verdict's text on standard output (a pipe to the caller).
void report(const std::string& text) {
  const std::string message = text.substr(0, protocol::kMaxMessage);
  std::size_t done = 0;
  while (done < message.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, message.data() + done, message.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
}

// The HDF5 library failed on this file. The loader would make the same call and fail too (or,
// in 1.10, crash while cleaning up: freeing a half-decoded link table), so the file is refused
// without the caller ever making it. _exit: no destructor or atexit handler runs into the
// library's half-built state.
[[noreturn]] void probe_failed() { ::_exit(protocol::kExitCorrupt); }

// The file holds something lamina refuses by policy (a link or storage leading out of the file).
[[noreturn]] void probe_refused(const std::string& what) {
  report(what);
  ::_exit(protocol::kExitRefused);
}

// Reads all of a dataset's values, as the loader will (weights are read whole), a block of rows
// at a time so that the helper's memory stays small; what the loader would refuse by size alone
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

// Bounds what a hostile file can make this process do: no core dump for an expected crash, an
// address-space limit, and an alarm shortly after the caller's own deadline should the caller die
// before killing us (as does PR_SET_PDEATHSIG when the thread that started us ends).
void limit_self(int argc, char** argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  const rlimit address_space{protocol::kAddressSpaceLimit, protocol::kAddressSpaceLimit};
  ::setrlimit(RLIMIT_AS, &address_space);
#endif
  if (argc == 3) {
    char* end = nullptr;
    const double seconds = std::strtod(argv[2], &end);
    if (end == argv[2] || *end != '\0' || !(seconds > 0)) {
      std::fprintf(stderr, "lamina-h5probe: SECONDS must be a positive number, not '%s'\n", argv[2]);
      ::_exit(protocol::kExitUsage);
    }
    ::alarm(static_cast<unsigned>(std::min(std::ceil(seconds), 86400.0)) + 2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr,
                 "usage: lamina-h5probe FILE [SECONDS]\n"
                 "Reads an HDF5 file as lamina's loader will; started by liblamina, not meant to be run by hand.\n"
                 "Exit status 0 (and '%s' on stdout): readable; 3: corrupt; 4: refused (reason on stdout);\n"
                 "5: not an HDF5 file.\n",
                 protocol::kOk);
    return protocol::kExitUsage;
  }
  limit_self(argc, argv);
  silence_hdf5();
  const std::string path = argv[1];
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    report(protocol::kNotHdf5);
    ::_exit(protocol::kExitNotHdf5);
  }
  Id f = open_read_only(path);
  if (!f.valid()) probe_failed();
  Id root(H5Gopen2(f.get(), "/", H5P_DEFAULT));
  if (!root.valid()) probe_failed();
  int budget = 100000;
  probe_object(root.get(), "/", 0, budget);
  report(protocol::kOk);
  ::_exit(protocol::kExitOk);
}
