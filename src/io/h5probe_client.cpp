// SPDX-License-Identifier: Apache-2.0
// src/io/h5probe_client.cpp — liblamina's side of the HDF5 probe (io/h5probe.hpp): finds the
// helper, starts it with posix_spawn (no fork: nothing of this process is copied, no atfork
// handler runs, and a parent with many threads, CUDA contexts or MPI state is safe), waits for
// its verdict within a time budget, and kills it (SIGKILL, then reaps it) when the budget runs
// out.
//
// CMake defines, for this file only: LAMINA_H5PROBE_BUILD_DIR (the build tree's library
// directory), LAMINA_H5PROBE_BUILD_PATH (the build tree's helper), LAMINA_H5PROBE_FROM_LIBDIR
// (the installed helper relative to the installed library's directory),
// LAMINA_H5PROBE_INSTALLED_PATH (the installed helper's absolute path) and, for a static
// library, LAMINA_STATIC_LIBRARY.
#include "io/h5probe.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "lamina/errors.hpp"

#if !defined(LAMINA_H5PROBE_BUILD_DIR) || !defined(LAMINA_H5PROBE_BUILD_PATH) || \
    !defined(LAMINA_H5PROBE_FROM_LIBDIR) || !defined(LAMINA_H5PROBE_INSTALLED_PATH)
#error "CMakeLists.txt defines where the probe helper is (LAMINA_H5PROBE_*)"
#endif

extern char** environ;

namespace lamina::io::h5probe {

namespace {

std::string cannot_check(const std::string& why) {
  return "cannot check the HDF5 file before reading it: " + why;
}

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw FileFormatError(name + ": " + what);
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string real_path(const char* path) {
  char* real = ::realpath(path, nullptr);
  if (!real) return {};
  std::string out(real);
  std::free(real);
  return out;
}

// The directory of the file this code runs from: liblamina.so (dladdr on a function of it), or,
// for a static library, the program (/proc/self/exe: dladdr would give the program's argv[0]).
// Symbolic links resolved; empty when unknown.
std::string code_directory() {
#ifdef LAMINA_STATIC_LIBRARY
  const std::string file = real_path("/proc/self/exe");
#else
  Dl_info info{};
  const std::string file = ::dladdr(reinterpret_cast<void*>(&code_directory), &info) != 0 && info.dli_fname
                               ? real_path(info.dli_fname)
                               : std::string();
#endif
  return file.empty() ? file : std::filesystem::path(file).parent_path().string();
}

// The places the helper may be, in order (see helper_path in the header).
std::vector<std::string> helper_candidates() {
  static const std::vector<std::string> candidates = [] {
    const std::string here = code_directory();
    const std::string build_dir = real_path(LAMINA_H5PROBE_BUILD_DIR);
    // The build tree's library uses the build tree's helper only, and an installed one never
    // does (its build tree may have moved on to another version, or be gone).
    if (!here.empty() && here == build_dir) return std::vector<std::string>{LAMINA_H5PROBE_BUILD_PATH};
#ifdef LAMINA_STATIC_LIBRARY
    // A program linked with the static library may live anywhere: the installed helper, else
    // the one of the tree the library was built in.
    return std::vector<std::string>{LAMINA_H5PROBE_INSTALLED_PATH, LAMINA_H5PROBE_BUILD_PATH};
#else
    if (here.empty()) return std::vector<std::string>{};
    return std::vector<std::string>{
        (std::filesystem::path(here) / LAMINA_H5PROBE_FROM_LIBDIR).lexically_normal().string()};
#endif
  }();
  return candidates;
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", seconds);
  return text;
}

// Closes what it holds on every path out (a throw included).
struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// The helper's exit: its wait status when it was reaped here, its verdict text, and whether it
// was stopped for running past the budget.
struct Outcome {
  bool status_known = false;
  int status = 0;
  bool timed_out = false;
  std::string message;
};

// Reads the helper's verdict until it closes its output (at exit), then reaps it; past the
// deadline it is killed and reaped. A program that reaps children itself (a SIGCHLD handler, or
// SIGCHLD ignored) leaves the status unknown: the verdict text then decides.
Outcome await(pid_t pid, int verdict_fd, double budget) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(budget));
  const auto left_ms = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count() + 1;
    return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
  };
  Outcome out;
  bool closed = false;
  while (!closed && clock::now() < deadline) {
    pollfd p{verdict_fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, left_ms());
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(verdict_fd, buf, sizeof buf);
    if (n > 0) {
      // More than a verdict is read and dropped, so that a chatty program cannot block on a full pipe.
      out.message.append(buf, std::min(static_cast<std::size_t>(n), kMaxMessage - std::min(kMaxMessage, out.message.size())));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      closed = true;
    }
  }
  // Its output closes a moment before it can be reaped. A pidfd wakes poll when it has ended;
  // without one (a kernel before 5.3) waitpid is retried every millisecond.
  Fd ended;
  if (closed) ended.fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  while (closed) {
    const pid_t r = ::waitpid(pid, &out.status, WNOHANG);
    if (r == pid) {
      out.status_known = true;
      return out;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return out;  // reaped elsewhere (ECHILD)
    if (clock::now() >= deadline) break;
    if (ended.fd >= 0) {
      pollfd p{ended.fd, POLLIN, 0};
      ::poll(&p, 1, left_ms());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ::kill(pid, SIGKILL);
  out.timed_out = true;
  while (::waitpid(pid, &out.status, 0) < 0 && errno == EINTR) {
  }
  return out;
}

}  // namespace

double time_budget_seconds(std::uintmax_t bytes) {
  if (const char* env = std::getenv("LAMINA_H5PROBE_TIMEOUT_S"); env && *env) {
    char* end = nullptr;
    const double seconds = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(seconds > 0) || !std::isfinite(seconds))
      throw ValueError("LAMINA_H5PROBE_TIMEOUT_S='" + std::string(env) + "' is not a positive number of seconds");
    return seconds;
  }
  // 32 MiB/s: a slow disk and inflating gzip-compressed data on a loaded machine.
  return std::min(300.0, 10.0 + static_cast<double>(bytes) / (32.0 * 1024 * 1024));
}

