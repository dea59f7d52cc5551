// SPDX-License-Identifier: Apache-2.0
// CSVLogger's file, byte for byte as Keras's csv.DictWriter writes it: "\r\n" line ends, columns
// "epoch" then the keys sorted, floats in Python's repr, "NA" for a missing key.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>

#include "callbacks/scripted.hpp"

using namespace lamina;
using namespace lamina::testing;
using callbacks::CSVLogger;

namespace {

void run(CSVLogger& logger, Model& m, int first_epoch, const std::vector<Logs>& epochs) {
  logger.set_model(m);
  logger.on_train_begin({});
  for (std::size_t i = 0; i < epochs.size(); ++i)
    logger.on_epoch_end(first_epoch + static_cast<int>(i), epochs[i]);
  logger.on_train_end({});
}

}  // namespace

TEST_CASE("CSVLogger writes a sorted header and one row per epoch in Python's float format",
          "[callbacks]") {
  const ScratchDir dir("csv");
  const std::string path = dir / "log.csv";
  Sequential m = tiny_model();
  CSVLogger logger(path);
  run(logger, m, 0,
      {{{"loss", 0.5}, {"val_loss", 0.25}, {"accuracy", 1e-05}},
       {{"loss", 2.0}, {"val_loss", std::numeric_limits<double>::quiet_NaN()}, {"accuracy", 0.1}},
       {{"loss", 1.0 / 3.0}, {"accuracy", 0.75}}});
  CHECK(slurp(path) ==
        "epoch,accuracy,loss,val_loss\r\n"
        "0,1e-05,0.5,0.25\r\n"
        "1,0.1,2.0,nan\r\n"
        "2,0.75,0.3333333333333333,NA\r\n");

  SECTION("append continues the file without a second header; otherwise it starts afresh") {
    CSVLogger more(path, {.separator = ";", .append = true});
    run(more, m, 3, {{{"loss", 0.125}, {"accuracy", 0.875}}});
    CHECK(slurp(path) ==
          "epoch,accuracy,loss,val_loss\r\n"
          "0,1e-05,0.5,0.25\r\n"
          "1,0.1,2.0,nan\r\n"
          "2,0.75,0.3333333333333333,NA\r\n"
          "3;0.875;0.125\r\n");
    CSVLogger fresh(path, {.separator = "\t"});
    run(fresh, m, 0, {{{"loss", 4.0}}});
    CHECK(slurp(path) == "epoch\tloss\r\n0\t4.0\r\n");
  }
  SECTION("append to a file that does not exist writes the header") {
    std::remove(path.c_str());
    CSVLogger first(path, {.append = true});
    run(first, m, 0, {{{"loss", 1e20}}});
    CHECK(slurp(path) == "epoch,loss\r\n0,1e+20\r\n");
  }
}

TEST_CASE("CSVLogger names the file it cannot open", "[callbacks]") {
  Sequential m = tiny_model();
  CSVLogger logger("no_such_directory/log.csv");
  logger.set_model(m);
  CHECK_THROWS_WITH(logger.on_train_begin({}),
                    Catch::StartsWith("CSVLogger: cannot open 'no_such_directory/log.csv'"));
}

TEST_CASE("CSVLogger logs every epoch of a real fit", "[callbacks]") {
  const ScratchDir dir("csv_fit");
  const std::string path = dir / "log.csv";
  Sequential m = tiny_model(0.0);
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor y = Tensor::from_vector(std::vector<float>{1, 0}, {2, 1});
  History h = m.fit(x, y, {.epochs = 3, .verbose = 0, .callbacks = {CSVLogger(path)}});
  const std::string text = slurp(path);
  std::istringstream rows(text);
  std::string line;
  std::getline(rows, line);
  CHECK(line == "epoch,loss\r");
  for (int e = 0; e < 3; ++e) {
    REQUIRE(std::getline(rows, line));
    CHECK(line.substr(0, 2) == std::to_string(e) + ",");
    CHECK(std::stod(line.substr(2)) == h.history.at("loss")[e]);  // shortest form reads back exactly
  }
  CHECK_FALSE(std::getline(rows, line));
}
