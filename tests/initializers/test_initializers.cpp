// SPDX-License-Identifier: Apache-2.0
// Initializers: Keras 3's formulas checked statistically on large samples, orthogonality, seeding,
// fan computation and lookup by name.
//
// Tolerances. Each sample has n >= 51,200 values. The sample mean's standard error is σ/√n, so a
// bound of 6σ/√n fails with probability ~2e-9 for any seed. The sample variance's relative
// standard error is √((κ−1)/n) with kurtosis κ <= 3 for every distribution here (uniform 1.8,
// truncated normal 2.4, normal 3), i.e. at most 0.63 %; the 5 % bound is over 7 standard errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <lamina/errors.hpp>
#include <lamina/initializers.hpp>
#include <lamina/ops.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace lamina;

namespace {

constexpr double kTruncatedStddev = 0.87962566103423978;  // std of N(0,1) cut at ±2

struct Stats {
  double mean = 0, variance = 0, max_abs = 0, min = 0, max = 0;
  std::size_t n = 0;
};

Stats stats(const Tensor& t) {
  auto v = t.to_vector<double>();
  Stats s;
  s.n = v.size();
  for (double x : v) s.mean += x;
  s.mean /= double(s.n);
  for (double x : v) s.variance += (x - s.mean) * (x - s.mean);
  s.variance /= double(s.n);
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  s.max_abs = std::max(-s.min, s.max);
  return s;
}

void check_moments(const Stats& s, double mean, double variance) {
  CHECK(std::abs(s.mean - mean) <= 6.0 * std::sqrt(variance / double(s.n)));
  CHECK(s.variance == Approx(variance).epsilon(0.05));
}

// Gram matrix of the columns (a (rows, cols) matrix viewed row-major) computed here in double, not
// with lamina's matmul, so the check does not lean on the code under test elsewhere.
std::vector<double> column_gram(const std::vector<double>& a, std::int64_t rows,
                                std::int64_t cols) {
  std::vector<double> g(static_cast<std::size_t>(cols * cols), 0.0);
  for (std::int64_t i = 0; i < cols; ++i)
    for (std::int64_t j = 0; j < cols; ++j)
      for (std::int64_t r = 0; r < rows; ++r) g[i * cols + j] += a[r * cols + i] * a[r * cols + j];
  return g;
}

double max_deviation_from_identity(const std::vector<double>& g, std::int64_t n, double diag) {
  double worst = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      worst = std::max(worst, std::abs(g[i * n + j] - (i == j ? diag : 0.0)));
  return worst;
}

std::vector<double> transpose(const std::vector<double>& a, std::int64_t rows, std::int64_t cols) {
  std::vector<double> t(a.size());
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) t[j * rows + i] = a[i * cols + j];
  return t;
}

}  // namespace

TEST_CASE("glorot_uniform draws U(±sqrt(6/(fan_in+fan_out))), variance 2/(fan_in+fan_out)",
          "[initializers]") {
  set_seed(1);
  Tensor w = Initializer("glorot_uniform")({400, 300});
  REQUIRE(w.shape() == Shape{400, 300});
  REQUIRE(w.dtype() == float32);
  Stats s = stats(w);
  double limit = std::sqrt(6.0 / 700.0);
  check_moments(s, 0.0, 2.0 / 700.0);
  CHECK(s.max_abs <= limit * (1 + 1e-6));
  CHECK(s.max_abs >= 0.999 * limit);  // 120,000 draws reach the edge
}

