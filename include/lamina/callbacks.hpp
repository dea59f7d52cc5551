// SPDX-License-Identifier: Apache-2.0
// lamina/callbacks.hpp — the Callback hooks, History, the Keras-style progress bar, and every
// built-in callback (one header per callback under lamina/callbacks/).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lamina/callbacks/callback.hpp"
#include "lamina/callbacks/backup_and_restore.hpp"
#include "lamina/callbacks/csv_logger.hpp"
#include "lamina/callbacks/early_stopping.hpp"
#include "lamina/callbacks/lambda_callback.hpp"
#include "lamina/callbacks/model_checkpoint.hpp"
#include "lamina/callbacks/plot_history.hpp"
#include "lamina/callbacks/reduce_lr_on_plateau.hpp"
#include "lamina/callbacks/tensorboard.hpp"
#include "lamina/callbacks/terminate_on_nan.hpp"
#include "lamina/model.hpp"

namespace lamina {

/// What fit returns: every logged value per epoch.
struct History {
  std::map<std::string, std::vector<double>> history{};  ///< "loss" -> one value per epoch
  std::vector<int> epoch{};                              ///< 0-based epoch indices run
  std::map<std::string, std::int64_t> params{};          ///< epochs, steps, verbose
};

/// Renders Keras 3's progress line:
/// `123/469 ━━━━━━━━━━━━━━━━━━━━ 1s 4ms/step - accuracy: 0.7710 - loss: 0.7812`.
/// On a terminal it redraws in place (at most every 0.05 s); otherwise it prints only finished
/// lines, with no redraw characters. verbose 2 prints one summary line at the end.
class Progbar {
 public:
  /// target: total steps (-1 if unknown). out_is_tty: whether to redraw in place (defaults to
  /// isatty(stdout)). `out` may be null to write to stdout.
  explicit Progbar(std::int64_t target, int verbose = 1, std::FILE* out = nullptr);
  Progbar(std::int64_t target, int verbose, std::FILE* out, bool dynamic);
  /// Reports progress at step `current` (1-based count of finished steps) with `values`.
  /// finalize: the last call of this bar (prints the finished line).
  void update(std::int64_t current, const Logs& values, bool finalize = false);
  /// Sets the total once it is known (a bar of unknown length finishing).
  void set_target(std::int64_t target) { target_ = target; }
  /// Whether update() would draw now (verbose 1 on a terminal, the redraw interval elapsed).
  bool draws_now() const;
  /// Counts step `current` finished (for the time per step) without drawing.
  void tick(std::int64_t current);

  /// What one bar line shows; the pure input of render().
  struct Frame {
    std::int64_t current = 0;
    std::int64_t target = -1;    ///< -1: unknown
    Logs values{};
    bool finalize = false;
    double elapsed_s = 0.0;      ///< since the bar was created
    double step_s = 0.0;         ///< estimated seconds per step
    int verbose = 1;
    bool colour = false;         ///< ANSI bold/green/grey, as on a terminal
  };
  /// The line Keras 3 draws for `frame`, without redraw characters or newline. Pure: for tests.
  static std::string render(const Frame& frame);
  /// Keras's value format: "0.4405" (|v| > 1e-3) or "1.0000e-04".
  static std::string format_value(double value);
  /// Keras's ETA format: "7s", "1:05" (over a minute), "1:00:05" (over an hour).
  static std::string format_eta(double seconds);
  /// Keras's time per step: "2s/step" (>= 1 s or 0), "5ms/step", "120us/step" (< 1 ms).
  static std::string format_step_time(double seconds);
  /// Characters a terminal shows for `line` (code points, ANSI escapes excluded).
  static std::size_t visible_width(const std::string& line);

 private:
  double step_duration(std::int64_t current, double now);

  std::int64_t target_;
  int verbose_;
  std::FILE* out_;
  bool dynamic_;
  std::chrono::steady_clock::time_point start_;
  double last_update_ = -1.0;     // seconds since start_ of the last draw; < 0: never drawn
  double first_step_end_ = -1.0;  // time/step excludes the first (warm-up) step, as Keras does
  std::size_t prev_width_ = 0;
};

namespace callbacks {

/// Records the epoch logs into a History (added by fit itself).
class HistoryCallback : public Callback {
 public:
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  bool reads_batch_logs() const override { return false; }
  const History& history() const { return history_; }

 private:
  History history_;
};

/// Prints "Epoch e/E" and the progress bar (added by fit/evaluate/predict when verbose > 0).
class ProgbarLogger : public Callback {
 public:
  explicit ProgbarLogger(int verbose = 1);
  void on_train_begin(const Logs&) override;
  void on_epoch_begin(int epoch, const Logs&) override;
  void on_train_batch_end(std::int64_t batch, const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_test_begin(const Logs&) override;
  void on_test_batch_end(std::int64_t batch, const Logs& logs) override;
  void on_test_end(const Logs& logs) override;
  void on_predict_begin(const Logs&) override;
  void on_predict_batch_end(std::int64_t batch, const Logs& logs) override;
  void on_predict_end(const Logs& logs) override;
  /// Only when the bar redraws at the next batch (verbose 1 on a terminal, at most every 0.05 s).
  bool reads_batch_logs() const override;

 private:
  int verbose_;
  bool in_fit_ = false;
  mutable bool skip_values_ = false;  // the last reads_batch_logs() said no: the next batch only ticks
  std::int64_t seen_ = 0;
  Logs last_logs_;
  std::unique_ptr<Progbar> bar_;
};

/// Keras's LearningRateScheduler: at the start of each epoch sets the optimizer's learning rate to
/// schedule(epoch, current_lr) (epoch 0-based). verbose > 0 prints the new rate. At the epoch's
/// end it adds "learning_rate" (the rate in float32, as Keras's variable holds it) to the logs
/// that the callbacks after it, History and the progress bar see.
/// Throws ValueError (at that epoch) when the schedule returns a negative or non-finite rate.
class LearningRateScheduler : public Callback {
 public:
  using Schedule = std::function<double(int epoch, double learning_rate)>;
  explicit LearningRateScheduler(Schedule schedule, int verbose = 0);
  void on_epoch_begin(int epoch, const Logs&) override;
  void on_epoch_end(int epoch, const Logs&) override;
  bool reads_batch_logs() const override { return false; }

 private:
  Schedule schedule_;
  int verbose_;
};

}  // namespace callbacks
}  // namespace lamina
