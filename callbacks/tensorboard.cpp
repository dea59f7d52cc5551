// SPDX-License-Identifier: Apache-2.0
// TensorBoard: Keras 3's callback (keras/src/callbacks/tensorboard.py), its tags, run folders and
// steps, over the event-file writer of src/io/tfevents.
#include "lamina/callbacks/tensorboard.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "engine/training.hpp"
#include "io/tfevents.hpp"
#include "lamina/errors.hpp"

namespace lamina::callbacks {

namespace tfevents = io::tfevents;

UpdateFreq::UpdateFreq(const char* text) : UpdateFreq(std::string(text)) {}

UpdateFreq::UpdateFreq(const std::string& text) {
  if (text == "batch") batches_ = 1;  // Keras: "batch" is a synonym for 1
  else if (text != "epoch")
    throw ValueError("TensorBoard: unrecognized update_freq '" + text +
                     "'; expected 'epoch', 'batch' or a positive number of batches");
}

UpdateFreq::UpdateFreq(int batches) : batches_(batches) {
  if (batches <= 0)
    throw ValueError("TensorBoard: update_freq must be 'epoch', 'batch' or a positive number of batches, got " +
                     std::to_string(batches));
}

// The runs' files, opened on first use as Keras's lazily created summary writers are.
struct TensorBoard::Writers {
  std::string train_dir, val_dir;
  std::optional<tfevents::EventFileWriter> train, val;
  tfevents::EventFileWriter& get_train() { return train ? *train : train.emplace(train_dir); }
  tfevents::EventFileWriter& get_val() { return val ? *val : val.emplace(val_dir); }
  void flush() {
    if (train) train->flush();
    if (val) val->flush();
  }
};

namespace {

void scalar(tfevents::EventFileWriter& writer, std::int64_t step, const std::string& tag, double value) {
  writer.write(tfevents::scalar_event(tfevents::wall_time_now(), step, tag, static_cast<float>(value)));
}

}  // namespace

TensorBoard::TensorBoard(std::string log_dir, TensorBoardOptions options)
    : log_dir_(std::move(log_dir)), options_(options) {
  // Refused rather than ignored: each asks for output lamina does not write.
  if (options_.profile_batch != 0)
    throw ValueError("TensorBoard: profile_batch=" + std::to_string(options_.profile_batch) +
                     " is not supported (lamina has no profiler trace to write); use 0");
  if (options_.embeddings_freq != 0)
    throw ValueError("TensorBoard: embeddings_freq=" + std::to_string(options_.embeddings_freq) +
                     " is not supported (no embedding projector output); use 0");
  if (options_.write_images)
    throw ValueError("TensorBoard: write_images=true is not supported (weights are not written as images)");
  if (options_.histogram_freq < 0)
    throw ValueError("TensorBoard: histogram_freq must be >= 0, got " + std::to_string(options_.histogram_freq));
}

TensorBoard::TensorBoard(const TensorBoard& other) : log_dir_(other.log_dir_), options_(other.options_) {}

TensorBoard::~TensorBoard() = default;

// Keras's set_model: fresh writers for each fit (or evaluate), the graph first.
void TensorBoard::write_graph() {
  writers_.reset();
  if (!options_.write_graph) return;
  std::string json;
  try {
    json = model().to_json();
  } catch (const Error&) {
    return;  // as Keras: a model that does not serialize (a subclassed one) has no graph summary
  }
  writers().get_train().write(tfevents::keras_model_event(tfevents::wall_time_now(), 0, "keras", json));
}

TensorBoard::Writers& TensorBoard::writers() {
  if (!writers_) {
    writers_ = std::make_unique<Writers>();
    writers_->train_dir = (std::filesystem::path(log_dir_) / "train").string();
    writers_->val_dir = (std::filesystem::path(log_dir_) / "validation").string();
  }
  return *writers_;
}

void TensorBoard::on_train_begin(const Logs&) {
  in_fit_ = true;
  write_graph();
  writers().get_train();
  global_train_batch_ = 0;
}

void TensorBoard::on_train_end(const Logs&) {
  in_fit_ = false;
  writers_.reset();  // closes the files
}

void TensorBoard::on_epoch_begin(int, const Logs&) {
  if (!options_.write_steps_per_second) return;
  const auto optimizer = model().optimizer();
  epoch_start_iterations_ = optimizer ? optimizer->iterations() : 0;
  epoch_start_time_ = tfevents::wall_time_now();
}

void TensorBoard::on_epoch_end(int epoch, const Logs& logs) {
  Logs train_logs, val_logs;
  for (const auto& [name, value] : logs) {
    if (name.rfind("val_", 0) == 0) val_logs[name.substr(4)] = value;
    else train_logs[name] = value;
  }
  const auto optimizer = model().optimizer();
  if (optimizer) {
    // Keras reads the optimizer's float32 variable.
    train_logs["learning_rate"] = static_cast<float>(optimizer->learning_rate());
    if (options_.write_steps_per_second) {
      const double seconds = tfevents::wall_time_now() - epoch_start_time_;
      train_logs["steps_per_second"] =
          static_cast<double>(optimizer->iterations() - epoch_start_iterations_) / seconds;
    }
  }
  for (const auto& [name, value] : train_logs) scalar(writers().get_train(), epoch, "epoch_" + name, value);
  for (const auto& [name, value] : val_logs) scalar(writers().get_val(), epoch, "epoch_" + name, value);
  if (options_.histogram_freq > 0 && epoch % options_.histogram_freq == 0) write_histograms(epoch);
  writers().flush();
}

// Keras: for each layer of model.layers, each of its weights, tagged by the weight's path.
void TensorBoard::write_histograms(int epoch) {
  std::vector<Tensor> weights;
  for (const auto& layer : model().layers())
    for (const auto& w : layer->weights()) weights.push_back(w);
  const std::vector<std::string> paths = engine::variable_paths(model().impl(), weights);
  auto& writer = writers().get_train();
  for (std::size_t i = 0; i < weights.size(); ++i) {
    std::vector<double> values = weights[i].to(Device::cpu()).to_vector<double>();
    // TensorBoard draws finite values only; a NaN would make every edge NaN.
    values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
                 values.end());
    std::string tag = paths[i];
    std::replace(tag.begin(), tag.end(), ':', '_');
    writer.write(tfevents::histogram_event(tfevents::wall_time_now(), epoch, tag + "/histogram",
                                           tfevents::histogram_buckets(values)));
  }
}

