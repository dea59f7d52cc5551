// SPDX-License-Identifier: Apache-2.0
// The HDF5 probe (src/io/h5probe.hpp): before a loader opens an untrusted HDF5 file, the helper
// program lamina-h5probe reads it in a process of its own. It is started without fork (a fork
// would copy a process holding threads, CUDA contexts or MPI state), found or clearly missing,
// killed when a file takes longer than its time budget, and works with busy threads, with loads
// from several threads at once, in a program that ignores SIGCHLD, and without inheriting the
// descriptors the program left open.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/models.hpp>

#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"
#include "io/h5probe.hpp"
#include "io/hdf5.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using lamina::testing::ScratchDir;

namespace {

// Counts the forks of this process. pthread_atfork handlers cannot be removed, so it counts
// rather than aborts: other tests fork on purpose.
std::atomic<int> g_forks{0};

void watch_forks() {
  static const bool installed = ::pthread_atfork([] { g_forks.fetch_add(1); }, nullptr, nullptr) == 0;
  REQUIRE(installed);
}

// Sets (or, with nullptr, unsets) an environment variable for a scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

Sequential tiny_model() { return Sequential({layers::Input({3}), layers::Dense(2, {.name = "d"})}); }

// A saved model and a copy cut in half (the probe must refuse it).
struct ModelFiles {
  std::string good, truncated;
  std::vector<Tensor> weights;
};

ModelFiles model_files(const ScratchDir& dir) {
  Sequential model = tiny_model();
  ModelFiles files{dir.file("m.h5"), dir.file("cut.h5"), model.get_weights()};
  model.save(files.good);
  std::vector<char> bytes = lamina::testing::read_bytes(files.good);
  bytes.resize(bytes.size() / 2);
  lamina::testing::write_bytes(files.truncated, bytes);
  return files;
}

// The error message `load` throws; "" when it does not throw a lamina Error.
template <class F>
std::string error_of(F&& load) {
  try {
    load();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A real file that takes the helper long to read: a 1 GiB float32 dataset in sixteen 64 MiB gzip
// chunks of zeros (a few MB on disk). The helper reads 4 MiB at a time, and a chunk does not fit
// HDF5's 1 MiB chunk cache, so each read inflates a whole chunk again: 512 inflations of 64 MiB,
// tens of seconds. Chunks 1-15 are copies of chunk 0's compressed bytes (written once).
std::string slow_file(const ScratchDir& dir) {
  const std::string path = dir.file("slow.h5");
  const hsize_t n = hsize_t{1} << 28, chunk = hsize_t{1} << 24;
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &chunk);
  H5Pset_deflate(dcpl, 1);
  const hid_t ds = H5Dcreate2(f, "/zeros", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  {
    const std::vector<float> zeros(chunk, 0.0f);
    const hid_t mem = H5Screate_simple(1, &chunk, nullptr);
    const hid_t file_part = H5Scopy(space);
    const hsize_t start = 0;
    H5Sselect_hyperslab(file_part, H5S_SELECT_SET, &start, nullptr, &chunk, nullptr);
    REQUIRE(H5Dwrite(ds, H5T_NATIVE_FLOAT, mem, file_part, H5P_DEFAULT, zeros.data()) >= 0);
    H5Sclose(file_part);
    H5Sclose(mem);
  }
  hsize_t compressed = 0;
  const hsize_t first = 0;
  REQUIRE(H5Dget_chunk_storage_size(ds, &first, &compressed) >= 0);
  std::vector<char> bytes(compressed);
  std::uint32_t filters = 0;
  REQUIRE(H5Dread_chunk(ds, H5P_DEFAULT, &first, &filters, bytes.data()) >= 0);
  for (hsize_t at = chunk; at < n; at += chunk)
    REQUIRE(H5Dwrite_chunk(ds, H5P_DEFAULT, filters, &at, bytes.size(), bytes.data()) >= 0);
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
  REQUIRE(H5Fclose(f) >= 0);
  return path;
}

// The processes this one started whose program is lamina-h5probe (from /proc/<pid>/stat: the
// parent's pid follows the state, after the parenthesised command name).
std::vector<pid_t> probe_children() {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 > stat.size()) continue;
    const std::string name = stat.substr(open + 1, close - open - 1);
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) continue;
    if (name == "lamina-h5probe" && ppid == ::getpid()) found.push_back(static_cast<pid_t>(std::stol(pid)));
  }
  return found;
}

// What a process's descriptors point at (/proc/<pid>/fd).
std::vector<std::string> open_files(pid_t pid) {
  std::vector<std::string> targets;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec))
    targets.push_back(std::filesystem::read_symlink(entry.path(), ec).string());
  return targets;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

std::string script(const ScratchDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir.file(name);
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

}  // namespace

