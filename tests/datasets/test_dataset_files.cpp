// SPDX-License-Identifier: Apache-2.0
// File sources and the file cache, on files the tests write: text lines, CSV (header, column
// selection, types, labels, missing values, quoting, errors with line numbers), CIFAR-10 binary
// batches, IDX files through a dataset, and cache(filename) reused by a second pipeline.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <lamina/datasets/dataset.hpp>
#include <lamina/errors.hpp>

#include "datasets/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace lamina;
using lamina::testing::TempDir;

TEST_CASE("text_line_dataset reads the lines of several files in order", "[data]") {
  TempDir dir;
  const auto a = dir.write("a.txt", "first\r\nsecond\n\nfourth");
  const auto b = dir.write("b.txt", "fifth\n");
  std::vector<std::string> lines;
  for (const Tensor& t : text_line_dataset({a, b})) lines.push_back(text_of(t));
  CHECK(lines == std::vector<std::string>{"first", "second", "", "fourth", "fifth"});
  CHECK_THROWS_WITH(text_line_dataset({(dir.path / "missing.txt").string()}).begin(), Catch::Contains("missing.txt"));
}

TEST_CASE("csv_dataset reads features and a typed label", "[data]") {
  TempDir dir;
  const auto path = dir.write("iris.csv",
                              "sepal,petal,name,species\n"
                              "5.1,1.4,\"setosa, wild\",0\n"
                              "6.2,4.5,\"say \"\"hi\"\"\",1\n"
                              "\n"
                              "7.7,,virginica,2\n");
  auto ds = csv_dataset(path, {.select_columns = {"sepal", "petal", "species"},
                               .label_name = "species",
                               .column_types = {{"species", int64}},
                               .column_defaults = {{"petal", -1.0}}});
  std::vector<std::vector<float>> xs;
  std::vector<std::int64_t> ys;
  for (const Element& e : ds) {
    REQUIRE(e.size() == 2);
    CHECK(e[1].dtype() == int64);
    CHECK(e[1].ndim() == 0);
    xs.push_back(e[0].to_vector<float>());
    ys.push_back(static_cast<std::int64_t>(e[1].item()));
  }
  CHECK(xs == std::vector<std::vector<float>>{{5.1f, 1.4f}, {6.2f, 4.5f}, {7.7f, -1.0f}});
  CHECK(ys == std::vector<std::int64_t>{0, 1, 2});
}

TEST_CASE("csv_dataset without a header selects columns by position and batches", "[data]") {
  TempDir dir;
  const auto path = dir.write("plain.csv", "1;2;3\n4;5;6\n");
  auto ds = csv_dataset(path, {.header = false, .field_delim = ';', .select_columns = {"0", "2"}}).batch(2);
  int n = 0;
  for (const Element& e : ds) {
    REQUIRE(e.size() == 1);
    CHECK(e[0].shape() == Shape{2, 2});
    CHECK(e[0].to_vector<float>() == std::vector<float>{1, 3, 4, 6});
    ++n;
  }
  CHECK(n == 1);
}

TEST_CASE("csv_dataset errors name the file and the line", "[data]") {
  TempDir dir;
  const auto path = dir.write("bad.csv", "a,b\n1,2\n3\n");
  auto consume = [](const BasicDataset<Element>& ds) {
    for (const Element& e : ds) (void)e;
  };
  CHECK_THROWS_WITH(consume(csv_dataset(path)),
                    Catch::Contains("bad.csv") && Catch::Contains("line 3") && Catch::Contains("expected 2 fields, found 1"));
  const auto text = dir.write("text.csv", "a,b\n1,2\n1,x\n");
  CHECK_THROWS_WITH(consume(csv_dataset(text)), Catch::Contains("line 3") && Catch::Contains("'x'"));
  const auto ints = dir.write("ints.csv", "a,b\n1,2.5\n");
  CHECK_THROWS_WITH(consume(csv_dataset(ints, {.column_types = {{"b", int32}}})),
                    Catch::Contains("line 2") && Catch::Contains("int32"));
  const auto missing = dir.write("missing.csv", "a,b\n1,NA\n");
  CHECK_THROWS_WITH(consume(csv_dataset(missing, {.na_value = "NA"})),
                    Catch::Contains("line 2") && Catch::Contains("missing value in column 'b'"));
  CHECK_THROWS_WITH(csv_dataset(path, {.label_name = "c"}), Catch::Contains("no column 'c'") && Catch::Contains("a, b"));
  CHECK_THROWS_AS(csv_dataset((dir.path / "none.csv").string()), FileFormatError);
}

