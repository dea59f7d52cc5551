// SPDX-License-Identifier: Apache-2.0
// .npy files: what numpy writes loads with its dtype, shape and values
// (tests/fixtures/make_npy_fixtures.py), what lamina writes numpy reads back byte for byte, and
// hostile headers give a FileFormatError naming the file — never a crash, a hang or a huge
// allocation. The [fuzz] case mutates a file systematically; CI runs it under AddressSanitizer.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <lamina/errors.hpp>
#include <lamina/npy.hpp>

#include "io/h5_test_files.hpp"

using namespace lamina;
using lamina::testing::read_bytes;
using lamina::testing::ScratchDir;
using lamina::testing::write_bytes;
using Catch::Matchers::Contains;

namespace {

std::string fixture(const std::string& name) { return LAMINA_TEST_FIXTURES "/npy/" + name; }

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

// 0/d, 1/d, ..., (n-1)/d, as numpy computes arange(n) / d.
std::vector<double> fractions(std::int64_t n, double d) {
  std::vector<double> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back(static_cast<double>(i) / d);
  return v;
}

// A .npy file: magic, version, little-endian header length, header, data.
std::vector<char> npy_file(int major, const std::string& header, const std::string& data = {},
                           std::optional<std::uint32_t> declared_length = std::nullopt) {
  const std::uint32_t header_length = declared_length.value_or(static_cast<std::uint32_t>(header.size()));
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) bytes += static_cast<char>(header_length >> (8 * i) & 0xFF);
  bytes += header + data;
  return {bytes.begin(), bytes.end()};
}

std::string dict(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n";
}

// Distinct values of `dtype` (non-negative for uint8, which cannot hold the others).
Tensor sample(const Shape& shape, DType dtype) {
  const double offset = dtype == uint8 ? 0.0 : -10.0;
  return (Tensor::arange(shape.numel(), float64) * 1.5 + offset).reshape(shape).astype(dtype);
}

std::string hex(const Tensor& t) {
  std::string out;
  const auto* p = static_cast<const unsigned char*>(t.raw_data());
  char two[3];
  for (std::size_t i = 0; i < t.nbytes(); ++i) {
    std::snprintf(two, sizeof two, "%02x", p[i]);
    out += two;
  }
  return out;
}

// Loads `path`: it must succeed or throw a FileFormatError naming the file. Returns whether it loaded.
bool loads_or_refuses(const std::string& path, const std::string& what) {
  try {
    io::load_npy(path);
    return true;
  } catch (const FileFormatError& e) {
    if (std::string(e.what()).find(path) == std::string::npos) FAIL(what << ": the message does not name the file: " << e.what());
  } catch (const std::exception& e) {
    FAIL(what << ": not a FileFormatError: " << e.what());
  }
  return false;
}

}  // namespace

TEST_CASE("load_npy reads numpy's files with their dtype, shape and values", "[npy]") {
  Tensor t = io::load_npy(fixture("float32_2x3.npy"));
  CHECK(t.dtype() == float32);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(values<float>(t) == std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f});

  t = io::load_npy(fixture("float64_2x3x4.npy"));
  CHECK(t.dtype() == float64);
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(values<double>(t) == fractions(24, 7));

  t = io::load_npy(fixture("int32_4.npy"));
  CHECK(t.dtype() == int32);
  CHECK(values<std::int32_t>(t) == std::vector<std::int32_t>{-3, 0, 2147483647, -2147483647 - 1});

  t = io::load_npy(fixture("int64_4.npy"));
  CHECK(t.dtype() == int64);
  CHECK(values<std::int64_t>(t) == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(),
                                                             std::numeric_limits<std::int64_t>::max(), 0, 42});

  t = io::load_npy(fixture("uint8_2x2.npy"));
  CHECK(t.dtype() == uint8);
  CHECK(t.shape() == Shape{2, 2});
  CHECK(values<std::uint8_t>(t) == std::vector<std::uint8_t>{0, 255, 7, 128});

  t = io::load_npy(fixture("bool_3.npy"));  // NumPy's bool arrives as uint8 0/1
  CHECK(t.dtype() == uint8);
  CHECK(values<std::uint8_t>(t) == std::vector<std::uint8_t>{1, 0, 1});
}