TEST_CASE("Every VarianceScaling initializer has variance scale/n and its distribution's range",
          "[initializers]") {
  struct Case {
    Initializer init;
    double scale;
    const char* mode;
    const char* distribution;
  };
  const std::vector<Case> cases = {
      {initializers::GlorotUniform(), 1.0, "fan_avg", "uniform"},
      {initializers::GlorotNormal(), 1.0, "fan_avg", "truncated_normal"},
      {initializers::HeUniform(), 2.0, "fan_in", "uniform"},
      {initializers::HeNormal(), 2.0, "fan_in", "truncated_normal"},
      {initializers::LecunUniform(), 1.0, "fan_in", "uniform"},
      {initializers::LecunNormal(), 1.0, "fan_in", "truncated_normal"},
      {initializers::VarianceScaling(3.0, "fan_out", "untruncated_normal"), 3.0, "fan_out",
       "untruncated_normal"},
      {initializers::VarianceScaling(0.5, "fan_avg", "uniform"), 0.5, "fan_avg", "uniform"},
      {initializers::VarianceScaling(), 1.0, "fan_in", "truncated_normal"},
  };
  // A dense kernel and a conv kernel (fans 1600 and 800 through the receptive field).
  for (const Shape& shape : {Shape{400, 300}, Shape{5, 5, 64, 32}}) {
    auto [fan_in, fan_out] = initializers::compute_fans(shape);
    for (const auto& c : cases) {
      INFO(c.init.class_name() << " on " << shape.str());
      set_seed(2);
      Stats s = stats(c.init(shape));
      std::string mode = c.mode;
      double n = mode == "fan_in" ? fan_in : mode == "fan_out" ? fan_out : (fan_in + fan_out) / 2;
      double variance = c.scale / n;
      check_moments(s, 0.0, variance);
      std::string distribution = c.distribution;
      if (distribution == "uniform") {
        CHECK(s.max_abs <= std::sqrt(3.0 * variance) * (1 + 1e-6));
      } else if (distribution == "truncated_normal") {
        CHECK(s.max_abs <= 2.0 * std::sqrt(variance) / kTruncatedStddev * (1 + 1e-6));
      } else {
        // Untruncated: about 4.6 % of a normal lies beyond 2σ.
        Tensor w = c.init(shape);
        double two_sigma = 2.0 * std::sqrt(variance);
        auto v = w.to_vector<double>();
        auto beyond =
            std::count_if(v.begin(), v.end(), [&](double x) { return std::abs(x) > two_sigma; });
        CHECK(double(beyond) / double(v.size()) == Approx(0.0455).margin(0.01));
      }
    }
  }
}

TEST_CASE("random_normal, random_uniform and truncated_normal use Keras's defaults",
          "[initializers]") {
  set_seed(3);
  Shape shape{400, 300};
  check_moments(stats(Initializer("random_normal")(shape)), 0.0, 0.05 * 0.05);
  check_moments(stats(initializers::RandomNormal(1.0, 2.0)(shape)), 1.0, 4.0);

  for (const char* name : {"random_uniform", "uniform", "RandomUniform"}) {
    INFO(name);
    Stats s = stats(Initializer(name)(shape));
    check_moments(s, 0.0, 0.1 * 0.1 / 12.0);
    // float32 rounding may land a hair outside the double bounds.
    CHECK(s.min >= -0.05 * (1 + 1e-6));
    CHECK(s.max <= 0.05 * (1 + 1e-6));
  }
  Stats shifted = stats(initializers::RandomUniform(2.0, 3.0)(shape));
  CHECK(shifted.min >= 2.0 * (1 - 1e-6));
  CHECK(shifted.max <= 3.0 * (1 + 1e-6));
  check_moments(shifted, 2.5, 1.0 / 12.0);

  Stats t = stats(Initializer("truncated_normal")(shape));
  CHECK(t.max_abs <= 2 * 0.05 * (1 + 1e-6));  // never beyond two standard deviations
  check_moments(t, 0.0, std::pow(0.05 * kTruncatedStddev, 2));
}

TEST_CASE("zeros, ones and constant fill exactly, in the requested dtype", "[initializers]") {
  Tensor z = Initializer("zeros")({3, 4}, float64);
  CHECK(z.dtype() == float64);
  CHECK(stats(z).max_abs == 0.0);
  Tensor o = Initializer("ones")({5});
  CHECK(o.dtype() == float32);
  CHECK(stats(o).min == 1.0);
  CHECK(stats(o).max == 1.0);
  Tensor c = initializers::Constant(3.5)({2, 2});
  CHECK(stats(c).min == 3.5);
  CHECK(stats(c).max == 3.5);
  CHECK(Initializer("zeros")({4}, int32).dtype() == int32);
}

