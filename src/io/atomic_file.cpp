// SPDX-License-Identifier: Apache-2.0
// src/io/atomic_file.cpp — temporary file + fsync + rename (POSIX).
#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
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

// ".<name>.tmp-<pid>-": the prefix of every temporary file a save of <name> makes (the scratch
// files of a .keras save and libzip's own temporary extend the same name). The pid tells a later
// save whether the writer is still alive.
std::string temp_prefix(const std::string& filename, long pid) {
  return "." + filename + ".tmp-" + std::to_string(pid) + "-";
}

// The writer's pid from a name that starts with ".<name>.tmp-<pid>-"; -1 for any other name.
long owner_of(const std::string& entry, const std::string& filename) {
  const std::string head = "." + filename + ".tmp-";
  if (entry.compare(0, head.size(), head) != 0) return -1;
  std::size_t i = head.size();
  long pid = 0;
  for (; i < entry.size() && entry[i] >= '0' && entry[i] <= '9' && pid < (1L << 31); ++i)
    pid = pid * 10 + (entry[i] - '0');
  return i > head.size() && i < entry.size() && entry[i] == '-' && pid > 0 ? pid : -1;
}

}  // namespace

void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string filename = target.filename().string();
  if (filename.empty()) return;
  std::error_code ec;
  fs::directory_iterator it(target.has_parent_path() ? target.parent_path() : fs::path("."), ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    const long pid = owner_of(entry, filename);
    // Only a writer known to be gone: a live pid (or one we may not signal) is a save under way.
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

void write_atomically(const std::string& path,
                      const std::function<void(const std::string& tmp_path)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  // A save killed before its rename leaves its temporaries; the next save of the path clears them.
  remove_stale_temporaries(path);
  std::string pattern = (dir / (temp_prefix(target.filename().string(), ::getpid()) + "XXXXXX")).string();
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
