// SPDX-License-Identifier: Apache-2.0
// Keras 3's progress bar, byte for byte (KERAS_REFERENCE.md §11), and the History / ProgbarLogger
// callbacks driven by hand.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <lamina/callbacks.hpp>

#include "support/capture.hpp"

using namespace lamina;
using lamina::testing::read_back;
using lamina::testing::lines_of;
using lamina::testing::StdoutCapture;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

const std::string kFullBar =
    "━━━━━━━━━━━━━━━━━━━━";  // 20 blocks

}  // namespace

TEST_CASE("Progbar renders Keras's verbose-2 epoch line", "[callbacks][progbar]") {
  Progbar::Frame f{469, 469, {{"loss", 0.44051}, {"accuracy", 0.87238}}, true, 3.2, 0.005, 2,
                   false};
  CHECK(Progbar::render(f) == "469/469 - 3s - 5ms/step - accuracy: 0.8724 - loss: 0.4405");
}

TEST_CASE("Progbar's finished line for a log file has the full bar and no escape codes",
          "[callbacks][progbar]") {
  Progbar::Frame f{469,  469,   {{"loss", 0.4405},     {"accuracy", 0.8724},
                                 {"val_loss", 0.1473}, {"val_accuracy", 0.9561}},
                   true, 2.7, 0.0054, 1, false};
  CHECK(Progbar::render(f) == "469/469 " + kFullBar +
                                  " 3s 5ms/step - accuracy: 0.8724 - loss: 0.4405 - "
                                  "val_accuracy: 0.9561 - val_loss: 0.1473");
}

TEST_CASE("Progbar's running terminal line: bold counter, green done part, grey rest, ETA",
          "[callbacks][progbar]") {
  SECTION("123 of 469 steps: 5 of 20 blocks done, ETA 346 steps x 4 ms") {
    Progbar::Frame f{123, 469, {{"loss", 0.7812}, {"accuracy", 0.7710}}, false, 0.6, 0.004, 1,
                     true};
    CHECK(Progbar::render(f) ==
          "\x1b[1m123/469\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m"
          " \x1b[1m1s\x1b[0m 4ms/step - accuracy: 0.7710 - loss: 0.7812");
  }
  SECTION("nothing done yet: no green part, the count right-aligned to the target's width") {
    Progbar::Frame f{7, 469, {}, false, 0.1, 0.5, 1, true};
    CHECK(Progbar::render(f) == "\x1b[1m  7/469\x1b[0m \x1b[37m" + kFullBar +
                                    "\x1b[0m \x1b[1m3:51\x1b[0m 500ms/step");
  }
  SECTION("finished: all green, elapsed seconds instead of the ETA") {
    Progbar::Frame f{10, 10, {{"loss", 0.25}}, true, 12.6, 1.26, 1, true};
    CHECK(Progbar::render(f) == "\x1b[1m10/10\x1b[0m \x1b[32m" + kFullBar +
                                    "\x1b[0m\x1b[37m\x1b[0m \x1b[1m13s\x1b[0m 1s/step - loss: 0.2500");
  }
}

TEST_CASE("Progbar with an unknown target shows the count and the elapsed time",
          "[callbacks][progbar]") {
  Progbar::Frame f{1000, -1, {{"loss", 0.5}}, false, 12.3, 0.0123, 1, false};
  CHECK(Progbar::render(f) == "   1000/Unknown 12s 12ms/step - loss: 0.5000");
}

TEST_CASE("Progbar formats values as Keras does: 4 decimals, or scientific at or below 1e-3",
          "[callbacks][progbar]") {
  CHECK(Progbar::format_value(1e-4) == "1.0000e-04");
  CHECK(Progbar::format_value(0.4405) == "0.4405");
  CHECK(Progbar::format_value(-2.5) == "-2.5000");
  CHECK(Progbar::format_value(1e-3) == "1.0000e-03");
  CHECK(Progbar::format_value(-5e-5) == "-5.0000e-05");
  CHECK(Progbar::format_value(0.0) == "0.0000e+00");
  CHECK(Progbar::format_value(1234.56789) == "1234.5679");
  CHECK(Progbar::format_value(-std::nan("")) == "nan");
}

TEST_CASE("Progbar formats the ETA as 7s, m:ss past a minute and h:mm:ss past an hour",
          "[callbacks][progbar]") {
  CHECK(Progbar::format_eta(7.9) == "7s");
  CHECK(Progbar::format_eta(0.0) == "0s");
  CHECK(Progbar::format_eta(60.0) == "60s");
  CHECK(Progbar::format_eta(65.5) == "1:05");
  CHECK(Progbar::format_eta(3600.0) == "60:00");
  CHECK(Progbar::format_eta(3725.0) == "1:02:05");
  CHECK(Progbar::format_eta(36000.0 + 59.0) == "10:00:59");
}

