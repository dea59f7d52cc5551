// SPDX-License-Identifier: Apache-2.0
// float16 and bfloat16: the bit-level conversions against numpy's float16 and ml_dtypes' bfloat16
// (tests/fixtures/half.json, made by tests/fixtures/make_half_fixtures.py), and the tensor API on
// the two dtypes.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/errors.hpp>
#include <lamina/ops.hpp>
#include <lamina/tensor.hpp>

#include "tensor/half.hpp"

using namespace lamina;
using Catch::Contains;

namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(LAMINA_TEST_FIXTURES "/half.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  }();
  return j;
}

std::uint64_t fnv1a64(const std::vector<std::uint32_t>& words) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (std::uint32_t w : words)
    for (int b = 0; b < 4; ++b) h = (h ^ ((w >> (8 * b)) & 0xffu)) * 0x100000001B3ull;
  return h;
}

bool is_nan_f32_bits(std::uint32_t x) { return (x & 0x7fffffffu) > 0x7f800000u; }

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

TEST_CASE("All 65536 float16 bit patterns widen to numpy's float32 bits", "[tensor][half]") {
  std::vector<std::uint32_t> widened(65536);
  for (std::uint32_t h = 0; h < 65536; ++h)
    widened[h] = std::bit_cast<std::uint32_t>(half::f16_to_float(static_cast<std::uint16_t>(h)));
  for (const auto& entry : fixture()["f16_to_f32_sample"]) {
    const auto h = entry[0].get<std::uint32_t>();
    INFO("float16 bits 0x" << hex(h));
    CHECK(widened[h] == entry[1].get<std::uint32_t>());
  }
  CHECK(hex(fnv1a64(widened)) == fixture()["f16_to_f32_fnv1a64"].get<std::string>());
  // The tensor path agrees with the scalar one.
  std::vector<std::uint16_t> all(65536);
  for (std::uint32_t h = 0; h < 65536; ++h) all[h] = static_cast<std::uint16_t>(h);
  const std::vector<float> via_tensor = Tensor::from_data(all.data(), {65536}, float16).to_vector<float>();
  std::vector<std::uint32_t> tensor_bits(65536);
  for (std::size_t i = 0; i < via_tensor.size(); ++i) tensor_bits[i] = std::bit_cast<std::uint32_t>(via_tensor[i]);
  CHECK(tensor_bits == widened);
}

TEST_CASE("bfloat16 widens by a 16-bit shift, every pattern", "[tensor][half]") {
  for (std::uint32_t h = 0; h < 65536; ++h)
    REQUIRE(std::bit_cast<std::uint32_t>(half::bf16_to_float(static_cast<std::uint16_t>(h))) == h << 16);
}

TEST_CASE("float32 narrows to numpy's float16 and ml_dtypes' bfloat16 bits (ties, subnormals, "
          "overflow, Inf, -0, NaN)", "[tensor][half]") {
  const auto& f32 = fixture()["f32"];
  const auto& f16 = fixture()["f32_to_f16"];
  const auto& bf16 = fixture()["f32_to_bf16"];
  REQUIRE(f32.size() == f16.size());
  REQUIRE(f32.size() > 4000);
  int signalling = 0;
  std::vector<float> values;
  for (std::size_t i = 0; i < f32.size(); ++i) {
    const auto x = f32[i].get<std::uint32_t>();
    const float v = std::bit_cast<float>(x);
    values.push_back(v);
    INFO("float32 bits 0x" << hex(x));
    CHECK(half::float_to_bf16(v) == bf16[i].get<std::uint16_t>());
    const std::uint16_t want = f16[i].get<std::uint16_t>();
    const std::uint16_t got = half::float_to_f16(v);
    if (is_nan_f32_bits(x) && !(x & 0x00400000u)) {
      // A signalling NaN: numpy keeps it signalling (0x7c01 for 0x7f800001); lamina quiets it,
      // as the F16C instructions do, keeping the sign and the top payload bits.
      ++signalling;
      CHECK((got & 0x7e00u) == 0x7e00u);
      CHECK((got & 0x8000u) == (want & 0x8000u));
      CHECK((got & 0x1ffu) == ((x >> 13) & 0x1ffu));
    } else {
      CHECK(got == want);
    }
  }
  CHECK(signalling >= 4);
  // astype rounds the same way, element by element.
  const Tensor t = Tensor::from_vector(values, {static_cast<std::int64_t>(values.size())});
  const Tensor b = t.astype(bfloat16);
  const auto* bits = static_cast<const std::uint16_t*>(b.raw_data());
  for (std::size_t i = 0; i < values.size(); ++i) REQUIRE(bits[i] == bf16[i].get<std::uint16_t>());
}

