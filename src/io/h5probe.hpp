// SPDX-License-Identifier: Apache-2.0
// src/io/h5probe.hpp — the HDF5 probe. libhdf5 (1.10) can crash or hang on corrupt metadata
// instead of returning an error, so before the loader opens an untrusted file, a helper program,
// lamina-h5probe (tools/lamina_h5probe.cpp), reads all of it: every attribute with the loader's
// string types, every dataset in blocks, every link, with the loader's refusals (io/hdf5_common).
// The helper is started with posix_spawn, not fork: a fork would copy a process that may hold
// CUDA contexts, MPI state or running threads. A crash, a hang or a refusal in the helper becomes
// a FileFormatError here.
//
// This header is shared by the helper (the protocol below) and by liblamina (check_file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lamina::io::h5probe {

// The helper's command line: lamina-h5probe FILE [SECONDS]; with SECONDS it also stops itself
// (SIGALRM) a little after the caller's deadline, should the caller die before killing it.
// Its verdict: the exit status, and on standard output kOk, kNotHdf5, the reason for a refusal,
// or nothing (corrupt). The text alone decides in a program that reaps its children itself.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCorrupt = 3;  // libhdf5 reported an error reading the file
inline constexpr int kExitRefused = 4;  // a link or storage that leads out of the file (reason on stdout)
inline constexpr int kExitNotHdf5 = 5;  // no HDF5 signature
inline constexpr char kOk[] = "lamina-h5probe: ok";
inline constexpr char kNotHdf5[] = "lamina-h5probe: not an HDF5 file";
inline constexpr std::size_t kMaxMessage = 4000;

// The helper's address-space limit (RLIMIT_AS; not under AddressSanitizer or ThreadSanitizer,
// whose shadow memory needs terabytes of address space): reading a dataset a few MiB at a time
// needs far less, so a file that makes libhdf5 allocate more (a decompression bomb, an absurd
// chunk) is refused.
inline constexpr std::uint64_t kAddressSpaceLimit = std::uint64_t{2} << 30;

/// Reads `path` in the helper; returns when the helper read all of it. Otherwise throws
/// FileFormatError "<name>: ..." saying why: not HDF5, corrupt (libhdf5 failed or crashed),
/// refused (naming the object and the feature), does not finish within the time budget (the
/// helper is killed), or the helper cannot be found or started.
void check_file(const std::string& path, const std::string& name);

/// The time the helper gets for a file of `bytes`: 10 s, plus 1 s per 32 MiB, at most 300 s.
/// $LAMINA_H5PROBE_TIMEOUT_S (seconds, > 0) replaces it.
double time_budget_seconds(std::uintmax_t bytes);

/// Where the helper is: $LAMINA_H5PROBE when set; else, for a shared liblamina, the build
/// tree's helper when the library is the build tree's, otherwise <libdir>/../libexec/lamina/
/// lamina-h5probe relative to the loaded library (found with dladdr, so an installed tree can be
/// moved); for a static liblamina, the build tree's helper when the program runs from the build
/// tree, else the installed path compiled in (CMAKE_INSTALL_FULL_LIBEXECDIR), else the build
/// tree's. Throws FileFormatError "<name>: ..." listing the places looked at when none is an
/// executable file.
std::string helper_path(const std::string& name);

}  // namespace lamina::io::h5probe
