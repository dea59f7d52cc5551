// SPDX-License-Identifier: Apache-2.0
// "learning_rate" in fit's epoch logs, as Keras 3 puts it there: ReduceLROnPlateau and
// LearningRateScheduler write the epoch's rate (a float32, Keras's variable) into the logs in their
// on_epoch_end, so the callbacks after them, History and the progress bar see it; the ones before
// them, and fits without them, do not. The expected rates are derived by hand in the comments.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>
#include <lamina/callbacks/csv_logger.hpp>
#include <lamina/callbacks/reduce_lr_on_plateau.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/optimizers.hpp>

#include "callbacks/scripted.hpp"
#include "support/capture.hpp"

using namespace lamina;
using namespace lamina::testing;

namespace {

std::vector<double> as_float32(std::vector<double> v) {
  for (double& x : v) x = static_cast<float>(x);
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Column `name` of a CSVLogger file, as text.
std::vector<std::string> csv_column(const std::string& text, const std::string& name) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : lines_of(text)) {
    std::string l = line;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    std::vector<std::string> cells;
    std::size_t start = 0;
    for (std::size_t comma; (comma = l.find(',', start)) != std::string::npos; start = comma + 1)
      cells.push_back(l.substr(start, comma - start));
    cells.push_back(l.substr(start));
    rows.push_back(cells);
  }
  std::vector<std::string> out;
  if (rows.empty()) return out;
  for (std::size_t c = 0; c < rows[0].size(); ++c)
    if (rows[0][c] == name)
      for (std::size_t r = 1; r < rows.size(); ++r) out.push_back(rows[r].at(c));
  return out;
}

const Tensor kX = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
const Tensor kY = Tensor::from_vector(std::vector<float>{1, 0, 1, 0}, {4, 1});

// Never improves after the first epoch: min_delta is larger than any loss.
callbacks::ReduceLROnPlateau halving() {
  return callbacks::ReduceLROnPlateau({.monitor = "loss", .factor = 0.5, .patience = 1, .min_delta = 1e9});
}

}  // namespace

TEST_CASE("History and a CSVLogger after ReduceLROnPlateau record each epoch's learning rate",
          "[training][callbacks]") {
  ScratchDir dir("learning_rate_log_1");
  Sequential m = tiny_model(0.1);
  const std::string csv = dir / "log.csv";
  // Epoch 0 sets best; epochs 1 and 2 each wait 1 = patience and halve the rate after logging it:
  // the logs read 0.1, 0.1, 0.05, 0.025 while the optimizer ends at 0.0125.
  History h = m.fit(kX, kY, {.batch_size = 4, .epochs = 4, .verbose = 0,
                             .callbacks = {halving(), callbacks::CSVLogger(csv)}});
  const std::vector<double> want = as_float32({0.1, 0.1, 0.05, 0.025});
  REQUIRE(h.history.count("learning_rate") == 1);
  CHECK(h.history.at("learning_rate") == want);
  CHECK(m.optimizer()->learning_rate() == Approx(0.0125));
  // Keras's CSVLogger writes the float32 rate as Python's repr of the float.
  CHECK(csv_column(read_file(csv), "learning_rate") ==
        std::vector<std::string>{"0.10000000149011612", "0.10000000149011612", "0.05000000074505806",
                                 "0.02500000037252903"});
}

TEST_CASE("a callback before ReduceLROnPlateau does not see learning_rate, as in Keras",
          "[training][callbacks]") {
  ScratchDir dir("learning_rate_log_2");
  Sequential m = tiny_model(0.1);
  const std::string csv = dir / "log.csv";
  History h = m.fit(kX, kY, {.batch_size = 4, .epochs = 2, .verbose = 0,
                             .callbacks = {callbacks::CSVLogger(csv), halving()}});
  CHECK(csv_column(read_file(csv), "learning_rate").empty());
  CHECK(csv_column(read_file(csv), "loss").size() == 2);
  CHECK(h.history.count("learning_rate") == 1);  // History comes after every given callback
}

TEST_CASE("LearningRateScheduler logs the rate it set for the epoch, a plain fit logs none",
          "[training][callbacks]") {
  Sequential m = tiny_model(0.1);
  auto schedule = [](int epoch, double) { return 0.1 / (epoch + 1); };
  History h = m.fit(kX, kY, {.batch_size = 2, .epochs = 3, .verbose = 0,
                             .callbacks = {callbacks::LearningRateScheduler(schedule)}});
  CHECK(h.history.at("learning_rate") == as_float32({0.1, 0.05, 0.1 / 3}));
  History plain = m.fit(kX, kY, {.batch_size = 2, .epochs = 2, .verbose = 0});
  CHECK(plain.history.count("learning_rate") == 0);
  CHECK(plain.history.count("loss") == 1);
}

TEST_CASE("the progress bar's epoch line shows the learning rate a callback logged",
          "[training][callbacks]") {
  Sequential m = tiny_model(0.1);
  StdoutCapture capture;
  m.fit(kX, kY, {.batch_size = 4, .epochs = 2, .verbose = 2, .callbacks = {halving()}});
  const std::string out = capture.finish();
  CHECK_THAT(out, Catch::Contains("learning_rate: 0.1000"));
}
