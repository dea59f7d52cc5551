// SPDX-License-Identifier: Apache-2.0
// src/io/npy.cpp — .npy reading and writing. The reader is an entry point for untrusted files:
// the header is parsed against numpy's exact grammar, and every size it declares is checked
// (overflow, then the file's real size) before anything is allocated.
#include "lamina/npy.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/atomic_file.hpp"
#include "lamina/errors.hpp"

namespace lamina::io {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// numpy.load refuses longer headers too (its max_header_size); a plain array's is ~128 bytes.
constexpr std::size_t kMaxHeaderSize = 10000;
// NumPy 2's NPY_MAXDIMS.
constexpr std::size_t kMaxDims = 64;
// numpy.save leaves room for the first dimension to grow to this many digits in place.
constexpr std::size_t kGrowthAxisMaxDigits = 21;
constexpr std::size_t kAlign = 64;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw FileFormatError(path + ": " + what);
}

struct Header {
  DType dtype = float32;
  bool swap_bytes = false;
  bool fortran_order = false;
  Shape shape;
};

struct DescrKind {
  char kind;
  char size;
  DType dtype;
};
// 'b1' is NumPy's bool: one byte holding 0 or 1, read as uint8.
constexpr DescrKind kDescrs[] = {{'f', '4', float32}, {'f', '8', float64}, {'i', '4', int32},
                                 {'i', '8', int64},   {'u', '1', uint8},   {'b', '1', uint8}};

// The header is the repr of a Python dict, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// and is parsed as exactly that: string keys, a string, a bool and a tuple of non-negative ints.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  Header parse() {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<Shape> shape;
    expect('{');
    while (skip_space(), peek() != '}') {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr" && !descr) {
        if (skip_space(), peek() == '[') bad("structured dtypes (a list as 'descr') are not supported");
        descr = string_literal();
      } else if (key == "fortran_order" && !fortran_order) {
        fortran_order = boolean();
      } else if (key == "shape" && !shape) {
        shape = tuple();
      } else {
        bad("unexpected or repeated key '" + key + "'");
      }
      if (skip_space(), peek() != ',') break;
      ++pos_;
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) bad("unexpected text after the dict");
    if (!descr || !fortran_order || !shape) bad("the dict needs the keys 'descr', 'fortran_order' and 'shape'");
    Header h = decode_descr(*descr);
    h.fortran_order = *fortran_order;
    h.shape = std::move(*shape);
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    std::string near(text_.substr(std::min(pos_, text_.size()), 40));
    for (char& c : near)
      if (c < 0x20 || c > 0x7e) c = '?';
    fail(path_, "malformed .npy header at byte " + std::to_string(pos_) + " ('" + near + "'): " + what);
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }

  // Quoted with ' or "; numpy's keys and dtype strings need no escapes, so none are accepted.
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    const std::size_t begin = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n') bad("unsupported character in a string");
      ++pos_;
    }
    if (pos_ == text_.size()) bad("unterminated string");
    return std::string(text_.substr(begin, pos_++ - begin));
  }

  bool boolean() {
    skip_space();
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "True" : "False";
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    bad("expected True or False");
  }

  std::int64_t dimension() {
    skip_space();
    if (peek() == '-') bad("negative dimension");
    if (peek() < '0' || peek() > '9') bad("expected a dimension (a non-negative integer)");
    std::int64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) bad("dimension too large");
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2's long literal, which numpy.load accepts too
    return value;
  }

  // "()", "(3,)", "(2, 3)" or "(2, 3,)"; "(3)" is an int in Python, not a tuple.
  Shape tuple() {
    expect('(');
    Shape shape;
    bool trailing_comma = false;
    while (skip_space(), peek() != ')') {
      if (shape.size() == kMaxDims) bad("more than " + std::to_string(kMaxDims) + " dimensions");
      shape.push_back(dimension());
      skip_space();
      trailing_comma = peek() == ',';
      if (!trailing_comma) break;
      ++pos_;
    }
    expect(')');
    if (shape.size() == 1 && !trailing_comma) bad("'shape' must be a tuple, e.g. (3,)");
    return shape;
  }

  Header decode_descr(const std::string& descr) const {
    const std::string supported = "; lamina reads float32, float64, int32, int64, uint8 and bool";
    if (descr.size() != 3) fail(path_, "unsupported dtype '" + descr + "'" + supported);
    Header h;
    const auto kind = std::find_if(std::begin(kDescrs), std::end(kDescrs),
                                   [&](const DescrKind& k) { return k.kind == descr[1] && k.size == descr[2]; });
    if (kind == std::end(kDescrs)) fail(path_, "unsupported dtype '" + descr + "'" + supported);
    h.dtype = kind->dtype;
    switch (descr[0]) {
      case '<': h.swap_bytes = std::endian::native != std::endian::little; break;
      case '>': h.swap_bytes = std::endian::native != std::endian::big; break;
      case '=': case '|': break;  // native, or not applicable (one byte)
      default: fail(path_, "dtype '" + descr + "' has an unknown byte order '" + descr[0] + "'");
    }
    h.swap_bytes = h.swap_bytes && dtype_size(h.dtype) > 1;
    return h;
  }

  std::string_view text_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