TEST_CASE("float64 narrows to float16 in one rounding, as numpy (no double rounding through "
          "float32)", "[tensor][half]") {
  const auto& f64 = fixture()["f64"];
  const auto& want = fixture()["f64_to_f16"];
  std::vector<double> values;
  for (std::size_t i = 0; i < f64.size(); ++i) {
    const double v = std::bit_cast<double>(f64[i].get<std::uint64_t>());
    values.push_back(v);
    INFO("float64 " << v);
    CHECK(half::double_to_f16(v) == want[i].get<std::uint16_t>());
  }
  // The same through astype from a float64 tensor.
  const Tensor h = Tensor::from_vector(values, {static_cast<std::int64_t>(values.size())}).astype(float16);
  const auto* bits = h.data<float16_t>();
  for (std::size_t i = 0; i < values.size(); ++i) REQUIRE(bits[i].bits == want[i].get<std::uint16_t>());
}

TEST_CASE("The 16-bit dtypes: size, name, floating, promotion as JAX and Keras 3", "[tensor][half]") {
  CHECK(dtype_size(float16) == 2);
  CHECK(dtype_size(bfloat16) == 2);
  CHECK(std::string(dtype_name(float16)) == "float16");
  CHECK(std::string(dtype_name(bfloat16)) == "bfloat16");
  CHECK(dtype_from_name("float16") == float16);
  CHECK(dtype_from_name("bfloat16") == bfloat16);
  CHECK(is_floating(float16));
  CHECK(is_floating(bfloat16));
  CHECK(promote_types(float16, float32) == float32);
  CHECK(promote_types(bfloat16, float32) == float32);
  CHECK(promote_types(float16, bfloat16) == float32);
  CHECK(promote_types(bfloat16, float64) == float64);
  CHECK(promote_types(int32, bfloat16) == bfloat16);
  CHECK(promote_types(uint8, float16) == float16);
  CHECK(promote_types(int64, float32) == float32);  // unchanged
  CHECK(dtype_of<float16_t>::value == float16);
  CHECK(dtype_of<bfloat16_t>::value == bfloat16);
  CHECK(static_cast<float>(float16_t(1.0f / 3.0f)) == Approx(0.33325195f).epsilon(0));
  CHECK(float16_t(65520.0f).bits == 0x7c00);
  CHECK(bfloat16_t(1.0f).bits == 0x3f80);
  CHECK(static_cast<float>(bfloat16_t::from_bits(0x4049)) == 3.140625f);
}

