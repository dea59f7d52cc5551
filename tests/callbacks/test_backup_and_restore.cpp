// SPDX-License-Identifier: Apache-2.0
// BackupAndRestore: resuming gives the weights of an uninterrupted run bit for bit - after an
// exception in-process, and after a SIGKILL of a real child process (lamina_tests itself, run on
// the hidden test "[.backup_child]") stopped mid-epoch by a handshake; plus the file's checks.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/ops.hpp>

#include "callbacks/scripted.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::BackupAndRestore;

namespace {

constexpr int kEpochs = 4;
constexpr int kBatch = 8;
constexpr int kSamples = 80;  // 60 for training (8 steps per epoch, the last one short), 20 validation

// Four noisy clusters, from std::mt19937 (independent of lamina's random stream).
std::pair<Tensor, Tensor> data() {
  std::mt19937 gen(1234);
  std::normal_distribution<float> noise(0.0f, 0.4f);
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (int i = 0; i < kSamples; ++i) {
    const int c = i % 4;
    x.push_back((c & 1 ? 1.0f : -1.0f) + noise(gen));
    x.push_back((c & 2 ? 1.0f : -1.0f) + noise(gen));
    x.push_back(noise(gen));
    y.push_back(c);
  }
  return {Tensor::from_vector(x, {kSamples, 3}), Tensor::from_vector(y, {kSamples})};
}

// The training program every run executes: seeded model with Dropout (so the random stream
// matters), Adam, shuffling, validation; `extra` callbacks come after the backup.
std::vector<Tensor> train(const std::string& backup_dir, const callbacks::BackupAndRestoreOptions& o,
                          std::vector<CallbackArg> extra = {}, bool* restored = nullptr) {
  set_seed(2024);
  Sequential m({layers::Input({3}), layers::Dense(16, {.activation = "relu"}), layers::Dropout(0.3),
                layers::Dense(4, {.activation = "softmax"})});
  m.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}),
             .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  auto backup = std::make_shared<BackupAndRestore>(backup_dir, o);
  std::vector<CallbackArg> cbs{backup};
  cbs.insert(cbs.end(), extra.begin(), extra.end());
  const auto [x, y] = data();
  m.fit(x, y, {.batch_size = kBatch, .epochs = kEpochs, .verbose = 0, .callbacks = cbs,
               .validation_split = 0.25});
  if (restored) *restored = backup->restored();
  std::vector<Tensor> out = m.get_weights();
  out.push_back(Tensor::scalar(static_cast<double>(m.optimizer()->iterations()), int64));
  return out;
}

struct Interrupt {};

// Throws Interrupt at the end of batch `step` of epoch `epoch`: a crash that skips on_train_end.
callbacks::LambdaCallback crash_at(int epoch, std::int64_t step) {
  auto current = std::make_shared<int>(0);
  return callbacks::LambdaCallback(
      {.on_epoch_begin = [current](int e, const Logs&) { *current = e; },
       .on_train_batch_end = [current, epoch, step](std::int64_t b, const Logs&) {
         if (*current == epoch && b == step) throw Interrupt{};
       }});
}

void write_raw(const std::string& path, const std::vector<Tensor>& ts) {
  std::ofstream out(path, std::ios::binary);
  for (const Tensor& t : ts) out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
}

std::string raw_of(const std::vector<Tensor>& ts) {
  std::string out;
  for (const Tensor& t : ts) out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

}  // namespace

TEST_CASE("BackupAndRestore resumes after a crash mid-epoch with the uninterrupted weights",
          "[callbacks][backup]") {
  const ScratchDir dir("backup_inprocess");
  const std::string backups = dir / "backup";
  const auto reference = train(dir / "unused", {});
  CHECK_FALSE(std::filesystem::exists(dir / "unused"));  // deleted when fit ends

  SECTION("backups every 3 batches, crash in epoch 2 at step 4") {
    CHECK_THROWS_AS(train(backups, {.save_freq = 3}, {crash_at(2, 4)}), Interrupt);
    CHECK(std::filesystem::exists(backups + "/training.backup"));
    bool restored = false;
    CHECK(bit_identical(train(backups, {.save_freq = 3}, {}, &restored), reference));
    CHECK(restored);
    CHECK_FALSE(std::filesystem::exists(backups));
  }
  SECTION("backups every epoch, crash in epoch 1 at step 6, kept at the end on request") {
    CHECK_THROWS_AS(train(backups, {}, {crash_at(1, 6)}), Interrupt);
    bool restored = false;
    CHECK(bit_identical(train(backups, {.delete_checkpoint = false}, {}, &restored), reference));
    CHECK(restored);
    CHECK(std::filesystem::exists(backups + "/training.backup"));
  }
  SECTION("two crashes in a row, the second before any new backup") {
    CHECK_THROWS_AS(train(backups, {.save_freq = 5}, {crash_at(1, 3)}), Interrupt);
    CHECK_THROWS_AS(train(backups, {.save_freq = 5}, {crash_at(1, 4)}), Interrupt);
    CHECK(bit_identical(train(backups, {.save_freq = 5}), reference));
  }
}

