// SPDX-License-Identifier: Apache-2.0
// Which callbacks run on rank 0 only under a distribution: those that write files or print.
#include <mutex>
#include <set>

#include "lamina/callbacks.hpp"
#include "lamina/callbacks/backup_and_restore.hpp"
#include "lamina/callbacks/csv_logger.hpp"
#include "lamina/callbacks/model_checkpoint.hpp"
#include "lamina/callbacks/plot_history.hpp"
#include "lamina/callbacks/tensorboard.hpp"
#include "lamina/distribute.hpp"

namespace lamina::distribute {

namespace {

// Runs `inner` with fit's model, params and training state; fit gives them to this wrapper.
class ChiefOnly final : public Callback {
 public:
  explicit ChiefOnly(std::shared_ptr<Callback> inner) : inner_(std::move(inner)) {}
  void on_train_begin(const Logs& l) override { sync().on_train_begin(l); }
  void on_train_end(const Logs& l) override { sync().on_train_end(l); }
  void on_epoch_begin(int e, const Logs& l) override { sync().on_epoch_begin(e, l); }
  void on_epoch_end(int e, const Logs& l) override { sync().on_epoch_end(e, l); }
  void on_train_batch_begin(std::int64_t b, const Logs& l) override { sync().on_train_batch_begin(b, l); }
  void on_train_batch_end(std::int64_t b, const Logs& l) override { sync().on_train_batch_end(b, l); }
  void on_test_begin(const Logs& l) override { sync().on_test_begin(l); }
  void on_test_end(const Logs& l) override { sync().on_test_end(l); }
  void on_test_batch_begin(std::int64_t b, const Logs& l) override { sync().on_test_batch_begin(b, l); }
  void on_test_batch_end(std::int64_t b, const Logs& l) override { sync().on_test_batch_end(b, l); }
  void on_predict_begin(const Logs& l) override { sync().on_predict_begin(l); }
  void on_predict_end(const Logs& l) override { sync().on_predict_end(l); }
  void on_predict_batch_begin(std::int64_t b, const Logs& l) override { sync().on_predict_batch_begin(b, l); }
  void on_predict_batch_end(std::int64_t b, const Logs& l) override { sync().on_predict_batch_end(b, l); }
  bool reads_batch_logs() const override { return inner_->reads_batch_logs(); }

 private:
  Callback& sync() {
    inner_->set_model(model());
    inner_->params = params;
    inner_->set_training_state(training_state());
    return *inner_;
  }
  std::shared_ptr<Callback> inner_;
};

std::mutex& registry_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::set<std::type_index>& registry() {
  static std::set<std::type_index> types;
  return types;
}

}  // namespace

std::shared_ptr<Callback> chief_only(std::shared_ptr<Callback> callback) {
  return std::make_shared<ChiefOnly>(std::move(callback));
}

void register_chief_only(std::type_index type) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().insert(type);
}

bool is_chief_only(const Callback& c) {
  if (dynamic_cast<const ChiefOnly*>(&c) || dynamic_cast<const callbacks::ProgbarLogger*>(&c) ||
      dynamic_cast<const callbacks::ModelCheckpoint*>(&c) || dynamic_cast<const callbacks::CSVLogger*>(&c) ||
      dynamic_cast<const callbacks::BackupAndRestore*>(&c) || dynamic_cast<const callbacks::PlotHistory*>(&c) ||
      dynamic_cast<const callbacks::TensorBoard*>(&c))
    return true;
  std::lock_guard<std::mutex> lock(registry_mutex());
  return registry().count(std::type_index(typeid(c))) > 0;
}

}  // namespace lamina::distribute