TEST_CASE("Tensors of float16 and bfloat16: construction, conversion, access", "[tensor][half]") {
  for (DType dt : {float16, bfloat16}) {
    INFO(dtype_name(dt));
    const Tensor z = Tensor::zeros({2, 3}, dt);
    CHECK(z.dtype() == dt);
    CHECK(z.nbytes() == 12);
    CHECK(z.to_vector<float>() == std::vector<float>(6, 0.0f));
    CHECK(Tensor::ones({4}, dt).to_vector<double>() == std::vector<double>(4, 1.0));
    CHECK(Tensor::empty({5}, dt).numel() == 5);
    // 0.1 is not representable: full() and fill() round it once, to nearest even.
    const double tenth = dt == float16 ? 0.0999755859375 : 0.10009765625;
    const Tensor f = Tensor::full({3}, 0.1, dt);
    CHECK(f.at(2) == tenth);
    CHECK(Tensor::scalar(0.1, dt).item() == tenth);
    CHECK(Tensor::arange(4, dt).to_vector<float>() == std::vector<float>{0, 1, 2, 3});
    Tensor g = Tensor::zeros({3}, dt);
    g.fill(-2.5);
    CHECK(g.to_vector<float>() == std::vector<float>(3, -2.5f));
    // assign converts from any dtype; clone copies the bits.
    g.assign(Tensor::from_vector<double>({1.0, 65504.0, 1e-8}, {3}));
    const Tensor c = g.clone();
    CHECK(!c.shares_storage(g));
    CHECK(c.dtype() == dt);
    CHECK(c.at(0) == 1.0);
    CHECK(c.at(1) == (dt == float16 ? 65504.0 : 65536.0));
    CHECK(c.at(2) == (dt == float16 ? 0.0 : static_cast<double>(half::bf16_to_float(half::float_to_bf16(1e-8f)))));
    // astype both ways, and integers through one rounding.
    CHECK(Tensor::from_vector<std::int32_t>({-3, 257, 4097}, {3}).astype(dt).to_vector<double>() ==
          (dt == float16 ? std::vector<double>{-3, 257, 4096} : std::vector<double>{-3, 256, 4096}));
    CHECK(Tensor::from_vector<float>({2.5f, -1.5f}, {2}).astype(dt).astype(int32).to_vector<std::int32_t>() ==
          std::vector<std::int32_t>{2, -1});
    CHECK(Tensor::full({2}, 3.0, dt).astype(dt == float16 ? bfloat16 : float16).to_vector<float>() ==
          std::vector<float>{3.0f, 3.0f});
    // Printing, NumPy style, with the dtype.
    const std::string text = Tensor::full({2, 2}, 0.5, dt).str();
    CHECK_THAT(text, Contains(dtype_name(dt)) && Contains("[[0.5000, 0.5000]"));
  }
  // The value types: data<T>(), from_vector, to_vector.
  const Tensor h = Tensor::from_vector<float16_t>({float16_t(1.5f), float16_t::from_bits(0x7c00)}, {2});
  CHECK(h.dtype() == float16);
  CHECK(std::isinf(h.at(1)));
  CHECK(h.data<float16_t>()[0].bits == 0x3e00);
  CHECK_THROWS_AS(h.data<bfloat16_t>(), TypeError);
  const std::vector<bfloat16_t> b = Tensor::from_vector<float>({1.0f, -0.0f}, {2}).to_vector<bfloat16_t>();
  CHECK(b[0].bits == 0x3f80);
  CHECK(b[1].bits == 0x8000);
}

TEST_CASE("astype between float32 and the 16-bit dtypes is differentiable", "[tensor][half]") {
  Tensor w = Tensor::from_vector<float>({1.0f, 2.0f, 3.0f}, {3});
  w.set_requires_grad();
  const Tensor h = w.astype(bfloat16);
  CHECK(h.requires_grad());
  // The gradient comes back as float32 through the Cast node (d/dw of sum(3·w) = 3).
  (h.astype(float32) * 3.0).sum().backward();
  CHECK(w.grad().dtype() == float32);
  CHECK(w.grad().to_vector<float>() == std::vector<float>(3, 3.0f));
}

TEST_CASE("Ops on 16-bit tensors compute in float32 and round each result to nearest even",
          "[tensor][half]") {
  // bfloat16 keeps 8 significant bits: next to 1 its spacing is 2^-7.
  const Tensor one = Tensor::ones({2}, bfloat16);
  const Tensor small = Tensor::from_vector(std::vector<float>{0x1p-8f, 3 * 0x1p-8f}, {2}).astype(bfloat16);
  const Tensor sum = one + small;
  CHECK(sum.dtype() == bfloat16);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7 (odd): even wins; 1 + 3·2^-8 ties to 1 + 2^-6.
  CHECK(sum.to_vector<float>() == std::vector<float>{1.0f, 1.0f + 0x1p-6f});
  const Tensor r = relu(Tensor::from_vector(std::vector<float>{-1.5f, 2.5f, NAN}, {3}).astype(float16));
  CHECK(r.dtype() == float16);
  const std::vector<float> rv = r.to_vector<float>();
  CHECK(rv[0] == 0.0f);
  CHECK(rv[1] == 2.5f);
  CHECK(std::isnan(rv[2]));
}
