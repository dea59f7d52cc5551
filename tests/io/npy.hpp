// tests/io/npy.hpp — a minimal .npy reader (little-endian float32/float64, C order) for the
// recorded inputs and outputs next to the Keras files.
#pragma once

#include <cstdint>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "lamina/tensor.hpp"

namespace lamina::testing {

/// Reads `path` as float32 (float64 data is converted). Throws std::runtime_error otherwise.
inline Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::string(magic, 6) != "\x93NUMPY") throw std::runtime_error(path + ": not .npy");
  std::uint32_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([<|=]f[48])'")))
    throw std::runtime_error(path + ": unsupported dtype in " + header);
  const bool f64 = m[1].str().back() == '8';
  if (header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": Fortran order is not supported");
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")))
    throw std::runtime_error(path + ": no shape in " + header);
  Shape shape;
  const std::string dims = m[1].str();
  const std::regex number("\\d+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it)
    shape.push_back(std::stoll(it->str()));
  const std::int64_t n = shape.numel();
  if (f64) {
    std::vector<double> v(static_cast<std::size_t>(n));
    in.read(reinterpret_cast<char*>(v.data()), n * 8);
    if (!in) throw std::runtime_error(path + ": truncated");
    return Tensor::from_vector(v, shape).astype(float32);
  }
  std::vector<float> v(static_cast<std::size_t>(n));
  in.read(reinterpret_cast<char*>(v.data()), n * 4);
  if (!in) throw std::runtime_error(path + ": truncated");
  return Tensor::from_vector(v, shape);
}

}  // namespace lamina::testing
