// SPDX-License-Identifier: Apache-2.0
// IDX reader (the MNIST family's format): a 4-byte magic (0, 0, type code, rank), `rank`
// big-endian uint32 dimensions, then the big-endian elements, row-major. zlib reads gzip and raw
// files alike (it passes non-gzip input through), so one code path serves both.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "lamina/datasets/datasets.hpp"
#include "lamina/errors.hpp"

namespace lamina::datasets {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw FileFormatError("IDX file '" + path + "': " + problem);
}

struct IdxType {
  std::uint8_t code;
  const char* name;
  std::size_t file_bytes;  // size of one element in the file
  DType dtype;             // what the tensor holds (lamina has no int8/int16)
};

constexpr IdxType kTypes[] = {
    {0x08, "unsigned byte", 1, DType::uint8}, {0x09, "signed byte", 1, DType::int32},
    {0x0B, "short", 2, DType::int32},         {0x0C, "int", 4, DType::int32},
    {0x0D, "float", 4, DType::float32},       {0x0E, "double", 8, DType::float64},
};

const IdxType* find_type(std::uint8_t code) {
  for (const auto& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

/// Owns a zlib file handle.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail(path, "no such file");
    if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a file");
    file_size_ = std::filesystem::file_size(path, ec);
    if (ec) fail(path, "cannot read its size: " + ec.message());
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr)
      fail(path, std::string("cannot open: ") + (errno ? std::strerror(errno) : "out of memory"));
    gzbuffer(file_, 1 << 20);  // fewer, larger reads: the 47 MB training images load fast
  }
  ~GzReader() { gzclose_r(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  /// Reads up to n bytes; returns how many came (fewer only at the end of the data). Throws on a
  /// corrupt gzip stream; a stream that merely stops early counts as short data.
  std::size_t read(void* dst, std::size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    std::size_t got = 0;
    while (got < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
      const int r = gzread(file_, out + got, chunk);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    int errnum = Z_OK;
    const char* message = gzerror(file_, &errnum);
    if (errnum != Z_OK && errnum != Z_BUF_ERROR)
      fail(path_, std::string("corrupt gzip data (") + message + ")");
    return got;
  }

  bool compressed() const { return gzdirect(file_) == 0; }
  std::uintmax_t file_size() const { return file_size_; }

 private:
  std::string path_;
  std::uintmax_t file_size_ = 0;
  gzFile file_ = nullptr;
};

std::uint64_t load_be(const unsigned char* p, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

/// Converts big-endian IDX elements into the tensor's native type.
void convert(const IdxType& type, const std::vector<unsigned char>& bytes, Tensor& out) {
  const std::size_t n = bytes.size() / type.file_bytes;
  const unsigned char* p = bytes.data();
  switch (type.code) {
    case 0x09: {
      auto* d = out.data<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::int8_t>(p[i]);
      break;
    }
    case 0x0B: {
      auto* d = out.data<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::int16_t>(load_be(p + 2 * i, 2));
      break;
    }
    case 0x0C: {
      auto* d = out.data<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::int32_t>(load_be(p + 4 * i, 4));
      break;
    }
    case 0x0D: {
      auto* d = out.data<float>();
      for (std::size_t i = 0; i < n; ++i) {
        const auto bits = static_cast<std::uint32_t>(load_be(p + 4 * i, 4));
        std::memcpy(&d[i], &bits, 4);
      }
      break;
    }
    case 0x0E: {
      auto* d = out.data<double>();
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t bits = load_be(p + 8 * i, 8);
        std::memcpy(&d[i], &bits, 8);
      }
      break;
    }
    default:
      break;
  }
}

char hex_digit(unsigned v) { return "0123456789ABCDEF"[v & 0xF]; }

std::string hex_bytes(const unsigned char* p, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += hex_digit(p[i] >> 4);
    s += hex_digit(p[i]);
  }
  return s;
}

}  // namespace

Tensor read_idx(const std::string& path) {
  GzReader in(path);

  unsigned char magic[4] = {};
  const std::size_t magic_got = in.read(magic, 4);
  if (magic_got < 4)
    fail(path, "too short for an IDX header: expected 4 magic bytes, found " +
                   std::to_string(magic_got));
  const IdxType* type = find_type(magic[2]);
  if (magic[0] != 0 || magic[1] != 0 || type == nullptr)
    fail(path, "bad magic number (" + hex_bytes(magic, 4) +
                   "): an IDX file starts with two zero bytes, a type code (08 ubyte, 09 byte, "
                   "0B short, 0C int, 0D float, 0E double) and the number of dimensions");

  const std::size_t rank = magic[3];
  std::vector<unsigned char> dims_bytes(4 * rank);
  const std::size_t dims_got = in.read(dims_bytes.data(), dims_bytes.size());
  if (dims_got < dims_bytes.size())
    fail(path, "truncated header: expected " + std::to_string(dims_bytes.size()) +
                   " bytes of dimensions for rank " + std::to_string(rank) + ", found " +
                   std::to_string(dims_got));

  Shape shape;
  std::uint64_t numel = 1;
  constexpr std::uint64_t kMaxBytes = std::uint64_t{1} << 40;  // guards the products below
  for (std::size_t i = 0; i < rank; ++i) {
    const std::uint64_t d = load_be(&dims_bytes[4 * i], 4);
    shape.push_back(static_cast<std::int64_t>(d));
    if (d != 0 && numel > kMaxBytes / d) fail(path, "dimensions " + shape.str() + " are too large");
    numel *= d;
  }
  const std::uint64_t data_bytes = numel * type->file_bytes;
  if (data_bytes > kMaxBytes) fail(path, "dimensions " + shape.str() + " are too large");

  // Refuse a lying header before allocating for it: raw data must fit in the file, and deflate
  // cannot expand by more than about 1032:1.
  const std::uint64_t header_bytes = 4 + 4 * rank;
  const std::uint64_t available = in.file_size() > header_bytes ? in.file_size() - header_bytes : 0;
  if (!in.compressed() && data_bytes > available)
    fail(path, "truncated: expected " + std::to_string(data_bytes) + " bytes of data for shape " +
                   shape.str() + ", found " + std::to_string(available));
  if (in.compressed() && data_bytes > 1100 * in.file_size() + (1u << 20))
    fail(path, "truncated or corrupt: expected " + std::to_string(data_bytes) +
                   " bytes of data for shape " + shape.str() + ", more than a " +
                   std::to_string(in.file_size()) + "-byte gzip file can hold");

  Tensor out = Tensor::empty(shape, type->dtype);
  std::size_t got = 0;
  if (type->dtype == DType::uint8) {
    got = in.read(out.raw_data(), data_bytes);
  } else {
    std::vector<unsigned char> bytes(data_bytes);
    got = in.read(bytes.data(), data_bytes);
    if (got == data_bytes) convert(*type, bytes, out);
  }
  if (got < data_bytes)
    fail(path, "truncated: expected " + std::to_string(data_bytes) + " bytes of data for shape " +
                   shape.str() + ", found " + std::to_string(got));
  return out;
}

}  // namespace lamina::datasets
