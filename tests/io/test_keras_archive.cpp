// SPDX-License-Identifier: Apache-2.0
// .keras archives (src/io/keras_archive.cpp): what lamina writes (entries, layout, round trips
// with the compiled state) and how it refuses hostile or broken archives. The archives under
// test are built and read here with a small zip codec of the test's own, written from the zip
// specification (APPNOTE.TXT), so the checks do not depend on libzip.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/callbacks.hpp>
#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/optimizers.hpp>

#include "io/keras_archive.hpp"
#include "io/h5_test_files.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;
using lamina::testing::check_same;
using lamina::testing::ScratchDir;
using lamina::testing::seq;

namespace {

namespace fs = std::filesystem;

std::uint32_t crc32(const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put16(std::string& s, std::uint32_t v) {
  s += char(v & 0xFF);
  s += char((v >> 8) & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}
std::uint32_t get16(const std::string& s, std::size_t at) {
  return std::uint8_t(s[at]) | (std::uint32_t(std::uint8_t(s[at + 1])) << 8);
}
std::uint32_t get32(const std::string& s, std::size_t at) { return get16(s, at) | (get16(s, at + 2) << 16); }

// One entry to write. `data` is what is stored; `method` 0 (stored) or 8 (deflate, data already
// deflated); `size` is the declared uncompressed size (defaults to data.size()), `crc` its CRC.
struct Entry {
  std::string name;
  std::string data;
  std::uint16_t method = 0;
  std::int64_t size = -1;
  std::int64_t crc = -1;
};

std::string make_zip(const std::vector<Entry>& entries) {
  std::string out, central;
  for (const Entry& e : entries) {
    const std::uint32_t size = e.size < 0 ? std::uint32_t(e.data.size()) : std::uint32_t(e.size);
    const std::uint32_t crc = e.crc < 0 ? crc32(e.data) : std::uint32_t(e.crc);
    const std::uint32_t offset = std::uint32_t(out.size());
    put32(out, 0x04034b50);
    put16(out, 20), put16(out, 0), put16(out, e.method), put16(out, 0), put16(out, 0x21);
    put32(out, crc), put32(out, std::uint32_t(e.data.size())), put32(out, size);
    put16(out, std::uint32_t(e.name.size())), put16(out, 0);
    out += e.name + e.data;
    put32(central, 0x02014b50);
    put16(central, 20), put16(central, 20), put16(central, 0), put16(central, e.method);
    put16(central, 0), put16(central, 0x21);
    put32(central, crc), put32(central, std::uint32_t(e.data.size())), put32(central, size);
    put16(central, std::uint32_t(e.name.size())), put16(central, 0), put16(central, 0);
    put16(central, 0), put16(central, 0), put32(central, 0), put32(central, offset);
    central += e.name;
  }
  const std::uint32_t central_at = std::uint32_t(out.size());
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0), put16(out, 0), put16(out, std::uint32_t(entries.size())), put16(out, std::uint32_t(entries.size()));
  put32(out, std::uint32_t(central.size())), put32(out, central_at), put16(out, 0);
  return out;
}

// What the central directory says about each entry.
struct Listed {
  std::string name;
  std::uint16_t method;
  std::uint32_t compressed, size;
};

std::vector<Listed> list_zip(const std::string& zip) {
  const std::size_t end = zip.rfind(std::string("PK\x05\x06", 4));
  REQUIRE(end != std::string::npos);
  const std::uint32_t count = get16(zip, end + 10);
  std::size_t at = get32(zip, end + 16);
  std::vector<Listed> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    REQUIRE(get32(zip, at) == 0x02014b50u);
    const std::uint32_t name_len = get16(zip, at + 28), extra = get16(zip, at + 30), comment = get16(zip, at + 32);
    out.push_back({zip.substr(at + 46, name_len), std::uint16_t(get16(zip, at + 10)), get32(zip, at + 20),
                   get32(zip, at + 24)});
    at += 46 + name_len + extra + comment;
  }
  return out;
}

// The stored (uncompressed) content of entry `name`.
std::string stored_entry(const std::string& zip, const std::string& name) {
  const std::size_t end = zip.rfind(std::string("PK\x05\x06", 4));
  std::size_t at = get32(zip, end + 16);
  for (std::uint32_t i = 0; i < get16(zip, end + 10); ++i) {
    const std::uint32_t name_len = get16(zip, at + 28), extra = get16(zip, at + 30), comment = get16(zip, at + 32);
    if (zip.substr(at + 46, name_len) == name) {
      const std::size_t local = get32(zip, at + 42);
      REQUIRE(get16(zip, at + 10) == 0u);
      const std::size_t data = local + 30 + get16(zip, local + 26) + get16(zip, local + 28);
      return zip.substr(data, get32(zip, at + 20));
    }
    at += 46 + name_len + extra + comment;
  }
  FAIL("no entry " << name);
  return {};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

Model small_model() {
  set_seed(3);
  auto in = layers::Input({5}, {.name = "features"});
  auto h = layers::Dense(7, {.activation = "relu", .name = "hidden"})(in);
  auto d = layers::Dropout(0.2, "drop")(h);
  return Model(in, layers::Dense(3, {.activation = "softmax", .name = "probs"})(d), "small");
}

// small_model() saved as `name` in `scratch`: the archive's bytes.
std::string saved_small_model(const ScratchDir& scratch, const std::string& name) {
  io::save_keras_archive(small_model(), scratch.file(name));
  return read_file(scratch.file(name));
}

// A well-formed archive around `config` (weights from a real lamina save, for the entry to exist).
std::string archive_with(const std::string& config_text, const std::string& weights) {
  return make_zip({{"metadata.json", R"({"keras_version": "3.11.3", "date_saved": "2026-01-01@00:00:00"})"},
                   {"config.json", config_text},
                   {"model.weights.h5", weights}});
}

}  // namespace

TEST_CASE("A saved .keras archive holds metadata.json and config.json and model.weights.h5 stored as Keras writes them",
          "[config]") {
  ScratchDir scratch("keras_archive_layout");
  const std::string zip = saved_small_model(scratch, "small.keras");
  const std::vector<Listed> entries = list_zip(zip);
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "metadata.json");
  CHECK(entries[1].name == "config.json");
  CHECK(entries[2].name == "model.weights.h5");
  for (const Listed& e : entries) {
    CHECK(e.method == 0);  // stored
    CHECK(e.compressed == e.size);
  }
  const json metadata = json::parse(stored_entry(zip, "metadata.json"));
  CHECK(metadata["keras_version"].get<std::string>().rfind("3.", 0) == 0);
  // "2026-01-01@12:34:56"
  const std::string date = metadata["date_saved"].get<std::string>();
  REQUIRE(date.size() == 19);
  CHECK(date[10] == '@');
  CHECK(json::parse(stored_entry(zip, "config.json")) == json::parse(small_model().to_json()));
  CHECK(stored_entry(zip, "model.weights.h5").rfind("\x89HDF\r\n\x1a\n", 0) == 0);
  // No scratch file is left next to the target.
  CHECK(std::distance(fs::directory_iterator(scratch.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("A .keras round trip restores the architecture - the weights and the compiled state exactly", "[config]") {
  ScratchDir scratch("keras_archive_roundtrip");
  Model model = small_model();
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  Tensor x = seq({16, 5}, 1.0, float32);
  Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0}, {16});
  model.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false});
  const std::string path = scratch.file("trained.keras");
  io::save_keras_archive(model, path);
  const Tensor saved_predictions = model.predict(x);

