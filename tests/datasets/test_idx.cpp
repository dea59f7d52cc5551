// SPDX-License-Identifier: Apache-2.0
// IDX reading (raw and gzip) and the MNIST-family loaders, on files the tests write themselves.
// The gzip files written here use deflate's stored blocks (the test does not link zlib); real
// Huffman-coded deflate comes from a fixture made by Python's gzip.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <lamina/datasets/datasets.hpp>
#include <lamina/errors.hpp>

#include "datasets/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace lamina;
using Bytes = std::vector<std::uint8_t>;
using lamina::testing::TempDir;

namespace {

void put_be(Bytes& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

/// IDX header for `type_code` and `dims`, followed by `payload` (already big-endian).
Bytes idx(std::uint8_t type_code, const std::vector<std::uint32_t>& dims, const Bytes& payload) {
  Bytes out = {0, 0, type_code, static_cast<std::uint8_t>(dims.size())};
  for (auto d : dims) put_be(out, d, 4);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::uint32_t crc32(const Bytes& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (auto byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_le(Bytes& out, std::uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

/// RFC 1952 gzip member holding `data` in RFC 1951 stored (uncompressed) blocks.
Bytes gzip_stored(const Bytes& data) {
  Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  std::size_t pos = 0;
  do {
    const std::size_t len = std::min<std::size_t>(data.size() - pos, 65535);
    const bool last = pos + len == data.size();
    out.push_back(last ? 1 : 0);  // BFINAL, BTYPE = 00
    put_le(out, static_cast<std::uint32_t>(len), 2);
    put_le(out, static_cast<std::uint32_t>(~len & 0xFFFF), 2);
    out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(pos),
               data.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
  } while (pos < data.size());
  put_le(out, crc32(data), 4);
  put_le(out, static_cast<std::uint32_t>(data.size()), 4);
  return out;
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes counting_bytes(std::size_t n, int step) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * step % 256);
  return b;
}

/// Images (count, 28, 28) with pixel = (i * step) % 256 and labels (count) = i % 10, gzipped.
void write_split(const TempDir& dir, const std::string& prefix, std::uint32_t images,
                 std::uint32_t labels, int step) {
  write_file(dir.file(prefix + "-images-idx3-ubyte.gz"),
             gzip_stored(idx(0x08, {images, 28, 28}, counting_bytes(images * 784u, step))));
  Bytes y(labels);
  for (std::uint32_t i = 0; i < labels; ++i) y[i] = static_cast<std::uint8_t>(i % 10);
  write_file(dir.file(prefix + "-labels-idx1-ubyte.gz"), gzip_stored(idx(0x08, {labels}, y)));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const FileFormatError& e) {
    return e.what();
  }
  return "(no FileFormatError thrown)";
}

/// Sets an environment variable for the scope, restoring the old value after.
struct ScopedEnv {
  std::string name;
  bool had = false;
  std::string old;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) { had = true; old = v; }
    setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had) setenv(name.c_str(), old.c_str(), 1);
    else unsetenv(name.c_str());
  }
};

}  // namespace

TEST_CASE("read_idx reads a raw unsigned-byte IDX file into a uint8 tensor of the stored shape",
          "[datasets]") {
  TempDir dir;
  write_file(dir.file("a.idx"), idx(0x08, {2, 3, 4}, counting_bytes(24, 7)));
  Tensor t = datasets::read_idx(dir.file("a.idx"));
  CHECK(t.dtype() == DType::uint8);
  CHECK(t.shape() == Shape{2, 3, 4});
  const auto v = t.to_vector<std::uint8_t>();
  CHECK(v == counting_bytes(24, 7));
}

TEST_CASE("read_idx recognises gzip by its magic bytes, whatever the file is called",
          "[datasets]") {
  TempDir dir;
  // Over 65535 bytes, so the stream has several deflate blocks.
  const Bytes pixels = counting_bytes(3 * 150 * 160, 13);
  const Bytes gz = gzip_stored(idx(0x08, {3, 150, 160}, pixels));
  write_file(dir.file("images.gz"), gz);
  write_file(dir.file("images.idx"), gz);
  for (const char* name : {"images.gz", "images.idx"}) {
    Tensor t = datasets::read_idx(dir.file(name));
    CHECK(t.shape() == Shape{3, 150, 160});
    CHECK(t.to_vector<std::uint8_t>() == pixels);
  }
}

TEST_CASE("read_idx decompresses Huffman-coded deflate data written by Python's gzip",
          "[datasets]") {
  Tensor t = datasets::read_idx(std::string(LAMINA_TEST_FIXTURES) +
                                "/datasets/tiny-images-idx3-ubyte.gz");
  REQUIRE(t.shape() == Shape{4, 28, 28});
  REQUIRE(t.dtype() == DType::uint8);
  const auto v = t.to_vector<std::uint8_t>();
  std::size_t mismatches = 0;
  for (int n = 0; n < 4; ++n)
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c)
        if (v[static_cast<std::size_t>((n * 28 + r) * 28 + c)] != (n * 31 + (r / 4) * c) % 256)
          ++mismatches;
  CHECK(mismatches == 0);
}

