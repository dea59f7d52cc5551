// SPDX-License-Identifier: Apache-2.0
// examples/load_keras_model as a tool, run as a user runs it (the binary built next to this test
// program) on the real Keras files: a whole file and a JSON architecture plus weights predict
// the same, what Keras (or PyTorch over the same weights) computed; predictions print so that
// they read back bit for bit; several outputs get numbered files; bad usage exits 2, bad files 1.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/models.hpp>
#include <lamina/npy.hpp>

#include "io/h5_test_files.hpp"
#include "io/hdf5.hpp"
#include "support/capture.hpp"

using namespace lamina;
using lamina::testing::keras_file;
using lamina::testing::ScratchDir;
using Catch::Matchers::Contains;

namespace {

std::string tool() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "load_keras_model").string();
}

struct Run {
  int status = -1;
  std::string out, err;
};

Run run_tool(const ScratchDir& dir, const std::string& args) {
  const std::string err_file = dir.file("stderr.txt");
  const std::string cmd = "'" + tool() + "' " + args + " 2> '" + err_file + "'";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  Run run;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) run.out.append(buffer, n);
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  run.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return run;
}

// The values printed under "output <index> ...", parsed back as float32.
std::vector<float> printed_output(const std::string& out, int index) {
  std::vector<float> values;
  bool inside = false;
  for (const std::string& line : lamina::testing::lines_of(out)) {
    if (line.rfind("output ", 0) == 0) {
      inside = line.rfind("output " + std::to_string(index) + " ", 0) == 0;
      continue;
    }
    if (!inside) continue;
    const char* p = line.c_str();
    for (char* end; *p; p = end) {
      values.push_back(std::strtof(p, &end));
      if (end == p) break;
    }
  }
  return values;
}

double max_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.astype(float64).to_vector<double>(), y = b.astype(float64).to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

// CMake builds the tool with lamina_tests (and leaves this file out without the examples).
bool tool_built() {
  INFO("not built: " << tool());
  REQUIRE(std::filesystem::exists(tool()));
  return true;
}

}  // namespace

TEST_CASE("load_keras_model predicts the same from a whole .h5 and from JSON plus weights, bit for bit in print",
          "[examples][h5io]") {
  if (!tool_built()) return;
  ScratchDir dir("tool");
  const io::h5::File io_file = io::h5::File::open(keras_file("k2_dl4j_mlp_softmax.io.h5"));
  const auto read = [&](const std::string& name) {
    return io_file.root().read_dataset(name, io_file.root().dataset_info(name).shape, float32);
  };
  const Tensor x = read("inputs/dense_1_input");
  io::save_npy(dir.file("x.npy"), x.astype(float64));  // the tool feeds it as float32, the Input's dtype
  const Tensor keras = read("predictions/activation_1");
  std::ofstream(dir.file("mlp.json")) << models::load_model(keras_file("k2_dl4j_mlp_softmax.model.h5")).to_json();

  const Run whole = run_tool(dir, "'" + keras_file("k2_dl4j_mlp_softmax.model.h5") + "' '" + dir.file("x.npy") +
                                      "' --output '" + dir.file("whole.npy") + "'");
  INFO(whole.err);
  REQUIRE(whole.status == 0);
  const Run split = run_tool(dir, "'" + dir.file("mlp.json") + "' --weights '" +
                                      keras_file("k2_dl4j_mlp_softmax.weights.h5") + "' '" + dir.file("x.npy") +
                                      "' --output '" + dir.file("split.npy") + "'");
  INFO(split.err);
  REQUIRE(split.status == 0);

  const Tensor a = io::load_npy(dir.file("whole.npy")), b = io::load_npy(dir.file("split.npy"));
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(max_difference(a, keras) < 1e-5);
  CHECK(printed_output(whole.out, 0) == a.to_vector<float>());
  CHECK_THAT(whole.out, Contains("Total params") && Contains("input " + x.shape().str() + " float32"));
}