  const json config = json::parse(stored_entry(read_file(path), "config.json"));
  REQUIRE(config.contains("compile_config"));
  CHECK(config["compile_config"]["loss"] == "sparse_categorical_crossentropy");
  CHECK(config["compile_config"]["metrics"] == json::parse(R"(["accuracy"])"));
  CHECK(config["compile_config"]["optimizer"]["class_name"] == "Adam");
  CHECK(config["compile_config"]["optimizer"]["config"]["learning_rate"] == Approx(0.01));

  Model loaded = io::load_keras_archive(path, /*compile=*/true);
  CHECK(loaded.to_json() == model.to_json());
  check_same(loaded.predict(x), model.predict(x), 0);
  REQUIRE(loaded.optimizer());
  CHECK(loaded.optimizer()->iterations() == model.optimizer()->iterations());
  // Training on from the loaded state (optimizer slots included) is the same as training on
  // from the original, given the same dropout draws.
  set_seed(11);
  model.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .shuffle = false});
  set_seed(11);
  loaded.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .shuffle = false});
  check_same(loaded.predict(x), model.predict(x), 0);

  Model plain = io::load_keras_archive(path, /*compile=*/false);
  CHECK_FALSE(plain.optimizer());
  check_same(plain.predict(x), saved_predictions, 0);
}