TEST_CASE("read_idx converts big-endian signed byte, short, int, float and double elements",
          "[datasets]") {
  TempDir dir;
  SECTION("0x09 signed byte -> int32") {
    write_file(dir.file("b"), idx(0x09, {4}, {0x80, 0xFF, 0x00, 0x7F}));
    Tensor t = datasets::read_idx(dir.file("b"));
    CHECK(t.dtype() == DType::int32);
    CHECK(t.to_vector<std::int32_t>() == std::vector<std::int32_t>{-128, -1, 0, 127});
  }
  SECTION("0x0B short -> int32") {
    Bytes p;
    put_be(p, static_cast<std::uint16_t>(-300), 2);
    put_be(p, 1234, 2);
    write_file(dir.file("s"), idx(0x0B, {1, 2}, p));
    Tensor t = datasets::read_idx(dir.file("s"));
    CHECK(t.dtype() == DType::int32);
    CHECK(t.shape() == Shape{1, 2});
    CHECK(t.to_vector<std::int32_t>() == std::vector<std::int32_t>{-300, 1234});
  }
  SECTION("0x0C int -> int32") {
    Bytes p;
    put_be(p, static_cast<std::uint32_t>(-70000), 4);
    put_be(p, 2147483647u, 4);
    write_file(dir.file("i"), idx(0x0C, {2}, p));
    Tensor t = datasets::read_idx(dir.file("i"));
    CHECK(t.dtype() == DType::int32);
    CHECK(t.to_vector<std::int32_t>() == std::vector<std::int32_t>{-70000, 2147483647});
  }
  SECTION("0x0D float -> float32") {
    Bytes p;
    for (float f : {1.5f, -0.25f}) {
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put_be(p, bits, 4);
    }
    write_file(dir.file("f"), idx(0x0D, {2}, p));
    Tensor t = datasets::read_idx(dir.file("f"));
    CHECK(t.dtype() == DType::float32);
    CHECK(t.to_vector<float>() == std::vector<float>{1.5f, -0.25f});
  }
  SECTION("0x0E double -> float64") {
    Bytes p;
    const double d = 3.141592653589793;
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put_be(p, bits, 8);
    write_file(dir.file("d"), idx(0x0E, {1}, p));
    Tensor t = datasets::read_idx(dir.file("d"));
    CHECK(t.dtype() == DType::float64);
    CHECK(t.to_vector<double>() == std::vector<double>{3.141592653589793});
  }
}

TEST_CASE("read_idx names the file and both byte counts when the data is truncated",
          "[datasets]") {
  TempDir dir;
  Bytes full = idx(0x08, {2, 3, 4}, counting_bytes(24, 1));
  SECTION("raw") {
    Bytes cut(full.begin(), full.end() - 14);  // 10 of the 24 data bytes remain
    write_file(dir.file("cut.idx"), cut);
    const std::string msg = error_of([&] { datasets::read_idx(dir.file("cut.idx")); });
    CHECK_THAT(msg, Catch::Contains(dir.file("cut.idx")));
    CHECK_THAT(msg, Catch::Contains("expected 24 bytes of data"));
    CHECK_THAT(msg, Catch::Contains("found 10"));
  }
  SECTION("gzip stream that ends early") {
    Bytes gz = gzip_stored(full);
    gz.resize(gz.size() - 8 - 14);  // drop the trailer and the last 14 data bytes
    write_file(dir.file("cut.gz"), gz);
    const std::string msg = error_of([&] { datasets::read_idx(dir.file("cut.gz")); });
    CHECK_THAT(msg, Catch::Contains(dir.file("cut.gz")));
    CHECK_THAT(msg, Catch::Contains("expected 24 bytes of data"));
    CHECK_THAT(msg, Catch::Contains("found 10"));
  }
  SECTION("header cut inside the dimensions") {
    write_file(dir.file("hdr.idx"), Bytes(full.begin(), full.begin() + 9));
    const std::string msg = error_of([&] { datasets::read_idx(dir.file("hdr.idx")); });
    CHECK_THAT(msg, Catch::Contains(dir.file("hdr.idx")));
    CHECK_THAT(msg, Catch::Contains("expected 12 bytes of dimensions"));
  }
}

