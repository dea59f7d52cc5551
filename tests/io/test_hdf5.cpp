// SPDX-License-Identifier: Apache-2.0
// src/io/hdf5: datasets and attributes round-trip, h5py's two string encodings as found in real
// Keras files, Keras's chunked attribute lists, and errors that name the file and the object.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <lamina/errors.hpp>

#include "io/h5_test_files.hpp"
#include "io/hdf5.hpp"

using namespace lamina;
using lamina::testing::keras_file;
using lamina::testing::ScratchDir;
using Catch::Matchers::Contains;

TEST_CASE("HDF5 datasets round-trip float32, float64 and int64, scalars included", "[h5io]") {
  ScratchDir dir("hdf5");
  const std::string path = dir.file("d.h5");
  const Tensor f32 = Tensor::from_vector<float>({1.5f, -2.25f, 3e-8f, 7.0f, 0.0f, -0.0f}, {2, 3});
  const Tensor f64 = Tensor::from_vector<double>({0.1, 1e300}, {2});
  const Tensor i64 = Tensor::scalar(4500, int64);
  {
    io::h5::File f = io::h5::File::create(path);
    io::h5::Group root = f.root();
    root.write_dataset("a/b/kernel:0", f32);  // '/' makes intermediate groups, as in Keras files
    root.write_dataset("x", f64);
    root.write_dataset("iteration", i64);
    f.close();
  }
  io::h5::File f = io::h5::File::open(path);
  const io::h5::Group root = f.root();
  CHECK(root.has_group("a/b"));
  CHECK_FALSE(root.has_group("a/b/kernel:0"));
  CHECK(root.has_dataset("a/b/kernel:0"));
  CHECK_FALSE(root.has_dataset("a/c/kernel:0"));
  const auto info = root.dataset_info("a/b/kernel:0");
  CHECK(info.shape == Shape{2, 3});
  CHECK(info.dtype == float32);
  CHECK(root.read_dataset("a/b/kernel:0", {2, 3}, float32).to_vector<float>() ==
        f32.to_vector<float>());
  CHECK(root.read_dataset("x", {2}, float64).to_vector<double>() == f64.to_vector<double>());
  CHECK(root.dataset_info("iteration").shape == Shape{});
  CHECK(root.dataset_info("iteration").dtype == int64);
  CHECK(root.read_scalar("iteration") == 4500.0);
  CHECK(root.group("a").children() == std::vector<std::string>{"b"});
  // The shape is checked before anything is allocated or read.
  CHECK_THROWS_WITH(root.read_dataset("a/b/kernel:0", {3, 2}, float32),
                    Contains(path) && Contains("/a/b/kernel:0") && Contains("(2, 3)") &&
                        Contains("(3, 2)"));
  CHECK_THROWS_AS(root.group("missing"), FileFormatError);
  CHECK_THROWS_WITH(root.dataset_info("a"), Contains("expected a dataset"));
}

TEST_CASE("HDF5 string attributes round-trip, and an empty list is Keras's empty float64 array",
          "[h5io]") {
  ScratchDir dir("hdf5");
  const std::string path = dir.file("s.h5");
  {
    io::h5::File f = io::h5::File::create(path);
    io::h5::Group root = f.root();
    root.write_string_attr("model_config", R"({"class_name": "Sequential", "é": 1})");
    root.write_string_list_attr("layer_names", {"dense", "dropout_12", "x"});
    root.write_string_list_attr("weight_names", {});
    f.close();
  }
  io::h5::File f = io::h5::File::open(path);
  const io::h5::Group root = f.root();
  CHECK(root.read_string_attr("model_config") == R"({"class_name": "Sequential", "é": 1})");
  CHECK(root.read_string_list_attr("layer_names") ==
        std::vector<std::string>{"dense", "dropout_12", "x"});
  CHECK(root.read_string_list_attr("weight_names").empty());
  CHECK(root.read_chunked_list_attr("layer_names").size() == 3);
  CHECK_THROWS_WITH(root.read_string_attr("nope"),
                    Contains(path) && Contains("missing attribute 'nope'"));
  CHECK_THROWS_WITH(root.read_string_attr("layer_names"), Contains("holds 3 strings"));
}