TEST_CASE("BackupAndRestore refuses a damaged backup or one of another model, naming the file",
          "[callbacks][backup]") {
  const ScratchDir dir("backup_damaged");
  const std::string backups = dir / "b";
  CHECK_THROWS_AS(train(backups, {}, {crash_at(1, 0)}), Interrupt);
  const std::string file = backups + "/training.backup";
  const std::string good = slurp(file);
  auto rewrite = [&](const std::string& bytes) { std::ofstream(file, std::ios::binary) << bytes; };

  rewrite(good.substr(0, good.size() - 10));  // truncated tensor data
  CHECK_THROWS_WITH(train(backups, {}), Catch::Contains("backup '" + file + "' is damaged"));
  rewrite("not a backup at all");
  CHECK_THROWS_WITH(train(backups, {}), Catch::Contains("bad magic") && Catch::Contains(file));
  std::string bad_header = good;
  bad_header[20] = '#';
  rewrite(bad_header);
  CHECK_THROWS_AS(train(backups, {}), FileFormatError);

  rewrite(good);
  Sequential other({layers::Input({3}), layers::Dense(5), layers::Dense(4)});
  other.compile({.optimizer = optimizers::Adam(), .loss = "mse"});
  BackupAndRestore cb(backups);
  cb.set_model(other);
  CHECK_THROWS_WITH(cb.on_train_begin({}),
                    Catch::Contains(file) && Catch::Contains("(3, 5)") && Catch::Contains("(3, 16)"));
  CHECK_THROWS_AS(BackupAndRestore(""), ValueError);
}

// --- a real process, killed ----------------------------------------------------------------------

// The child: runs train() with the backups in $LAMINA_BACKUP_TEST_DIR. When $LAMINA_BACKUP_TEST_FDS
// is "w,r" it reports each finished batch with a byte on fd w and waits for a byte on fd r before
// going on (the parent kills it while it waits). At the end it writes the weights to final.bin.
TEST_CASE("backup child process", "[.backup_child]") {
  const char* dir = std::getenv("LAMINA_BACKUP_TEST_DIR");
  REQUIRE(dir != nullptr);
  set_num_threads(std::atoi(std::getenv("LAMINA_BACKUP_TEST_THREADS")));
  std::vector<CallbackArg> extra;
  if (const char* fds = std::getenv("LAMINA_BACKUP_TEST_FDS")) {
    const int w = std::atoi(fds), r = std::atoi(std::strchr(fds, ',') + 1);
    extra.push_back(callbacks::LambdaCallback({.on_train_batch_end = [w, r](std::int64_t, const Logs&) {
      char c = 'b';
      REQUIRE(::write(w, &c, 1) == 1);
      REQUIRE(::read(r, &c, 1) == 1);
    }}));
  }
  bool restored = false;
  const auto weights = train(std::string(dir) + "/backup", {.save_freq = 3}, extra, &restored);
  write_raw(std::string(dir) + (restored ? "/final.restored.bin" : "/final.bin"), weights);
}

namespace {

// Runs lamina_tests "[.backup_child]" with the environment above; returns the child's pid.
pid_t spawn_child(const std::string& dir, int threads, const std::string& fds) {
  std::vector<std::string> env = {"LAMINA_BACKUP_TEST_DIR=" + dir,
                                  "LAMINA_BACKUP_TEST_THREADS=" + std::to_string(threads)};
  if (!fds.empty()) env.push_back("LAMINA_BACKUP_TEST_FDS=" + fds);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string tag = "[.backup_child]";
  char* argv[] = {exe.data(), tag.data(), nullptr};
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::execve(exe.c_str(), argv, envp.data());
    ::_exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("BackupAndRestore: a process SIGKILLed mid-epoch and run again ends with the "
          "uninterrupted run's weights bit for bit", "[callbacks][backup]") {
  const ScratchDir dir("backup_sigkill");
  const int threads = get_num_threads();
  const auto reference = raw_of(train(dir / "reference", {.save_freq = 3}));

  // 8 steps per epoch: kill at the end of the 13th training batch (epoch 1, step index 4). The
  // last backup was after the 12th, so the rerun resumes at epoch 1, step 4, and repeats one.
  int to_child[2], from_child[2];
  REQUIRE(::pipe(to_child) == 0);
  REQUIRE(::pipe(from_child) == 0);
  const pid_t first = spawn_child(dir.path().string(), threads,
                                  std::to_string(from_child[1]) + "," + std::to_string(to_child[0]));
  ::close(from_child[1]);
  ::close(to_child[0]);
  char c;
  for (int batch = 1; batch <= 13; ++batch) {
    REQUIRE(::read(from_child[0], &c, 1) == 1);
    if (batch < 13) REQUIRE(::write(to_child[1], &c, 1) == 1);
  }
  REQUIRE(::kill(first, SIGKILL) == 0);
  const int status = wait_for(first);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  ::close(from_child[0]);
  ::close(to_child[1]);
  CHECK(std::filesystem::exists(dir / "backup/training.backup"));
  CHECK_FALSE(std::filesystem::exists(dir / "final.bin"));

  const int rerun = wait_for(spawn_child(dir.path().string(), threads, ""));
  CHECK((WIFEXITED(rerun) && WEXITSTATUS(rerun) == 0));
  REQUIRE(std::filesystem::exists(dir / "final.restored.bin"));
  CHECK(slurp(dir / "final.restored.bin") == reference);
  CHECK_FALSE(std::filesystem::exists(dir / "backup"));
}
