// SPDX-License-Identifier: Apache-2.0
// Atomic saves: a process killed mid-save leaves the previous file loadable, a failing save or an
// unwritable directory loses nothing and leaves no temporary behind.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sched.h>
#include <string>

#include <lamina/errors.hpp>
#include <lamina/models.hpp>

#include "io/atomic_file.hpp"
#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"

using namespace lamina;
using lamina::testing::read_bytes;
using lamina::testing::same_bits;
using lamina::testing::ScratchDir;
using Catch::Matchers::Contains;

namespace {

bool temporary_exists(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return true;
  return false;
}

// The temporaries in `dir`: all of them, or those of the writer `pid` (".<name>.tmp-<pid>-...").
std::size_t temporaries(const std::filesystem::path& dir, pid_t pid = 0) {
  const std::string mark = pid ? ".tmp-" + std::to_string(pid) + "-" : ".tmp-";
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    n += e.path().filename().string().find(mark) != std::string::npos;
  return n;
}

std::size_t entries(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("A save killed with SIGKILL mid-write leaves the previous file intact", "[h5io]") {
  reset_layer_names();
  ScratchDir dir("atomic");
  const std::string path = dir.file("big.weights.h5");
  // About 16 MB of weights: writing takes long enough to be caught in the middle.
  set_seed(1);
  Model m = Sequential({layers::Input({2000}), layers::Dense(2000)});
  const auto original = m.get_weights();
  m.save_weights(path);

  int killed_mid_write = 0;
  for (int attempt = 0; attempt < 20 && killed_mid_write < 3; ++attempt) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // The child overwrites the file with other weights, again and again, until killed.
      try {
        for (const Tensor& w : m.weights()) w.detach().fill(7.0);
        for (;;) m.save_weights(path);
      } catch (...) {
      }
      ::_exit(1);
    }
    int status = 0;
    bool child_ended = false;
    while (!temporary_exists(dir.path()) && !child_ended) {
      child_ended = ::waitpid(child, &status, WNOHANG) == child;
      sched_yield();
    }
    REQUIRE_FALSE(child_ended);
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    if (temporary_exists(dir.path())) ++killed_mid_write;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      if (e.path().filename().string().find(".tmp-") != std::string::npos)
        std::filesystem::remove(e.path());

    // The target is always a complete file: the original or a finished rewrite (all 7s).
    set_seed(2);
    Model fresh = Sequential({layers::Input({2000}), layers::Dense(2000)});
    fresh.load_weights(path);
    const auto loaded = fresh.get_weights();
    const bool is_original = same_bits(loaded, original);
    const bool is_rewrite = loaded[0].at(0) == 7.0f && loaded[0].at(2000 * 2000 - 1) == 7.0f &&
                            loaded[1].at(1999) == 7.0f;
    CHECK((is_original || is_rewrite));
  }
  CHECK(killed_mid_write >= 1);
}

TEST_CASE("Saves killed mid-write leave temporaries that the next save or load_model removes", "[h5io]") {
  reset_layer_names();
  set_seed(3);
  Model m = Sequential({layers::Input({1000}), layers::Dense(1000)});  // 4 MB of weights
  for (const char* name : {"kill.keras", "kill.h5"}) {
    ScratchDir dir("atomic_leftovers");
    const std::string path = dir.file(name);
    m.save(path);
    std::size_t left_behind = 0, most = 0;
    // Kill a saving child again and again (a ModelCheckpoint loop killed repeatedly). Each
    // child's first save clears what the previous kill left; the last kill's leftovers stay.
    for (int kill = 0; kill < 4; ++kill) {
      const pid_t child = ::fork();
      REQUIRE(child >= 0);
      if (child == 0) {
        try {
          for (;;) m.save(path);
        } catch (...) {
        }
        ::_exit(1);
      }
      int status = 0;
      bool child_ended = false;
      while (temporaries(dir.path(), child) == 0 && !child_ended) {
        child_ended = ::waitpid(child, &status, WNOHANG) == child;
        sched_yield();
      }
      REQUIRE_FALSE(child_ended);
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      left_behind = temporaries(dir.path());
      most = std::max(most, left_behind);
    }
    INFO(name << ": " << left_behind << " temporaries after the last kill, at most " << most);
    CHECK(left_behind >= 1);
    CHECK(most <= 3);
    if (std::string(name) == "kill.keras") {
      // load_model's look at the directory removes them, and loads the last complete file.
      CHECK_NOTHROW(models::load_model(path));
    } else {
      m.save(path);  // the next save of the path removes them
    }
    CHECK(temporaries(dir.path()) == 0);
    CHECK(entries(dir.path()) == 1);
  }
}

TEST_CASE("A save that fails midway keeps the old file and removes its temporary", "[h5io]") {
  ScratchDir dir("atomic");
  const std::string path = dir.file("keep.bin");
  lamina::testing::write_bytes(path, {'o', 'l', 'd'});
  CHECK_THROWS_WITH(io::write_atomically(path,
                                         [](const std::string& tmp) {
                                           lamina::testing::write_bytes(tmp, {'n', 'e'});
                                           throw ValueError("disk went away");
                                         }),
                    Contains("disk went away"));
  CHECK(read_bytes(path) == std::vector<char>{'o', 'l', 'd'});
  CHECK(entries(dir.path()) == 1);

  io::write_atomically(path, [](const std::string& tmp) {
    lamina::testing::write_bytes(tmp, {'n', 'e', 'w'});
  });
  CHECK(read_bytes(path) == std::vector<char>{'n', 'e', 'w'});
  CHECK(entries(dir.path()) == 1);
  // A plain create's permissions, not mkstemp's private 0600.
  const auto perms = std::filesystem::status(path).permissions();
  CHECK((perms & std::filesystem::perms::owner_read) != std::filesystem::perms::none);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (!(mask & S_IROTH)) CHECK((perms & std::filesystem::perms::others_read) != std::filesystem::perms::none);
}

TEST_CASE("Saving into a directory that cannot be written gives FileFormatError naming the path",
          "[h5io]") {
  reset_layer_names();
  ScratchDir dir("atomic");
  Model m = lamina::testing::small_mlp(1);
  // A missing directory, and a regular file used as a directory: both fail for root as well.
  CHECK_THROWS_AS(m.save(dir.file("missing/m.h5")), FileFormatError);
  CHECK_THROWS_WITH(m.save(dir.file("missing/m.h5")),
                    Contains("missing/m.h5") && Contains("cannot write a temporary file"));
  lamina::testing::write_bytes(dir.file("plain"), {'x'});
  CHECK_THROWS_AS(m.save_weights(dir.file("plain/w.weights.h5")), FileFormatError);
  if (::geteuid() != 0) {
    // Permissions do not stop root, so this part runs for ordinary users only.
    const std::string ro = dir.file("ro");
    std::filesystem::create_directory(ro);
    m.save(ro + "/m.h5");
    const auto before = read_bytes(ro + "/m.h5");
    std::filesystem::permissions(ro, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    CHECK_THROWS_AS(m.save(ro + "/m.h5"), FileFormatError);
    std::filesystem::permissions(ro, std::filesystem::perms::owner_all);
    CHECK(read_bytes(ro + "/m.h5") == before);
  }
}