TEST_CASE("orthogonal gives orthonormal columns or rows, whichever are fewer, times gain",
          "[initializers]") {
  set_seed(4);
  struct Case {
    Shape shape;
    std::int64_t rows, cols;
  };
  for (const auto& c : {Case{{64, 64}, 64, 64}, Case{{50, 20}, 50, 20}, Case{{20, 50}, 20, 50},
                        Case{{3, 3, 4, 8}, 36, 8}}) {
    for (DType dtype : {float32, float64}) {
      INFO(c.shape.str() << " " << dtype_name(dtype));
      Tensor q = Initializer("orthogonal")(c.shape, dtype);
      REQUIRE(q.shape() == c.shape);
      REQUIRE(q.dtype() == dtype);
      auto a = q.to_vector<double>();
      // Q^T Q = I when rows >= cols; Q Q^T = I otherwise.
      double deviation =
          c.rows >= c.cols
              ? max_deviation_from_identity(column_gram(a, c.rows, c.cols), c.cols, 1.0)
              : max_deviation_from_identity(
                    column_gram(transpose(a, c.rows, c.cols), c.cols, c.rows), c.rows, 1.0);
      CHECK(deviation < (dtype == float64 ? 1e-12 : 1e-5));
    }
  }
  auto a = initializers::Orthogonal(2.0)({30, 10}, float64).to_vector<double>();
  CHECK(max_deviation_from_identity(column_gram(a, 30, 10), 10, 4.0) < 1e-12);
  CHECK(initializers::Orthogonal(2.0).config().at("gain") == 2.0);
}

TEST_CASE("orthogonal is the Q of the seeded normal sample's QR with R's diagonal positive",
          "[initializers]") {
  // Keras makes Q unique by the sign of diag(R); then Qᵀ·A = R is upper triangular with a
  // positive diagonal. For rows < cols Keras samples (cols, rows) and transposes Q.
  for (bool wide : {false, true}) {
    INFO((wide ? "wide (10, 30)" : "tall (30, 10)"));
    set_seed(5);
    Tensor q = Initializer("orthogonal")(wide ? Shape{10, 30} : Shape{30, 10}, float64);
    set_seed(5);
    auto sample = random_normal({30, 10}, 0.0, 1.0, float64).to_vector<double>();
    auto qv = q.to_vector<double>();
    if (wide) qv = transpose(qv, 10, 30);  // back to the (30, 10) Q of the sample
    for (int i = 0; i < 10; ++i)
      for (int j = 0; j < 10; ++j) {
        double r = 0;
        for (int k = 0; k < 30; ++k) r += qv[k * 10 + i] * sample[k * 10 + j];
        if (i > j) CHECK(std::abs(r) < 1e-10);
        if (i == j) CHECK(r > 0.0);
      }
  }
}

TEST_CASE("orthogonal rejects a shape of rank below 2", "[initializers]") {
  CHECK_THROWS_AS(Initializer("orthogonal")({7}), ValueError);
}

TEST_CASE("The same seed gives identical values for every random initializer", "[initializers]") {
  for (const char* name :
       {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
        "lecun_normal", "random_normal", "random_uniform", "truncated_normal", "orthogonal"}) {
    INFO(name);
    Initializer init(name);
    set_seed(123);
    auto first = init({17, 13}).to_vector<float>();
    set_seed(123);
    auto second = init({17, 13}).to_vector<float>();
    CHECK(first == second);
    auto third = init({17, 13}).to_vector<float>();  // the stream moved on
    CHECK(first != third);
  }
}

TEST_CASE("compute_fans follows Keras for dense, conv, 1-D and scalar shapes", "[initializers]") {
  using initializers::compute_fans;
  CHECK(compute_fans({3, 3, 16, 32}) == std::pair<double, double>{144.0, 288.0});
  CHECK(compute_fans({784, 10}) == std::pair<double, double>{784.0, 10.0});
  CHECK(compute_fans({5, 8, 16}) == std::pair<double, double>{40.0, 80.0});
  CHECK(compute_fans({7}) == std::pair<double, double>{7.0, 7.0});
  CHECK(compute_fans({}) == std::pair<double, double>{1.0, 1.0});
}

