// SPDX-License-Identifier: Apache-2.0
// The real Keras 3 `.keras` files of tests/fixtures/keras_files/ load through models::load_model and
// predict what an independent forward pass (tests/fixtures/make_keras_archive_fixtures.py:
// PyTorch / tensor maths in float64 on the same weights) gives, within 1e-5. The folder must be
// there: CI clones it next to the repository, and a missing folder fails these tests.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/model.hpp>
#include <lamina/models.hpp>
#include <lamina/optimizers.hpp>

#include "io/h5_test_files.hpp"
#include "support/keras_export.hpp"
#include "support/op_testing.hpp"

using namespace lamina;
using Catch::Matchers::Contains;
using json = nlohmann::json;
using lamina::testing::seq;

namespace {

// The real file `name` of tests/fixtures/keras_files; without it the test fails.
std::string real_file(const std::string& name) {
  const std::string path = lamina::testing::keras_file(name);
  REQUIRE(std::filesystem::is_regular_file(path));
  return path;
}

const json& fixtures() {
  static const json j = [] {
    std::ifstream in(std::string(LAMINA_TEST_FIXTURES) + "/keras_archives.json");
    REQUIRE(in.good());
    return json::parse(in);
  }();
  return j;
}

// max over elements of |got - want| / max(1, |want|): the "absolute or relative" 1e-5 criterion.
double max_difference(const Tensor& got, const std::vector<double>& want) {
  const std::vector<double> g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i)
    worst = std::max(worst, std::abs(g[i] - want[i]) / std::max(1.0, std::abs(want[i])));
  return worst;
}

}  // namespace

TEST_CASE("Every real Keras 3 .keras file lamina has the layers for predicts the reference outputs within 1e-5",
          "[config][keras_export]") {
  for (const auto& [name, c] : fixtures().items()) {
    INFO(name);
    Model model = models::load_model(real_file(name), {.compile = false});
    const Shape shape(c.at("shape").get<std::vector<std::int64_t>>());
    Tensor x = seq(shape, c.at("scale").get<double>(), float32, c.at("shift").get<double>());
    Tensor y = model.predict(x);
    CHECK(y.shape() == Shape(c.at("output_shape").get<std::vector<std::int64_t>>()));
    const double diff = max_difference(y, c.at("output").get<std::vector<double>>());
    CAPTURE(diff);
    CHECK(diff <= 1e-5);
    lamina::testing::export_for_keras("archive_" + name.substr(0, name.find('.')), model, x);
  }
}

TEST_CASE("A real .keras file loads compiled from its compile_config - with the optimizer's state", "[config]") {
  // k3_fashion_cnn.keras: Adam (learning_rate float32 0.001), sparse_categorical_crossentropy,
  // accuracy; its weights file holds the optimizer's iteration and slots.
  Model model = models::load_model(real_file("k3_fashion_cnn.keras"));
  REQUIRE(model.optimizer());
  CHECK(model.optimizer()->name() == "Adam");
  CHECK(model.optimizer()->learning_rate() == Approx(0.001));
  CHECK(model.optimizer()->iterations() > 0);
  // One training step runs from the restored state.
  Tensor x = seq({4, 28, 28, 1}, 0.5, float32, 0.5);
  Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 3, 7, 9}, {4});
  const std::int64_t before = model.optimizer()->iterations();
  const auto logs = model.train_on_batch(x, y);
  CHECK(model.optimizer()->iterations() == before + 1);
  CHECK(std::isfinite(logs.at("loss")));
}

TEST_CASE("k3_churn_mlp.keras and k3_churn_mlp.h5 - the same model in both formats - predict the same", "[config]") {
  Model from_zip = models::load_model(real_file("k3_churn_mlp.keras"), {.compile = false});
  Model from_h5 = models::load_model(real_file("k3_churn_mlp.h5"), {.compile = false});
  Tensor x = seq({6, 12}, 1.5, float32);
  lamina::testing::check_same(from_zip.predict(x), from_h5.predict(x), 0);
}

TEST_CASE("The subclassed-model .keras file fails with a FileFormatError naming the class and the file",
          "[config]") {
  const std::string path = real_file("k3_subclassed_custom.keras");
  CHECK_THROWS_AS(models::load_model(path), FileFormatError);
  CHECK_THROWS_WITH(models::load_model(path), Contains(path) && Contains("NestedDenseModel"));
}

TEST_CASE("Model::save and load_model go through .keras by extension and round-trip", "[config]") {
  const std::string path = (std::filesystem::temp_directory_path() / "lamina_test_keras_dispatch.keras").string();
  Model model = models::load_model(real_file("k3_functional_bn.keras"), {.compile = false});
  model.save(path);
  Model again = models::load_model(path, {.compile = false});
  std::filesystem::remove(path);
  CHECK(again.to_json() == model.to_json());
  Tensor x = seq({5, 11}, 2.0, float32, 0.5);
  lamina::testing::check_same(again.predict(x), model.predict(x), 0);
}

TEST_CASE("A compile_config without its optimizer compiles with rmsprop as Keras does and keeps the weights",
          "[config]") {
  // k3_churn_mlp.keras was saved after a legacy .h5 save in the same process, which drops the
  // optimizer from Keras's compile_config (../shared/KERAS_FORMATS.md (d) 5); Keras then compiles
  // with its default optimizer and skips the file's Adam state.
  const std::string path = real_file("k3_churn_mlp.keras");
  Model compiled = models::load_model(path);
  REQUIRE(compiled.optimizer());
  CHECK(compiled.optimizer()->name() == "RMSprop");
  CHECK(compiled.optimizer()->iterations() == 0);
  Tensor x = seq({6, 12}, 1.5, float32);
  lamina::testing::check_same(compiled.predict(x), models::load_model(path, {.compile = false}).predict(x), 0);
}
