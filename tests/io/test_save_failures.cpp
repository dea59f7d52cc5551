// SPDX-License-Identifier: Apache-2.0
// Saves that cannot complete (issue 9): a full disk and a directory the process may not write.
// Each must throw a FileFormatError naming the file and the reason, keep the previous file
// byte-identical and leave no temporary behind, for .h5, .keras and .weights.h5 alike.
//
// Both conditions are made real in a forked child, so that they hold for root too:
// - full disk: RLIMIT_FSIZE caps every file the child writes (with SIGXFSZ ignored, a write past
//   the cap fails with EFBIG, as a write to a full disk fails with ENOSPC);
// - unwritable directory: the directory is mode 0555 and the child drops to user "nobody" when it
//   runs as root (root ignores permission bits).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include <lamina/errors.hpp>
#include <lamina/models.hpp>

#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"

using namespace lamina;
using lamina::testing::read_bytes;
using lamina::testing::ScratchDir;

namespace {

// Runs `setup` then `save` in a child process. Returns "saved", or "FileFormatError: <message>",
// or "<other>: <message>" for any other exception.
std::string save_in_child(const std::function<void()>& setup, const std::function<void()>& save) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string result;
    try {
      setup();
      save();
      result = "saved";
    } catch (const FileFormatError& e) {
      result = std::string("FileFormatError: ") + e.what();
    } catch (const std::exception& e) {
      result = std::string("other exception: ") + e.what();
    }
    const char* p = result.data();
    std::size_t left = result.size();
    while (left > 0) {
      const ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string result;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) result.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));  // not killed by SIGXFSZ
  return result;
}

// The child's file size cap: smaller than any of the files below, larger than nothing else the
// save writes.
void cap_file_size() {
  ::signal(SIGXFSZ, SIG_IGN);
  const rlimit cap{4096, 4096};
  if (::setrlimit(RLIMIT_FSIZE, &cap) != 0) throw std::runtime_error("setrlimit failed");
}

void become_unprivileged() {
  if (::geteuid() != 0) return;
  // nobody/nogroup on Debian; the group first, while still allowed to change it.
  if (::setgid(65534) != 0 || ::setuid(65534) != 0) throw std::runtime_error("cannot drop root");
}

struct Format {
  const char* file;
  std::function<void(const Model&, const std::string&)> save;
};

const std::vector<Format>& formats() {
  static const std::vector<Format> all = {
      {"model.h5", [](const Model& m, const std::string& p) { m.save(p); }},
      {"model.keras", [](const Model& m, const std::string& p) { m.save(p); }},
      {"model.weights.h5", [](const Model& m, const std::string& p) { m.save_weights(p); }},
  };
  return all;
}

std::size_t entries(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("A save that hits a full disk throws naming the file and keeps the previous file",
          "[files]") {
  reset_layer_names();
  ScratchDir dir("full_disk");
  Model before = lamina::testing::small_mlp(1);
  // Input(6) -> Dense(300) -> BN -> Dense(3): about 17 KB of float32 weights, past the 4 KB cap.
  Model after = lamina::testing::small_mlp(2, 300);
  std::size_t saved = 0;
  for (const Format& f : formats()) {
    INFO(f.file);
    const std::string path = dir.file(f.file);
    f.save(before, path);
    const auto original = read_bytes(path);
    REQUIRE(original.size() > 0);
    ++saved;

    const std::string result = save_in_child(cap_file_size, [&] { f.save(after, path); });
    CHECK_THAT(result, Catch::Matchers::StartsWith("FileFormatError: ") &&
                           Catch::Matchers::Contains(path) &&
                           Catch::Matchers::Contains("File too large"));
    CHECK(read_bytes(path) == original);
    CHECK(entries(dir.path()) == saved);  // no temporary left behind

    // Without the cap the same save goes through.
    f.save(after, path);
    CHECK(read_bytes(path) != original);
  }
}

TEST_CASE("A save into a directory the process may not write throws naming the file and keeps the previous file",
          "[files]") {
  reset_layer_names();
  ScratchDir dir("read_only");
  Model before = lamina::testing::small_mlp(1);
  Model after = lamina::testing::small_mlp(2);
  for (const Format& f : formats()) {
    INFO(f.file);
    const std::string path = dir.file(f.file);
    f.save(before, path);
  }
  ::chmod(dir.path().c_str(), 0555);
  for (const Format& f : formats()) {
    INFO(f.file);
    const std::string path = dir.file(f.file);
    const auto original = read_bytes(path);
    const std::string result = save_in_child(become_unprivileged, [&] { f.save(after, path); });
    CHECK_THAT(result, Catch::Matchers::StartsWith("FileFormatError: ") &&
                           Catch::Matchers::Contains(path) &&
                           Catch::Matchers::Contains("Permission denied"));
    CHECK(read_bytes(path) == original);
    CHECK(entries(dir.path()) == formats().size());
  }
  ::chmod(dir.path().c_str(), 0755);
}