TEST_CASE("Saving over an existing .keras file replaces it whole and a failed save leaves it intact", "[config]") {
  ScratchDir scratch("keras_archive_overwrite");
  const std::string path = scratch.file("model.keras");
  Model first = small_model();
  io::save_keras_archive(first, path);
  Model second = small_model();
  io::save_keras_archive(second, path);
  Tensor x = seq({3, 5}, 1.0, float32);
  check_same(io::load_keras_archive(path, false).predict(x), second.predict(x), 0);
  // A save that fails (here: an empty Model handle) leaves the previous archive as it was.
  const std::string before = read_file(path);
  CHECK_THROWS(io::save_keras_archive(Model(), path));
  CHECK(read_file(path) == before);
  CHECK(std::distance(fs::directory_iterator(scratch.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("Hostile or broken .keras archives are refused with a FileFormatError naming the file and the problem",
          "[config]") {
  ScratchDir scratch("keras_archive_hostile");
  const std::string good = saved_small_model(scratch, "good.keras");
  const std::string config = stored_entry(good, "config.json");
  const std::string weights = stored_entry(good, "model.weights.h5");
  const std::string meta = stored_entry(good, "metadata.json");

  auto refused = [&](const std::string& tag, const std::string& bytes, const std::string& problem) {
    const std::string path = scratch.file(tag + ".keras");
    write_file(path, bytes);
    INFO(tag);
    CHECK_THROWS_AS(io::load_keras_archive(path, true), FileFormatError);
    CHECK_THROWS_WITH(io::load_keras_archive(path, true), Contains(path) && Contains(problem));
  };
  refused("dotdot", make_zip({{"metadata.json", meta}, {"config.json", config}, {"model.weights.h5", weights},
                              {"assets/../../evil.txt", "x"}}),
          "unsafe path");
  refused("absolute", make_zip({{"/etc/evil", "x"}, {"config.json", config}, {"model.weights.h5", weights}}),
          "unsafe path");
  refused("no_config", make_zip({{"metadata.json", meta}, {"model.weights.h5", weights}}), "no 'config.json'");
  refused("no_weights", make_zip({{"metadata.json", meta}, {"config.json", config}}), "no 'model.weights.h5'");
  refused("npz", make_zip({{"config.json", config}, {"model.weights.npz", "PK"}}), "model.weights.npz");
  refused("duplicate", make_zip({{"config.json", config}, {"config.json", config}, {"model.weights.h5", weights}}),
          "share a name");
  refused("bad_json", archive_with("{\"class_name\": ", weights), "not a JSON object");
  refused("lambda", archive_with(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "i"}},
      {"class_name": "Lambda", "config": {"name": "fn"}}]}})", weights), "Lambda layer 'fn'");
  refused("custom", archive_with(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 2], "name": "i"}},
      {"module": null, "class_name": "MyBlock", "registered_name": "Custom>MyBlock", "config": {"name": "blk"}}]}})",
                                 weights),
          "unknown layer class 'MyBlock'");
  // Zip bombs: declared sizes over the limits, an impossible compression ratio, and data that
  // inflates past its declared size (a stored deflate block holding 4000 bytes, declared 10).
  refused("huge_total", make_zip({{"config.json", config}, {"model.weights.h5", "x", 8, 0xFFFFFFF0}, {"a", "y", 8, 0xFFFFFFF0}}),
          "zip bomb");
  refused("huge_config", make_zip({{"config.json", "x", 8, 100u << 20}, {"model.weights.h5", weights}}), "zip bomb");
  std::string block(1, '\x01');
  put16(block, 4000), put16(block, 0xFFFF ^ 4000);
  block += std::string(4000, '{');
  refused("lying_size", make_zip({{"config.json", block, 8, 10}, {"model.weights.h5", weights}}), "config.json");
  refused("bad_crc", make_zip({{"config.json", config, 0, -1, 12345}, {"model.weights.h5", weights}}), "config.json");
  refused("not_zip", "this is not a zip file at all", "not a readable .keras");
  refused("empty", "", "not a readable .keras");
  CHECK_THROWS_WITH(io::load_keras_archive(scratch.file("missing.keras"), true), Contains("missing.keras") && Contains("no such file"));

  // Truncation anywhere gives a clean error (or, cut inside trailing padding, still loads).
  int refusals = 0;
  for (std::size_t cut = 0; cut < good.size(); cut += std::max<std::size_t>(1, good.size() / 97)) {
    const std::string path = scratch.file("cut.keras");
    write_file(path, good.substr(0, cut));
    try {
      io::load_keras_archive(path, true);
    } catch (const FileFormatError& e) {
      ++refusals;
      CHECK_THAT(e.what(), Contains(path));
    }
  }
  CHECK(refusals >= 97);
  // Flipped bytes in the stored entries are caught by the CRC or the parsers.
  for (std::size_t at : {good.find("config.json") + 40, good.size() / 2, good.find("HDF") + 100}) {
    std::string flipped = good;
    flipped[at] = char(flipped[at] ^ 0x5A);
    const std::string path = scratch.file("flipped.keras");
    write_file(path, flipped);
    INFO("flipped byte " << at);
    CHECK_THROWS_AS(io::load_keras_archive(path, true), FileFormatError);
  }
}