TEST_CASE("The HDF5 probe starts its helper without fork, with eight threads busy", "[h5io][h5probe]") {
  watch_forks();
  // The trap works: a fork is counted.
  const int at_start = g_forks.load();
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(g_forks.load() == at_start + 1);

  ScratchDir dir("probe_nofork");
  const ModelFiles files = model_files(dir);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> spins{0};
  std::vector<std::thread> busy;
  for (int i = 0; i < 8; ++i)
    busy.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) spins.fetch_add(1, std::memory_order_relaxed);
    });
  const int before = g_forks.load();
  std::vector<std::string> loaded_wrong, refusals;
  for (int i = 0; i < 5; ++i) {
    Model m = models::load_model(files.good);
    if (!lamina::testing::same_bits(m.get_weights(), files.weights)) loaded_wrong.push_back(files.good);
    refusals.push_back(error_of([&] { models::load_model(files.truncated); }));
  }
  const int after = g_forks.load();
  stop = true;
  for (auto& t : busy) t.join();
  CHECK(after == before);
  CHECK(loaded_wrong.empty());
  for (const auto& message : refusals) CHECK_THAT(message, Contains(files.truncated) && Contains("corrupt"));
  CHECK(spins.load() > 0);
}

TEST_CASE("Loads from several threads at once each get their own probe", "[h5io][h5probe]") {
  ScratchDir dir("probe_threads");
  const ModelFiles files = model_files(dir);
  std::mutex mutex;
  int loaded = 0;
  std::vector<std::string> problems;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        std::string problem;
        try {
          Model m = models::load_model(files.good);
          if (!lamina::testing::same_bits(m.get_weights(), files.weights)) problem = "other weights loaded";
        } catch (const std::exception& e) {
          problem = std::string("good file refused: ") + e.what();
        }
        const std::string refusal = error_of([&] { models::load_model(files.truncated); });
        if (refusal.find(files.truncated) == std::string::npos) problem += " truncated file: '" + refusal + "'";
        const std::lock_guard<std::mutex> lock(mutex);
        if (problem.empty())
          ++loaded;
        else
          problems.push_back(problem);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(problems == std::vector<std::string>{});
  CHECK(loaded == 16);
}

TEST_CASE("Threads that each save and at once reload their own file never see it refused", "[h5io][h5probe]") {
  // libhdf5 opens files without O_CLOEXEC: a probe that one thread spawns while another thread
  // writes briefly holds the writer's descriptor and its exclusive flock(), which made the next
  // read of that file fail as "corrupt" about once in 400 save/load cycles before reads went
  // without file locks.
  ScratchDir dir("probe_save_load");
  std::mutex mutex;
  std::vector<std::string> problems;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      Sequential m({layers::Input({8}), layers::Dense(16), layers::Dense(2)});
      const std::string path = dir.file("model_" + std::to_string(t) + ".h5");
      for (int i = 0; i < 25; ++i) {
        try {
          m.save(path);
          Model back = models::load_model(path);
          if (!lamina::testing::same_bits(back.get_weights(), m.get_weights()))
            throw std::runtime_error("other weights loaded");
        } catch (const std::exception& e) {
          const std::lock_guard<std::mutex> lock(mutex);
          problems.push_back("thread " + std::to_string(t) + " cycle " + std::to_string(i) + ": " + e.what());
        }
      }
    });
  for (auto& t : threads) t.join();
  CHECK(problems == std::vector<std::string>{});
}

TEST_CASE("A missing or foreign probe helper gives an error naming the file and the helper", "[h5io][h5probe]") {
  ScratchDir dir("probe_helper");
  const ModelFiles files = model_files(dir);
  SECTION("found without LAMINA_H5PROBE: the build tree's") {
    const ScopedEnv unset("LAMINA_H5PROBE", nullptr);
    const std::string helper = io::h5probe::helper_path("x");
    CHECK(std::filesystem::path(helper).filename() == "lamina-h5probe");
    CHECK(::access(helper.c_str(), X_OK) == 0);
    CHECK_NOTHROW(models::load_model(files.good));
  }
  SECTION("LAMINA_H5PROBE names no program") {
    const std::string missing = dir.file("no-such-helper");
    const ScopedEnv env("LAMINA_H5PROBE", missing.c_str());
    CHECK_THROWS_AS(models::load_model(files.good), FileFormatError);
    CHECK_THAT(error_of([&] { models::load_model(files.good); }),
               Contains(files.good) && Contains("LAMINA_H5PROBE") && Contains(missing) &&
                   Contains("not an executable file"));
  }
  SECTION("a program that gives no verdict") {
    const ScopedEnv env("LAMINA_H5PROBE", script(dir, "silent", "exit 0").c_str());
    CHECK_THAT(error_of([&] { models::load_model(files.good); }),
               Contains(files.good) && Contains("gave no verdict"));
  }
  SECTION("a helper that crashes") {
    const ScopedEnv env("LAMINA_H5PROBE", script(dir, "crash", "kill -SEGV $$").c_str());
    CHECK_THAT(error_of([&] { models::load_model(files.good); }),
               Contains(files.good) && Contains("crashes the HDF5 library, signal 11"));
  }
}

