// SPDX-License-Identifier: Apache-2.0
// The Callback base, save_freq, History recording and the progress-bar logger that
// fit/evaluate/predict add.
#include <cstdio>
#include <memory>
#include <utility>

#include "lamina/callbacks.hpp"
#include "lamina/errors.hpp"

namespace lamina {

Callback::~Callback() = default;

namespace callbacks {

SaveFreq::SaveFreq(const char* text) : SaveFreq(std::string(text)) {}

SaveFreq::SaveFreq(const std::string& text) {
  if (text != "epoch")
    throw ValueError("Unrecognized save_freq: '" + text +
                     "'. Expected save_freq are 'epoch' or integer values");
}

SaveFreq::SaveFreq(int batches) : batches_(batches) {
  if (batches <= 0)
    throw ValueError("save_freq must be 'epoch' or a positive number of batches, got " +
                     std::to_string(batches));
}

namespace {

std::int64_t param(const std::map<std::string, std::int64_t>& params, const char* name,
                   std::int64_t fallback) {
  const auto it = params.find(name);
  return it == params.end() ? fallback : it->second;
}

}  // namespace

// --- HistoryCallback ---------------------------------------------------------------------------

void HistoryCallback::on_train_begin(const Logs&) {
  history_ = History{};
  history_.params = params;
}

void HistoryCallback::on_epoch_end(int epoch, const Logs& logs) {
  history_.epoch.push_back(epoch);
  for (const auto& [name, value] : logs) history_.history[name].push_back(value);
  history_.params = params;
}

// --- ProgbarLogger -----------------------------------------------------------------------------
// As Keras 3: one bar per epoch (or per evaluate/predict call); validation inside fit is silent,
// its val_ values appear on the epoch's finished line.

ProgbarLogger::ProgbarLogger(int verbose) : verbose_(verbose) {}

namespace {

std::unique_ptr<Progbar> new_bar(const std::map<std::string, std::int64_t>& params, int verbose) {
  return std::make_unique<Progbar>(param(params, "steps", -1), verbose);
}

}  // namespace

void ProgbarLogger::on_train_begin(const Logs&) { in_fit_ = true; }

void ProgbarLogger::on_epoch_begin(int epoch, const Logs&) {
  seen_ = 0;
  bar_ = new_bar(params, verbose_);
  const std::int64_t epochs = param(params, "epochs", 1);
  if (verbose_ > 0 && epochs > 1) {
    std::printf("Epoch %d/%lld\n", epoch + 1, static_cast<long long>(epochs));
    std::fflush(stdout);
  }
}

bool ProgbarLogger::reads_batch_logs() const {
  skip_values_ = bar_ ? !bar_->draws_now() : verbose_ != 1;
  return !skip_values_;
}

void ProgbarLogger::on_train_batch_end(std::int64_t batch, const Logs& logs) {
  if (!bar_) bar_ = new_bar(params, verbose_);
  seen_ = batch + 1;
  if (std::exchange(skip_values_, false)) {  // the logs were not read: nothing to draw them with
    bar_->tick(seen_);
    return;
  }
  last_logs_ = logs;
  bar_->update(seen_, logs);
}

void ProgbarLogger::on_epoch_end(int, const Logs& logs) {
  if (!bar_) bar_ = new_bar(params, verbose_);
  std::int64_t target = param(params, "steps", -1);
  if (target < 0) {  // unknown length: the epoch's count becomes the total, as Keras does
    target = seen_;
    bar_->set_target(target);
  }
  bar_->update(target, logs, /*finalize=*/true);
}

void ProgbarLogger::on_test_begin(const Logs&) {
  if (in_fit_) return;
  seen_ = 0;
  bar_ = new_bar(params, verbose_);
}

void ProgbarLogger::on_test_batch_end(std::int64_t batch, const Logs& logs) {
  if (in_fit_) return;
  ProgbarLogger::on_train_batch_end(batch, logs);
}

void ProgbarLogger::on_test_end(const Logs& logs) {
  if (in_fit_) return;
  ProgbarLogger::on_epoch_end(0, logs);
}

void ProgbarLogger::on_predict_begin(const Logs&) {
  seen_ = 0;
  bar_ = new_bar(params, verbose_);
}

void ProgbarLogger::on_predict_batch_end(std::int64_t batch, const Logs&) {
  ProgbarLogger::on_train_batch_end(batch, {});  // predictions are not shown
}

void ProgbarLogger::on_predict_end(const Logs&) { ProgbarLogger::on_epoch_end(0, {}); }

}  // namespace callbacks
}  // namespace lamina