TEST_CASE(".keras archives with deep JSON or weights that point outside the archive are refused",
          "[config][fuzz]") {
  ScratchDir scratch("keras_archive_outside");
  const std::string good = saved_small_model(scratch, "good.keras");
  const std::string weights = stored_entry(good, "model.weights.h5");
  const std::string deep = scratch.file("deep.keras");
  write_file(deep, archive_with(std::string(100'000, '[') + std::string(100'000, ']'), weights));
  CHECK_THROWS_WITH(io::load_keras_archive(deep, true),
                    Contains(deep) && Contains("config.json") && Contains("deeper than 512"));

  // The first Dense kernel becomes an external link to a file beside the archive.
  const std::string h5 = scratch.file("weights.h5"), other = scratch.file("other.h5");
  write_file(h5, weights);
  write_file(other, weights);
  const hid_t f = H5Fopen(h5.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  REQUIRE(H5Ldelete(f, "/layers/dense/vars/0", H5P_DEFAULT) >= 0);
  REQUIRE(H5Lcreate_external(other.c_str(), "/layers/dense/vars/0", f, "/layers/dense/vars/0", H5P_DEFAULT,
                             H5P_DEFAULT) >= 0);
  REQUIRE(H5Fclose(f) >= 0);
  const std::string linked = scratch.file("linked.keras");
  write_file(linked, archive_with(stored_entry(good, "config.json"), read_file(h5)));
  CHECK_THROWS_WITH(io::load_keras_archive(linked, true),
                    Contains(linked) && Contains("model.weights.h5") && Contains("external link"));
}