TEST_CASE("load_npy reads 0-d and empty arrays, big-endian data, Fortran order and versions 2.0 and 3.0",
          "[npy]") {
  Tensor t = io::load_npy(fixture("scalar_float64.npy"));
  CHECK(t.shape() == Shape{});
  CHECK(t.item() == 3.25);

  t = io::load_npy(fixture("empty_0x3_float32.npy"));
  CHECK(t.shape() == Shape{0, 3});
  CHECK(t.numel() == 0);

  t = io::load_npy(fixture("big_endian_float64_2x3.npy"));
  CHECK(t.dtype() == float64);
  CHECK(values<double>(t) == fractions(6, 4));
  t = io::load_npy(fixture("big_endian_int32_3.npy"));
  CHECK(values<std::int32_t>(t) == std::vector<std::int32_t>{1, -2, 65536});

  // Fortran order comes back in lamina's row-major layout: arange(24).reshape(2, 3, 4).
  t = io::load_npy(fixture("fortran_int32_2x3x4.npy"));
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(values<std::int32_t>(t) == values<std::int32_t>(Tensor::arange(24, int32)));
  t = io::load_npy(fixture("fortran_big_endian_float32_3x2.npy"));
  CHECK(t.shape() == Shape{3, 2});
  CHECK(values<float>(t) == std::vector<float>{0, 1, 2, 3, 4, 5});

  t = io::load_npy(fixture("version2_float32_3.npy"));
  CHECK(values<float>(t) == std::vector<float>{1.5f, -2.5f, 4.0f});
  t = io::load_npy(fixture("version3_int64_2.npy"));
  CHECK(values<std::int64_t>(t) == std::vector<std::int64_t>{7, -7});
}

TEST_CASE("save_npy then load_npy gives back every dtype and shape bit for bit", "[npy]") {
  ScratchDir dir("npy");
  const std::string path = dir.file("t.npy");
  for (const DType dtype : {float32, float64, int32, int64, uint8}) {
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{0, 3}, Shape{5}, Shape{2, 3, 4}}) {
      INFO(dtype_name(dtype) << " " << shape.str());
      const Tensor t = sample(shape, dtype);
      io::save_npy(path, t);
      const Tensor back = io::load_npy(path);
      CHECK(back.dtype() == dtype);
      CHECK(back.shape() == shape);
      CHECK(hex(back) == hex(t));
    }
  }
  // A leading-axis slice is a view into a bigger storage: only its own rows are written.
  const Tensor rows = Tensor::arange(12, float32).reshape({4, 3});
  io::save_npy(path, rows.slice(1, 3));
  CHECK(values<float>(io::load_npy(path)) == std::vector<float>{3, 4, 5, 6, 7, 8});
}