void TensorBoard::on_train_batch_begin(std::int64_t, const Logs&) {
  ++global_train_batch_;
  if (options_.write_steps_per_second) batch_start_time_ = tfevents::wall_time_now();
}

void TensorBoard::on_train_batch_end(std::int64_t, const Logs& logs) {
  if (options_.update_freq.per_epoch() || global_train_batch_ % options_.update_freq.batches() != 0) return;
  auto& writer = writers().get_train();
  if (options_.write_steps_per_second)
    scalar(writer, global_train_batch_, "batch_steps_per_second",
           1.0 / (tfevents::wall_time_now() - batch_start_time_));
  for (const auto& [name, value] : logs) scalar(writer, global_train_batch_, "batch_" + name, value);
}

void TensorBoard::on_test_begin(const Logs&) {
  if (!in_fit_) write_graph();  // evaluate: Keras calls set_model for it too
  writers().get_val();
}

void TensorBoard::on_test_end(const Logs& logs) {
  const auto optimizer = model().optimizer();
  if (optimizer) {
    auto& writer = writers().get_val();
    for (const auto& [name, value] : logs)
      scalar(writer, optimizer->iterations(), "evaluation_" + name + "_vs_iterations", value);
  }
  if (in_fit_) return;
  writers_.reset();
}

}  // namespace lamina::callbacks