TEST_CASE("read_idx rejects a bad magic number or a corrupt gzip stream, naming the file",
          "[datasets]") {
  TempDir dir;
  SECTION("not an IDX file") {
    write_file(dir.file("x.idx"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
    const std::string msg = error_of([&] { datasets::read_idx(dir.file("x.idx")); });
    CHECK_THAT(msg, Catch::Contains(dir.file("x.idx")));
    CHECK_THAT(msg, Catch::Contains("bad magic number (68 65 6C 6C)"));
  }
  SECTION("unknown type code") {
    write_file(dir.file("t.idx"), idx(0x07, {1}, {0}));
    const std::string msg = error_of([&] { datasets::read_idx(dir.file("t.idx")); });
    CHECK_THAT(msg, Catch::Contains("bad magic number (00 00 07 01)"));
  }
  SECTION("gzip with a damaged stored-block length") {
    Bytes gz = gzip_stored(idx(0x08, {4}, {1, 2, 3, 4}));
    gz[13] ^= 0xFF;  // NLEN no longer complements LEN
    write_file(dir.file("bad.gz"), gz);
    const std::string msg = error_of([&] { datasets::read_idx(dir.file("bad.gz")); });
    CHECK_THAT(msg, Catch::Contains(dir.file("bad.gz")));
    CHECK_THAT(msg, Catch::Contains("corrupt gzip data"));
  }
  SECTION("missing file") {
    const std::string msg = error_of([&] { datasets::read_idx(dir.file("nope.idx")); });
    CHECK_THAT(msg, Catch::Contains(dir.file("nope.idx")));
    CHECK_THAT(msg, Catch::Contains("no such file"));
  }
}

TEST_CASE("fashion_mnist::load_data reads the train and test splits from a directory",
          "[datasets]") {
  TempDir dir;
  write_split(dir, "train", 5, 5, 3);
  write_split(dir, "t10k", 2, 2, 5);
  auto [train, test] = datasets::fashion_mnist::load_data(dir.path.string());
  CHECK(train.x.shape() == Shape{5, 28, 28});
  CHECK(train.y.shape() == Shape{5});
  CHECK(test.x.shape() == Shape{2, 28, 28});
  CHECK(test.y.shape() == Shape{2});
  CHECK(train.x.dtype() == DType::uint8);
  CHECK(train.y.dtype() == DType::uint8);
  CHECK(train.x.to_vector<std::uint8_t>() == counting_bytes(5 * 784, 3));
  CHECK(test.x.to_vector<std::uint8_t>() == counting_bytes(2 * 784, 5));
  CHECK(train.y.to_vector<std::uint8_t>() == Bytes{0, 1, 2, 3, 4});

  SECTION("mnist::load_data reads the same layout") {
    auto [mtrain, mtest] = datasets::mnist::load_data(dir.path.string());
    CHECK(mtrain.x.shape() == Shape{5, 28, 28});
    CHECK(mtest.y.to_vector<std::uint8_t>() == Bytes{0, 1});
  }
  SECTION("the environment variable chooses the directory when no argument is given") {
    ScopedEnv env("LAMINA_FASHION_MNIST_DIR", dir.path.string());
    auto [etrain, etest] = datasets::fashion_mnist::load_data();
    CHECK(etrain.x.shape() == Shape{5, 28, 28});
    CHECK(etest.x.shape() == Shape{2, 28, 28});
  }
}

TEST_CASE("load_data rejects images and labels that disagree in count", "[datasets]") {
  TempDir dir;
  write_split(dir, "train", 5, 4, 3);
  write_split(dir, "t10k", 2, 2, 5);
  const std::string msg =
      error_of([&] { datasets::fashion_mnist::load_data(dir.path.string()); });
  CHECK_THAT(msg, Catch::Contains("5 images"));
  CHECK_THAT(msg, Catch::Contains("4 labels"));
  CHECK_THAT(msg, Catch::Contains("train-labels-idx1-ubyte.gz"));
}

TEST_CASE("load_data on a missing directory names the path and how to get the files",
          "[datasets]") {
  const std::string missing = "/nonexistent/lamina-datasets";
  const std::string fashion =
      error_of([&] { datasets::fashion_mnist::load_data(missing); });
  CHECK_THAT(fashion, Catch::Contains(missing + "/train-images-idx3-ubyte.gz"));
  CHECK_THAT(fashion, Catch::Contains("apt-get install dataset-fashion-mnist"));
  const std::string digits = error_of([&] { datasets::mnist::load_data(missing); });
  CHECK_THAT(digits, Catch::Contains(missing + "/train-images-idx3-ubyte.gz"));
  CHECK_THAT(digits, Catch::Contains("download"));
}

TEST_CASE("The real Debian Fashion-MNIST loads with Keras's shapes and balanced classes",
          "[datasets][real]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(dir)) {
    WARN("skipped: " << dir << " is absent (apt-get install dataset-fashion-mnist)");
    return;
  }
  auto [train, test] = datasets::fashion_mnist::load_data(dir);
  CHECK(train.x.shape() == Shape{60000, 28, 28});
  CHECK(train.y.shape() == Shape{60000});
  CHECK(test.x.shape() == Shape{10000, 28, 28});
  CHECK(test.y.shape() == Shape{10000});
  std::vector<int> counts(256, 0);
  for (auto label : train.y.to_vector<std::uint8_t>()) ++counts[label];
  for (int c = 0; c < 10; ++c) CHECK(counts[static_cast<std::size_t>(c)] == 6000);
  int test_out_of_range = 0;
  for (auto label : test.y.to_vector<std::uint8_t>()) test_out_of_range += label > 9;
  CHECK(test_out_of_range == 0);
}