TEST_CASE("numpy reads what save_npy writes, and its header is numpy.save's byte for byte", "[npy]") {
  ScratchDir dir("npy");
  std::vector<std::pair<std::string, Tensor>> saved;
  for (const auto& [dtype, shape] : std::vector<std::pair<DType, Shape>>{
           {float32, {2, 3}}, {float64, {}}, {int32, {0, 3}}, {int64, {4}}, {uint8, {2, 1, 3}},
           {float32, {12345678, 0}}}) {
    const std::string path = dir.file(std::to_string(saved.size()) + ".npy");
    const Tensor t = sample(shape, dtype);
    io::save_npy(path, t);
    saved.emplace_back(path, t);
  }
  // Per file: numpy's dtype string, shape, data as hex, and whether numpy.save writes the same bytes.
  std::string cmd = "/usr/bin/python3 -c '"
                    "import io, sys, numpy as np\n"
                    "for p in sys.argv[1:]:\n"
                    "    a = np.load(p, allow_pickle=False)\n"
                    "    b = io.BytesIO(); np.save(b, a)\n"
                    "    print(a.dtype.str, a.shape, a.tobytes().hex(), b.getvalue() == open(p, \"rb\").read())\n"
                    "'";
  for (const auto& [path, t] : saved) cmd += " '" + path + "'";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  REQUIRE(pclose(pipe) == 0);

  std::string want;
  const std::map<DType, std::string> descr = {
      {float32, "<f4"}, {float64, "<f8"}, {int32, "<i4"}, {int64, "<i8"}, {uint8, "|u1"}};
  for (const auto& [path, t] : saved) {
    std::string shape = "(";
    for (int i = 0; i < t.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
    shape += t.ndim() == 1 ? ",)" : ")";
    want += descr.at(t.dtype()) + " " + shape + " " + hex(t) + " True\n";
  }
  CHECK(out == want);
}

TEST_CASE("save_npy is atomic and names the file it cannot write", "[npy]") {
  ScratchDir dir("npy");
  const std::string path = dir.file("kept.npy");
  io::save_npy(path, Tensor::ones({3}));
  CHECK_THROWS_AS(io::save_npy(path, Tensor()), ValueError);
  CHECK(values<float>(io::load_npy(path)) == std::vector<float>{1, 1, 1});
  const std::string missing = dir.file("no/such/dir/t.npy");
  CHECK_THROWS_WITH(io::save_npy(missing, Tensor::ones({3})), Contains(missing));
}

TEST_CASE("Hostile .npy headers and sizes each give a FileFormatError naming the file and the cause",
          "[npy]") {
  ScratchDir dir("npy");
  const std::string f4x4(16, '\0');
  struct Case {
    std::string what;
    std::vector<char> bytes;
    std::string cause;
  };
  const std::vector<Case> cases = {
      {"empty file", {}, "too short"},
      {"truncated magic", {'\x93', 'N', 'U', 'M'}, "too short"},
      {"wrong magic", [&] {
         std::vector<char> bytes = npy_file(1, dict("<f4", "(4,)"), f4x4);
         bytes[1] = 'X';
         return bytes;
       }(), "no \\x93NUMPY"},
      {"version 4.0", npy_file(4, dict("<f4", "(4,)"), f4x4), "version 4.0"},
      {"truncated header length", [] {
         std::vector<char> bytes = npy_file(2, "");
         bytes.resize(11);
         return bytes;
       }(), "header length"},
      {"header length beyond the file", npy_file(1, dict("<f4", "(4,)"), "", 500), "past the end of the file"},
      {"header length beyond numpy's limit", npy_file(2, dict("<f4", "(4,)"), "", 0xFFFFFFFFu), "is refused"},
      {"empty header", npy_file(1, ""), "expected '{'"},
      {"huge shape, tiny file", npy_file(1, dict("<f8", "(1000000000000, 1000)"), f4x4),
       "needs 8000000000000000 bytes of data, the file holds 16"},
      {"size overflow", npy_file(1, dict("<f4", "(4611686018427387904, 4)"), f4x4), "overflows"},
      {"size overflow before a zero", npy_file(1, dict("<f4", "(9223372036854775807, 9223372036854775807, 0)")),
       "overflows"},
      {"dimension beyond int64", npy_file(1, dict("<f4", "(99999999999999999999,)"), f4x4), "dimension too large"},
      {"negative dimension", npy_file(1, dict("<f4", "(-1, 4)"), f4x4), "negative dimension"},
      {"65 dimensions", npy_file(1, dict("<f4", [] {
                                         std::string s = "(";
                                         for (int i = 0; i < 65; ++i) s += "1, ";
                                         return s + ")";
                                       }())),
       "more than 64 dimensions"},
      {"data truncated", npy_file(1, dict("<f4", "(5,)"), f4x4), "needs 20 bytes of data, the file holds 16"},
      {"data too long", npy_file(1, dict("<f4", "(3,)"), f4x4), "needs 12 bytes of data, the file holds 16"},
      {"float16", npy_file(1, dict("<f2", "(8,)"), f4x4), "unsupported dtype '<f2'"},
      {"complex", npy_file(1, dict("<c8", "(2,)"), f4x4), "unsupported dtype '<c8'"},
      {"unicode", npy_file(1, dict("<U1", "(4,)"), f4x4), "unsupported dtype '<U1'"},
      {"object", npy_file(1, dict("|O", "(2,)"), f4x4), "unsupported dtype '|O'"},
      {"dtype by name", npy_file(1, dict("float32", "(4,)"), f4x4), "unsupported dtype 'float32'"},
      {"unknown byte order", npy_file(1, dict("!f4", "(4,)"), f4x4), "unknown byte order"},
      {"structured dtype", npy_file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", f4x4),
       "structured dtypes"},
      {"not a dict", npy_file(1, "hello world", f4x4), "expected '{'"},
      {"missing shape", npy_file(1, "{'descr': '<f4', 'fortran_order': False}", f4x4), "needs the keys"},
      {"extra key", npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", f4x4),
       "unexpected or repeated key 'x'"},
      {"repeated key", npy_file(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f4x4),
       "repeated key 'descr'"},
      {"fortran_order not a bool", npy_file(1, dict("<f4", "(4,)", "0"), f4x4), "True or False"},
      {"shape not a tuple", npy_file(1, dict("<f4", "(4)"), f4x4), "must be a tuple"},
      {"shape as a list", npy_file(1, dict("<f4", "[4]"), f4x4), "expected '('"},
      {"shape of floats", npy_file(1, dict("<f4", "(4.0,)"), f4x4), "expected ')'"},
      {"missing comma", npy_file(1, "{'descr': '<f4' 'fortran_order': False, 'shape': (4,)}", f4x4), "expected '}'"},
      {"unterminated string", npy_file(1, "{'descr: '<f4', 'fortran_order': False, 'shape': (4,)}", f4x4),
       "expected ':'"},
      {"text after the dict", npy_file(1, dict("<f4", "(4,)") + "import os", f4x4), "after the dict"},
      {"NUL bytes in the header", npy_file(1, std::string(64, '\0'), f4x4), "expected '{'"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const std::string path = dir.file("hostile.npy");
    write_bytes(path, c.bytes);
    CHECK_THROWS_AS(io::load_npy(path), FileFormatError);
    CHECK_THROWS_WITH(io::load_npy(path), Contains(path) && Contains(c.cause));
  }
  CHECK_THROWS_WITH(io::load_npy(dir.file("absent.npy")), Contains(dir.file("absent.npy")) && Contains("no such file"));
  CHECK_THROWS_WITH(io::load_npy(dir.path().string()), Contains("not a regular file"));
}

TEST_CASE("Mutated .npy files are loaded or refused with a FileFormatError, never a crash", "[npy][fuzz]") {
  ScratchDir dir("npy_fuzz");
  const std::string source = dir.file("source.npy");
  io::save_npy(source, Tensor::arange(24, float32).reshape({2, 3, 4}));
  const std::vector<char> original = read_bytes(source);
  const std::string path = dir.file("mutated.npy");
  const auto attempt = [&](const std::vector<char>& bytes, const std::string& what) {
    write_bytes(path, bytes);
    return loads_or_refuses(path, what);
  };
  int loaded = 0, refused = 0;
  const auto count = [&](bool ok) { ++(ok ? loaded : refused); };
  for (std::size_t cut = 0; cut < original.size(); ++cut)
    count(attempt(std::vector<char>(original.begin(), original.begin() + static_cast<long>(cut)),
                  "truncated at " + std::to_string(cut)));
  // Every bit of the prefix and the header, then the characters that steer the header's grammar
  // dropped in at random places, a few at a time.
  const std::size_t header_end = 128;
  for (std::size_t at = 0; at < header_end; ++at)
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<char> bytes = original;
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << bit));
      count(attempt(bytes, "byte " + std::to_string(at) + " bit " + std::to_string(bit)));
    }
  const std::string grammar = "{}()[]'\":,- 0123456789LTrueFalse<>|=fiub\n\\\x00\xff";
  std::mt19937 rng(16);
  for (int round = 0; round < 3000; ++round) {
    std::vector<char> bytes = original;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e)
      bytes[10 + rng() % (header_end - 10)] = grammar[rng() % grammar.size()];
    count(attempt(bytes, "round " + std::to_string(round)));
  }
  CHECK(refused > 1000);
  CHECK(loaded > 0);  // some flips only touch padding or values
}
