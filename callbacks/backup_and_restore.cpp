// SPDX-License-Identifier: Apache-2.0
// BackupAndRestore: what to capture so that a resumed fit continues bit for bit, and putting it
// back before the first step.
#include "lamina/callbacks/backup_and_restore.hpp"

#include <filesystem>
#include <system_error>

#include "lamina/errors.hpp"
#include "ops/random.hpp"
#include "training_backup.hpp"

namespace lamina::callbacks {
namespace {

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

std::shared_ptr<Optimizer> optimizer_of(Model& model) {
  auto optimizer = model.optimizer();
  if (!optimizer) throw ValueError("BackupAndRestore: the model must be compiled first");
  return optimizer;
}

// Checks that `saved` fits `current` one to one; `what` names the list in the message.
void check_fits(const std::string& path, const std::string& what,
                const std::vector<std::pair<std::string, Tensor>>& saved,
                const std::vector<std::pair<std::string, Tensor>>& current) {
  if (saved.size() != current.size())
    throw FileFormatError("BackupAndRestore: backup '" + path + "' holds " +
                          std::to_string(saved.size()) + " " + what + " but the model has " +
                          std::to_string(current.size()));
  for (std::size_t i = 0; i < saved.size(); ++i)
    if (saved[i].second.shape() != current[i].second.shape() ||
        saved[i].second.dtype() != current[i].second.dtype())
      throw FileFormatError("BackupAndRestore: backup '" + path + "': " + what + " '" +
                            current[i].first + "' is " + saved[i].second.shape().str() + " " +
                            dtype_name(saved[i].second.dtype()) + " in the file but " +
                            current[i].second.shape().str() + " " +
                            dtype_name(current[i].second.dtype()) + " in the model");
}

std::vector<std::pair<std::string, Tensor>> numbered(const std::vector<Tensor>& ts) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (std::size_t i = 0; i < ts.size(); ++i) out.emplace_back("weight " + std::to_string(i), ts[i]);
  return out;
}

}  // namespace

BackupAndRestore::BackupAndRestore(std::string backup_dir, BackupAndRestoreOptions options)
    : backup_dir_(std::move(backup_dir)), options_(options) {
  if (backup_dir_.empty()) throw ValueError("BackupAndRestore: empty `backup_dir` argument passed");
}

std::string BackupAndRestore::backup_path() const {
  return (std::filesystem::path(backup_dir_) / "training.backup").string();
}

void BackupAndRestore::on_train_begin(const Logs&) {
  restored_ = false;
  batches_since_save_ = 0;
  const std::string path = backup_path();
  if (!std::filesystem::exists(path)) return;
  detail::TrainingBackup b = detail::read_backup(path);
  Model& m = model();
  auto optimizer = optimizer_of(m);
  // Validate everything against the model before touching any of it.
  check_fits(path, "weights", numbered(b.weights), numbered(m.get_weights()));
  optimizer->build(m.trainable_weights());
  const auto current = optimizer->variables();
  check_fits(path, "optimizer variables", b.optimizer_variables, current);

  m.set_weights(b.weights);
  std::vector<Tensor> values;
  for (auto& [name, value] : b.optimizer_variables) values.push_back(value);
  optimizer->set_variables(values);
  if (b.fixed_learning_rate) optimizer->set_learning_rate(b.learning_rate);
  random::set_state({b.random_seed, b.random_counter});
  if (TrainingState* state = training_state()) {
    state->epoch = b.epoch;
    state->step = b.step;
    state->shuffle_key = b.shuffle_key;
  }
  restored_ = true;
}

void BackupAndRestore::save(int epoch, std::int64_t step) {
  Model& m = model();
  auto optimizer = optimizer_of(m);
  detail::TrainingBackup b;
  b.epoch = epoch;
  b.step = step;
  if (const TrainingState* state = training_state()) b.shuffle_key = state->shuffle_key;
  const random::State rng = random::get_state();
  b.random_seed = rng.seed;
  b.random_counter = rng.counter;
  b.learning_rate = optimizer->learning_rate();
  b.weights = m.get_weights();
  b.optimizer_variables = optimizer->variables();
  b.fixed_learning_rate = false;
  for (const auto& [name, value] : b.optimizer_variables)
    if (ends_with(name, "/learning_rate")) b.fixed_learning_rate = true;
  std::filesystem::create_directories(backup_dir_);
  detail::write_backup(backup_path(), b);
}

void BackupAndRestore::on_train_batch_end(std::int64_t, const Logs&) {
  if (options_.save_freq.per_epoch() || ++batches_since_save_ < options_.save_freq.batches()) return;
  batches_since_save_ = 0;
  const TrainingState* state = training_state();
  if (state) save(state->epoch, state->step);
}

void BackupAndRestore::on_epoch_end(int epoch, const Logs&) {
  if (options_.save_freq.per_epoch()) save(epoch + 1, 0);
}

void BackupAndRestore::on_train_end(const Logs&) {
  if (!options_.delete_checkpoint) return;
  std::error_code ignored;
  std::filesystem::remove(backup_path(), ignored);
  std::filesystem::remove(backup_dir_, ignored);  // only if now empty
}

}  // namespace lamina::callbacks