TEST_CASE("Initializers are found by snake name and by Keras class name", "[initializers]") {
  CHECK(initializers::get("glorot_uniform").class_name() == "GlorotUniform");
  CHECK(initializers::get("GlorotUniform").class_name() == "GlorotUniform");
  CHECK(Initializer("he_normal").class_name() == "HeNormal");
  CHECK(Initializer(std::string("LecunNormal")).class_name() == "LecunNormal");
  CHECK(Initializer("uniform").class_name() == "RandomUniform");
  CHECK(Initializer("normal").class_name() == "RandomNormal");
  CHECK(Initializer("Orthogonal").class_name() == "Orthogonal");
  CHECK(Initializer("zeros").class_name() == "Zeros");

  CHECK(Initializer("random_normal").config() ==
        std::map<std::string, double>{{"mean", 0.0}, {"stddev", 0.05}});
  CHECK(Initializer("random_uniform").config() ==
        std::map<std::string, double>{{"minval", -0.05}, {"maxval", 0.05}});
  CHECK(Initializer("truncated_normal").config() ==
        std::map<std::string, double>{{"mean", 0.0}, {"stddev", 0.05}});
  CHECK(initializers::Constant(2.5).config() == std::map<std::string, double>{{"value", 2.5}});
  CHECK(initializers::VarianceScaling(2.0, "fan_out").config().at("scale") == 2.0);
  CHECK(Initializer("orthogonal").config().at("gain") == 1.0);
}

TEST_CASE("An unknown initializer name throws ValueError naming it", "[initializers]") {
  CHECK_THROWS_AS(Initializer("glorot_uniformm"), ValueError);
  try {
    initializers::get("xavier");
    FAIL("no exception");
  } catch (const ValueError& e) {
    std::string message = e.what();
    CHECK(message.find("'xavier'") != std::string::npos);
    CHECK(message.find("glorot_uniform") != std::string::npos);
  }
}

TEST_CASE("VarianceScaling rejects a bad scale, mode or distribution", "[initializers]") {
  CHECK_THROWS_AS(initializers::VarianceScaling(0.0), ValueError);
  CHECK_THROWS_AS(initializers::VarianceScaling(1.0, "fan_sideways"), ValueError);
  CHECK_THROWS_AS(initializers::VarianceScaling(1.0, "fan_in", "cauchy"), ValueError);
  CHECK_THROWS_AS(Initializer("glorot_uniform")({4, 4}, int32), TypeError);
}

// Keras 3's get_config of each class (keras/src/initializers): RandomInitializer writes "seed",
// VarianceScaling adds scale, mode and distribution, its named subclasses (GlorotUniform...)
// write the seed alone, Orthogonal adds gain, Constant writes value, Identity gain.
TEST_CASE("Every initializer writes Keras 3's config and rebuilds from it drawing the same values",
          "[initializers][files]") {
  using nlohmann::json;
  using namespace initializers;
  const std::vector<std::pair<Initializer, json>> cases = {
      {Zeros(), json::object()},
      {Ones(), json::object()},
      {Constant(2.5), {{"value", 2.5}}},
      {RandomNormal(1.0, 0.5), {{"mean", 1.0}, {"stddev", 0.5}, {"seed", nullptr}}},
      {RandomUniform(-1.0, 2.0), {{"minval", -1.0}, {"maxval", 2.0}, {"seed", nullptr}}},
      {TruncatedNormal(0.5, 2.0), {{"mean", 0.5}, {"stddev", 2.0}, {"seed", nullptr}}},
      {VarianceScaling(3.0, "fan_out", "uniform"),
       {{"scale", 3.0}, {"mode", "fan_out"}, {"distribution", "uniform"}, {"seed", nullptr}}},
      {VarianceScaling(0.5, "fan_avg", "untruncated_normal"),
       {{"scale", 0.5}, {"mode", "fan_avg"}, {"distribution", "untruncated_normal"}, {"seed", nullptr}}},
      {seeded(VarianceScaling(2.0, "fan_in", "Normal"), 42),
       {{"scale", 2.0}, {"mode", "fan_in"}, {"distribution", "truncated_normal"}, {"seed", 42}}},
      {GlorotUniform(), {{"seed", nullptr}}},
      {GlorotNormal(), {{"seed", nullptr}}},
      {HeUniform(), {{"seed", nullptr}}},
      {seeded(HeNormal(), 7), {{"seed", 7}}},
      {LecunUniform(), {{"seed", nullptr}}},
      {LecunNormal(), {{"seed", nullptr}}},
      {Orthogonal(2.0), {{"gain", 2.0}, {"seed", nullptr}}},
      {Identity(3.0), {{"gain", 3.0}}},
  };
  for (const auto& [init, keras_config] : cases) {
    const json written = serialize(init);
    INFO(written.dump());
    CHECK(written["module"] == "keras.initializers");
    CHECK(written["registered_name"] == nullptr);
    CHECK(written["config"] == keras_config);
    const Initializer back = deserialize(written);
    CHECK(back.class_name() == init.class_name());
    CHECK(serialize(back) == written);
    set_seed(5);
    const auto expected = init({6, 4}).to_vector<float>();
    set_seed(5);
    CHECK(back({6, 4}).to_vector<float>() == expected);
  }
}