std::uint32_t little_endian(const unsigned char* bytes, int count) {
  std::uint32_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = value << 8 | bytes[i];
  return value;
}

// Element count and byte size, or nothing when either does not fit in int64.
std::optional<std::int64_t> checked_bytes(const Shape& shape, std::size_t item_size) {
  std::int64_t n = static_cast<std::int64_t>(item_size);
  for (const std::int64_t d : shape)
    if (d != 0 && __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  const bool empty = std::find(shape.begin(), shape.end(), 0) != shape.end();
  return empty ? 0 : n;
}

void swap_bytes(void* data, std::int64_t count, std::size_t item_size) {
  auto* p = static_cast<unsigned char*>(data);
  for (std::int64_t i = 0; i < count; ++i, p += item_size) std::reverse(p, p + item_size);
}

// Fortran order stores the first index fastest; walk the row-major output with an index
// counter and keep the matching Fortran offset.
void fortran_to_row_major(const unsigned char* src, unsigned char* dst, const Shape& shape,
                          std::size_t item_size) {
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> stride(rank, 1), index(rank, 0);
  for (std::size_t k = 1; k < rank; ++k) stride[k] = stride[k - 1] * shape[k - 1];
  const std::int64_t n = shape.numel();
  std::int64_t offset = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + i * item_size, src + offset * item_size, item_size);
    for (std::size_t k = rank; k-- > 0;) {
      offset += stride[k];
      if (++index[k] < shape[k]) break;
      offset -= stride[k] * shape[k];
      index[k] = 0;
    }
  }
}

void read_exactly(std::ifstream& in, void* into, std::size_t count, const std::string& path) {
  in.read(static_cast<char*>(into), static_cast<std::streamsize>(count));
  if (static_cast<std::size_t>(in.gcount()) != count) fail(path, "truncated (the file changed while it was read?)");
}

std::string shape_repr(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string descr(DType dtype) {
  const char order = std::endian::native == std::endian::little ? '<' : '>';
  switch (dtype) {
    case DType::float32: return {order, 'f', '4'};
    case DType::float64: return {order, 'f', '8'};
    case DType::int32: return {order, 'i', '4'};
    case DType::int64: return {order, 'i', '8'};
    case DType::uint8: return "|u1";
    case DType::float16:
    case DType::bfloat16: break;  // lamina reads no 16-bit .npy files, so it writes none
  }
  throw ValueError(std::string("save_npy: dtype ") + dtype_name(dtype) + " has no .npy equivalent");
}

}  // namespace