TEST_CASE("The probe's time budget grows with the file's size, up to a cap, and can be set", "[h5io][h5probe]") {
  const ScopedEnv unset("LAMINA_H5PROBE_TIMEOUT_S", nullptr);
  CHECK(io::h5probe::time_budget_seconds(0) == 10.0);
  CHECK(io::h5probe::time_budget_seconds(std::uintmax_t{320} << 20) == 20.0);
  CHECK(io::h5probe::time_budget_seconds(std::uintmax_t{1} << 40) == 300.0);
  {
    const ScopedEnv env("LAMINA_H5PROBE_TIMEOUT_S", "2.5");
    CHECK(io::h5probe::time_budget_seconds(0) == 2.5);
  }
  ScratchDir dir("probe_budget");
  const ModelFiles files = model_files(dir);
  const ScopedEnv env("LAMINA_H5PROBE_TIMEOUT_S", "soon");
  CHECK_THAT(error_of([&] { models::load_model(files.good); }),
             Contains(files.good) && Contains("LAMINA_H5PROBE_TIMEOUT_S='soon'"));
}

TEST_CASE("A file whose check does not finish in time is refused and its helper killed", "[h5io][h5probe]") {
  ScratchDir dir("probe_slow");
  const std::string slow = slow_file(dir);
  // A descriptor this program leaves open across exec (no O_CLOEXEC): the helper must not get it.
  const std::string marker = dir.file("marker");
  lamina::testing::write_bytes(marker, {'x'});
  const int leaked = ::open(marker.c_str(), O_RDONLY);
  REQUIRE(leaked >= 0);

  const ScopedEnv budget("LAMINA_H5PROBE_TIMEOUT_S", "2");
  std::string message;
  double seconds = 0;
  std::thread load([&] {
    const auto start = std::chrono::steady_clock::now();
    message = error_of([&] { io::h5::File::open(slow); });
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  });
  // The helper, seen while it runs.
  pid_t helper = -1;
  std::vector<std::string> helper_files;
  std::string helper_limits;
  for (int i = 0; i < 1500 && helper < 0; ++i) {
    if (const auto children = probe_children(); !children.empty()) {
      helper = children.front();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // until it has opened the file
      helper_files = open_files(helper);
      helper_limits = read_text("/proc/" + std::to_string(helper) + "/limits");
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  load.join();
  ::close(leaked);

  CHECK_THAT(message, Contains(slow) && Contains("does not finish within 2 s"));
  CHECK(seconds >= 1.9);
  CHECK(seconds < 6);
  REQUIRE(helper > 0);
  // Killed and reaped: no process, not even a zombie, is left.
  CHECK(::kill(helper, 0) == -1);
  CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(helper)));
  CHECK(contains(helper_files, slow));
  CHECK_FALSE(contains(helper_files, marker));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  CHECK_THAT(helper_limits, Contains("Max address space") && Contains(std::to_string(io::h5probe::kAddressSpaceLimit)));
#endif
}

TEST_CASE("A program that ignores SIGCHLD still gets the probe's verdicts", "[h5io][h5probe]") {
  ScratchDir dir("probe_sigchld");
  const ModelFiles files = model_files(dir);
  const std::string text = dir.file("text.h5");
  lamina::testing::write_bytes(text, std::vector<char>(4096, 'a'));
  const std::string linked = dir.file("linked.h5");
  {
    const hid_t f = H5Fcreate(linked.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Lcreate_external(files.good.c_str(), "/model_weights", f, "elsewhere", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    REQUIRE(H5Fclose(f) >= 0);
  }
  std::string loaded, truncated, not_hdf5, external;
  {
    // SIGCHLD ignored: the kernel reaps the helper itself, and waitpid finds no child.
    struct IgnoreChildren {
      struct sigaction old {};
      IgnoreChildren() {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        ::sigaction(SIGCHLD, &ignore, &old);
      }
      ~IgnoreChildren() { ::sigaction(SIGCHLD, &old, nullptr); }
    } ignoring;
    loaded = error_of([&] { models::load_model(files.good); });
    truncated = error_of([&] { models::load_model(files.truncated); });
    not_hdf5 = error_of([&] { io::h5::File::open(text); });
    external = error_of([&] { io::h5::File::open(linked); });
  }
  CHECK(loaded.empty());
  CHECK_THAT(truncated, Contains(files.truncated) && Contains("corrupt"));
  CHECK_THAT(not_hdf5, Contains(text) && Contains("not an HDF5 file"));
  CHECK_THAT(external, Contains(linked) && Contains("'elsewhere' is an external link"));
}