TEST_CASE("Progbar formats time per step in s, ms or us", "[callbacks][progbar]") {
  CHECK(Progbar::format_step_time(0.005) == "5ms/step");
  CHECK(Progbar::format_step_time(0.0054) == "5ms/step");
  CHECK(Progbar::format_step_time(2.4) == "2s/step");
  CHECK(Progbar::format_step_time(1.0) == "1s/step");
  CHECK(Progbar::format_step_time(0.00012) == "120us/step");
  CHECK(Progbar::format_step_time(0.0) == "0s/step");
}

TEST_CASE("Progbar's visible width ignores escape codes and counts each bar block once",
          "[callbacks][progbar]") {
  CHECK(Progbar::visible_width("\x1b[1m12/20\x1b[0m \x1b[32m━━━\x1b[0m") == 9);
  CHECK(Progbar::visible_width("") == 0);
}

TEST_CASE("A Progbar writing to a file prints the finished line once, without \\r or colours",
          "[callbacks][progbar]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    Progbar bar(10, 1, f);  // a file is not a terminal: no dynamic display
    for (int step = 1; step < 10; ++step) bar.update(step, {{"loss", 1.0 / step}});
    bar.update(10, {{"loss", 0.25}}, /*finalize=*/true);
  }
  const std::string text = read_back(f);
  std::fclose(f);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\b') == std::string::npos);
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 1);
  CHECK(starts_with(lines[0], "10/10 " + kFullBar + " "));
  CHECK_THAT(lines[0], Catch::EndsWith("/step - loss: 0.2500"));
  CHECK(text.back() == '\n');
}

TEST_CASE("A Progbar with verbose 2 prints one summary line at the end", "[callbacks][progbar]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    Progbar bar(3, 2, f, /*dynamic=*/true);  // verbose 2 never redraws, terminal or not
    bar.update(1, {{"loss", 0.9}});
    bar.update(2, {{"loss", 0.8}});
    bar.update(3, {{"loss", 0.7}, {"accuracy", 0.5}}, true);
  }
  const std::string text = read_back(f);
  std::fclose(f);
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 1);
  CHECK(starts_with(lines[0], "3/3 - "));
  CHECK_THAT(lines[0], Catch::EndsWith("/step - accuracy: 0.5000 - loss: 0.7000"));
  CHECK(text.find('\x1b') == std::string::npos);
}

TEST_CASE("A dynamic Progbar redraws in place and blanks out a longer previous line",
          "[callbacks][progbar]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    Progbar bar(2, 1, f, /*dynamic=*/true);
    bar.update(1, {{"a_rather_long_metric_name", 1.0}});  // the first update always draws
    bar.update(2, {}, /*finalize=*/true);                  // the final one always draws too
  }
  const std::string text = read_back(f);
  std::fclose(f);
  REQUIRE(text.size() > 2);
  CHECK(text.front() == '\r');
  const std::size_t second = text.find('\r', 1);
  REQUIRE(second != std::string::npos);
  const std::string first_line = text.substr(1, second - 1);
  const std::string last_line = text.substr(second + 1, text.size() - second - 2);
  CHECK(text.back() == '\n');
  CHECK_THAT(first_line, Catch::Contains("\x1b[1m1/2\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m"));
  CHECK_THAT(last_line, Catch::StartsWith("\x1b[1m2/2\x1b[0m \x1b[32m" + kFullBar));
  // The redraw pads with spaces to the width of what it overwrites.
  CHECK(Progbar::visible_width(last_line) == Progbar::visible_width(first_line));
  const std::string padding = last_line.substr(last_line.rfind("/step") + 5);
  CHECK(padding.size() >= 30);  // " - a_rather_long_metric_name: 1.0000" is gone
  CHECK(padding.find_first_not_of(' ') == std::string::npos);
}

TEST_CASE("History records every logged value per epoch and resets when training begins",
          "[callbacks]") {
  callbacks::HistoryCallback history;
  history.params = {{"epochs", 2}, {"steps", 5}, {"verbose", 1}};
  history.on_train_begin({});
  history.on_epoch_end(0, {{"loss", 0.5}, {"accuracy", 0.8}, {"val_loss", 0.6}});
  history.on_epoch_end(1, {{"loss", 0.3}, {"accuracy", 0.9}, {"val_loss", 0.4}});
  const History& h = history.history();
  CHECK(h.epoch == std::vector<int>{0, 1});
  CHECK(h.history.at("loss") == std::vector<double>{0.5, 0.3});
  CHECK(h.history.at("accuracy") == std::vector<double>{0.8, 0.9});
  CHECK(h.history.at("val_loss") == std::vector<double>{0.6, 0.4});
  CHECK(h.history.size() == 3);
  CHECK(h.params.at("epochs") == 2);
  CHECK(h.params.at("steps") == 5);

  history.on_train_begin({});
  CHECK(history.history().epoch.empty());
  CHECK(history.history().history.empty());
}

