// SPDX-License-Identifier: Apache-2.0
// Untrusted files: truncated, byte-flipped, wrong magic, missing groups and absurd shapes give a
// lamina error naming the file — never a crash, a hang or a huge allocation. The [fuzz] case
// mutates real files systematically; run it under AddressSanitizer too (build-asan, see README).
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/models.hpp>

#include "io/h5_models.hpp"
#include "io/h5_test_files.hpp"
#include "io/hdf5.hpp"

using namespace lamina;
using lamina::testing::keras_file;
using lamina::testing::read_bytes;
using lamina::testing::ScratchDir;
using lamina::testing::write_bytes;
using Catch::Matchers::Contains;

namespace {

struct Outcome {
  int loaded = 0, refused = 0;
};

// Runs `load` on `bytes` written to `path`: it must succeed or throw a lamina::Error whose
// message names the file. Anything else fails the test.
template <class Load>
void try_load(const std::string& path, const std::vector<char>& bytes, Load load, Outcome& out,
              const std::string& what) {
  write_bytes(path, bytes);
  try {
    load(path);
    ++out.loaded;
  } catch (const Error& e) {
    ++out.refused;
    if (std::string(e.what()).find(path) == std::string::npos) FAIL(what << ": " << e.what());
  } catch (const std::exception& e) {
    FAIL(what << ": not a lamina error: " << e.what());
  }
}

template <class Load>
Outcome mutate(const std::string& source, const std::string& path, Load load) {
  const std::vector<char> original = read_bytes(source);
  REQUIRE(original.size() > 1000);
  Outcome out;
  const std::size_t n = original.size();
  // Truncations at ~60 offsets spread over the file, plus every 4th of the first 64 bytes.
  for (std::size_t cut = 0; cut < n; cut += (cut < 64 ? 4 : n / 60 + 1))
    try_load(path, std::vector<char>(original.begin(), original.begin() + static_cast<long>(cut)),
             load, out, "truncated at " + std::to_string(cut));
  // Byte flips: every 16th byte of the first 2 KB (superblock, root group, object headers), then
  // a stride over the rest; each loader run starts a probe, so the count is kept modest.
  for (std::size_t at = 0; at < n; at += (at < 2048 ? 16 : n / 80 + 1)) {
    for (unsigned char mask : {0xFFu}) {
      std::vector<char> bytes = original;
      bytes[at] = static_cast<char>(bytes[at] ^ mask);
      try_load(path, bytes, load, out, "byte " + std::to_string(at) + " ^ " + std::to_string(mask));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("Mutated .h5 files are loaded or refused with a FileFormatError, never a crash",
          "[h5io][fuzz]") {
  reset_layer_names();
  ScratchDir dir("fuzz");
  Model m = lamina::testing::small_mlp(3);
  m.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy"});
  m.fit(lamina::testing::features(8, 6, 1), lamina::testing::labels(8, 3),
        {.batch_size = 4, .verbose = 0});
  m.save(dir.file("lamina.h5"));
  m.save_weights(dir.file("lamina.weights.h5"));

  const auto load_model = [](const std::string& p) { models::load_model(p); };
  const auto load_weights = [&](const std::string& p) {
    Model target = lamina::testing::small_mlp(4);
    target.load_weights(p);
  };
  for (const auto& [source, target, load] :
       std::vector<std::tuple<std::string, std::string, std::function<void(const std::string&)>>>{
           {dir.file("lamina.h5"), dir.file("m.h5"), load_model},
           {keras_file("k2_dl4j_mlp_softmax.model.h5"), dir.file("k.h5"), load_model},
           {dir.file("lamina.weights.h5"), dir.file("w.weights.h5"), load_weights}}) {
    INFO(source);
    const Outcome out = mutate(source, target, load);
    CHECK(out.refused > 50);  // truncations cannot load
    CHECK(out.loaded + out.refused > 200);
  }
}

TEST_CASE("A wrong magic, a missing group and an absurd shape each give FileFormatError",
          "[h5io]") {
  reset_layer_names();
  ScratchDir dir("fuzz");
  Model m = lamina::testing::small_mlp(3);
  m.save(dir.file("m.h5"));
  std::vector<char> bytes = read_bytes(dir.file("m.h5"));
  bytes[1] = 'X';  // the signature is \x89HDF\r\n\x1a\n
  write_bytes(dir.file("magic.h5"), bytes);
  CHECK_THROWS_WITH(models::load_model(dir.file("magic.h5")),
                    Contains("magic.h5") && Contains("not an HDF5 file"));

  // A model_config without model_weights.
  {
    io::h5::File f = io::h5::File::create(dir.file("nogroup.h5"));
    io::h5::Group root = f.root();
    const nlohmann::json config = {{"class_name", "Sequential"}, {"config", m.get_config()}};
    root.write_string_attr("model_config", config.dump());
    f.close();
  }
  CHECK_THROWS_WITH(models::load_model(dir.file("nogroup.h5")),
                    Contains("nogroup.h5") && Contains("/model_weights") && Contains("missing group"));

  // A dataset header claiming (2^40, 8) elements: the first Dense kernel is (6, 8); its dims are
  // stored as two 8-byte little-endian lengths in the dataspace message. Refused before reading.
  m.save_weights(dir.file("w.weights.h5"));
  bytes = read_bytes(dir.file("w.weights.h5"));
  const char dims[16] = {6, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0};
  std::size_t patched = 0;
  for (std::size_t i = 0; i + 16 <= bytes.size(); ++i)
    if (std::memcmp(bytes.data() + i, dims, 16) == 0) {
      bytes[i + 5] = 1;  // 6 + 2^40
      ++patched;
    }
  REQUIRE(patched >= 1);
  write_bytes(dir.file("absurd.weights.h5"), bytes);
  Model target = lamina::testing::small_mlp(4);
  const auto before = target.get_weights();
  CHECK_THROWS_AS(target.load_weights(dir.file("absurd.weights.h5")), FileFormatError);
  CHECK_THROWS_WITH(target.load_weights(dir.file("absurd.weights.h5")),
                    Contains("absurd.weights.h5") && Contains("layers/dense/vars"));
  CHECK(lamina::testing::same_bits(target.get_weights(), before));
}