TEST_CASE("load_keras_model runs Keras 2's JSON toy ResNet with its weights-only file", "[examples][h5io]") {
  if (!tool_built()) return;
  ScratchDir dir("tool");
  std::ifstream in(LAMINA_TEST_FIXTURES "/keras_h5.json");
  const auto c = nlohmann::json::parse(in)["k2_kotlindl_toyresnet"];
  std::vector<float> x, want;
  for (const auto& row : c["input"])
    for (float v : row) x.push_back(v);
  for (const auto& row : c["outputs"][0])
    for (float v : row) want.push_back(v);
  io::save_npy(dir.file("x.npy"), Tensor::from_vector(x, {2, 28, 28, 1}));
  const Run run = run_tool(dir, "'" + keras_file("k2_kotlindl_toyresnet.config.json") + "' '" + dir.file("x.npy") +
                                    "' --weights '" + keras_file("k2_kotlindl_toyresnet.weights.h5") +
                                    "' --output '" + dir.file("y.npy") + "'");
  INFO(run.err);
  REQUIRE(run.status == 0);
  CHECK(max_difference(io::load_npy(dir.file("y.npy")), Tensor::from_vector(want, {2, 10})) < 1e-5);
}

TEST_CASE("load_keras_model writes one numbered .npy per output of a multi-output model", "[examples][h5io]") {
  if (!tool_built()) return;
  ScratchDir dir("tool");
  const Run run = run_tool(dir, "'" + keras_file("k3_functional_multi_output.h5") + "' --output '" +
                                    dir.file("out.npy") + "'");
  INFO(run.err);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.out, Contains("input (1, 164) float32") && Contains("output 2 'diagnosis_output'"));
  CHECK(io::load_npy(dir.file("out_0.npy")).shape() == Shape{1, 5});
  CHECK(io::load_npy(dir.file("out_1.npy")).shape() == Shape{1, 3});
  CHECK(std::filesystem::exists(dir.file("out_2.npy")));
  CHECK_FALSE(std::filesystem::exists(dir.file("out.npy")));
}

TEST_CASE("load_keras_model exits 2 on bad usage and 1 on a file it cannot use, naming it", "[examples]") {
  if (!tool_built()) return;
  ScratchDir dir("tool");
  const std::string model = "'" + keras_file("k2_dl4j_mlp_softmax.model.h5") + "'";
  CHECK(run_tool(dir, "").status == 2);
  CHECK(run_tool(dir, model + " --frobnicate").status == 2);
  CHECK(run_tool(dir, model + " --output").status == 2);
  const Run json = run_tool(dir, "model.json");
  CHECK(json.status == 2);
  CHECK_THAT(json.err, Contains("--weights"));
  const Run help = run_tool(dir, "--help");
  CHECK(help.status == 0);
  CHECK_THAT(help.out, Contains("usage: load_keras_model MODEL"));

  const Run missing = run_tool(dir, "'" + dir.file("absent.h5") + "'");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.err, Contains(dir.file("absent.h5")));
  std::ofstream(dir.file("bad.npy")) << "not a .npy file";
  const Run bad_input = run_tool(dir, model + " '" + dir.file("bad.npy") + "'");
  CHECK(bad_input.status == 1);
  CHECK_THAT(bad_input.err, Contains(dir.file("bad.npy")));
  io::save_npy(dir.file("x.npy"), Tensor::zeros({1, 4}));
  const Run two_inputs = run_tool(dir, model + " '" + dir.file("x.npy") + "' '" + dir.file("x.npy") + "'");
  CHECK(two_inputs.status == 1);
  CHECK_THAT(two_inputs.err, Contains("the model has 1 inputs, 2 input files were given"));
}

TEST_CASE("load_model refuses a .json architecture and points to model_from_json", "[h5io]") {
  ScratchDir dir("tool");
  const std::string path = dir.file("model.json");
  std::ofstream(path) << models::load_model(keras_file("k2_dl4j_mlp_softmax.model.h5")).to_json();
  CHECK_THROWS_WITH(models::load_model(path), Contains(path) && Contains("model_from_json") &&
                                                  Contains("load_weights"));
}
