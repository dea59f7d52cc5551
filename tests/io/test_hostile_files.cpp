// SPDX-License-Identifier: Apache-2.0
// Hostile input to the loaders (issue 19): nesting that would exhaust the stack, sizes whose
// arithmetic overflows or whose weights would not fit, HDF5 files that point outside themselves,
// and the temporaries of interrupted saves. Each must end in a lamina error naming the file (or,
// for model_from_json, the function), never a crash or an absurd allocation. [fuzz]: CI runs
// these under AddressSanitizer and UndefinedBehaviorSanitizer.
#include <catch2/catch.hpp>

#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/layers/core.hpp>
#include <lamina/models.hpp>

#include "io/h5_test_files.hpp"
#include "io/hdf5.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;
using lamina::testing::ScratchDir;

namespace {

std::string brackets(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A Sequential's JSON, Input(4) -> `layer`, as to_json writes it (Keras 3).
json sequential_with(const json& layer) {
  const json input = {{"class_name", "InputLayer"},
                      {"config", {{"batch_shape", {nullptr, 4}}, {"dtype", "float32"}, {"name", "in"}}}};
  return {{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", {input, layer}}}}};
}

json layer(const std::string& cls, json config) {
  config["name"] = "hostile";
  return {{"class_name", cls}, {"config", config}};
}

// `what` must fail with a lamina Error whose message holds every one of `words`.
template <class F>
void refused_with(F&& what, const std::vector<std::string>& words) {
  try {
    what();
    FAIL("accepted; expected an error naming " << words.front());
  } catch (const Error& e) {
    for (const auto& w : words) CHECK_THAT(e.what(), Contains(w));
  }
}

// An .h5 file holding only a model_config attribute.
void write_model_config(const std::string& path, const std::string& text) {
  io::h5::File f = io::h5::File::create(path);
  {
    io::h5::Group root = f.root();
    root.write_string_attr("keras_version", "2.15.0");
    root.write_string_attr("model_config", text);
    root.create_group("model_weights").write_string_list_attr("layer_names", {});
  }
  f.close();
}

}  // namespace

TEST_CASE("JSON nested past 512 levels is refused by model_from_json, .h5 and from_config", "[io][fuzz]") {
  SECTION("model_from_json: bare brackets and inside a layer config") {
    refused_with([] { models::model_from_json(brackets(100'000)); }, {"model_from_json", "512"});
    std::string text = sequential_with(layer("Dense", {{"units", 2}})).dump();
    text.insert(text.rfind('}'), ", \"extra\": " + brackets(100'000));
    refused_with([&] { models::model_from_json(text); }, {"model_from_json", "deeper than 512"});
  }
  SECTION("512 levels still parse") {
    refused_with([] { models::model_from_json(brackets(512)); }, {"expected a model's JSON"});
  }
  SECTION("brackets inside strings do not count") {
    json j = sequential_with(layer("Dense", {{"units", 2}}));
    j["config"]["layers"][1]["config"]["name"] = std::string(100'000, '[');
    CHECK(models::model_from_json(j.dump()).layers().size() == 1);
  }
  SECTION("a .h5 model_config") {
    ScratchDir dir("deep_json");
    const std::string path = dir.file("deep.h5");
    write_model_config(path, "{\"class_name\": \"Sequential\", \"config\": " + brackets(100'000) + "}");
    refused_with([&] { models::load_model(path); }, {path, "deeper than 512"});
  }
  SECTION("a program's own json value") {
    json j = json::array();
    for (int i = 0; i < 1000; ++i) j = json::array({j});
    refused_with([&] { Model::from_config(j); }, {"512"});
  }
}

TEST_CASE("Models and wrappers nested past 64 levels are refused before the stack runs out", "[io][fuzz]") {
  SECTION("Sequential in Sequential") {
    json model = sequential_with(layer("Dense", {{"units", 2}}));
    for (int i = 0; i < 100; ++i) model = sequential_with(model);
    refused_with([&] { models::model_from_json(model.dump()); }, {"nest deeper than 64"});
  }
  SECTION("TimeDistributed in TimeDistributed") {
    json inner = layer("Dense", {{"units", 2}});
    for (int i = 0; i < 150; ++i) inner = layer("TimeDistributed", {{"layer", inner}});
    refused_with([&] { models::model_from_json(sequential_with(inner).dump()); }, {"nest deeper than 64"});
  }
}

TEST_CASE("Absurd sizes in configs are refused naming the layer and the value", "[io][fuzz]") {
  const std::int64_t big = std::int64_t{1} << 60;
  const std::vector<std::pair<json, std::string>> cases = {
      {layer("Dense", {{"units", big}}), "units"},
      {layer("RepeatVector", {{"n", std::int64_t{1} << 61}}), "n"},
      {layer("Embedding", {{"input_dim", std::int64_t{1} << 62}, {"output_dim", 4}}), "input_dim"},
      {layer("Reshape", {{"target_shape", {std::int64_t{1} << 40, std::int64_t{1} << 40}}}), "Reshape"},
      {layer("Conv1D", {{"filters", 2}, {"kernel_size", {std::int64_t{1} << 31}}}), "kernel_size"},
      {layer("Conv1D", {{"filters", 2}, {"kernel_size", {1}}, {"dilation_rate", {big}}}), "dilation_rate"},
      {layer("Conv1D", {{"filters", 2}, {"kernel_size", {1}}, {"strides", {big}}}), "strides"},
      {layer("UpSampling1D", {{"size", big}}), "size"},
      {layer("ZeroPadding1D", {{"padding", {big, big}}}), "padding"},
      {layer("MaxPooling1D", {{"pool_size", {big}}}), "pool_size"},
      {layer("LSTM", {{"units", big}}), "units"},
      // 0 is the constructors' "same as pool_size"; a file that writes it gets Keras's refusal.
      {layer("MaxPooling1D", {{"pool_size", {2}}, {"strides", {0}}}), "strides"},
      {layer("AveragePooling1D", {{"pool_size", {2}}, {"strides", 0}}), "strides"},
  };
  for (const auto& c : cases) {
    // Named references, not a structured binding: clang before 16 cannot capture those in a lambda.
    const auto& config = c.first;
    INFO(config.dump());
    refused_with([&] { models::model_from_json(sequential_with(config).dump()); }, {"hostile", c.second});
  }
  SECTION("a weight larger than memory is refused before it is allocated") {
    refused_with(
        [] {
          // (2^20, 2^20) float32: 4 TiB.
          Sequential m({layers::Input({std::int64_t{1} << 20}), layers::Dense(std::int64_t{1} << 20)});
        },
        {"kernel", "memory"});
  }
  SECTION("shape products that overflow int64") {
    const std::int64_t d = (std::int64_t{1} << 31) - 1;
    refused_with([&] { Sequential m({layers::Input({d, d, d}), layers::Flatten()}); }, {"64-bit sizes"});
    refused_with([&] { Sequential m({layers::Input({d + 1})}); }, {"Input", "at most"});
  }
}

TEST_CASE("Integers in configs that are floats or past their type's range are refused naming the key and value",
          "[io][fuzz]") {
  // nlohmann's get<int>() would cast these: undefined behaviour for 3e30, a different number for 2^40
  // read as an int. json_int (src/common/json_int.hpp) refuses them.
  const std::vector<std::pair<json, std::vector<std::string>>> cases = {
      {layer("Dense", {{"units", 3e30}}), {"Dense", "units", "3e+30"}},
      {layer("Dense", {{"units", 2.5}}), {"Dense", "units", "2.5"}},
      {layer("Dense", {{"units", -1e300}}), {"Dense", "units"}},
      {layer("Concatenate", {{"axis", std::int64_t{1} << 40}}), {"Concatenate", "axis", "1099511627776"}},
      {layer("RepeatVector", {{"n", 9.3e18}}), {"RepeatVector", "n"}},
      {layer("Conv1D", {{"filters", 1e20}, {"kernel_size", {1}}}), {"Conv1D", "filters"}},
      {layer("Conv1D", {{"filters", 2}, {"kernel_size", {4e19}}}), {"Conv1D", "4e+19"}},
      {layer("GroupNormalization", {{"groups", 4294967298.0}}), {"GroupNormalization", "groups"}},
      {layer("Dropout", {{"rate", 0.5}, {"seed", 1e19}}), {"Dropout", "seed"}},
  };
  for (const auto& c : cases) {
    const auto& config = c.first;
    INFO(config.dump());
    refused_with([&] { models::model_from_json(sequential_with(config).dump()); }, c.second);
  }
  SECTION("an integral float within range is read as Keras files sometimes write it") {
    Model m = models::model_from_json(sequential_with(layer("Dense", {{"units", 3.0}})).dump());
    CHECK(m.output_shape() == Shape{-1, 3});
  }
}

TEST_CASE("A small file declaring a huge architecture is refused before its weights are allocated",
          "[io][fuzz]") {
  ScratchDir dir("huge_arch");
  const std::string path = dir.file("huge.h5");
  json model = sequential_with(layer("Dense", {{"units", 1'000'000}}));
  model["config"]["layers"][0]["config"]["batch_shape"] = {nullptr, 784};
  write_model_config(path, model.dump());
  // 784 x 10^6 float32 is 3.1 GB; the file is a few KB, so the limit is its 64 MiB floor.
  refused_with([&] { models::load_model(path); }, {path, "more weights than the file can hold"});
}

namespace {

// A weights file of Input(3) -> Dense(2, name "d") whose kernel dataset (/d/d/kernel:0) `craft`
// replaces; `other` is a second HDF5 file with a (3, 2) float dataset "/kernel".
template <class Craft>
std::string crafted_weights(const ScratchDir& dir, Craft&& craft) {
  Sequential model({layers::Input({3}), layers::Dense(2, {.name = "d"})});
  const std::string path = dir.file("crafted.weights.h5"), other = dir.file("other.h5");
  model.save_weights(dir.file("legacy.h5"));
  std::filesystem::copy_file(dir.file("legacy.h5"), path, std::filesystem::copy_options::overwrite_existing);
  const hsize_t dims[2] = {3, 2};
  const float values[6] = {1, 2, 3, 4, 5, 6};
  {
    const hid_t f = H5Fcreate(other.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t ds = H5Dcreate2(f, "/kernel", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5Dclose(ds);
    H5Sclose(space);
    H5Fclose(f);
  }
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  REQUIRE(H5Ldelete(f, "/d/d/kernel:0", H5P_DEFAULT) >= 0);
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  craft(f, space, other);
  H5Sclose(space);
  REQUIRE(H5Fclose(f) >= 0);
  return path;
}

// Dataset creation properties for one (3, 2) chunk, the filters added by the caller.
hid_t one_chunk() {
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  const hsize_t chunk[2] = {3, 2};
  H5Pset_chunk(dcpl, 2, chunk);
  return dcpl;
}

hid_t plain_dataset(hid_t f, const char* name, hid_t space, hid_t dcpl) {
  const hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  return ds;
}

void check_refused(const std::string& path, const std::string& feature) {
  Sequential model({layers::Input({3}), layers::Dense(2, {.name = "d"})});
  refused_with([&] { model.load_weights(path); }, {path, feature});
}

}  // namespace

TEST_CASE("HDF5 files whose weights live outside the file are refused naming the object and the feature",
          "[io][fuzz]") {
  ScratchDir dir("outside");
  SECTION("external storage") {
    const std::string secret = dir.file("secret.bin");
    lamina::testing::write_bytes(secret, std::vector<char>(24, '\x7f'));
    const std::string path = crafted_weights(dir, [&](hid_t f, hid_t space, const std::string&) {
      const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      REQUIRE(H5Pset_external(dcpl, secret.c_str(), 0, 24) >= 0);
      H5Dclose(plain_dataset(f, "/d/d/kernel:0", space, dcpl));
      H5Pclose(dcpl);
    });
    check_refused(path, "external storage");
  }
  SECTION("an external link") {
    const std::string path = crafted_weights(dir, [](hid_t f, hid_t, const std::string& other) {
      REQUIRE(H5Lcreate_external(other.c_str(), "/kernel", f, "/d/d/kernel:0", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    });
    check_refused(path, "external link");
  }
  SECTION("a soft link") {
    const std::string path = crafted_weights(dir, [](hid_t f, hid_t space, const std::string&) {
      H5Dclose(plain_dataset(f, "/elsewhere", space, H5P_DEFAULT));
      REQUIRE(H5Lcreate_soft("/elsewhere", f, "/d/d/kernel:0", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    });
    check_refused(path, "soft link");
  }
  SECTION("a virtual dataset") {
    const std::string path = crafted_weights(dir, [](hid_t f, hid_t space, const std::string& other) {
      const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      REQUIRE(H5Pset_virtual(dcpl, space, other.c_str(), "/kernel", space) >= 0);
      H5Dclose(plain_dataset(f, "/d/d/kernel:0", space, dcpl));
      H5Pclose(dcpl);
    });
    check_refused(path, "virtual dataset");
  }
  SECTION("a filter lamina does not read (scale-offset)") {
    const std::string path = crafted_weights(dir, [](hid_t f, hid_t space, const std::string&) {
      const hid_t dcpl = one_chunk();
      REQUIRE(H5Pset_scaleoffset(dcpl, H5Z_SO_FLOAT_DSCALE, 2) >= 0);
      H5Dclose(plain_dataset(f, "/d/d/kernel:0", space, dcpl));
      H5Pclose(dcpl);
    });
    check_refused(path, "filter 6");
  }
  SECTION("deflate, shuffle and fletcher32 still load") {
    const std::string path = crafted_weights(dir, [](hid_t f, hid_t space, const std::string&) {
      const hid_t dcpl = one_chunk();
      H5Pset_shuffle(dcpl);
      H5Pset_deflate(dcpl, 4);
      H5Pset_fletcher32(dcpl);
      const hid_t ds = plain_dataset(f, "/d/d/kernel:0", space, dcpl);
      const float values[6] = {1, 2, 3, 4, 5, 6};
      H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
      H5Dclose(ds);
      H5Pclose(dcpl);
    });
    Sequential model({layers::Input({3}), layers::Dense(2, {.name = "d"})});
    model.load_weights(path);
    CHECK(model.layers()[0]->weights()[0].to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  }
}

namespace {

// The pid of a process that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

}  // namespace

TEST_CASE("A save removes the temporaries that killed saves of the same path left, not a live writer's",
          "[io]") {
  ScratchDir dir("stale_tmp");
  const std::string dead = std::to_string(dead_pid()), live = std::to_string(::getpid());
  for (const char* target : {"m.h5", "m.keras"}) {
    INFO(target);
    const std::vector<std::string> stale = {"." + std::string(target) + ".tmp-" + dead + "-aB3dE9",
                                            "." + std::string(target) + ".tmp-" + dead + "-aB3dE9.weights.h5",
                                            "." + std::string(target) + ".tmp-" + dead + "-aB3dE9.x1Y2z3"};
    const std::vector<std::string> kept = {"." + std::string(target) + ".tmp-" + live + "-Qw3rTy",
                                           ".other.h5.tmp-" + dead + "-aB3dE9", "." + std::string(target) + ".tmp-abc"};
    for (const auto& name : stale) lamina::testing::write_bytes(dir.file(name), {'x'});
    for (const auto& name : kept) lamina::testing::write_bytes(dir.file(name), {'x'});
    Sequential model({layers::Input({3}), layers::Dense(2)});
    model.save(dir.file(target));
    for (const auto& name : stale) CHECK_FALSE(std::filesystem::exists(dir.file(name)));
    for (const auto& name : kept) CHECK(std::filesystem::exists(dir.file(name)));
  }
  SECTION("load_model clears them too") {
    Sequential model({layers::Input({3}), layers::Dense(2)});
    model.save(dir.file("n.h5"));
    const std::string name = ".n.h5.tmp-" + dead + "-zzzzzz";
    lamina::testing::write_bytes(dir.file(name), {'x'});
    models::load_model(dir.file("n.h5"));
    CHECK_FALSE(std::filesystem::exists(dir.file(name)));
  }
}