TEST_CASE("VarianceScaling's mode and distribution decide its values after a config round trip",
          "[initializers][files]") {
  using nlohmann::json;
  // (40, 10): fan_in 40, fan_out 10. uniform with scale 3: limit sqrt(3·3/10) = 0.9487 for
  // fan_out, against sqrt(3·3/40) = 0.4743 for fan_in; untruncated_normal reaches past the
  // truncated normal's 2·stddev.
  const Initializer fan_out = initializers::deserialize(json::parse(
      R"({"class_name": "VarianceScaling", "config": {"scale": 3.0, "mode": "fan_out", "distribution": "uniform", "seed": 1}})"));
  const Initializer fan_in = initializers::deserialize(json::parse(
      R"({"class_name": "VarianceScaling", "config": {"scale": 3.0, "mode": "fan_in", "distribution": "uniform", "seed": 1}})"));
  auto max_abs = [](const Tensor& t) {
    double m = 0;
    for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
    return m;
  };
  const double out_max = max_abs(fan_out({40, 10})), in_max = max_abs(fan_in({40, 10}));
  CHECK(out_max <= std::sqrt(0.9) + 1e-6);
  CHECK(out_max > std::sqrt(9.0 / 40.0) + 0.1);  // 400 draws: all below 0.57 has odds 0.6^400
  CHECK(in_max <= std::sqrt(9.0 / 40.0) + 1e-6);
  // Seeded: the same values on every call, whatever was drawn in between.
  const auto first = fan_out({40, 10}).to_vector<float>();
  (void)random_normal({100}, 0.0, 1.0);
  CHECK(fan_out({40, 10}).to_vector<float>() == first);
}

TEST_CASE("deserialize reads names and Keras 2 forms and refuses unknown classes and bad arguments",
          "[initializers][files]") {
  using nlohmann::json;
  CHECK(initializers::deserialize("he_normal").class_name() == "HeNormal");
  // tf.keras 2.x: no module, the Keras 3 alias class names.
  CHECK(initializers::deserialize(json::parse(R"({"class_name": "OrthogonalInitializer", "config": {"gain": 0.5, "seed": null}})"))
            .config()
            .at("gain") == 0.5);
  CHECK(initializers::deserialize(json::parse(R"({"class_name": "IdentityInitializer", "config": {}})"))
            .class_name() == "Identity");
  CHECK_THROWS_WITH(initializers::deserialize(json::parse(R"({"class_name": "Xavier", "config": {}})")),
                    Catch::Matchers::Contains("'Xavier'"));
  CHECK_THROWS_WITH(initializers::deserialize(json::parse(R"({"class_name": "RandomNormal", "config": {"stddev": "big"}})")),
                    Catch::Matchers::Contains("RandomNormal") && Catch::Matchers::Contains("stddev"));
  CHECK_THROWS_WITH(initializers::deserialize(json::parse(R"({"class_name": "VarianceScaling", "config": {"mode": "fan_sideways"}})")),
                    Catch::Matchers::Contains("fan_sideways"));
  CHECK_THROWS_AS(initializers::deserialize(json::parse("[1, 2]")), ValueError);
}