TEST_CASE("the CIFAR-10 reader turns colour planes into channels-last images", "[data]") {
  TempDir dir;
  // Two records: label, then the red, green and blue planes; pixel p of plane c is (c*7 + p) % 256.
  std::string bytes;
  for (int r = 0; r < 2; ++r) {
    bytes += static_cast<char>(r == 0 ? 3 : 9);
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p) bytes += static_cast<char>((c * 7 + p + r) % 256);
  }
  const auto path = dir.write("data_batch_1.bin", bytes);
  datasets::Split s = datasets::cifar10::read_batch(path);
  REQUIRE(s.x.shape() == Shape{2, 32, 32, 3});
  CHECK(s.y.to_vector<int>() == std::vector<int>{3, 9});
  // Image 1, row 2, column 5, green: plane 1, pixel 2*32+5.
  CHECK(s.x.at(((1 * 32 + 2) * 32 + 5) * 3 + 1) == (1 * 7 + 69 + 1) % 256);
  CHECK(s.x.at(((0 * 32 + 31) * 32 + 31) * 3 + 2) == (2 * 7 + 1023) % 256);
  auto ds = Dataset::from_tensor_slices(s.x, s.y);
  CHECK(ds.cardinality() == 2);
  const auto cut = dir.write("cut.bin", bytes.substr(0, 3000));
  CHECK_THROWS_WITH(datasets::cifar10::read_batch(cut), Catch::Contains("cut.bin") && Catch::Contains("3073"));
  bytes[0] = 12;
  const auto bad_label = dir.write("label.bin", bytes);
  CHECK_THROWS_WITH(datasets::cifar10::read_batch(bad_label), Catch::Contains("label 12"));
  CHECK_THROWS_WITH(datasets::cifar10::load_data(dir.path.string()), Catch::Contains("data_batch_2.bin"));
}

TEST_CASE("an IDX file the test writes feeds a dataset", "[data]") {
  TempDir dir;
  // Three 2x2 uint8 images: magic 00 00 08 03, dims 3, 2, 2, then the bytes 0..11.
  std::string bytes{0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
  for (int i = 0; i < 12; ++i) bytes += static_cast<char>(i);
  const auto path = dir.write("tiny-idx3-ubyte", bytes);
  auto ds = Dataset::from_tensor_slices(datasets::read_idx(path)).batch(2);
  std::vector<Shape> shapes;
  for (const Tensor& b : ds) shapes.push_back(b.shape());
  CHECK(shapes == std::vector<Shape>{{2, 2, 2}, {1, 2, 2}});
}

TEST_CASE("cache to a file is written by a full pass and reused by a new pipeline", "[data]") {
  TempDir dir;
  const std::string file = (dir.path / "cache.bin").string();
  int calls = 0;
  auto make = [&] {
    return Dataset::range(5).map([&calls](Tensor t) {
      ++calls;
      return std::pair{t * 2.0, Tensor::full({2}, t.item(), float32)};
    }).cache(file);
  };
  {
    auto ds = make();
    for (auto [a, b] : ds.take(2)) (void)a;  // unfinished: no file
    CHECK_FALSE(fs::exists(file));
    std::vector<double> first;
    for (auto [a, b] : ds) first.push_back(a.item());
    CHECK(first == std::vector<double>{0, 2, 4, 6, 8});
    CHECK(fs::exists(file));
  }
  const int before = calls;
  std::vector<double> again;
  std::vector<float> seconds;
  for (auto [a, b] : make()) {
    again.push_back(a.item());
    CHECK(b.shape() == Shape{2});
    seconds.push_back(b.to_vector<float>()[1]);
  }
  CHECK(calls == before);  // read from the file, the map never ran
  CHECK(again == std::vector<double>{0, 2, 4, 6, 8});
  CHECK(seconds == std::vector<float>{0, 1, 2, 3, 4});
  dir.write("junk.bin", "not a cache");
  CHECK_THROWS_WITH(Dataset::range(2).cache((dir.path / "junk.bin").string()).begin(),
                    Catch::Contains("junk.bin") && Catch::Contains("not a lamina dataset cache"));
}