TEST_CASE("ProgbarLogger prints 'Epoch e/E' and one finished line per epoch, silent validation",
          "[callbacks][progbar]") {
  callbacks::ProgbarLogger logger(1);
  logger.params = {{"epochs", 2}, {"steps", 3}, {"verbose", 1}};
  StdoutCapture capture;
  logger.on_train_begin({});
  for (int epoch = 0; epoch < 2; ++epoch) {
    logger.on_epoch_begin(epoch, {});
    for (int batch = 0; batch < 3; ++batch) logger.on_train_batch_end(batch, {{"loss", 0.9}});
    logger.on_test_begin({});
    logger.on_test_batch_end(0, {{"loss", 0.1}});
    logger.on_test_end({{"loss", 0.1}});
    logger.on_epoch_end(epoch, {{"loss", 0.5 - 0.1 * epoch}, {"val_loss", 0.6}});
  }
  logger.on_train_end({});
  const auto lines = lines_of(capture.finish());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "Epoch 1/2");
  CHECK(starts_with(lines[1], "3/3 " + kFullBar + " "));
  CHECK_THAT(lines[1], Catch::EndsWith("/step - loss: 0.5000 - val_loss: 0.6000"));
  CHECK(lines[2] == "Epoch 2/2");
  CHECK_THAT(lines[3], Catch::EndsWith("/step - loss: 0.4000 - val_loss: 0.6000"));
}

TEST_CASE("ProgbarLogger prints no epoch header for a single epoch", "[callbacks][progbar]") {
  callbacks::ProgbarLogger logger(2);
  logger.params = {{"epochs", 1}, {"steps", 2}, {"verbose", 2}};
  StdoutCapture capture;
  logger.on_train_begin({});
  logger.on_epoch_begin(0, {});
  logger.on_train_batch_end(0, {{"loss", 0.9}});
  logger.on_train_batch_end(1, {{"loss", 0.8}});
  logger.on_epoch_end(0, {{"loss", 0.8}});
  const auto lines = lines_of(capture.finish());
  REQUIRE(lines.size() == 1);
  CHECK(starts_with(lines[0], "2/2 - "));
  CHECK_THAT(lines[0], Catch::EndsWith("/step - loss: 0.8000"));
}

TEST_CASE("ProgbarLogger shows one bar for evaluate and a bar without values for predict",
          "[callbacks][progbar]") {
  callbacks::ProgbarLogger logger(1);
  logger.params = {{"epochs", 1}, {"steps", 2}, {"verbose", 1}};
  StdoutCapture capture;
  logger.on_test_begin({});
  logger.on_test_batch_end(0, {{"loss", 0.3}});
  logger.on_test_batch_end(1, {{"loss", 0.2}});
  logger.on_test_end({{"accuracy", 0.75}, {"loss", 0.2}});
  logger.on_predict_begin({});
  logger.on_predict_batch_end(0, {});
  logger.on_predict_batch_end(1, {});
  logger.on_predict_end({});
  const auto lines = lines_of(capture.finish());
  REQUIRE(lines.size() == 2);
  CHECK(starts_with(lines[0], "2/2 " + kFullBar + " "));
  CHECK_THAT(lines[0], Catch::EndsWith("/step - accuracy: 0.7500 - loss: 0.2000"));
  CHECK(starts_with(lines[1], "2/2 " + kFullBar + " "));
  CHECK_THAT(lines[1], Catch::EndsWith("/step"));
}

TEST_CASE("ProgbarLogger takes an unknown step count from the batches it saw",
          "[callbacks][progbar]") {
  callbacks::ProgbarLogger logger(1);
  logger.params = {{"epochs", 1}, {"verbose", 1}};  // no "steps": a dataset of unknown length
  StdoutCapture capture;
  logger.on_train_begin({});
  logger.on_epoch_begin(0, {});
  for (int batch = 0; batch < 4; ++batch) logger.on_train_batch_end(batch, {{"loss", 1.0}});
  logger.on_epoch_end(0, {{"loss", 1.0}});
  const auto lines = lines_of(capture.finish());
  REQUIRE(lines.size() == 1);
  CHECK(starts_with(lines[0], "4/4 " + kFullBar + " "));
}
