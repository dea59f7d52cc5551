// SPDX-License-Identifier: Apache-2.0
// src/io/atomic_file.cpp — temporary file + fsync + rename (POSIX).
#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "lamina/errors.hpp"

namespace lamina::io {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  throw FileFormatError(path + ": " + what + " (" + std::strerror(err) + ")");
}

void fsync_path(const std::string& path, int flags, const std::string& target, const char* what) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) fail(target, what, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory (EINVAL); the rename is still atomic there.
  if (rc != 0 && !(flags & O_DIRECTORY && err == EINVAL)) fail(target, what, err);
}

}  // namespace

void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp_path)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string pattern = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  const int fd = ::mkstemp(buf.data());
  if (fd < 0) fail(path, "cannot write a temporary file in '" + dir.string() + "'", errno);
  // mkstemp makes the file private (0600); give it the permissions a plain create would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  ::close(fd);
  const std::string tmp(buf.data());
  try {
    write(tmp);
    fsync_path(tmp, O_RDONLY, path, "cannot flush the new file to disk");
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      fail(path, "cannot replace the file with the new one", errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_path(dir.string(), O_RDONLY | O_DIRECTORY, path, "cannot flush the directory");
}

}  // namespace lamina::io