TEST_CASE("Long attribute lists are split as Keras splits them, and read back whole", "[h5io]") {
  // Keras: n grows from 1 until every np.array_split piece fits in 64512 bytes. 3000 names padded
  // to 40 bytes: 3000/2 * 40 = 60000 <= 64512 but 3000 * 40 = 120000 > 64512, so n = 2.
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) {
    std::string n = "layer_" + std::to_string(i);
    n.resize(i == 0 ? 40 : n.size(), 'x');
    names.push_back(n);
  }
  CHECK(io::h5::keras_chunk_count(names) == 2);
  // 3001 names of 43 bytes: ceil(3001/2) = 1501 * 43 = 64543 > 64512, ceil(3001/3) * 43 = 43043.
  CHECK(io::h5::keras_chunk_count(std::vector<std::string>(3001, std::string(43, 'a'))) == 3);
  CHECK(io::h5::keras_chunk_count({"a", "b"}) == 1);
  CHECK_THROWS_AS(io::h5::keras_chunk_count({std::string(70000, 'a')}), ValueError);

  ScratchDir dir("hdf5");
  const std::string path = dir.file("c.h5");
  {
    io::h5::File f = io::h5::File::create(path);
    io::h5::Group root = f.root();
    root.write_chunked_list_attr("layer_names", names);
    f.close();
  }
  io::h5::File f = io::h5::File::open(path);
  const io::h5::Group root = f.root();
  CHECK_FALSE(root.has_attr("layer_names"));
  CHECK(root.has_attr("layer_names0"));
  CHECK(root.has_attr("layer_names1"));
  CHECK_FALSE(root.has_attr("layer_names2"));
  // array_split of 3000 into 2: 1500 and 1500.
  CHECK(root.read_string_list_attr("layer_names0").size() == 1500);
  CHECK(root.read_chunked_list_attr("layer_names") == names);
}

TEST_CASE("h5py's fixed-length and variable-length string lists both read from real Keras files",
          "[h5io]") {
  // Fixed-length NULLPAD (Keras 2.1.3) and variable-length (Keras 3.11) per KERAS_FORMATS.md;
  // the expected names were read with h5py.
  {
    io::h5::File f = io::h5::File::open(keras_file("k2_dl4j_cnn_batch_norm.h5"));
    const auto mw = f.root().group("model_weights");
    CHECK(mw.read_string_list_attr("layer_names") ==
          std::vector<std::string>{"conv2d_1", "batch_normalization_1", "activation_1", "conv2d_2",
                                   "flatten_1", "dense_1"});
    CHECK(mw.group("activation_1").read_string_list_attr("weight_names").empty());
    CHECK(f.root().read_string_attr("keras_version") == "2.1.3");
  }
  {
    io::h5::File f = io::h5::File::open(keras_file("k3_churn_mlp.h5"));
    const auto mw = f.root().group("model_weights");
    CHECK(mw.read_string_list_attr("layer_names") ==
          std::vector<std::string>{"dense_3", "dense_4", "dense_5"});
    CHECK(mw.group("dense_3").read_string_list_attr("weight_names") ==
          std::vector<std::string>{"sequential/dense_3/kernel", "sequential/dense_3/bias"});
  }
}

TEST_CASE("Opening what is not an HDF5 file names the file and the reason", "[h5io]") {
  ScratchDir dir("hdf5");
  CHECK_THROWS_WITH(io::h5::File::open(dir.file("absent.h5")),
                    Contains("absent.h5") && Contains("no such file"));
  lamina::testing::write_bytes(dir.file("text.h5"), {'h', 'e', 'l', 'l', 'o'});
  CHECK_THROWS_WITH(io::h5::File::open(dir.file("text.h5")),
                    Contains("text.h5") && Contains("not an HDF5 file"));
  CHECK_THROWS_AS(io::h5::File::open(dir.file("text.h5"), "shown.h5"), FileFormatError);
  CHECK_THROWS_WITH(io::h5::File::open(dir.file("text.h5"), "shown.h5"), Contains("shown.h5"));
}