std::string helper_path(const std::string& name) {
  // secure_getenv: a set-user-ID program does not run a helper its caller chose.
  if (const char* env = ::secure_getenv("LAMINA_H5PROBE"); env && *env) {
    if (!is_executable_file(env))
      fail(name, cannot_check("LAMINA_H5PROBE='" + std::string(env) + "' is not an executable file"));
    return env;
  }
  const std::vector<std::string> candidates = helper_candidates();
  for (const auto& candidate : candidates)
    if (is_executable_file(candidate)) return candidate;
  std::string places;
  for (const auto& candidate : candidates) places += (places.empty() ? "" : " or ") + candidate;
  fail(name, cannot_check(std::string("its helper program lamina-h5probe is not ") +
                          (places.empty() ? "found (liblamina's own location is unknown)" : "at " + places) +
                          "; install lamina with it, or set LAMINA_H5PROBE to its path"));
}

void check_file(const std::string& path, const std::string& name) {
  std::error_code ec;
  const std::uintmax_t bytes = std::filesystem::file_size(path, ec);
  double budget = 0;
  try {
    budget = time_budget_seconds(ec ? 0 : bytes);
  } catch (const ValueError& e) {
    fail(name, cannot_check(e.what()));
  }
  const std::string helper = helper_path(name);

  // The verdict pipe, close-on-exec so that no other thread's helper inherits it (its own copy
  // would hold the pipe open past this helper's exit), and above the standard descriptors even in
  // a program that closed them.
  Fd verdict, verdict_write;
  {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail(name, cannot_check(std::strerror(errno)));
    verdict.fd = fds[0];
    verdict_write.fd = fds[1];
    for (Fd* end : {&verdict, &verdict_write})
      if (end->fd <= STDERR_FILENO) {
        const int moved = ::fcntl(end->fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        end->reset();
        if (moved < 0) fail(name, cannot_check(std::strerror(errno)));
        end->fd = moved;
      }
  }

  // The helper gets /dev/null as input, the pipe as output, the caller's stderr (sanitizer
  // reports) and no other descriptor; every signal at its default and none blocked (a caller that
  // ignores SIGALRM or blocks SIGSEGV does not pass that on).
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, verdict_write.fd, STDOUT_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
#endif
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attributes, &none);
  posix_spawnattr_setsigdefault(&setup.attributes, &all);
  posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  const std::string seconds = seconds_text(budget);
  std::vector<char*> argv = {const_cast<char*>(helper.c_str()), const_cast<char*>(path.c_str()),
                             const_cast<char*>(seconds.c_str()), nullptr};
  pid_t pid = -1;
  int rc = 0;
  // A loaded machine can refuse a new process for a moment (EAGAIN, ENOMEM): retry, then refuse
  // the file (reading it unchecked could crash the caller).
  for (int attempt = 0; attempt < 20; ++attempt) {
    rc = ::posix_spawn(&pid, helper.c_str(), &setup.actions, &setup.attributes, argv.data(), environ);
    if (rc != EAGAIN && rc != ENOMEM) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (rc != 0) fail(name, cannot_check("cannot start " + helper + " (" + std::strerror(rc) + ")"));
  verdict_write.reset();

  const Outcome out = await(pid, verdict.fd, budget);
  if (out.timed_out)
    fail(name, "corrupt HDF5 file (reading it does not finish within " + seconds + " s, so the check was stopped; "
               "LAMINA_H5PROBE_TIMEOUT_S sets that limit)");
  if (out.status_known && WIFSIGNALED(out.status))
    fail(name, "corrupt HDF5 file (reading it " +
                   (WTERMSIG(out.status) == SIGALRM
                        ? std::string("does not finish")
                        : "crashes the HDF5 library, signal " + std::to_string(WTERMSIG(out.status))) +
                   ")");
  int code = kExitCorrupt;
  if (out.status_known && WIFEXITED(out.status))
    code = WEXITSTATUS(out.status);
  else if (!out.status_known)
    code = out.message == kOk         ? kExitOk
           : out.message == kNotHdf5  ? kExitNotHdf5
           : out.message.empty()      ? kExitCorrupt
                                      : kExitRefused;
  switch (code) {
    case kExitOk:
      if (out.message == kOk) return;
      fail(name, cannot_check(helper + " gave no verdict (is it lamina-h5probe?)"));
    case kExitRefused:
      fail(name, out.message.empty() ? "refused (a link or storage outside the file)" : out.message);
    case kExitNotHdf5: fail(name, "not an HDF5 file (no HDF5 signature)");
    case kExitUsage: fail(name, cannot_check(helper + " refused its command line (from another lamina version?)"));
    default: fail(name, "corrupt HDF5 file (the HDF5 library failed reading it)");
  }
}

}  // namespace lamina::io::h5probe