Tensor load_npy(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) fail(path, status.type() == fs::file_type::not_found ? "no such file" : ec.message());
  // A FIFO or device would block or never end.
  if (!fs::is_regular_file(status)) fail(path, "not a regular file");
  const std::uintmax_t file_size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot read its size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));

  unsigned char prefix[12];
  if (file_size < 10) fail(path, "too short for a .npy file (" + std::to_string(file_size) + " bytes)");
  read_exactly(in, prefix, 8, path);
  if (std::string_view(reinterpret_cast<const char*>(prefix), kMagic.size()) != kMagic)
    fail(path, "not a .npy file (no \\x93NUMPY signature)");
  const int major = prefix[6], minor = prefix[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    fail(path, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " (lamina reads 1.0, 2.0 and 3.0)");
  const int length_bytes = major == 1 ? 2 : 4;
  const std::size_t header_offset = 8 + static_cast<std::size_t>(length_bytes);
  if (file_size < header_offset) fail(path, "truncated in the header length");
  read_exactly(in, prefix + 8, static_cast<std::size_t>(length_bytes), path);
  const std::size_t header_size = little_endian(prefix + 8, length_bytes);
  if (header_size > kMaxHeaderSize)
    fail(path, "header of " + std::to_string(header_size) + " bytes; more than " +
                   std::to_string(kMaxHeaderSize) + " is refused (as numpy.load does)");
  const std::size_t data_offset = header_offset + header_size;
  if (data_offset > file_size)
    fail(path, "the header length (" + std::to_string(header_size) + " bytes) goes past the end of the file (" +
                   std::to_string(file_size) + " bytes)");
  std::string text(header_size, '\0');
  read_exactly(in, text.data(), header_size, path);
  const Header header = HeaderParser(text, path).parse();

  const std::size_t item_size = dtype_size(header.dtype);
  const std::optional<std::int64_t> bytes = checked_bytes(header.shape, item_size);
  if (!bytes) fail(path, "shape " + shape_repr(header.shape) + " is too large (its size overflows)");
  const std::uintmax_t available = file_size - data_offset;
  if (static_cast<std::uintmax_t>(*bytes) != available)
    fail(path, "shape " + shape_repr(header.shape) + " of " + dtype_name(header.dtype) + " needs " +
                   std::to_string(*bytes) + " bytes of data, the file holds " + std::to_string(available) +
                   (static_cast<std::uintmax_t>(*bytes) > available ? " (truncated?)" : ""));

  Tensor out = Tensor::empty(header.shape, header.dtype);
  auto* data = static_cast<unsigned char*>(out.raw_data());
  if (header.fortran_order && header.shape.size() > 1) {
    std::vector<unsigned char> file_order(static_cast<std::size_t>(*bytes));
    read_exactly(in, file_order.data(), file_order.size(), path);
    fortran_to_row_major(file_order.data(), data, header.shape, item_size);
  } else if (*bytes > 0) {
    read_exactly(in, data, static_cast<std::size_t>(*bytes), path);
  }
  if (header.swap_bytes) swap_bytes(data, out.numel(), item_size);
  return out;
}

void save_npy(const std::string& path, const Tensor& tensor) {
  if (!tensor.defined()) throw ValueError("save_npy('" + path + "'): the tensor is undefined");
  const Tensor t = tensor.to(Device::cpu());
  // numpy.save's header byte for byte, so that files compare equal.
  std::string header = "{'descr': '" + descr(t.dtype()) + "', 'fortran_order': False, 'shape': " +
                       shape_repr(t.shape()) + ", }";
  if (!t.shape().empty()) header.append(kGrowthAxisMaxDigits - std::to_string(t.shape()[0]).size(), ' ');
  const std::size_t unpadded = kMagic.size() + 2 + 2 + header.size() + 1;
  header.append(kAlign - unpadded % kAlign, ' ');
  header += '\n';
  if (header.size() > 0xFFFF)
    throw ValueError("save_npy('" + path + "'): " + std::to_string(t.ndim()) + " dimensions do not fit a .npy 1.0 header");
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const char length[2] = {static_cast<char>(header.size() & 0xFF), static_cast<char>(header.size() >> 8)};
    out.write(kMagic.data(), static_cast<std::streamsize>(kMagic.size()));
    out.write("\x01\x00", 2);
    out.write(length, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
    out.flush();
    if (!out) fail(path, std::string("cannot write: ") + std::strerror(errno));
  });
}

}  // namespace lamina::io
